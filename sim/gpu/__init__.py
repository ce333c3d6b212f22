"""GPU model: per-operator roofline with named efficiency factors (:mod:`sim.gpu.roofline`)."""
