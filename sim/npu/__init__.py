"""NPU model: weight-stationary systolic arrays (tile-level GEMM timing), vector units,
SRAM double buffering and HBM traffic. See :mod:`sim.npu.gemm`, :mod:`sim.npu.vector`,
:mod:`sim.npu.block` and :mod:`sim.npu.attention`."""
