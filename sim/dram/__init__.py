"""Command-level HBM timing: standards as data, address mapping, FR-FCFS controller, energy."""
