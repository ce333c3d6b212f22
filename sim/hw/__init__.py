"""Hardware presets (YAML) for sim designs; loaded by :mod:`sim.designs.hw`."""
