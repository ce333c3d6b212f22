"""NPU device configuration: systolic arrays, vector units, SRAM, HBM, link, energy.

Loaded from a YAML preset in ``sim/hw/`` (``kind: npu``) by :func:`sim.designs.hw.load_hw`.
All times are cycles of the NPU clock ``clock_hz``; sizes are bytes unless a name says
otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class SystolicConfig:
    """Weight-stationary systolic arrays.

    count: arrays working in parallel on different weight tiles.
    height x width: PEs; a weight tile is ``height`` (K) x ``width`` (N) elements.
    preload_overlap: True = weights of the next tile shift in while rows of the current
        tile stream (double-buffered PE weight registers, TPU-style); False = a preload of
        ``height`` cycles precedes each tile's rows (the NeuPIMs reference).
    charge_full_tile: True = a partly filled row tile costs as many cycles as a full
        ``height``-row one (the reference's accounting); False = rows cost what they are.
    min_rows: rows a tile costs at least (pipeline bubbles for tiny batches).
    accumulator_rows: rows one pass can accumulate; more rows re-preload the weights.
    stream_efficiency: sustained fraction of one row per cycle per array (0, 1].
    """

    count: int = 8
    height: int = 128
    width: int = 128
    preload_overlap: bool = False
    charge_full_tile: bool = False
    min_rows: int = 4
    accumulator_rows: int = 1024
    stream_efficiency: float = 0.78

    def __post_init__(self) -> None:
        for name in ("count", "height", "width", "min_rows", "accumulator_rows"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive integer")
        if not 0.0 < self.stream_efficiency <= 1.0:
            raise ValueError("stream_efficiency must be in (0, 1]")

    @property
    def fill_drain_cycles(self) -> int:
        """Cycles for the first row to enter and the last result to leave one array."""
        return self.height + self.width - 2

    @property
    def peak_macs_per_cycle(self) -> int:
        return self.count * self.height * self.width


@dataclass(frozen=True)
class VectorConfig:
    """Vector units (LayerNorm, softmax, GELU/SiLU, residual adds): ``count`` x ``width``
    lanes, one element-op per lane per cycle; ``latency_cycles`` per pass (pipeline depth)."""

    count: int = 8
    width: int = 128
    latency_cycles: int = 4

    def __post_init__(self) -> None:
        if self.count <= 0 or self.width <= 0 or self.latency_cycles < 0:
            raise ValueError("count and width must be positive, latency_cycles >= 0")

    @property
    def lanes(self) -> int:
        return self.count * self.width


@dataclass(frozen=True)
class SramConfig:
    """On-chip scratchpad: ``size_kib`` KiB; double_buffer = loads of tile i+1 overlap
    compute of tile i (half the SRAM holds the tiles in flight); keep_activations = an
    operator's input and output stay on chip when they fit (a quarter of the SRAM), False =
    every GEMM reads its input activations from HBM and writes its output back
    (operator-by-operator execution, as ONNXim and the NeuPIMs reference do)."""

    size_kib: int = 32768
    double_buffer: bool = True
    keep_activations: bool = True

    def __post_init__(self) -> None:
        if self.size_kib <= 0:
            raise ValueError("size_kib must be positive")

    @property
    def size_bytes(self) -> int:
        return self.size_kib * 1024


@dataclass(frozen=True)
class HbmConfig:
    """The device's HBM as the NPU sees it: ``channels`` x ``bytes_per_cycle_per_channel``
    (bytes per NPU cycle) peak, ``efficiency`` sustained fraction for streamed tiles,
    ``latency_cycles`` to the first byte; ``standard`` names the DRAM/PIM standard of
    ``sim.dram.standard.load_standard``."""

    standard: str = "hbm2-neupims"
    channels: int = 32
    bytes_per_cycle_per_channel: int = 32
    efficiency: float = 0.9
    latency_cycles: int = 64
    capacity_gib: float = 32.0

    def __post_init__(self) -> None:
        if self.channels <= 0 or self.bytes_per_cycle_per_channel <= 0:
            raise ValueError("channels and bytes_per_cycle_per_channel must be positive")
        if not 0.0 < self.efficiency <= 1.0:
            raise ValueError("efficiency must be in (0, 1]")

    @property
    def peak_bytes_per_cycle(self) -> int:
        return self.channels * self.bytes_per_cycle_per_channel

    @property
    def sustained_bytes_per_cycle(self) -> float:
        return self.peak_bytes_per_cycle * self.efficiency


@dataclass(frozen=True)
class PimConfig:
    """PIM in the HBM: ``enabled`` and the default row-buffer organisation.

    ``command_port_per_cycle``: PIM instructions (GWRITE, P_HEADER, COMP, READRES or the
    composite COMPS_READRES) the NPU hands to the memory controllers per NPU cycle, all
    channels together. The NeuPIMs artifact's NPU pops one per core cycle from a single
    PIM load queue (``NeuPIMSystolicWS::pim_ld_queue_cycle``); it only limits a phase when
    the command set needs a command per 16-element MAC (``newton``, see
    :mod:`sim.pim.issue`).

    ``issue_order``: the order in which that port hands out a batch's requests. ``channel``:
    channel by channel, each channel's requests in arrival order — a scheduler that keeps one
    request queue per channel and concatenates them into the batch, as the artifact's
    ``Scheduler::group_sub_batches`` does for its baselines (``baseline_exp``); the last
    channel's first command waits for every other channel's. ``arrival``: batch order."""

    enabled: bool = True
    row_buffer: Literal["single", "dual"] = "dual"
    command_port_per_cycle: float = 1.0
    issue_order: Literal["channel", "arrival"] = "channel"

    def __post_init__(self) -> None:
        if not self.command_port_per_cycle > 0:
            raise ValueError("command_port_per_cycle must be > 0")
        if self.issue_order not in ("channel", "arrival"):
            raise ValueError("issue_order must be 'channel' or 'arrival'")


@dataclass(frozen=True)
class LinkConfig:
    """Inter-device link for tensor/pipeline parallelism: ``bandwidth_gbps`` GB/s per
    direction (None = communication not modelled), ``latency_ns`` per hop."""

    bandwidth_gbps: float | None = None
    latency_ns: float = 1000.0

    def __post_init__(self) -> None:
        if self.bandwidth_gbps is not None and self.bandwidth_gbps <= 0:
            raise ValueError("bandwidth_gbps must be positive or null")


@dataclass(frozen=True)
class NpuEnergyConfig:
    """Energy constants: pJ per fp16 MAC, per vector element-op, per SRAM byte, per link bit.

    dram_model: how the NPU's HBM traffic is charged. ``idd`` (default) uses the DRAM
    standard's IDD currents (DRAMsim3 formulas, as the reference and the PIM model do):
    per read / write burst, one ACT per row streamed, plus background (active standby) and
    refresh while only the NPU runs (the PIM model charges them during attention).
    ``per_bit`` charges ``dram_pj_per_bit`` for every bit moved, the whole path including
    TSVs and interposer I/O (3.59 pJ/bit for HBM2, FGDRAM), and no background.
    """

    mac_pj: float = 0.5
    vector_op_pj: float = 0.2
    sram_pj_per_byte: float = 1.28
    dram_model: Literal["idd", "per_bit"] = "idd"
    dram_pj_per_bit: float = 3.59
    link_pj_per_bit: float = 1.3


@dataclass(frozen=True)
class NpuHw:
    """An NPU device with HBM (optionally PIM-enabled)."""

    name: str
    kind: Literal["npu"] = "npu"
    clock_hz: float = 1.0e9
    dtype_bytes: int = 2
    systolic: SystolicConfig = field(default_factory=SystolicConfig)
    vector: VectorConfig = field(default_factory=VectorConfig)
    sram: SramConfig = field(default_factory=SramConfig)
    hbm: HbmConfig = field(default_factory=HbmConfig)
    pim: PimConfig = field(default_factory=PimConfig)
    link: LinkConfig = field(default_factory=LinkConfig)
    energy: NpuEnergyConfig = field(default_factory=NpuEnergyConfig)

    def __post_init__(self) -> None:
        if self.clock_hz <= 0:
            raise ValueError("clock_hz must be positive")
        if self.dtype_bytes not in (1, 2, 4):
            raise ValueError("dtype_bytes must be 1, 2 or 4")
