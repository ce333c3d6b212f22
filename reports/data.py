"""Read runs from the results store into one view per run.

``reports/`` reads the store only. Producers (sim, profiler, sweeps) are free to choose
their metric names and record fields, so the lookups here are tolerant: a metric is found
by any of several names, a record field by any of several keys, and a missing piece gives
``None`` (the report then says "no data" or "unavailable"), never an exception.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from neumelt.errors import InputError
from neumelt.store import Event, Metric, RunRow, Sample, Store
from reports.doc import Quantity, RunRef

_QUANT_RX = re.compile(r"[._-]((?:I?Q\d(?:_[0-9A-Z]+)*)|F16|BF16|F32|FP16)(?:\.gguf)?$",
                       re.IGNORECASE)

# unit -> (canonical unit, factor). Values are converted to the canonical unit.
_UNIT_SCALE = {
    "s": ("s", 1.0), "ms": ("s", 1e-3), "us": ("s", 1e-6), "µs": ("s", 1e-6),
    "ns": ("s", 1e-9),
    "j": ("J", 1.0), "mj": ("J", 1e-3), "uj": ("J", 1e-6), "µj": ("J", 1e-6),
    "nj": ("J", 1e-9), "pj": ("J", 1e-12), "mwh": ("J", 3.6), "wh": ("J", 3600.0),
    "w": ("W", 1.0), "mw": ("W", 1e-3), "uw": ("W", 1e-6),
    "b": ("B", 1.0), "bytes": ("B", 1.0), "byte": ("B", 1.0), "kb": ("B", 1e3),
    "kib": ("B", 1024.0), "mb": ("B", 1e6), "mib": ("B", 1024.0 ** 2), "gb": ("B", 1e9),
    "gib": ("B", 1024.0 ** 3),
    "c": ("°C", 1.0), "°c": ("°C", 1.0), "degc": ("°C", 1.0), "mc": ("°C", 1e-3),
    "hz": ("Hz", 1.0), "khz": ("Hz", 1e3), "mhz": ("Hz", 1e6), "ghz": ("Hz", 1e9),
}


def to_canonical(value: float | None, unit: str) -> tuple[float | None, str]:
    """Convert (value, unit) to SI-ish canonical units (s, J, W, B, °C, Hz) when known."""
    key = (unit or "").strip().lower()
    if key in _UNIT_SCALE:
        canon, factor = _UNIT_SCALE[key]
        return (None if value is None else float(value) * factor), canon
    if "/" in key:  # mJ/token -> J/token, ms/tok -> s/token
        num, den = key.split("/", 1)
        if num in _UNIT_SCALE:
            canon, factor = _UNIT_SCALE[num]
            den_name = "token" if den in ("tok", "token", "tokens") else unit.split("/", 1)[1]
            return (None if value is None else float(value) * factor), f"{canon}/{den_name}"
    return (None if value is None else float(value)), unit


def finite(x: Any) -> float | None:
    """``x`` as a finite float, else None (bools, strings, NaN and inf give None)."""
    if isinstance(x, bool) or x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def pick(data: dict[str, Any], *keys: str) -> Any:
    """First present, non-None value among ``keys`` in ``data``."""
    for k in keys:
        if k in data and data[k] is not None:
            return data[k]
    return None


def pick_num(data: dict[str, Any], *keys: str) -> float | None:
    """First finite number among ``keys``; a key ending in ``_ms``/``_us``/``_ns``/``_mj``/
    ``_mw``/``_kb``/``_mb``/``_gb`` is converted to s/J/W/B."""
    for k in keys:
        v = finite(data.get(k))
        if v is None:
            continue
        for suffix, (_, factor) in _SUFFIX_SCALE.items():
            if k.endswith(suffix):
                return v * factor
        return v
    return None


_SUFFIX_SCALE = {
    "_ms": ("s", 1e-3), "_us": ("s", 1e-6), "_ns": ("s", 1e-9), "_mj": ("J", 1e-3),
    "_uj": ("J", 1e-6), "_mw": ("W", 1e-3), "_kb": ("B", 1e3), "_mb": ("B", 1e6),
    "_gb": ("B", 1e9), "_kib": ("B", 1024.0), "_mib": ("B", 1024.0 ** 2),
    "_gib": ("B", 1024.0 ** 3), "_mwh": ("J", 3.6),
}


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> ``{"a.b.c": value}``; lists are kept as values."""
    out: dict[str, Any] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict):
                out.update(flatten(v, key))
            else:
                out[key] = v
    return out


@dataclass(frozen=True)
class RunData:
    """Everything the store holds about one run."""

    run: RunRow
    metrics: tuple[Metric, ...]
    records: dict[str, list[tuple[str, dict[str, Any]]]]
    events: tuple[Event, ...]
    samples: tuple[Sample, ...]

    @property
    def ref(self) -> RunRef:
        r = self.run
        return RunRef(r.id, r.kind, r.name, r.status, r.started_at)

    def table(self, *names: str) -> list[tuple[str, dict[str, Any]]]:
        """Rows of the first record table present among ``names``."""
        for n in names:
            if self.records.get(n):
                return self.records[n]
        return []

    def metric(self, *names: str, scope: str | None = "run") -> Metric | None:
        """First metric with one of ``names`` (exact, in order of preference)."""
        index = {(m.scope, m.name): m for m in self.metrics}
        for n in names:
            if scope is None:
                for m in self.metrics:
                    if m.name == n:
                        return m
            elif (scope, n) in index:
                return index[(scope, n)]
        return None

    def quantity(self, *names: str, default_provenance: str | None = None,
                 scope: str | None = "run", canonical: bool = True) -> Quantity | None:
        """A metric as a :class:`Quantity` (canonical unit), or None if no such metric."""
        m = self.metric(*names, scope=scope)
        if m is None:
            return None
        value, unit = to_canonical(m.value, m.unit) if canonical else (m.value, m.unit)
        return Quantity(value, unit, m.provenance or default_provenance, m.source)

    def attr(self, *keys: str) -> Any:
        """A descriptive attribute from config, info, then run-scope text metrics.

        Looks at top-level and dotted paths (``model.name``) of config and info.
        """
        for source in (self.run.config, self.run.info):
            flat = flatten(source)
            for k in keys:
                if k in source and not isinstance(source[k], dict) and source[k] not in (None, ""):
                    return source[k]
                if isinstance(source.get(k), dict):
                    inner = source[k]
                    for sub in ("name", "id", "preset"):
                        if inner.get(sub):
                            return inner[sub]
                if flat.get(k) not in (None, ""):
                    return flat[k]
            for k in keys:  # nested: {"serving": {"design": ...}} -> serving.design
                hits = sorted((key for key in flat if key.endswith("." + k)
                               and flat[key] not in (None, "")), key=lambda x: x.count("."))
                if hits:
                    return flat[hits[0]]
        return None

    @property
    def target(self) -> str:
        """The design (sim) or device (profile) this run is about."""
        if self.run.kind != "sim":
            dev = self.run.info.get("device")
            if isinstance(dev, dict):  # profiler: DeviceInfo(kind, model, soc, cores, ...)
                kind = dev.get("kind")
                model = dev.get("model")
                if kind == "local" or model in (None, "", "x86_64", "aarch64", "arm64"):
                    name = dev.get("soc") or model
                    cores = dev.get("cores")
                    extra = ", ".join(x for x in (f"{cores} cores" if cores else "", kind or "")
                                      if x)
                    if name:
                        return f"{name} ({extra})" if extra else str(name)
                elif model:
                    return f"{model} ({kind})" if kind and kind not in str(model) else str(model)
        v = self.attr("design", "device", "target", "device_name", "hardware", "host_device")
        if v in (None, "local") and self.run.kind == "profile":
            v = f"{self.run.host} (local)"
        return str(v) if v is not None else (self.run.name or f"run {self.run.id}")

    @property
    def model(self) -> str:
        v = self.attr("model", "model_name", "model_path")
        if v is None:
            return "unknown model"
        text = str(v)
        if "/" in text or text.endswith(".gguf"):  # a file path: keep the file name
            text = text.rstrip("/").rsplit("/", 1)[-1]
            text = re.sub(r"\.gguf$", "", text, flags=re.IGNORECASE)
        return text

    @property
    def quant(self) -> str:
        v = self.attr("quant", "quantisation", "quantization", "dtype", "weight_dtype")
        if v is not None:
            return str(v)
        m = _QUANT_RX.search(str(self.attr("model", "model_path") or ""))
        return m.group(1).upper() if m else "—"

    @property
    def label(self) -> str:
        name = self.run.name or self.target
        return f"#{self.run.id} {name}"


def load_run(store: Store, run_id: int) -> RunData:
    """Read one run (raises InputError for an unknown id)."""
    run = store.get_run(run_id)
    records: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for table, key, data in store.records(run.id):
        records[table].append((key, data if isinstance(data, dict) else {"value": data}))
    return RunData(run=run, metrics=tuple(store.metrics(run.id)), records=dict(records),
                   events=tuple(store.events(run.id)), samples=tuple(store.samples(run.id)))


def parse_run_ids(values: list[str], what: str = "RUN") -> list[int]:
    """``["3", "5-7", "9,10"]`` -> ``[3, 5, 6, 7, 9, 10]``; bad text is an InputError."""
    out: list[int] = []
    for raw in values:
        for part in str(raw).split(","):
            part = part.strip().lstrip("#")
            if not part:
                continue
            try:
                if "-" in part[1:]:
                    lo, hi = part.split("-", 1)
                    a, b = int(lo), int(hi)
                    if b < a or b - a > 10000:
                        raise ValueError
                    out.extend(range(a, b + 1))
                else:
                    out.append(int(part))
            except ValueError:
                raise InputError(f"bad run id {raw!r}", key=what,
                                 expected="run ids like 3, 5-7 or 9,10") from None
    if not out:
        raise InputError("no run id given", key=what, expected="one or more run ids")
    return out


def load_runs(store: Store, ids: list[int], kinds: tuple[str, ...] | None = None,
              include_children: bool = False) -> list[RunData]:
    """Load runs by id, checking their kind; ``include_children`` adds runs whose parent
    is one of ``ids`` (a sweep's points, a demo's parts)."""
    runs = []
    seen: set[int] = set()
    for rid in ids:
        if rid in seen:
            continue
        seen.add(rid)
        data = load_run(store, rid)
        if kinds and data.run.kind not in kinds:
            raise InputError(
                f"run {rid} is a {data.run.kind!r} run", key="RUN",
                expected=" or ".join(repr(k) for k in kinds) + " runs")
        runs.append(data)
    if include_children:
        for parent in list(runs):
            for child in store.list_runs():
                if child.parent_id == parent.run.id and child.id not in seen:
                    seen.add(child.id)
                    runs.append(load_run(store, child.id))
    return runs


def group_samples(samples: tuple[Sample, ...] | list[Sample]
                  ) -> dict[tuple[str, str, str], list[Sample]]:
    """Samples grouped by (source, name, unit), each in time order."""
    out: dict[tuple[str, str, str], list[Sample]] = defaultdict(list)
    for s in samples:
        out[(s.source, s.name, s.unit)].append(s)
    for v in out.values():
        v.sort(key=lambda s: s.t_host_s)
    return dict(out)


def sample_kind(name: str, unit: str) -> str | None:
    """Classify a sample series: power, memory, temperature, frequency, utilisation."""
    n = name.lower()
    u = (unit or "").strip().lower()
    canon = to_canonical(1.0, unit)[1]
    if canon == "W" or "power" in n:
        return "power"
    if canon == "°C" or "temp" in n or "thermal" in n:
        return "temperature"
    if canon == "Hz" or "freq" in n or "clock" in n:
        return "frequency"
    if canon == "B" or any(k in n for k in ("rss", "pss", "mem", "vmhwm", "swap")):
        if any(k in n for k in ("avail", "total", "free")) or n in ("available", "total"):
            return "device memory"
        return "memory"
    if u in ("%", "percent", "ratio") or "util" in n or "load" in n:
        return "utilisation"
    if canon in ("A",) or "current" in n or "volt" in n:
        return "electrical"
    return None


# -- finding metrics by meaning ---------------------------------------------------
# Producers name metrics freely; these patterns say what each report quantity may be
# called (regular expressions on the metric name, tried in order) and which canonical
# units are acceptable.

def find_metric(run: RunData, patterns: tuple[str, ...], units: tuple[str, ...] | None = None,
                scope: str | None = "run", exclude: str | None = None) -> Quantity | None:
    """First run metric whose name matches one of ``patterns`` (in order) and whose
    canonical unit is one of ``units``; returned as a canonical :class:`Quantity`.

    A match with a value wins over an earlier match that is unavailable; ``exclude``
    drops names matching it (e.g. :data:`STAT_EXCLUDE`: sd, p90, p99 ...)."""
    exclude = STAT_EXCLUDE if exclude is None else (exclude or None)
    fallback = None
    for pat in patterns:
        rx = re.compile(pat, re.IGNORECASE)
        for m in run.metrics:
            if scope is not None and m.scope != scope:
                continue
            if not rx.search(m.name) or (exclude and re.search(exclude, m.name, re.I)):
                continue
            value, unit = to_canonical(m.value, m.unit)
            if units is not None and _norm_unit(unit) not in units:
                continue
            q = Quantity(value, _norm_unit(unit) or unit, m.provenance, m.source)
            if q.available:
                return q
            fallback = fallback or q
    return fallback


# spread and tail statistics are not the figure a report means by "the" TTFT or tok/s
STAT_EXCLUDE = r"([._](sd|stddev|std|var|n|min|p[0-4]\d|p[6-9]\d|p\d)$)|(_p(9\d|[0-4]\d)_)"


def _norm_unit(unit: str) -> str:
    """Rate units written many ways: tok/s, tokens/s, token/s -> tok/s; J/tok -> J/token."""
    u = (unit or "").strip()
    low = u.lower().replace(" ", "")
    if low in ("tok/s", "tokens/s", "token/s", "tok_per_s", "tokens_per_s", "tps"):
        return "tok/s"
    if low in ("j/token", "j/tok", "j/tokens"):
        return "J/token"
    if low in ("", "1", "ratio", "fraction"):
        return ""
    return u


def norm_unit(unit: str) -> str:
    return _norm_unit(unit)
