"""Data files shipped with the simulator (reference batches)."""
