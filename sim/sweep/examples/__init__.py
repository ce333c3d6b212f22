"""Example sweep specs shipped with neumelt; ``neumelt sweep run NAME`` finds them by name."""
