"""devices package of neumelt."""
