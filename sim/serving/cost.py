"""Cost models: how long one serving iteration takes and what it costs in energy.

The serving loop asks a :class:`CostModel` for the cost of a batch the scheduler has
already chosen; the cost model never picks requests and the scheduler never computes
time (the Vidur split). :class:`DesignCostModel` prices iterations on a simulated
design (``sim.designs``) and memoises them: two iterations with the same batch size
whose total context (and, for PIM designs, heaviest channel) agree within
``tolerance`` (relative) share one simulated result. Dense layers depend only on the
batch size, so the reuse error is bounded by ``tolerance`` times the attention share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class IterationCost:
    """Time (s), energy by component (J), utilisation by unit (0..1) of one iteration."""

    seconds: float
    energy_j: Mapping[str, float] = field(default_factory=dict)
    utilisation: Mapping[str, float] = field(default_factory=dict)
    fidelity: str = "fast"
    optimum_s: float | None = None  # roofline-optimal time of the same work, if known
    time_s: Mapping[str, float] = field(default_factory=dict)  # breakdown part -> seconds

    @property
    def energy_total_j(self) -> float:
        return float(sum(self.energy_j.values()))


class CostModel(Protocol):
    """Prices one iteration. ``source`` names it for provenance ("<design>/<fidelity>")."""

    source: str

    def iteration(self, decode_seq_lens: Sequence[int], decode_channels: Sequence[int] | None,
                  prefill_tokens: Sequence[int], prefill_context: Sequence[int],
                  ) -> IterationCost:
        """``decode_seq_lens``: context length (tokens, incl. the new one) of each decode
        request; ``decode_channels``: its PIM channel or None; ``prefill_tokens``: tokens
        computed per prefilled request; ``prefill_context``: its full context (tokens)."""
        ...


def combine(parts: Sequence[IterationCost]) -> IterationCost:
    """Serial composition: times and energies add, utilisation is time-weighted."""
    parts = [p for p in parts if p is not None]
    if len(parts) == 1:
        return parts[0]
    seconds = sum(p.seconds for p in parts)
    energy: dict[str, float] = {}
    util: dict[str, float] = {}
    for p in parts:
        for k, v in p.energy_j.items():
            energy[k] = energy.get(k, 0.0) + float(v)
        for k, v in p.utilisation.items():
            util[k] = util.get(k, 0.0) + float(v) * p.seconds
    if seconds > 0:
        util = {k: v / seconds for k, v in util.items()}
    fid = sorted({p.fidelity for p in parts})
    opt = (sum(p.optimum_s for p in parts)
           if all(p.optimum_s is not None for p in parts) else None)
    time_s: dict[str, float] = {}
    for p in parts:
        for k, v in p.time_s.items():
            time_s[k] = time_s.get(k, 0.0) + float(v)
    return IterationCost(seconds, energy, util, "+".join(fid), opt, time_s)


def _q(x: float, tol: float) -> int:
    """Log-spaced bucket of ``x``: equal buckets differ by at most ``tol`` relatively."""
    if x <= 0:
        return -1
    return int(math.floor(math.log(x) / math.log1p(tol)))


def _optimum(res: Any) -> float | None:
    """Roofline-optimal seconds of an iteration when the design reports them per layer."""
    per_layer = dict(getattr(res, "counters", {}) or {}).get("optimum_layer_s")
    if per_layer is None:
        return None
    return float(per_layer) * int(getattr(res, "layers", 1) or 1)


class DesignCostModel:
    """Memoised iteration costs from a ``sim.designs`` design for one model.

    ``design.decode_iteration(model, seq_lens, channel_idx=...)`` prices decode batches;
    ``design.prefill(model, prompt_lens)`` prices prefill. A mixed iteration (prefill
    joined to decode) is priced by ``design.mixed_iteration`` where the design has one;
    otherwise as the two run back to back, an upper bound: a real mixed batch shares
    the weight reads of its dense layers. ``hits``/``misses`` count
    memo use; ``tolerance`` 0 disables reuse across distinct batches.
    ``energy_scale`` multiplies every energy: a design reports one device of a
    tensor-parallel group (all its layers), so the serving loop passes ``tp`` to count
    the whole group.
    """

    def __init__(self, design: Any, model: Any, tolerance: float = 0.02,
                 name: str | None = None, energy_scale: float = 1.0) -> None:
        self.design = design
        self.energy_scale = float(energy_scale)
        self.model = model
        self.tolerance = float(tolerance)
        self.name = name or str(getattr(design, "name", type(design).__name__))
        self.fidelity = str(getattr(design, "fidelity", "fast"))
        self.hits = 0
        self.misses = 0
        self._decode: dict[tuple, IterationCost] = {}
        self._prefill: dict[tuple, IterationCost] = {}
        self.fidelities: set[str] = set()

    @property
    def source(self) -> str:
        return f"{self.name}/{self.fidelity}"

    def _key_decode(self, seq: Sequence[int], chans: Sequence[int] | None) -> tuple:
        if self.tolerance <= 0:
            return (tuple(seq), tuple(chans) if chans is not None else None)
        n = len(seq)
        total = sum(seq)
        key: tuple = (n, _q(total, self.tolerance), _q(max(seq), 4 * self.tolerance))
        if chans is not None:
            loads: dict[int, int] = {}
            for s, c in zip(seq, chans):
                loads[c] = loads.get(c, 0) + s
            key += (_q(max(loads.values()), self.tolerance), len(loads))
        return key

    def _key_prefill(self, toks: Sequence[int]) -> tuple:
        if self.tolerance <= 0:
            return tuple(sorted(toks))
        return (len(toks), _q(sum(toks), self.tolerance),
                _q(sum(t * t for t in toks), self.tolerance))

    def _from_result(self, res: Any) -> IterationCost:
        k_e = self.energy_scale
        return IterationCost(seconds=float(res.seconds),
                             energy_j={k: float(v) * k_e for k, v in dict(res.energy_j).items()},
                             utilisation={k: float(v) for k, v in
                                          dict(res.utilisation).items()},
                             fidelity=str(getattr(res, "fidelity", "fast")),
                             optimum_s=_optimum(res),
                             time_s={k: float(v) / float(res.clock_hz) for k, v in
                                     dict(getattr(res, "breakdown", {}) or {}).items()})

    def decode(self, seq: Sequence[int], chans: Sequence[int] | None) -> IterationCost:
        key = self._key_decode(seq, chans)
        hit = self._decode.get(key)
        if hit is not None:
            self.hits += 1
            return hit
        self.misses += 1
        res = self.design.decode_iteration(self.model, list(seq),
                                           channel_idx=list(chans) if chans is not None
                                           else None)
        cost = self._from_result(res)
        self.fidelities.add(cost.fidelity)
        self._decode[key] = cost
        return cost

    def prefill(self, toks: Sequence[int]) -> IterationCost:
        key = self._key_prefill(toks)
        hit = self._prefill.get(key)
        if hit is not None:
            self.hits += 1
            return hit
        self.misses += 1
        cost = self._from_result(self.design.prefill(self.model, list(toks)))
        self.fidelities.add(cost.fidelity)
        self._prefill[key] = cost
        return cost

    def mixed(self, seq: Sequence[int], toks: Sequence[int]) -> IterationCost:
        """A mixed iteration priced jointly by a design that can (``mixed_iteration``)."""
        key = ("mixed", self._key_decode(seq, None), self._key_prefill(toks))
        hit = self._decode.get(key)
        if hit is not None:
            self.hits += 1
            return hit
        self.misses += 1
        cost = self._from_result(self.design.mixed_iteration(self.model, list(seq), list(toks)))
        self.fidelities.add(cost.fidelity)
        self._decode[key] = cost
        return cost

    def iteration(self, decode_seq_lens: Sequence[int], decode_channels: Sequence[int] | None,
                  prefill_tokens: Sequence[int], prefill_context: Sequence[int],
                  ) -> IterationCost:
        if prefill_tokens and decode_seq_lens and hasattr(self.design, "mixed_iteration"):
            return self.mixed(decode_seq_lens, prefill_tokens)
        parts = []
        if prefill_tokens:
            parts.append(self.prefill(prefill_tokens))
        if decode_seq_lens:
            parts.append(self.decode(decode_seq_lens, decode_channels))
        return combine(parts)
