"""profiler package of neumelt."""
