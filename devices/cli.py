"""``neumelt devices``: list targets and what each can measure; ``watch`` one live;
``import tegrastats FILE`` stores a tegrastats log recorded elsewhere."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from typing import Any

from neumelt.errors import InputError


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("devices", parents=[common], help="targets and their counters",
                       description="List the local host and every reachable Android / Jetson / "
                       "iOS target with what it can measure (power source quality: external "
                       "monitor > on-device rails > fuel gauge > model estimate).")
    p.add_argument("--adb-port", type=int, default=5037, help="adb server port (default 5037)")
    p.set_defaults(func=cmd_list)
    dsub = p.add_subparsers(dest="devices_command", metavar="SUBCOMMAND")

    w = dsub.add_parser("watch", parents=[common], help="print live counters of one target "
                        "and record them as a session in the store")
    w.add_argument("serial", help="local | adb serial (host:port) | jetson[:user@host]")
    w.add_argument("--adb-port", type=int, default=5037)
    w.add_argument("--root", default="", help="device path prefix (test daemons, chroots)")
    w.add_argument("--duration", type=float, default=None, help="seconds (default: until Ctrl-C)")
    w.add_argument("--rate", type=float, default=10.0, help="Hz for power, cpu and thermal")
    w.add_argument("--memory-rate", type=float, default=1.0, help="Hz for memory (<= 1 advised)")
    w.add_argument("--pid", type=int, action="append", default=[], help="process to follow")
    w.add_argument("--battery", help="fuel-gauge override UNIT,SIGN e.g. uA,- or mA,+ "
                   "(the sign current_now has while discharging)")
    w.add_argument("--hygiene", action="store_true",
                   help="Android: fixed brightness (manual), no screen-off, heads-up off for "
                   "the session; restored after, even after a crash (on the next connection)")
    w.set_defaults(func=cmd_watch)

    i = dsub.add_parser("import", parents=[common], help="store a recorded log as a session")
    i.add_argument("format", choices=["tegrastats", "sysmon", "ios-battery", "ios-energy"],
                   help="tegrastats log (any JetPack); pymobiledevice3 sysmon process JSONL, "
                   "diagnostics battery output, or dvt energy JSONL (unitless scores)")
    i.add_argument("file")
    i.add_argument("--interval-ms", type=float, default=None,
                   help="sampling interval used when recording, for lines without a time "
                   "(tegrastats 1000, sysmon 500, battery/energy 1000)")
    i.add_argument("--process", help="sysmon: keep only this process name")
    i.set_defaults(func=cmd_import)


def _out(args: argparse.Namespace, doc: Any, rows: list[dict[str, Any]], columns: list[str],
         title: str | None = None) -> None:
    from neumelt.output import print_json, print_table
    if args.json:
        print_json(doc)
    else:
        print_table(rows, columns, title=title)


def cmd_list(args: argparse.Namespace) -> int:
    from devices.registry import list_devices
    notes: list[str] = []
    devs = list_devices(adb_port=args.adb_port, notes=notes)
    doc = {"devices": [], "notes": notes}
    rows = []
    for d in devs:
        info = d.info()
        sources = d.sources()
        doc["devices"].append({"name": d.serial, "kind": d.kind, "info": info.__dict__,
                               "sources": [s.as_dict() for s in sources]})
        for s in sources:
            rows.append({"device": d.serial, "source": s.name, "kind": s.kind,
                         "power quality": s.quality or "", "rate Hz": s.rate_hz,
                         "status": "available" if s.available else "unavailable",
                         "why": s.why})
    _out(args, doc, rows, ["device", "source", "kind", "power quality", "rate Hz", "status",
                           "why"], title="Targets and what each can measure")
    if not args.json:
        for n in notes:
            print(f"note: {n}")
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from devices.registry import get_device
    from devices.sampler import Sampler
    from neumelt.output import fmt
    from neumelt.store import Store, StoreError
    kw: dict[str, Any] = {}
    if args.serial not in ("local",) and not args.serial.startswith(("jetson", "ios")):
        from devices.android.battery import parse_override
        kw["root"] = args.root
        if args.battery:
            kw["battery"] = parse_override(args.battery)
    if args.duration is not None and args.duration <= 0:
        raise InputError("must be positive", key="--duration", expected="seconds > 0")
    dev = get_device(args.serial, adb_port=args.adb_port, **kw)
    rates = {"power": args.rate, "cpu": args.rate, "thermal": args.rate,
             "memory": args.memory_rate}
    store = Store(args.db)
    run_id = store.start_run("profile", {"command": "devices watch", "device": dev.serial,
                                         "rates_hz": rates, "pids": args.pid},
                             name=f"watch {dev.serial}")
    store.set_run_info(run_id, "device", dev.info().__dict__)
    latest: dict[tuple[str, str], tuple[float | None, str]] = {}
    ticks = [0]

    def on_tick(tick: Any) -> None:
        ticks[0] += 1
        for r in tick.readings:
            latest[(r.source, r.name)] = (r.value, r.unit)

    sampler = Sampler(dev, store, run_id, rates=rates, pids=args.pid, on_tick=on_tick)
    t0 = time.monotonic()
    status = "done"
    hygiene = None
    if args.hygiene:
        if dev.kind != "android":
            raise InputError("hygiene settings exist only on Android targets", key="--hygiene")
        from devices.hygiene import Hygiene
        hygiene = Hygiene(dev)
    try:
        if hygiene is not None:
            report = hygiene.apply()
            store.set_run_info(run_id, "hygiene", report.as_dict())
            for w in report.warnings:
                print(f"warning: {w}", file=sys.stderr)
        sampler.start()
        while not sampler.lost and sampler.failure is None:
            time.sleep(1.0)
            if not args.json:
                line = "  ".join(f"{s}.{n}={fmt(v)} {u}" for (s, n), (v, u)
                                 in sorted(latest.items()) if not n.startswith("util.cpu")
                                 and not n.startswith("freq.cpu"))
                print(f"[{time.monotonic() - t0:6.1f} s] {line}", flush=True)
            if args.duration and time.monotonic() - t0 >= args.duration:
                break
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        failure: Exception | None = None
        try:
            sampler.stop()
        except (StoreError, InputError) as exc:  # the store took no more samples
            failure = exc
        if hygiene is not None:
            hygiene.__exit__(None, None, None)
        if failure is not None:
            with contextlib.suppress(StoreError, InputError):  # if it takes this one
                store.finish_run(run_id, "failed", str(failure))
            raise failure
        if not sampler.lost:
            store.finish_run(run_id, status)
    doc = {"run_id": run_id, "device": dev.serial, "ticks": ticks[0],
           "samples": sampler.n_samples, "gaps": len(sampler.gaps), "lost": sampler.lost,
           "overhead": sampler.overhead(),
           "latest": [{"source": s, "name": n, "value": v, "unit": u, "provenance": "measured"}
                      for (s, n), (v, u) in sorted(latest.items())]}
    if args.json:
        from neumelt.output import print_json
        print_json(doc)
    else:
        print(f"run {run_id}: {sampler.n_samples} samples (measured), {len(sampler.gaps)} gaps"
              + (", device lost" if sampler.lost else ""))
    return 1 if sampler.lost else 0


def cmd_import(args: argparse.Namespace) -> int:
    from devices.importers import import_ios, import_tegrastats
    from neumelt.store import Store
    if not os.path.isfile(args.file):
        raise InputError("no such file", file=args.file, expected=f"a {args.format} log")
    if args.interval_ms is not None and args.interval_ms <= 0:
        raise InputError("must be positive", key="--interval-ms", expected="milliseconds > 0")
    interval_s = args.interval_ms / 1000.0 if args.interval_ms else None
    store = Store(args.db)
    if args.format == "tegrastats":
        result = import_tegrastats(store, args.file, interval_s=interval_s or 1.0)
    else:
        result = import_ios(store, args.file, args.format, process=args.process,
                            interval_s=interval_s)
    if args.json:
        from neumelt.output import print_json
        print_json(result)
    else:
        print(f"run {result['run_id']}: {result['lines']} {args.format} lines -> "
              f"{result['n_samples']} samples ({result['provenance']}, {args.format})"
              + (f", {result['skipped']} lines skipped" if result["skipped"] else ""))
        rows = [{"source": s["source"], "name": s["name"], "mean": s["mean"], "unit": s["unit"],
                 "n": s["n"]} for s in result["summary"]]
        from neumelt.output import print_table
        print_table(rows, ["source", "name", "mean", "unit", "n"], title="Imported series")
    return 0
