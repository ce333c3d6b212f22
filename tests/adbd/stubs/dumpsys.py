"""Stub ``dumpsys battery|meminfo PID|thermalservice`` in the formats Android 13/14 prints.

Values come from the Android-like root's sysfs tree and this host's real /proc.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BAT = ROOT / "sys" / "class" / "power_supply" / "battery"


def read(path, default=""):
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def battery():
    status = {"Charging": 2, "Discharging": 3, "Not charging": 4, "Full": 5}.get(
        read(BAT / "status"), 1)
    usb = read(ROOT / "sys" / "class" / "power_supply" / "usb" / "online", "0") == "1"
    ac = read(ROOT / "sys" / "class" / "power_supply" / "ac" / "online", "0") == "1"
    volt_uv = int(read(BAT / "voltage_now", "0") or 0)
    print("Current Battery Service state:")
    print(f"  AC powered: {'true' if ac else 'false'}")
    print(f"  USB powered: {'true' if usb else 'false'}")
    print("  Wireless powered: false")
    print("  Dock powered: false")
    print("  Max charging current: 500000")
    print("  Max charging voltage: 5000000")
    print(f"  Charge counter: {read(BAT / 'charge_counter', '0')}")
    print(f"  status: {status}")
    print("  health: 2")
    print("  present: true")
    print(f"  level: {read(BAT / 'capacity', '0')}")
    print("  scale: 100")
    print(f"  voltage: {volt_uv // 1000}")
    print(f"  temperature: {read(BAT / 'temp', '0')}")
    print("  technology: Li-ion")


def thermalservice():
    zones = sorted((ROOT / "sys" / "class" / "thermal").glob("thermal_zone*"),
                   key=lambda p: int(p.name[12:]))
    temps = []
    for z in zones:
        try:
            temps.append((read(z / "type"), int(read(z / "temp", "0")) / 1000.0))
        except ValueError:
            pass
    hot = max((t for _, t in temps), default=0.0)
    status = 0 if hot < 39 else 1 if hot < 43 else 2 if hot < 46 else 3
    print("IsStatusOverride: false")
    print("ThermalEventListeners:")
    print("\tcallbacks: 1")
    print("\tkilled: false")
    print("\tbroadcasts count: -1")
    print("ThermalStatusListeners:")
    print("\tcallbacks: 1")
    print("\tkilled: false")
    print("\tbroadcasts count: -1")
    print(f"Thermal Status: {status}")
    print("Cached temperatures:")
    for name, t in temps:
        print(f"\tTemperature{{mValue={t}, mType=0, mName={name}, mStatus=0}}")
    print("HAL Ready: true")
    print("HAL connection:")
    print("\tThermalHAL 2.0 connected: yes")
    print("Current temperatures from HAL:")
    for _i, (name, t) in enumerate(temps):
        kind = 2 if "battery" in name else 1 if "gpu" in name else 0
        print(f"\tTemperature{{mValue={t}, mType={kind}, mName={name}, mStatus=0}}")
    print("Current cooling devices from HAL:")
    print("\tCoolingDevice{mValue=0, mType=2, mName=battery}")


def meminfo(pid):
    def kv(path):
        out = {}
        for line in read(path).splitlines():
            k, _, v = line.partition(":")
            parts = v.split()
            if parts and parts[0].isdigit():
                out[k.strip()] = int(parts[0])
        return out
    st = kv(f"/proc/{pid}/status")
    sm = kv(f"/proc/{pid}/smaps_rollup")
    if not st:
        print(f"No process found for: {pid}")
        return
    name = read(f"/proc/{pid}/comm", "?")
    pss, rss = sm.get("Pss", 0), st.get("VmRSS", 0)
    anon, file_ = sm.get("Pss_Anon", st.get("RssAnon", 0)), sm.get("Pss_File", st.get("RssFile", 0))
    swap = sm.get("SwapPss", 0)
    print("Applications Memory Usage (in Kilobytes):")
    print("Uptime: 8164170 Realtime: 8164170")
    print()
    print(f"** MEMINFO in pid {pid} [{name}] **")
    print("                   Pss  Private  Private  SwapPss      Rss     Heap     Heap     Heap")
    print("                 Total    Dirty    Clean    Dirty    Total     Size    Alloc     Free")
    print("                ------   ------   ------   ------   ------   ------   ------   ------")
    rows = [("Native Heap", anon, st.get("RssAnon", 0)), ("Dalvik Heap", 0, 0),
            ("Stack", 0, 0), ("Ashmem", 0, 0), ("Other dev", 0, 0), (".so mmap", 0, 0),
            ("Other mmap", file_, st.get("RssFile", 0)), ("Unknown", 0, 0)]
    for label, p, r in rows:
        print(f"{label:>13} {p:8d} {p:8d} {0:8d} {0:8d} {r:8d} {0:8d} {0:8d} {0:8d}")
    print(f"{'TOTAL':>13} {pss:8d} {anon:8d} {file_:8d} {swap:8d} {rss:8d} {0:8d} {0:8d} {0:8d}")
    print()
    print(" App Summary")
    print("                       Pss(KB)                        Rss(KB)")
    print("                        ------                         ------")
    print(f"           Java Heap: {0:8d}                       {0:8d}")
    print(f"         Native Heap: {anon:8d}                       {st.get('RssAnon', 0):8d}")
    print(f"                Code: {file_:8d}                       {st.get('RssFile', 0):8d}")
    print(f"           TOTAL PSS: {pss:8d}            TOTAL RSS: {rss:8d}       "
          f"TOTAL SWAP PSS: {swap:8d}")


args = sys.argv[1:]
if not args:
    print("usage: dumpsys SERVICE", file=sys.stderr)
    sys.exit(1)
if args[0] == "battery":
    battery()
elif args[0] == "thermalservice":
    thermalservice()
elif args[0] == "meminfo" and len(args) > 1:
    meminfo(args[1])
else:
    print(f"Can't find service: {args[0]}")
