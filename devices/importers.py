"""Store logs recorded elsewhere as sessions: tegrastats (every JetPack variant)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from devices.jetson import tegrastats
from neumelt.errors import InputError
from neumelt.store import Sample, Store


def import_tegrastats(store: Store, path: str, interval_s: float = 1.0) -> dict[str, Any]:
    """Parse ``path`` and store every value as a ``measured`` sample of a new ``import`` run.

    Time: ``t_device_s`` is the line's date (epoch s, board local time as printed) when
    JetPack prints one; ``t_host_s`` is seconds since the first line: the step between two
    dated lines, else ``interval_s`` (so the timeline stays monotonic across format changes).
    """
    try:
        with open(path, errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=path) from None
    parsed: list[tuple[int, tegrastats.TegraSample]] = []
    skipped = 0
    for no, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        s = tegrastats.parse_line(line)
        if s is None:
            skipped += 1
            continue
        parsed.append((no, s))
    if not parsed:
        raise InputError("no tegrastats lines found", file=path,
                         expected="lines like 'RAM 2257/30536MB ... CPU [..] ... VDD_IN 5000mW/...'")
    run_id = store.start_run("import", {"format": "tegrastats", "file": path,
                                        "interval_s": interval_s}, name=f"tegrastats {path}")
    samples: list[Sample] = []
    out_rows = []
    t = 0.0
    prev = None
    for i, (no, s) in enumerate(parsed):
        t_dev = s.time.timestamp() if s.time else None
        if i:
            step = (s.time - prev).total_seconds() if s.time and prev else None
            t += step if step is not None and 0 < step < 86400 else interval_s
        prev = s.time
        for source, name, value, unit in tegrastats.readings(s):
            samples.append(Sample(source, name, t, value, unit, t_dev))
            out_rows.append({"line": no, "t_s": t, "t_device_s": t_dev, "source": source,
                             "name": name, "value": value, "unit": unit})
    store.add_samples(run_id, samples)
    store.set_run_info(run_id, "source", {"tool": "tegrastats", "lines": len(parsed),
                                          "skipped": skipped})
    store.finish_run(run_id, "done")
    summary = _summary(samples)
    return {"run_id": run_id, "file": path, "lines": len(parsed), "skipped": skipped,
            "n_samples": len(samples), "provenance": "measured", "summary": summary,
            "samples": out_rows}


def _summary(samples: list[Sample]) -> list[dict[str, Any]]:
    """Count and mean of each (source, name, unit) series; unavailable values skipped."""
    acc: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for s in samples:
        if s.value is not None:
            acc[(s.source, s.name, s.unit)].append(s.value)
    return [{"source": k[0], "name": k[1], "unit": k[2], "n": len(v), "mean": sum(v) / len(v)}
            for k, v in sorted(acc.items())]


IOS_FORMATS = {
    "sysmon": "pymobiledevice3 developer dvt sysmon process monitor JSONL",
    "ios-battery": "pymobiledevice3 diagnostics battery monitor / single",
    "ios-energy": "pymobiledevice3 developer dvt energy JSONL (unitless scores)",
}


def import_ios(store: Store, path: str, fmt: str, process: str | None = None,
               interval_s: float | None = None) -> dict[str, Any]:
    """Store recorded pymobiledevice3 output as an ``import`` run (energy stays a score)."""
    from devices.ios import readers
    try:
        with open(path, errors="replace") as fh:
            text = fh.read()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=path) from None
    if fmt == "sysmon":
        samples = readers.read_sysmon(text, file=path, name=process,
                                      interval_s=interval_s or 0.5)
    elif fmt == "ios-battery":
        samples = readers.read_battery(text, file=path, interval_s=interval_s or 1.0)
    else:
        samples = readers.read_energy(text, file=path, interval_s=interval_s or 1.0)
    if not samples:
        raise InputError("no samples found" + (f" for process {process!r}" if process else ""),
                         file=path, expected=IOS_FORMATS[fmt])
    t0 = min(s.t_host_s for s in samples)
    samples = [Sample(s.source, s.name, s.t_host_s - t0, s.value, s.unit, s.t_device_s)
               for s in samples]
    run_id = store.start_run("import", {"format": fmt, "file": path, "process": process},
                             name=f"{fmt} {path}")
    store.add_samples(run_id, samples)
    store.set_run_info(run_id, "source", {"tool": "pymobiledevice3", "format": fmt})
    store.finish_run(run_id, "done")
    summary = _summary(samples)
    return {"run_id": run_id, "file": path, "format": fmt, "lines": len(text.splitlines()),
            "skipped": 0, "n_samples": len(samples),
            "provenance": "estimated" if fmt == "ios-energy" else "measured",
            "summary": summary,
            "samples": [{"t_s": s.t_host_s, "t_device_s": s.t_device_s, "source": s.source,
                         "name": s.name, "value": s.value, "unit": s.unit} for s in samples]}
