"""workloads package of neumelt."""
