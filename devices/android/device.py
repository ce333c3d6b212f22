"""An Android target over ADB: run commands, move files, read counters, keep hygiene.

``root`` is a path prefix for sysfs and data paths (``""`` on a phone). The test daemon in
``tests/adbd`` runs commands on a host inside a temporary Android-like tree, so tests pass
that tree's path; build device paths with :meth:`AndroidDevice.path`.
"""

from __future__ import annotations

import logging
import shlex
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import adbutils

from devices.android import adb as adbhost
from devices.android.battery import BatteryCalibration, detect
from devices.android.dumpsys import (
    parse_battery,
    parse_getprop,
    parse_meminfo,
    parse_thermalservice,
)
from devices.android.loop import LoopParser, LoopPlan, build_script
from devices.base import (
    ClockOffset,
    CounterSource,
    CounterStream,
    Device,
    DeviceInfo,
    Reading,
    RunResult,
    Tick,
    quote_argv,
)
from devices.clock import estimate_offset, host_now
from devices.errors import DeviceError, DeviceGone, DeviceTimeout, DeviceUnavailable
from devices.polling import MergedStream, PolledStream
from devices.procfs import process_memory

log = logging.getLogger(__name__)

_DISCOVER = r"""R={root}
for d in "$R"/sys/class/power_supply/*; do [ -d "$d" ] || continue; t=; read -r t <"$d/type" 2>/dev/null; echo "PS|$d|$t"; done
for z in "$R"/sys/class/thermal/thermal_zone*; do [ -r "$z/temp" ] || continue; t=; read -r t <"$z/type" 2>/dev/null; echo "TZ|$z|$t"; done
for c in "$R"/sys/devices/system/cpu/cpu[0-9]*; do [ -r "$c/cpufreq/scaling_cur_freq" ] && echo "CF|$c"; done
for g in "$R"/sys/class/kgsl/kgsl-3d0/gpuclk "$R"/sys/class/misc/mali0/device/cur_freq "$R"/sys/class/devfreq/*gpu*/cur_freq "$R"/sys/class/devfreq/*kgsl*/cur_freq; do [ -r "$g" ] && echo "GPU|$g"; done
for g in "$R"/sys/class/kgsl/kgsl-3d0/gpu_busy_percentage "$R"/sys/class/misc/mali0/device/utilization; do [ -r "$g" ] && echo "GPUBUSY|$g"; done
echo "PROCSTAT|$([ -r /proc/stat ] && echo yes)"
"""


class AndroidDevice(Device):
    """One Android device known to the adb server on ``adb_port``.

    No adb server is started unless ``start_server=True`` (then it is logged); a TCP serial
    (``host:port``) is connected, a stale offline one reconnected; hygiene settings left
    by a crashed session are restored (``restore_hygiene``).
    """

    kind = "android"

    def __init__(self, serial: str, adb_port: int = adbhost.DEFAULT_PORT, root: str = "",
                 battery: BatteryCalibration | None = None, hygiene_dir: str | Path | None = None,
                 timeout: float = 10.0, restore_hygiene: bool = True,
                 start_server: bool = False) -> None:
        self.serial = serial
        self.adb_port = adb_port
        self.root = root.rstrip("/")
        self.timeout = timeout
        self._battery_override = battery
        self._calibration: BatteryCalibration | None = battery
        if not adbhost.server_running(adb_port):
            if not start_server:
                raise DeviceUnavailable(f"no adb server on port {adb_port}: run "
                                        f"`adb -P {adb_port} start-server`")
            adbhost.start_server(adb_port)            # explicit and logged
        self._client = adbhost.client(adb_port, timeout)
        self._ensure_online()
        self._dev = self._client.device(serial)
        self._plan_cache: dict[str, object] | None = None
        self.hygiene_dir = hygiene_dir
        if restore_hygiene:
            from devices.hygiene import restore_pending
            restore_pending(self, hygiene_dir)

    # -- presence -----------------------------------------------------------------
    def state(self) -> str | None:
        """``device`` | ``offline`` | ``unauthorized`` ... or None if the server lost it."""
        if not adbhost.server_running(self.adb_port):
            return None
        try:
            for serial, state, _tags in adbhost.list_serials(self.adb_port):
                if serial == self.serial:
                    return state
        except Exception:
            return None
        return None

    def is_alive(self) -> bool:
        return self.state() == "device"

    def _ensure_online(self) -> None:
        state = self.state()
        if state == "device":
            return
        if state is None and ":" not in self.serial:
            known = [f"{s} ({st})" for s, st, _ in adbhost.list_serials(self.adb_port)]
            raise DeviceUnavailable(f"no device {self.serial!r} on the adb server at port "
                                    f"{self.adb_port}; it lists: {', '.join(known) or 'nothing'}")
        if ":" in self.serial:
            if state == "offline":            # a stale TCP transport: adb would back off
                try:
                    self._client.disconnect(self.serial)
                except adbutils.AdbError:
                    pass
            try:
                adbhost.connect(self.serial, self.adb_port, self.timeout)
            except DeviceUnavailable:
                if state is None:
                    raise
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.state() == "device":
                return
            time.sleep(0.1)
        raise DeviceUnavailable(f"device {self.serial} is {self.state() or 'not connected'} on "
                                f"the adb server at port {self.adb_port}; check `adb -P "
                                f"{self.adb_port} devices` (authorise the host on the phone)")

    def path(self, device_path: str) -> str:
        """A device path under this device's root prefix (identity on a phone)."""
        return self.root + device_path if device_path.startswith("/") else device_path

    # -- commands -----------------------------------------------------------------
    def shell(self, script: str, timeout: float = 60.0) -> RunResult:
        """Run trusted shell text we wrote (never user text: use :meth:`run` for argv)."""
        t0 = time.perf_counter()
        try:
            r = self._dev.shell2(script, timeout=timeout, v2=True)
        except (adbutils.AdbTimeout, TimeoutError) as exc:
            raise DeviceTimeout(f"adb shell on {self.serial} (no output for {timeout:g} s)",
                                timeout) from exc
        except (adbutils.AdbError, OSError) as exc:
            self._raise_gone(exc)
        stdout = r.stdout if (r.stdout or r.stderr) else r.output
        return RunResult(r.returncode, stdout, r.stderr, time.perf_counter() - t0)

    def run(self, argv: Sequence[str], timeout: float = 60.0) -> RunResult:
        return self.shell(quote_argv(argv), timeout=timeout)

    def spawn(self, argv: Sequence[str]):  # noqa: ANN201 - devices.spawn.AdbSpawned
        """Start ``argv`` in a device shell; read ``.lines()`` while it runs; ``.close()``."""
        from devices.spawn import AdbSpawned
        try:
            return AdbSpawned(self._dev.shell(quote_argv(argv), stream=True))
        except (adbutils.AdbError, OSError) as exc:
            self._raise_gone(exc)

    def _raise_gone(self, exc: BaseException) -> None:
        if not self.is_alive():
            raise DeviceGone(f"device {self.serial} is gone: {exc}") from exc
        raise DeviceError(f"adb error on {self.serial}: {exc}") from exc

    def push(self, local: str, remote: str) -> None:
        try:
            self._dev.sync.push(local, remote)
        except (adbutils.AdbError, OSError) as exc:
            self._raise_gone(exc)

    def pull(self, remote: str, local: str) -> None:
        try:
            self._dev.sync.pull(remote, local)
        except (adbutils.AdbError, OSError) as exc:
            self._raise_gone(exc)

    def forward(self, remote_port: int) -> int:
        try:
            return self._dev.forward_port(remote_port)
        except (adbutils.AdbError, OSError) as exc:
            self._raise_gone(exc)
            raise

    def unforward(self, local_port: int) -> None:
        try:
            self._dev.forward_remove(f"tcp:{int(local_port)}", raise_non_found=False)
        except (adbutils.AdbError, OSError):
            pass            # device or server gone: the forward went with it

    # -- description ----------------------------------------------------------------
    def properties(self) -> dict[str, str]:
        return parse_getprop(self.shell("getprop", timeout=self.timeout).stdout)

    def info(self) -> DeviceInfo:
        props = self.properties()
        mem = self.shell("cat /proc/meminfo", timeout=self.timeout).stdout
        total = None
        for line in mem.splitlines():
            if line.startswith("MemTotal:"):
                total = int(line.split()[1]) * 1024
        cpus = self.shell(f"ls -d {shlex.quote(self.path('/sys/devices/system/cpu'))}"
                          "/cpu[0-9]*",
                          timeout=self.timeout).stdout.splitlines()  # a path may hold spaces
        release = props.get("ro.build.version.release")
        sdk = props.get("ro.build.version.sdk")
        return DeviceInfo(
            kind="android",
            model=props.get("ro.product.model"),
            soc=props.get("ro.soc.model") or props.get("ro.board.platform")
            or props.get("ro.hardware"),
            cores=len(cpus) or None,
            ram_bytes=total,
            os=f"Android {release} (API {sdk})" if release else None,
            serial=props.get("ro.serialno") or self.serial,
        )

    def _discover(self) -> dict[str, object]:
        if self._plan_cache is not None:
            return self._plan_cache
        import shlex
        out = self.shell(_DISCOVER.format(root=shlex.quote(self.root)), timeout=self.timeout)
        battery_dir = None
        zones: list[tuple[int, str, str]] = []
        cpufreq: list[tuple[int, str]] = []
        gpu = None
        gpu_busy = None
        procstat = False
        supplies = []
        for line in out.stdout.splitlines():
            tag, _, rest = line.partition("|")
            if tag == "PS":
                path, _, typ = rest.partition("|")
                supplies.append((path, typ))
                if typ.strip().lower() == "battery" and battery_dir is None:
                    battery_dir = path
            elif tag == "TZ":
                path, _, typ = rest.partition("|")
                idx = int(path.rsplit("thermal_zone", 1)[1])
                zones.append((idx, path + "/temp", typ.strip()))
            elif tag == "CF":
                cpu = int(rest.rsplit("cpu", 1)[1])
                cpufreq.append((cpu, rest + "/cpufreq/scaling_cur_freq"))
            elif tag == "GPU" and gpu is None:
                gpu = (rest, 1.0)   # kgsl gpuclk and devfreq cur_freq are Hz
            elif tag == "GPUBUSY" and gpu_busy is None:
                gpu_busy = rest
            elif tag == "PROCSTAT":
                procstat = rest.strip() == "yes"
        self._plan_cache = {"battery_dir": battery_dir, "zones": tuple(sorted(zones)),
                            "cpufreq": tuple(sorted(cpufreq)), "gpu_freq": gpu,
                            "gpu_busy": gpu_busy,
                            "procstat": procstat, "supplies": supplies}
        return self._plan_cache

    def sources(self) -> list[CounterSource]:
        d = self._discover()
        bat = d["battery_dir"]
        zones = d["zones"]
        out = [
            CounterSource("battery", "power", 10.0, bat is not None,
                          "" if bat else "no power_supply of type Battery",
                          quality="fuel gauge",
                          counters=("current_a", "voltage_v", "power_w", "charge_counter_uah")),
            CounterSource("power.rails", "power", 10.0, False,
                          "ODPM rails need Perfetto (android.power); not read by this sampler",
                          quality="on-device rails"),
            CounterSource("thermal", "thermal", 10.0, bool(zones),
                          "" if zones else "no readable thermal_zone*/temp",
                          counters=tuple(t or f"zone{i}" for i, _p, t in zones)),
            CounterSource("cpu", "cpu", 10.0, bool(d["procstat"]),
                          "" if d["procstat"] else "/proc/stat unreadable",
                          counters=("util",) + tuple(f"freq.cpu{c}" for c, _ in d["cpufreq"])),
            CounterSource("cpu.freq", "cpu", 10.0, bool(d["cpufreq"]),
                          "" if d["cpufreq"] else "no readable cpufreq/scaling_cur_freq"),
            CounterSource("gpu.freq", "gpu", 10.0, d["gpu_freq"] is not None,
                          "" if d["gpu_freq"] else "no kgsl/mali/devfreq GPU clock exposed"),
            CounterSource("gpu.util", "gpu", 10.0, d["gpu_busy"] is not None,
                          "" if d["gpu_busy"] else "no kgsl gpu_busy_percentage / mali "
                          "utilization exposed"),
            CounterSource("memory", "memory", 1.0, True,
                          counters=("rss", "pss", "anon", "file", "swap", "hwm", "uss")),
            CounterSource("meminfo", "memory", 1.0, True,
                          "dumpsys meminfo <pid>: heavy (walks smaps), at most 1 Hz; off unless "
                          "rates['meminfo'] is set"),
            CounterSource("thermal.status", "thermal", 1.0, True,
                          "dumpsys thermalservice: 0 none .. 6 shutdown, at most 1 Hz"),
        ]
        return out

    # -- counters -------------------------------------------------------------------
    def clock_offset(self, n: int = 5) -> ClockOffset:
        def probe() -> float:
            out = self.shell('echo "${EPOCHREALTIME:-$(date +%s.%N)}"', timeout=self.timeout)
            return float(out.stdout.strip().replace(",", "."))
        return estimate_offset(probe, n)

    def process_memory(self, pid: int) -> dict[str, int | None]:
        r = self.shell(f"cat /proc/{int(pid)}/status 2>/dev/null; echo '@@SPLIT@@'; "
                       f"cat /proc/{int(pid)}/smaps_rollup 2>/dev/null", timeout=self.timeout)
        status, _, smaps = r.stdout.partition("@@SPLIT@@")
        return process_memory(status, smaps)

    def meminfo(self, target: str | int) -> dict[str, int | None]:
        """``dumpsys meminfo`` of a pid or package (slow: at most once a second)."""
        return parse_meminfo(self.run(["dumpsys", "meminfo", str(target)], timeout=30).stdout)

    def battery(self) -> dict[str, object]:
        return parse_battery(self.run(["dumpsys", "battery"], timeout=self.timeout).stdout)

    def thermal_status(self) -> dict[str, object]:
        return parse_thermalservice(self.run(["dumpsys", "thermalservice"],
                                             timeout=self.timeout).stdout)

    def calibration(self, reads: int = 3) -> BatteryCalibration | None:
        """Battery sign/unit calibration (the user override wins); None without a battery."""
        if self._battery_override is not None:
            return self._battery_override
        if self._calibration is not None:
            return self._calibration
        bat = self._discover()["battery_dir"]
        if not bat:
            return None
        raws = []
        status = None
        for _ in range(max(1, reads)):
            r = self.shell(f"cat {shlex.quote(f'{bat}/current_now')} "
                           f"{shlex.quote(f'{bat}/status')} 2>/dev/null",
                           timeout=self.timeout).stdout.split()
            if r:
                try:
                    raws.append(float(r[0]))
                except ValueError:
                    pass
                status = " ".join(r[1:]) or status
        self._calibration = detect(raws, status)
        return self._calibration

    def open_counters(self, rates: dict[str, float], pids: Sequence[int] = ()) -> CounterStream:
        d = self._discover()
        fast_rates = [r for k, r in rates.items() if k in ("power", "cpu", "thermal") and r > 0]
        fast_hz = max(fast_rates) if fast_rates else 1.0
        mem_hz = min(rates.get("memory", 1.0) or 1.0, fast_hz)
        kinds = frozenset(k for k, r in rates.items() if r and r > 0)
        plan = LoopPlan(period_ms=max(1, round(1000.0 / fast_hz)),
                        mem_every=max(1, round(fast_hz / mem_hz)),
                        battery_dir=d["battery_dir"], zones=d["zones"], cpufreq=d["cpufreq"],
                        gpu_freq=d["gpu_freq"], gpu_busy=d["gpu_busy"],
                        pids=tuple(int(p) for p in pids), kinds=kinds)
        offset = self.clock_offset()
        calib = self.calibration() if "power" in kinds else None
        main = AndroidCounterStream(self, plan, offset, calib)
        slow_hz = min(1.0, max(rates.get("thermal", 0) or 0, rates.get("meminfo", 0) or 0))
        if slow_hz <= 0:
            return main
        meminfo = tuple(int(p) for p in pids) if rates.get("meminfo") else ()
        poller = PolledStream({"dumpsys": (slow_hz, self._dumpsys_reader(
            bool(rates.get("thermal")), meminfo))}, device_clock=None)
        return MergedStream([main, poller])

    def _dumpsys_reader(self, thermal: bool, meminfo: tuple[int, ...]):  # noqa: ANN202
        """At most 1 Hz: ``dumpsys thermalservice`` status and ``dumpsys meminfo <pid>``.

        A failed call gives unavailable values; losing the device is the fast loop's call.
        """
        def read() -> list[Reading]:
            out = []
            if thermal:
                try:
                    st = self.thermal_status()["status"]
                except DeviceError:
                    st = None
                out.append(Reading("thermal", "status", float(st) if st is not None else None,
                                   "level 0-6"))
            for pid in meminfo:
                try:
                    mi = self.meminfo(pid)
                except DeviceError:
                    mi = {}
                for key in ("total_pss", "total_rss", "total_swap_pss", "native_heap",
                            "graphics", "gfx_dev", "gl_mtrack"):
                    if key in mi or key.startswith("total"):
                        v = mi.get(key)
                        out.append(Reading(f"meminfo.{pid}", key,
                                           float(v) if v is not None else None, "B"))
            return out
        return read


class AndroidCounterStream(CounterStream):
    """Reads the one long-running on-device loop; raises DeviceGone if the device vanishes."""

    def __init__(self, dev: AndroidDevice, plan: LoopPlan, offset: ClockOffset,
                 calibration: BatteryCalibration | None, watchdog_s: float = 5.0,
                 drain_s: float = 3.0) -> None:
        self.dev = dev
        self.plan = plan
        self.parser = LoopParser(plan, offset, calibration)
        self.periods_s = {"fast": plan.period_ms / 1000.0,
                          "memory": plan.period_ms * plan.mem_every / 1000.0}
        self.watchdog_s = max(watchdog_s, 5 * self.periods_s["memory"])
        self.calibration = calibration
        self.script = build_script(plan)
        self._closed = threading.Event()
        self._conn = None
        self.drain_s = drain_s
        self._drain_until = 0.0

    def ticks(self) -> Iterator[Tick]:
        try:
            self._conn = self.dev._dev.shell(self.script, stream=True)
        except (adbutils.AdbError, OSError) as exc:
            self.dev._raise_gone(exc)
        sock = self._conn.conn
        sock.settimeout(0.5)
        buf = b""
        last_data = host_now()
        try:
            while not (self._closed.is_set() and host_now() >= self._drain_until):
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    if self._closed.is_set():
                        continue      # draining: wait for the stopped loop's last lines
                    if host_now() - last_data > self.watchdog_s:
                        if not self.dev.is_alive():
                            raise DeviceGone(f"device {self.dev.serial} went away "
                                             "(no data and not listed by adb)") from None
                        last_data = host_now()
                    continue
                except OSError as exc:
                    if self._closed.is_set():
                        return
                    raise DeviceGone(f"device {self.dev.serial}: stream broke: {exc}") from exc
                if not chunk:
                    if self._closed.is_set():
                        return
                    raise DeviceGone(f"device {self.dev.serial}: sampling loop ended "
                                     f"(adb state now: {self.dev.state() or 'gone'})")
                last_data = host_now()
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    tick = self.parser.parse(raw.decode("utf-8", "replace"))
                    if tick is not None:
                        yield tick
        finally:
            self._close_conn()

    def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def close(self) -> None:
        """Stop the on-device loop, then read what it already wrote (until its output ends
        or ``drain_s`` passes): a clean stop loses no sample still in adb's pipes."""
        if self._closed.is_set():
            return
        self._drain_until = host_now() + self.drain_s
        self._closed.set()                  # before the kill: its end of output is expected
        pid = self.parser.loop_pid
        if pid is None or self._conn is None:
            self._drain_until = 0.0
            return
        try:
            self.dev.run(["kill", str(pid)], timeout=self.drain_s)
        except DeviceError:
            self._drain_until = 0.0         # device gone: nothing more will come

    def device_overhead(self) -> dict[str, object]:
        out: dict[str, object] = dict(self.parser.overhead())
        out["loop_pid"] = self.parser.loop_pid
        return out
