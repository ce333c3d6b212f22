"""Operator mapping of decoder blocks (GPT-3, LLaMA) onto a device of a tensor-parallel
group, and tensor / pipeline parallelism (:mod:`sim.mapping.blocks`, :mod:`sim.mapping.parallel`)."""
