"""reports package of neumelt."""
