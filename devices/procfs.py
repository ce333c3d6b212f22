"""Pure parsers for Linux /proc and sysfs text, shared by the local, Android and Jetson readers.

Every function takes text already read (from this host, over adb, or over ssh) and returns
numbers in base units (bytes, Hz, degrees Celsius); absent fields are None, never 0.
"""

from __future__ import annotations

KIB = 1024

#: tegra/android thermal zones that are switched off read this sentinel (m°C or °C)
THERMAL_SENTINELS = (-256000, -256, -40000 * 10)


def parse_kv_kib(text: str) -> dict[str, int]:
    """``Key:   1234 kB`` lines (/proc/<pid>/status, smaps_rollup, meminfo) -> bytes."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if not sep:
            continue
        parts = rest.split()
        if not parts:
            continue
        try:
            value = int(parts[0])
        except ValueError:
            continue
        out[key.strip()] = value * KIB if len(parts) > 1 and parts[1].lower() == "kb" else value
    return out


def process_memory(status_text: str | None, smaps_rollup_text: str | None) -> dict[str, int | None]:
    """Bytes of one process from /proc/<pid>/status and /proc/<pid>/smaps_rollup.

    ``rss`` VmRSS, ``hwm`` VmHWM (peak RSS), ``anon`` RssAnon (heap, KV cache), ``file``
    RssFile (file-backed, e.g. mmapped GGUF weights), ``swap`` VmSwap, ``pss`` Pss from
    smaps_rollup, ``uss`` Private_Clean + Private_Dirty from smaps_rollup (None where that
    file is absent or unreadable).
    """
    st = parse_kv_kib(status_text or "")
    sm = parse_kv_kib(smaps_rollup_text or "")
    anon = st.get("RssAnon", sm.get("Anonymous"))
    file_ = st.get("RssFile")
    if file_ is None and "Rss" in sm and "Anonymous" in sm:
        file_ = sm["Rss"] - sm["Anonymous"]
    uss = None
    if "Private_Clean" in sm and "Private_Dirty" in sm:
        uss = sm["Private_Clean"] + sm["Private_Dirty"]
    return {"rss": st.get("VmRSS", sm.get("Rss")), "pss": sm.get("Pss"), "anon": anon,
            "file": file_, "swap": st.get("VmSwap", sm.get("Swap")), "hwm": st.get("VmHWM"),
            "uss": uss}


def parse_cpu_line(fields: list[str]) -> tuple[int, int]:
    """(idle, total) jiffies from one /proc/stat ``cpuN user nice system idle ...`` line."""
    vals = [int(v) for v in fields[1:9] if v.lstrip("-").isdigit()]
    if len(vals) < 4:
        raise ValueError(f"not a /proc/stat cpu line: {' '.join(fields)!r}")
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)     # idle + iowait
    return idle, sum(vals)


def parse_proc_stat(text: str) -> dict[str, tuple[int, int]]:
    """``{"cpu": (idle, total), "cpu0": ...}`` from /proc/stat."""
    out = {}
    for line in text.splitlines():
        if line.startswith("cpu"):
            fields = line.split()
            out[fields[0]] = parse_cpu_line(fields)
    return out


def cpu_util(prev: tuple[int, int], cur: tuple[int, int]) -> float | None:
    """Busy fraction (0..1) between two (idle, total) readings; None if no time passed."""
    d_total = cur[1] - prev[1]
    if d_total <= 0:
        return None
    return max(0.0, min(1.0, 1.0 - (cur[0] - prev[0]) / d_total))


def temp_c(raw: str | int | float) -> float | None:
    """A thermal_zone ``temp`` reading -> °C (m°C, d°C or °C by magnitude); sentinels None."""
    try:
        v = float(raw)
    except (TypeError, ValueError):
        return None
    if v in THERMAL_SENTINELS or v <= -200 and abs(v) < 1000 or v <= -200000:
        return None
    if abs(v) >= 1000:
        return v / 1000.0
    if abs(v) >= 200:
        return v / 10.0
    return v


def proc_stat_cpu_ticks(stat_text: str) -> int | None:
    """utime+stime+cutime+cstime clock ticks from /proc/<pid>/stat (comm may hold spaces)."""
    _, _, rest = stat_text.rpartition(")")
    parts = rest.split()
    try:
        return sum(int(parts[i]) for i in (11, 12, 13, 14))
    except (IndexError, ValueError):
        return None
