"""The NPU-family designs: ``npu`` (attention on the systolic arrays), ``npu-pim`` (attention
on a single-row-buffer PIM, NPU and PIM serialised) and ``neupims`` (dual row buffers,
sub-batch interleaving, greedy channel balancing). Each NeuPIMs technique is a toggle.

Stage structure of one decoder layer (NeuPIMs paper; the reference artifact):

- sub-batch interleaving off: A (norm + QKV on the NPU) -> B (attention) -> E (projection,
  residual, norm, FFN, residual on the NPU); a layer takes A + B + E.
- on: the batch is split in two per channel (odd counts alternate ceil and floor across
  channels) and six barrier-separated stages overlap one sub-batch's attention on PIM with
  the other's QKV / projection / FFN on the NPU::

      stage  A       B       C               D               E       F
      NPU    QKV1    QKV2    PF1 + QKV1      PF2 + QKV2      PF1     PF2
      PIM    -       MHA1    MHA2            MHA1            MHA2    -

  N layers take A + B + (C + D)(N - 1) + E + F. While the PIM runs, the NPU's weight reads
  share the channels with it; the PIM model returns when those reads complete.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from neumelt.errors import InputError
from sim.designs import breakdown as bd
from sim.designs.breakdown import ops_parts
from sim.designs.capacity import check_kv_capacity
from sim.designs.inputs import decode_lengths, prefill_lengths, resolve_model
from sim.designs.result import IterationResult
from sim.mapping.blocks import AttentionDims, attention_dims, decoder_block
from sim.mapping.parallel import Parallelism, check_parallelism, default_parallelism
from sim.npu.attention import artifact_npu_attention, npu_attention
from sim.npu.block import PartTiming, run_part
from sim.npu.config import NpuHw
from sim.npu.gemm import gemm_timing
from sim.npu.vector import vector_timing


@dataclass(frozen=True)
class _Attn:
    """Attention of one (sub-)batch, whichever unit ran it."""

    cycles: int               # stage-relevant time incl. softmax on the vector unit
    logits: int
    softmax: int
    attend: int
    npu_reads_done: int       # when concurrent NPU reads finished (0 if none)
    channel_cycles: tuple[int, ...]
    energy_j: float
    macs: int                 # MACs done on the NPU arrays (0 when on PIM)
    element_ops: int
    hbm_read_bytes: int
    sram_bytes: int
    commands: tuple[tuple[str, int], ...]
    error_bound: float | None
    issue_stall: int = 0      # cycles the phases wait for the NPU's PIM command port
    mode_switch: int = 0      # cycles to close the NPU's open rows before PIM (single RB)
    refresh: int = 0          # refresh cycles inside the PIM phases (slowest channel)


def split_sub_batches(channel_idx: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the two sub-batches: each channel's requests are halved in order; a channel
    with an odd count gives the extra request to sub-batch 1 and 2 alternately."""
    ch = np.asarray(channel_idx, dtype=np.int64)
    first = np.zeros(ch.size, dtype=bool)
    odd_turn = 0
    for c in np.unique(ch):
        idx = np.nonzero(ch == c)[0]
        n = idx.size
        k = n // 2
        if n % 2:
            k += 1 - odd_turn
            odd_turn ^= 1
        first[idx[:k]] = True
    return first, ~first


class NpuDesign:
    """An NPU with HBM, attention on the NPU or on PIM (see module docstring)."""

    def __init__(self, name: str, hw: NpuHw, *, pim: bool, row_buffer: str, channels: str | None,
                 sub_batch: bool, fidelity: str, tp: int | None, pp: int | None,
                 default_channels: str = "greedy", baselines: str = "ideal",
                 pim_commands: str = "composite") -> None:
        self.name = name
        self.pim_commands = pim_commands
        self.baselines = baselines
        self.hw = hw
        self.pim = pim
        self.row_buffer = row_buffer
        self.channels = channels
        self.default_channels = default_channels
        self.sub_batch = sub_batch and pim
        # the result's source says which attention model priced the npu baseline
        self.fidelity = fidelity if pim else (
            "analytical-artifact" if baselines == "artifact" else "analytical")
        self._tp = tp
        self._pp = pp

    # ---- configuration ---------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {"design": self.name, "hw": self.hw.name, "pim": self.pim,
                "row_buffer": self.row_buffer if self.pim else None,
                "channels": self.channels or self.default_channels, "sub_batch": self.sub_batch,
                "pim_commands": self.pim_commands if self.pim else None,
                "fidelity": self.fidelity, "tp": self._tp, "pp": self._pp,
                **({"baselines": self.baselines} if self.baselines != "ideal" else {})}

    def parallelism(self, model) -> Parallelism:
        cap = self.hw.hbm.capacity_gib * 2**30
        par = default_parallelism(model, cap, self.hw.dtype_bytes)
        par = Parallelism(self._tp or par.tp, self._pp or par.pp)
        check_parallelism(model, par)
        return par

    # ---- attention -------------------------------------------------------------------
    def _n_channels(self) -> int:
        if not self.pim:
            return self.hw.hbm.channels
        from sim.designs.pim_call import pim_channels
        n = pim_channels(self.hw)
        if n != self.hw.hbm.channels:
            raise InputError(f"hw {self.hw.name!r} has {self.hw.hbm.channels} HBM channels but "
                             f"its standard {self.hw.hbm.standard!r} has {n}",
                             key="hw.hbm.channels", expected=str(n))
        return n

    def _channels_for(self, seq: tuple[int, ...], given: Sequence[int] | None,
                      dims: AttentionDims) -> tuple[int, ...]:
        n_ch = self._n_channels()
        policy = self.channels
        if policy == "given" or (policy is None and given is not None):
            if given is None:
                raise InputError("channel policy 'given' needs a channel per request",
                                 key="channels", expected="a batch file with a ch_idx column")
            if len(given) != len(seq):
                raise InputError(f"{len(given)} channels for {len(seq)} requests",
                                 key="channel_idx", expected="one channel per request")
            bad = [c for c in given if not 0 <= int(c) < n_ch]
            if bad:
                raise InputError(f"channel {bad[0]} out of range", key="ch_idx",
                                 expected=f"0..{n_ch - 1}")
            return tuple(int(c) for c in given)
        from sim.designs.pim_call import assign
        return assign(seq, dims, n_ch, policy or self.default_channels)

    def _attention(self, dims: AttentionDims, seq: tuple[int, ...], chans: tuple[int, ...] | None,
                   npu_read_bytes: int = 0) -> _Attn:
        if not seq:
            return _Attn(0, 0, 0, 0, 0, (), 0.0, 0, 0, 0, 0, (), None)
        if not self.pim:
            fn = artifact_npu_attention if self.baselines == "artifact" else npu_attention
            a = fn(self.hw, dims, tuple(sorted(seq)))
            return _Attn(a.cycles, a.logits_cycles, a.softmax_cycles, a.attend_cycles, 0, (),
                         0.0, a.macs, a.element_ops, a.hbm_read_bytes, a.sram_bytes, (), None)
        from sim.designs.pim_call import pim_attention
        n_ch = self._n_channels()
        per: list[list[int]] = [[] for _ in range(n_ch)]
        for s, c in zip(seq, chans):
            per[c].append(int(s))
        key = tuple(tuple(sorted(p)) for p in per)
        npu_b = None
        if npu_read_bytes > 0:
            npu_b = tuple([int(math.ceil(npu_read_bytes / n_ch))] * n_ch)
        r = pim_attention(self.hw, dims, key, self.row_buffer, self.fidelity, npu_b)
        sm = vector_timing(self.hw, "softmax", dims.heads * int(sum(seq)))
        energy = _pim_energy_j(r.energy_j)
        cmds = tuple(sorted((str(k), int(v)) for k, v in dict(r.commands).items()))
        logits, attend = int(r.logits_cycles), int(r.attend_cycles)
        issue = 0
        if self.pim_commands != "composite":
            # every COMP is its own command through the NPU's one PIM port (sim.pim.issue)
            from sim.designs.pim_call import pim_port

            reqs = tuple(zip((int(s) for s in seq), (int(c) for c in chans)))
            if self.hw.pim.issue_order == "channel":
                reqs = tuple(sorted(reqs, key=lambda r: r[1]))     # stable: arrival within
            port = pim_port(self.hw, dims, reqs, self.pim_commands)
            pl, pa = port.cycles
            issue = max(0, pl - logits) + max(0, pa - attend)
            logits, attend = max(logits, pl), max(attend, pa)
            cmds = tuple(sorted(dict(cmds, PORT_COMMANDS=int(sum(port.commands))).items()))
        switch = self._mode_switch_cycles() if self.row_buffer == "single" else 0
        refresh = self._refresh_cycles(r)
        return _Attn(cycles=logits + attend + switch + sm.cycles, logits=logits,
                     softmax=sm.cycles, attend=attend, issue_stall=issue, mode_switch=switch,
                     refresh=min(refresh, logits + attend),
                     npu_reads_done=int(r.npu_reads_done_cycle or 0),
                     channel_cycles=tuple(int(x) for x in np.asarray(r.channel_cycles)),
                     energy_j=energy, macs=0, element_ops=sm.element_ops, hbm_read_bytes=0,
                     sram_bytes=2 * sm.elements * self.hw.dtype_bytes, commands=cmds,
                     error_bound=getattr(r, "error_bound", None))

    def _attn_parts(self, att: _Attn) -> dict[str, int]:
        """Breakdown of an attention call that is on the critical path."""
        out = bd.empty()
        fixed = att.issue_stall + att.mode_switch + att.refresh
        out["command_issue"] = att.issue_stall
        out["mode_switch"] = att.mode_switch + att.refresh
        out["attention"] = att.cycles - fixed
        return out

    def _mode_switch_cycles(self) -> int:
        """Entering PIM mode with one row buffer: the NPU's streaming left a row open in
        every bank, and the all-bank G_ACT needs them closed: write recovery of the last
        write (nCWL + nBL + nWR; reads need only nRTP) and then nRP (PREA), per call. Leaving
        costs nothing extra: the PIM program closes its rows (PIM_PRECHARGE) itself, and the
        NPU's first ACT pays nRCD as any row miss does. With dual row buffers the PIM opens
        rows in its own buffer and neither is needed."""
        from sim.designs.pim_call import _standard

        t = _standard(self.hw.hbm.standard).timing
        return int(max(t.nRTP_L, t.nCWL + t.nBL + t.nWR) + t.nRP)

    def _refresh_cycles(self, r) -> int:
        """Refresh inside the PIM phases, on the slowest channel: REF commands per channel
        x nRFC (a G_ACT block spans both pseudo-channels, so either one's refresh stalls it)."""
        from sim.designs.pim_call import _standard

        std = _standard(self.hw.hbm.standard)
        refs = int(dict(r.commands).get("REF", 0))
        return int(refs / max(1, std.org.channels) * std.timing.nRFC)

    def _contended_npu(self, names, parts_of, npu_c: int, npu_rb: int, att: _Attn,
                       tp: int) -> int:
        """NPU cycles of a stage's parts while the PIM runs: the PIM model reports when the
        NPU's reads finish beside the PIM; their rate is the bandwidth share the PIM leaves,
        and the parts are re-timed with the HBM at that share (never faster than alone)."""
        if npu_rb <= 0 or att.npu_reads_done <= 0:
            return npu_c
        share = npu_rb / att.npu_reads_done / self.hw.hbm.peak_bytes_per_cycle
        if share >= self.hw.hbm.efficiency:
            return max(npu_c, att.npu_reads_done)
        hw2 = _with_hbm_efficiency(self.hw, max(0.01, round(share, 3)))
        slowed = sum(run_part(hw2, parts_of[k][0], parts_of[k][1], tp).cycles for k in names)
        return max(npu_c, slowed, att.npu_reads_done)

    # ---- one decode iteration --------------------------------------------------------
    def decode_iteration(self, model, seq_lens: Sequence[int],
                         channel_idx: Sequence[int] | None = None,
                         layers: int | None = None) -> IterationResult:
        """One decode step of the batch (context lengths ``seq_lens``, tokens)."""
        model = resolve_model(model)
        seq = decode_lengths(seq_lens)
        par = self.parallelism(model)
        check_kv_capacity(self.name, self.hw, model, seq, par.tp, par.pp)
        dims = attention_dims(model, par.tp)
        chans = self._channels_for(seq, channel_idx, dims) if self.pim else None
        return _decode_cached(self, model, seq, chans, layers, par)

    def prefill(self, model, prompt_lens: Sequence[int]) -> IterationResult:
        """Prefill of the prompts (all on the NPU: attention is a GEMM, no PIM)."""
        model = resolve_model(model)
        lens = prefill_lengths(prompt_lens)
        par = self.parallelism(model)
        check_kv_capacity(self.name, self.hw, model, lens, par.tp, par.pp, "prefill")
        return _prefill_cached(self, model, lens, par)

    def _key(self) -> tuple:
        return (self.name, self.hw, self.pim, self.row_buffer, self.channels,
                self.default_channels, self.sub_batch, self.fidelity, self.baselines,
                self.pim_commands)

    def __hash__(self) -> int:
        return hash(self._key())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NpuDesign) and self._key() == other._key()

    # ---- energy ------------------------------------------------------------------------
    def _dram_j(self, read_bytes: int, write_bytes: int, npu_only_cycles: float) -> float:
        """Joules of the NPU's HBM traffic, plus DRAM background and refresh over
        ``npu_only_cycles`` (NPU clock) when the model is ``idd``."""
        e = self.hw.energy
        if e.dram_model == "per_bit":
            return (read_bytes + write_bytes) * 8 * e.dram_pj_per_bit * 1e-12
        from sim.designs.pim_call import _standard
        from sim.dram.energy import increments_j

        std = _standard(self.hw.hbm.standard)
        inc = increments_j(std)
        org = std.org
        bursts_r = read_bytes / org.burst_bytes
        bursts_w = write_bytes / org.burst_bytes
        rows = (read_bytes + write_bytes) / org.row_bytes       # streamed: one ACT per row
        ranks = org.channels * org.pseudo_channels
        dram_cycles = npu_only_cycles / self.hw.clock_hz * std.clock_hz
        background = dram_cycles * ranks * inc["act_standby_cycle"]
        refresh = dram_cycles / std.timing.nREFI * ranks * inc["ref"]
        return (bursts_r * inc["rd"] + bursts_w * inc["wr"] + rows * inc["act"]
                + background + refresh)

    # ---- what a result shows: nothing that is not modelled appears as a zero ----------
    def _visible_operators(self, ops: dict[str, int], tp: int, notes: list[str]) -> dict:
        if self.hw.link.bandwidth_gbps is not None or tp == 1:
            return dict(ops)
        notes.append(f"TP all-reduce over {tp} devices not modelled "
                     "(hw link.bandwidth_gbps is null, as in the reference)")
        return {k: v for k, v in ops.items() if not k.startswith("allreduce")}

    def _visible_energy(self, energy: dict[str, float]) -> dict[str, float]:
        out = dict(energy)
        if not self.pim:
            out.pop("pim", None)
        if self.hw.link.bandwidth_gbps is None:
            out.pop("link", None)
        return out

    def _visible_util(self, util: dict[str, float]) -> dict[str, float]:
        return {k: v for k, v in util.items() if self.pim or k != "pim"}

    # ---- assembling results ----------------------------------------------------------
    def _decode(self, model, seq: tuple[int, ...], chans: tuple[int, ...] | None,
                layers: int | None, par: Parallelism) -> IterationResult:
        hw = self.hw
        dims = attention_dims(model, par.tp)
        n_dev_layers = math.ceil(model.n_layers / par.pp)
        ops_all = decoder_block(model, len(seq), par.tp, hw.dtype_bytes)
        notes: list[str] = []
        acc = _Acc()
        events: list[tuple[str, str, int, int]] = []
        sub_batch = self.sub_batch
        if sub_batch and len(seq) < 2:
            sub_batch = False
            notes.append("sub-batch interleaving needs two requests; ran without it")
        if not sub_batch:
            qkv = run_part(hw, ops_all, "qkv", par.tp)
            ffn = run_part(hw, ops_all, "ffn", par.tp)
            att = self._attention(dims, seq, chans)
            stages = {"A": qkv.cycles, "B": att.cycles, "E": ffn.cycles}
            sparts = {"A": ops_parts(qkv.ops), "B": self._attn_parts(att),
                      "E": ops_parts(ffn.ops)}
            layer = qkv.cycles + att.cycles + ffn.cycles
            acc.part(qkv)
            acc.part(ffn)
            acc.attn(att)
            t = _npu_events(events, qkv, 0)
            _attn_events(events, att, t, self.pim)
            _npu_events(events, ffn, t + att.cycles)
            first_last = layer
            pim_busy = sum(att.channel_cycles)
        else:
            first, second = split_sub_batches(chans)
            s1 = tuple(s for s, f in zip(seq, first) if f)
            s2 = tuple(s for s, f in zip(seq, second) if f)
            c1 = tuple(c for c, f in zip(chans, first) if f)
            c2 = tuple(c for c, f in zip(chans, second) if f)
            ops1 = decoder_block(model, max(1, len(s1)), par.tp, hw.dtype_bytes)
            ops2 = decoder_block(model, max(1, len(s2)), par.tp, hw.dtype_bytes)
            q1, f1 = run_part(hw, ops1, "qkv", par.tp), run_part(hw, ops1, "ffn", par.tp)
            q2, f2 = run_part(hw, ops2, "qkv", par.tp), run_part(hw, ops2, "ffn", par.tp)
            parts_of = {"Q1": (ops1, "qkv", q1), "Q2": (ops2, "qkv", q2),
                        "P1": (ops1, "ffn", f1), "P2": (ops2, "ffn", f2)}
            plan = [  # stage, NPU parts, PIM sub-batch
                ("A", ("Q1",), None), ("B", ("Q2",), 1), ("C", ("P1", "Q1"), 2),
                ("D", ("P2", "Q2"), 1), ("E", ("P1",), 2), ("F", ("P2",), None)]
            stages = {}
            sparts = {}
            t = 0
            pim_busy = 0
            for stage, names, sb in plan:
                parts = [parts_of[k][2] for k in names]
                npu_c = sum(p.cycles for p in parts)
                npu_rb = sum(p.hbm_read_bytes for p in parts)
                cyc = npu_c
                npu_parts = ops_parts([o for p in parts for o in p.ops])
                sparts[stage] = npu_parts
                if sb is not None:
                    ss, cc = (s1, c1) if sb == 1 else (s2, c2)
                    att = self._attention(dims, ss, cc, npu_rb)
                    npu_solo = npu_c
                    npu_c = self._contended_npu(names, parts_of, npu_c, npu_rb, att, par.tp)
                    cyc = max(npu_c, att.cycles)
                    # the lane that is longer alone is charged its solo time; what the
                    # stage takes beyond it is contention for the shared channels
                    solo = self._attention(dims, ss, cc) if npu_rb > 0 else att
                    if npu_solo >= solo.cycles:
                        npu_parts["contention_stall"] += int(cyc) - npu_solo
                    elif int(cyc) >= solo.cycles:
                        sparts[stage] = self._attn_parts(solo)
                        sparts[stage]["contention_stall"] += int(cyc) - solo.cycles
                    else:   # command-level noise: the shared run came out shorter
                        sparts[stage] = self._attn_parts(att)
                        sparts[stage]["gemm"] += int(cyc) - att.cycles
                    if stage in ("C", "D"):
                        acc.attn(att)
                        pim_busy += sum(att.channel_cycles)
                    _attn_events(events, att, t, True, suffix=f"#{sb}")
                tt = t
                for p in parts:
                    tt = _npu_events(events, p, tt, suffix=f" {stage}")
                stages[stage] = int(cyc)
                t += int(cyc)
            for p in (q1, q2, f1, f2):
                acc.part(p)
            layer = stages["C"] + stages["D"]
            first_last = stages["A"] + stages["B"] + stages["E"] + stages["F"]
        operators = self._visible_operators(acc.operators, par.tp, notes)
        n = layers if layers is not None else n_dev_layers
        if n <= 0:
            raise InputError("layers must be positive", key="layers")
        dev_cycles = first_last + layer * (n - 1)
        total = dev_cycles
        steady = ("C", "D") if sub_batch else ("A", "B", "E")
        breakdown = bd.empty()
        for st, sp in sparts.items():
            bd.add(breakdown, sp, 1 + (n - 1) * (st in steady) - (sub_batch and st in steady))
        if layers is None and par.pp > 1:
            hop = _p2p_cycles(hw, len(seq) * model.d_model * hw.dtype_bytes)
            total = dev_cycles * par.pp + hop * (par.pp - 1)
            breakdown = bd.add(bd.empty(), breakdown, par.pp)
            breakdown["communication"] += hop * (par.pp - 1)
            notes.append(f"pipeline parallel pp={par.pp}: total is the latency through "
                         f"{par.pp} stages of {n} layers")
        layer_count = n * (par.pp if layers is None else 1)
        per_dev_layer_cycles = layer if sub_batch else first_last
        # energy and utilisation over the simulated layers
        e = hw.energy
        energy = {
            "npu_mac": acc.macs * e.mac_pj * 1e-12 * layer_count,
            "npu_vector": acc.element_ops * e.vector_op_pj * 1e-12 * layer_count,
            "sram": acc.sram_bytes * e.sram_pj_per_byte * 1e-12 * layer_count,
            "dram": self._dram_j(acc.hbm_read_bytes, acc.hbm_write_bytes,
                                 max(0, per_dev_layer_cycles - acc.pim_cycles)) * layer_count,
            "pim": acc.pim_j * layer_count,
            "link": acc.link_bytes * 8 * e.link_pj_per_bit * 1e-12 * layer_count,
        }
        n_ch = self._n_channels()
        util = {
            "npu": _clip(acc.macs / (hw.systolic.peak_macs_per_cycle * per_dev_layer_cycles)),
            "pim": _clip(pim_busy / (n_ch * per_dev_layer_cycles)),
            "hbm_bw": _clip(acc.hbm_bytes / (hw.hbm.peak_bytes_per_cycle * per_dev_layer_cycles)),
        }
        counters = {"hbm_bytes_per_layer": acc.hbm_bytes, "macs_per_layer": acc.macs,
                    "pim_commands_per_layer": dict(acc.commands), "tp": par.tp, "pp": par.pp,
                    "channels": n_ch if self.pim else None}
        if self.baselines == "artifact" and not self.pim:
            notes.append("baselines=artifact: attention serialised per request and head on one "
                         "systolic array, as the NeuPIMs artifact's npu-only branch runs it")
        if self.pim and dims.group > 1:
            notes.append(f"grouped-query attention on PIM: each of {dims.kv_heads} KV heads' "
                         f"rows is opened once for its {dims.group} query heads")
        return IterationResult(
            design=self.name, phase="decode", total_cycles=int(total), clock_hz=hw.clock_hz,
            stages=stages, operators=operators, energy_j=self._visible_energy(energy),
            utilisation=self._visible_util(util),
            fidelity=self.fidelity, events=events, layer_cycles=int(layer),
            layers=int(layer_count), batch=len(seq), error_bound=acc.error_bound,
            counters=counters, notes=tuple(notes), breakdown=breakdown)

    def _prefill(self, model, lens: tuple[int, ...], par: Parallelism) -> IterationResult:
        hw = self.hw
        notes: list[str] = []
        dims = attention_dims(model, par.tp)
        ops = decoder_block(model, sum(lens), par.tp, hw.dtype_bytes)
        qkv = run_part(hw, ops, "qkv", par.tp)
        ffn = run_part(hw, ops, "ffn", par.tp)
        acc = _Acc()
        acc.part(qkv)
        acc.part(ffn)
        att_c = 0
        macs = 0
        eops = 0
        for L in lens:
            # causal: about half of the L x L score tiles are needed
            causal = min(1.0, (L + hw.systolic.width) / (2.0 * L))
            g1 = gemm_timing(hw, L, dims.d_head, L, weights_in_hbm=False)
            g2 = gemm_timing(hw, L, L, dims.d_head, weights_in_hbm=False)
            sm = vector_timing(hw, "softmax", L * L)
            att_c += int(dims.heads * (causal * (g1.cycles + g2.cycles) + causal * sm.cycles))
            macs += int(dims.heads * causal * (g1.macs + g2.macs))
            eops += int(dims.heads * causal * sm.element_ops)
        acc.macs += macs
        acc.element_ops += eops
        acc.operators["attention"] = att_c
        stages = {"A": qkv.cycles, "B": att_c, "E": ffn.cycles}
        layer = qkv.cycles + att_c + ffn.cycles
        n_dev = math.ceil(model.n_layers / par.pp)
        hop = _p2p_cycles(hw, sum(lens) * model.d_model * hw.dtype_bytes)
        total = layer * n_dev * par.pp + hop * (par.pp - 1)
        breakdown = bd.add(ops_parts(qkv.ops), ops_parts(ffn.ops))
        breakdown["attention"] += att_c
        breakdown = bd.add(bd.empty(), breakdown, n_dev * par.pp)
        breakdown["communication"] += hop * (par.pp - 1)
        nl = n_dev * par.pp
        e = hw.energy
        energy = {
            "npu_mac": acc.macs * e.mac_pj * 1e-12 * nl,
            "npu_vector": acc.element_ops * e.vector_op_pj * 1e-12 * nl,
            "sram": acc.sram_bytes * e.sram_pj_per_byte * 1e-12 * nl,
            "dram": self._dram_j(acc.hbm_read_bytes, acc.hbm_write_bytes, layer) * nl,
            "pim": 0.0,   # prefill attention runs on the NPU: the PIM stays idle
            "link": acc.link_bytes * 8 * e.link_pj_per_bit * 1e-12 * nl,
        }
        util = {"npu": _clip(acc.macs / (hw.systolic.peak_macs_per_cycle * layer)), "pim": 0.0,
                "hbm_bw": _clip(acc.hbm_bytes / (hw.hbm.peak_bytes_per_cycle * layer))}
        events: list[tuple[str, str, int, int]] = []
        t = _npu_events(events, qkv, 0)
        events.append(("npu", "attention (prefill)", t, att_c))
        _npu_events(events, ffn, t + att_c)
        return IterationResult(
            design=self.name, phase="prefill", total_cycles=int(total), clock_hz=hw.clock_hz,
            stages=stages, operators=self._visible_operators(acc.operators, par.tp, notes),
            energy_j=self._visible_energy(energy), utilisation=self._visible_util(util),
            fidelity="analytical", events=events, layer_cycles=layer, layers=nl,
            batch=len(lens), counters={"tp": par.tp, "pp": par.pp, "tokens": sum(lens)},
            notes=tuple(notes), breakdown=breakdown)


class _Acc:
    """Sums per-layer counters over the parts and attention calls of one layer."""

    @property
    def hbm_bytes(self) -> int:
        return self.hbm_read_bytes + self.hbm_write_bytes

    def __init__(self) -> None:
        self.macs = 0
        self.element_ops = 0
        self.sram_bytes = 0
        self.hbm_read_bytes = 0
        self.hbm_write_bytes = 0
        self.pim_cycles = 0
        self.link_bytes = 0
        self.pim_j = 0.0
        self.operators: dict[str, int] = {}
        self.commands: dict[str, int] = {}
        self.error_bound: float | None = None

    def part(self, p: PartTiming) -> None:
        for o in p.ops:
            self.macs += o.macs
            self.element_ops += o.element_ops
            self.sram_bytes += o.sram_bytes
            self.hbm_read_bytes += o.hbm_read_bytes
            self.hbm_write_bytes += o.hbm_write_bytes
            self.link_bytes += o.link_bytes
            self.operators[o.name] = self.operators.get(o.name, 0) + o.cycles

    def attn(self, a: _Attn) -> None:
        self.macs += a.macs
        self.element_ops += a.element_ops
        self.sram_bytes += a.sram_bytes
        self.hbm_read_bytes += a.hbm_read_bytes
        self.pim_j += a.energy_j
        if a.channel_cycles:     # the PIM model charges DRAM background while it runs
            self.pim_cycles += a.cycles - a.softmax
        for name, c in (("attn_logits", a.logits), ("attn_softmax", a.softmax),
                        ("attn_attend", a.attend)):
            self.operators[name] = self.operators.get(name, 0) + c
        for k, v in a.commands:
            self.commands[k] = self.commands.get(k, 0) + v
        if a.error_bound is not None:
            self.error_bound = max(self.error_bound or 0.0, float(a.error_bound))


def _pim_energy_j(parts) -> float:
    """PIM-side energy of an attention call: the IDD model's total less the normal reads
    and writes (the NPU's traffic, counted under ``dram`` from bytes moved)."""
    if not isinstance(parts, dict):
        return float(parts)
    d = {k: float(v) for k, v in parts.items()}
    total = d.pop("total", None)
    if total is None:
        total = sum(d.values())
    return max(0.0, total - d.get("rd", 0.0) - d.get("wr", 0.0))


@lru_cache(maxsize=256)
def _with_hbm_efficiency(hw: NpuHw, efficiency: float) -> NpuHw:
    return dataclasses.replace(hw, hbm=dataclasses.replace(hw.hbm, efficiency=efficiency))


def _clip(x: float) -> float:
    return float(min(1.0, max(0.0, x)))


def _p2p_cycles(hw: NpuHw, nbytes: int) -> int:
    if hw.link.bandwidth_gbps is None:
        return 0
    s = nbytes / (hw.link.bandwidth_gbps * 1e9) + hw.link.latency_ns * 1e-9
    return int(math.ceil(s * hw.clock_hz))


def _npu_events(events: list, part: PartTiming, t0: int, suffix: str = "") -> int:
    t = t0
    for o in part.ops:
        if o.cycles > 0:
            events.append(("npu", o.name + suffix, int(t), int(o.cycles)))
        t += o.cycles
    return t


def _attn_events(events: list, a: _Attn, t0: int, pim: bool, suffix: str = "") -> None:
    track = "pim" if pim else "npu"
    t = t0
    for name, c in (("attn_logits", a.logits), ("attn_softmax", a.softmax),
                    ("attn_attend", a.attend)):
        if c > 0:
            events.append((track if name != "attn_softmax" else "npu/vector",
                           name + suffix, int(t), int(c)))
        t += c
    for ch, c in enumerate(a.channel_cycles):
        if c > 0:
            events.append((f"pim/ch{ch}", "attention" + suffix, int(t0), int(c)))


@lru_cache(maxsize=2048)
def _decode_cached(design: NpuDesign, model, seq, chans, layers, par) -> IterationResult:
    return design._decode(model, seq, chans, layers, par)


@lru_cache(maxsize=512)
def _prefill_cached(design: NpuDesign, model, lens, par) -> IterationResult:
    return design._prefill(model, lens, par)
