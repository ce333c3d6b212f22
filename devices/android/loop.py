"""The on-device sampling loop: one long-running shell that prints timestamped lines.

One ``adb shell`` runs :func:`build_script` for the whole session; each tick it reads the
fast counters with shell builtins only (``read`` from sysfs and /proc: no fork per
counter) and prints one ``T <epoch_s> key=value ...`` line; every ``mem_every`` ticks it
also prints an ``M`` line with process and system memory, slow battery fields and its own
CPU ticks. Sleeps are drift-corrected against the device clock (integer milliseconds
modulo 1e5 s, so mksh's 32-bit arithmetic is enough) and wait with the ``read -t``
builtin on a private FIFO (no fork per tick), falling back to ``sleep`` where ``read -t``
with a fraction is not supported. :class:`LoopParser` turns lines into
:class:`~devices.base.Tick` objects.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from devices.android.battery import BatteryCalibration
from devices.base import ClockOffset, Reading, Tick
from devices.procfs import KIB, cpu_util, temp_c

CLK_TCK = 100


@dataclass(frozen=True)
class LoopPlan:
    """What the loop reads; every path already carries the device root prefix."""

    period_ms: int = 100
    mem_every: int = 10
    battery_dir: str | None = None
    zones: tuple[tuple[int, str, str], ...] = ()      # (index, temp path, type)
    cpufreq: tuple[tuple[int, str], ...] = ()         # (cpu, scaling_cur_freq path)
    gpu_freq: tuple[str, float] | None = None         # (path, Hz per raw unit)
    gpu_busy: str | None = None                       # "23 %" (kgsl) or "23" (mali)
    pids: tuple[int, ...] = ()
    kinds: frozenset[str] = field(default_factory=lambda: frozenset(
        {"power", "cpu", "thermal", "memory"}))


def _q(path: str) -> str:
    return shlex.quote(path)


def build_script(plan: LoopPlan) -> str:
    """POSIX-ish shell text (bash and Android mksh) for ``plan``."""
    fast: list[str] = []
    if "power" in plan.kinds and plan.battery_dir:
        b = plan.battery_dir
        fast.append(f'v=; read -r v 2>/dev/null <{_q(b + "/current_now")} && L="$L bi=$v"')
        fast.append(f'v=; read -r v 2>/dev/null <{_q(b + "/voltage_now")} && L="$L bv=$v"')
    if "thermal" in plan.kinds:
        for idx, path, _type in plan.zones:
            fast.append(f'v=; read -r v 2>/dev/null <{_q(path)} && L="$L tz{idx}=$v"')
    if "cpu" in plan.kinds:
        fast.append('while read -r c a b d e f g h i rest; do case $c in cpu*) '
                    'L="$L $c=$a,$b,$d,$e,$f,$g,$h,$i";; *) break;; esac; done </proc/stat')
        for cpu, path in plan.cpufreq:
            fast.append(f'v=; read -r v 2>/dev/null <{_q(path)} && L="$L f{cpu}=$v"')
        if plan.gpu_freq:
            fast.append(f'v=; read -r v 2>/dev/null <{_q(plan.gpu_freq[0])} && L="$L g=${{v%% *}}"')
        if plan.gpu_busy:
            fast.append(f'v=; read -r v 2>/dev/null <{_q(plan.gpu_busy)} && L="$L gb=${{v%% *}}"')
    slow: list[str] = []
    if "memory" in plan.kinds:
        for pid in plan.pids:
            slow.append('while read -r k v rest; do case $k in VmRSS:|VmHWM:|RssAnon:|RssFile:|'
                        f'VmSwap:) M="$M {pid}.${{k%:}}=$v";; esac; done 2>/dev/null </proc/{pid}/status')
            slow.append('while read -r k v rest; do case $k in Pss:|Private_Clean:|Private_Dirty:) '
                        f'M="$M {pid}.${{k%:}}=$v";; esac; done 2>/dev/null </proc/{pid}/smaps_rollup')
        slow.append('while read -r k v rest; do case $k in MemTotal:|MemAvailable:) '
                    'M="$M sys.${k%:}=$v";; esac; done </proc/meminfo')
    if "power" in plan.kinds and plan.battery_dir:
        b = plan.battery_dir
        for key, name in (("bc", "charge_counter"), ("bl", "capacity"), ("bt", "temp")):
            slow.append(f'v=; read -r v 2>/dev/null <{_q(b + "/" + name)} && M="$M {key}=$v"')
        slow.append(f'v=; read -r v 2>/dev/null <{_q(b + "/status")} && M="$M bs=${{v%% *}}"')
    slow.append('read -r st </proc/$$/stat; set -- ${st##*) }; M="$M self=${12},${13},${14},${15}"')
    p = max(1, int(plan.period_ms))
    lines = [
        f"P={p}; K={max(1, int(plan.mem_every))}; n=0; next=0; W=0",
        # wait on a private FIFO with `read -t` (a builtin) instead of forking `sleep`
        'F="${TMPDIR:-/data/local/tmp}/.neumelt-loop.$$"',
        'if mkfifo "$F" 2>/dev/null; then exec 9<>"$F"; rm -f "$F"; '
        'read -r -t 0.001 -u 9 _ 2>/dev/null; [ $? -gt 128 ] && W=1; fi',
        'echo "H $$ $P $K $W"',
        "while :; do",
        '  t=${EPOCHREALTIME:-}; [ -n "$t" ] || t=$(date +%s.%N)',
        '  L="T $t"',
        *("  " + s for s in fast),
        '  echo "$L" || exit 0',
        "  if [ $((n % K)) -eq 0 ]; then",
        '    M="M $t"',
        *("    " + s for s in slow),
        '    echo "$M" || exit 0',
        "  fi",
        "  n=$((n + 1))",
        '  e=${EPOCHREALTIME:-}; [ -n "$e" ] || e=$(date +%s.%N)',      # after the work
        "  s=${e%.*}; f=${e#*.}000; now=$(( (s % 100000) * 1000 + 10#${f:0:3} ))",
        "  [ $next -eq 0 ] && next=$now",
        "  next=$((next + P)); d=$((next - now))",
        # late by up to two periods: keep the schedule (the next tick runs at once and the
        # rate catches up); further behind, or a clock step: restart it (a gap is recorded)
        "  if [ $d -lt $((-2 * P)) ] || [ $d -gt $((P * 4)) ]; then next=$now; d=0; fi",
        "  if [ $d -gt 0 ]; then",
        "    sl=$((d / 1000)); r=$((d % 1000))",
        "    if [ $r -lt 10 ]; then r=00$r; elif [ $r -lt 100 ]; then r=0$r; fi",
        "    if [ $W = 1 ]; then read -r -t $sl.$r -u 9 _; else sleep $sl.$r; fi",
        "  fi",
        "done",
    ]
    return "\n".join(lines) + "\n"


class LoopParser:
    """Turns the loop's lines into ticks; keeps /proc/stat state for CPU utilisation."""

    def __init__(self, plan: LoopPlan, offset: ClockOffset,
                 battery: BatteryCalibration | None) -> None:
        self.plan = plan
        self.offset = offset
        self.battery = battery
        self.loop_pid: int | None = None
        self._cpu_prev: dict[str, tuple[int, int]] = {}
        self._zone_names = {f"tz{i}": (t or f"zone{i}") for i, _p, t in plan.zones}
        self.self_ticks: list[tuple[float, int]] = []    # (device time, cpu ticks)

    def parse(self, line: str) -> Tick | None:
        parts = line.split()
        if not parts:
            return None
        if parts[0] == "H" and len(parts) >= 2:
            self.loop_pid = int(parts[1]) if parts[1].isdigit() else None
            return None
        if parts[0] not in ("T", "M") or len(parts) < 2:
            return None
        try:
            t_dev = float(parts[1])
        except ValueError:
            return None
        kv = {}
        for item in parts[2:]:
            k, sep, v = item.partition("=")
            if sep:
                kv[k] = v
        if parts[0] == "T":
            readings = self._fast(kv)
            group = "fast"
        else:
            readings = self._slow(kv, t_dev)
            group = "memory"
        return Tick(group, self.offset.to_host(t_dev), t_dev, tuple(readings))

    def _fast(self, kv: dict[str, str]) -> list[Reading]:
        out: list[Reading] = []
        plan = self.plan
        if "power" in plan.kinds and plan.battery_dir:
            cur = _num(kv.get("bi"))
            volt = _num(kv.get("bv"))
            amps = self.battery.current_a(cur) if cur is not None and self.battery else None
            volts = volt * 1e-6 if volt is not None else None
            out.append(Reading("battery", "current_a", amps, "A"))
            out.append(Reading("battery", "voltage_v", volts, "V"))
            out.append(Reading("battery", "power_w",
                               amps * volts if amps is not None and volts is not None else None,
                               "W"))
        if "thermal" in plan.kinds:
            for key, name in self._zone_names.items():
                out.append(Reading("thermal", name, temp_c(kv[key]) if key in kv else None, "C"))
        if "cpu" in plan.kinds:
            for key, value in kv.items():
                if not key.startswith("cpu"):
                    continue
                try:
                    vals = [int(x) for x in value.split(",") if x]
                except ValueError:
                    continue
                if len(vals) < 4:
                    continue
                cur_it = (vals[3] + (vals[4] if len(vals) > 4 else 0), sum(vals))
                prev = self._cpu_prev.get(key)
                self._cpu_prev[key] = cur_it
                if prev is not None:
                    name = "util" if key == "cpu" else f"util.{key}"
                    out.append(Reading("cpu", name, cpu_util(prev, cur_it), "fraction"))
            for cpu, _path in plan.cpufreq:
                khz = _num(kv.get(f"f{cpu}"))
                out.append(Reading("cpu", f"freq.cpu{cpu}",
                                   khz * 1e3 if khz is not None else None, "Hz"))
            if plan.gpu_busy:
                busy = _num(kv.get("gb", "").rstrip("%"))
                out.append(Reading("gpu", "util", busy / 100.0 if busy is not None else None,
                                   "fraction"))
            if plan.gpu_freq:
                raw = _num(kv.get("g"))
                out.append(Reading("gpu", "freq", raw * plan.gpu_freq[1] if raw is not None
                                   else None, "Hz"))
        return out

    def _slow(self, kv: dict[str, str], t_dev: float) -> list[Reading]:
        out: list[Reading] = []
        if "memory" in self.plan.kinds:
            names = {"VmRSS": "rss", "Pss": "pss", "RssAnon": "anon", "RssFile": "file",
                     "VmSwap": "swap", "VmHWM": "hwm"}
            for pid in self.plan.pids:
                for key, name in names.items():
                    v = _num(kv.get(f"{pid}.{key}"))
                    out.append(Reading(f"process.{pid}", name, v * KIB if v is not None else None,
                                       "B"))
                pc, pd = _num(kv.get(f"{pid}.Private_Clean")), _num(kv.get(f"{pid}.Private_Dirty"))
                out.append(Reading(f"process.{pid}", "uss", (pc + pd) * KIB
                                   if pc is not None and pd is not None else None, "B"))
            for key, name in (("sys.MemTotal", "total"), ("sys.MemAvailable", "available")):
                v = _num(kv.get(key))
                out.append(Reading("memory", name, v * KIB if v is not None else None, "B"))
        if "power" in self.plan.kinds and self.plan.battery_dir:
            cc = _num(kv.get("bc"))
            out.append(Reading("battery", "charge_counter_uah", cc, "uAh"))
            out.append(Reading("battery", "level_pct", _num(kv.get("bl")), "%"))
            bt = _num(kv.get("bt"))
            out.append(Reading("battery", "temp_c", bt / 10.0 if bt is not None else None, "C"))
            status = kv.get("bs")
            if status is not None:
                out.append(Reading("battery", "charging",
                                   1.0 if status.lower() in ("charging", "full") else 0.0, "bool"))
        me = kv.get("self")
        if me:
            try:
                self.self_ticks.append((t_dev, sum(int(x) for x in me.split(","))))
            except ValueError:
                pass
        return out

    def overhead(self) -> dict[str, float | None]:
        """CPU share of one core the loop used on the device (from its own /proc stat)."""
        if len(self.self_ticks) < 2:
            return {"device_cpu_fraction": None}
        (t0, c0), (t1, c1) = self.self_ticks[0], self.self_ticks[-1]
        if t1 <= t0:
            return {"device_cpu_fraction": None}
        return {"device_cpu_fraction": (c1 - c0) / CLK_TCK / (t1 - t0)}


def _num(text: str | None) -> float | None:
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return None
