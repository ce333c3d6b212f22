"""sim package of neumelt."""
