"""``neumelt sim dram``: run a DRAMsim3 or Ramulator 2 trace through the HBM timing engine."""

from __future__ import annotations

import argparse


def register(sub, common) -> None:
    p = sub.add_parser(
        "dram", parents=[common],
        help="replay a memory trace on an HBM preset (command-level timing, energy)",
        description="Replay a DRAMsim3 ('0x<addr> READ|WRITE <cycle>') or Ramulator 2 "
                    "('LD|ST <addr>') trace on a DRAM standard and print total cycles, "
                    "bandwidth, row-hit rate, command counts and energy. The run is stored "
                    "in the results store (--db).")
    p.add_argument("--preset", default="hbm2-neupims",
                   help="standard preset (hbm2-neupims, hbm3) or a standard YAML file")
    p.add_argument("--trace", required=True, help="trace file")
    p.add_argument("--mapping", default=None,
                   help="address mapping, fields MSB->LSB (default: the standard's, "
                        "e.g. rorabgbachco)")
    p.add_argument("--page-policy", choices=("open", "closed"), default="open")
    p.add_argument("--fidelity", choices=("command", "fast"), default="command",
                   help="fast = closed form for sequential streams (else command level)")
    p.add_argument("--queue", type=int, default=32, help="read and write queue depth")
    p.add_argument("--no-refresh", action="store_true", help="disable all-bank refresh")
    p.add_argument("--check", action="store_true",
                   help="replay the command log through the independent timing checker")
    p.add_argument("--command-log", metavar="CSV", default=None,
                   help="write every issued command (cycle, channel, rank, bank group, bank, "
                        "command, row, arg) to a CSV file")
    p.add_argument("--no-store", action="store_true", help="do not write the run to the store")
    p.set_defaults(func=_run)


def _rows(res, std, src: str, lat=None) -> list[dict]:
    rows = [
        {"quantity": "total time", "value": res.cycles, "unit": "cycles"},
        {"quantity": "total time", "value": round(res.seconds * 1e6, 4), "unit": "us"},
        {"quantity": "requests", "value": res.reads + res.writes, "unit": "requests"},
        {"quantity": "bandwidth", "value": round(res.bandwidth_bytes_per_s / 1e9, 3),
         "unit": "GB/s"},
        {"quantity": "of peak bandwidth", "value": round(res.peak_fraction * 100, 2),
         "unit": f"% of {std.peak_bandwidth_bytes_per_s / 1e9:g} GB/s"},
        {"quantity": "row-hit rate", "value": round(res.row_hit_rate * 100, 2), "unit": "%"},
    ]
    rows += [{"quantity": f"commands {k}", "value": v, "unit": "commands"}
             for k, v in res.commands.items()]
    rows += [{"quantity": f"energy {k}", "value": round(v * 1e6, 4), "unit": "uJ"}
             for k, v in res.energy_j.items()]
    if lat is not None:
        rows += _latency_rows(lat)
    for r in rows:
        r["provenance"] = src
    return rows


def _latency_rows(lat) -> list[dict]:
    """Read/write latency (cycles and ns: trace arrival -> last data beat), queue occupancy."""
    rows = []
    for kind, s in (("read", lat.read), ("write", lat.write)):
        if not s.count:
            continue
        for name in ("avg", "p50", "p95", "p99", "max"):
            v = getattr(s, f"{name}_cycles")
            rows.append({"quantity": f"{name} {kind} latency", "value": round(v, 2),
                         "unit": "cycles"})
            rows.append({"quantity": f"{name} {kind} latency", "value": round(v * lat.tck_ns, 2),
                         "unit": "ns"})
    rows.append({"quantity": "avg queue occupancy", "value": round(
        lat.avg_queue_occupancy_requests, 3), "unit": "requests per channel (Little's law)"})
    return rows


def _channel_rows(lat) -> list[dict]:
    """One row per channel with traffic: read/write latency in cycles and ns, occupancy."""
    rows = []
    for c in lat.per_channel:
        r = {"channel": c["channel"], "reads": c["read_requests_measured"]}
        for name in ("avg", "p50", "p95", "p99", "max"):
            r[f"{name} read (cycles)"] = round(c[f"{name}_read_latency_cycles"], 1)
        r["avg read (ns)"] = round(c["avg_read_latency_ns"], 1)
        r["p99 read (ns)"] = round(c["p99_read_latency_ns"], 1)
        r["writes"] = c["write_requests_measured"]
        for name in ("avg", "p99", "max"):
            r[f"{name} write (cycles)"] = round(c[f"{name}_write_latency_cycles"], 1)
        r["avg write (ns)"] = round(c["avg_write_latency_ns"], 1)
        r["occupancy (requests)"] = round(c["avg_queue_occupancy_requests"], 2)
        rows.append(r)
    return rows


def _run(args: argparse.Namespace) -> int:
    from neumelt.errors import InputError
    from neumelt.output import print_json, print_table
    from sim.dram.controller import ControllerConfig
    from sim.dram.engine import simulate_requests
    from sim.dram.mapping import AddressMapping
    from sim.dram.standard import load_standard
    from sim.dram.trace import check_capacity, read_trace

    std = load_standard(args.preset)
    if args.queue < 1:
        raise InputError(f"--queue {args.queue}", key="queue", expected="a positive integer")
    mapping = args.mapping or std.address_mapping
    AddressMapping.of(std, mapping)
    trace = read_trace(args.trace)
    check_capacity(trace, std.org.capacity_bytes, std.name)
    high = max(1, args.queue * 3 // 4)
    ctrl = ControllerConfig(page_policy=args.page_policy, read_queue=args.queue,
                            write_queue=args.queue, write_high=high,
                            write_low=min(args.queue // 4, high - 1), refresh=not args.no_refresh)
    config = {"preset": std.name, "standard_file": std.source, "trace": str(args.trace),
              "trace_format": trace.format, "requests": len(trace), "mapping": mapping,
              "page_policy": args.page_policy, "fidelity": args.fidelity, "queue": args.queue,
              "refresh": not args.no_refresh}
    from neumelt.store import optional_run

    with optional_run(None if args.no_store else args.db, "sim", config,
                      name=f"dram {std.name} {trace.source}") as (store, run_id):
        res = simulate_requests(std, trace.arrival, trace.address, trace.is_write,
                                mapping=mapping, controller=ctrl, fidelity=args.fidelity,
                                log_capacity=(4 * len(trace) + 10_000)
                                if (args.check or args.command_log) else 0)
        if args.command_log and res.command_log is not None:
            _write_log(args.command_log, res.command_log)
        violations = None
        if args.check and res.command_log is not None:
            from sim.checker import check_log

            violations = check_log(std, res.command_log, "dual",
                                   check_refresh=not args.no_refresh)
        src = f"simulated ({std.name}/{res.fidelity})"
        lat = None
        if res.fidelity == "command":   # the fast path has no per-request completions
            from sim.dram.latency import of_result
            lat = of_result(std, res, trace.arrival, trace.address, trace.is_write,
                            mapping=mapping)
        if store is not None:
            _store(store, run_id, res, std, violations, lat)
    if args.json:
        out = res.summary()
        out.update({"run_id": run_id, "provenance": "simulated",
                    "source": f"{std.name}/{res.fidelity}", "trace": str(args.trace),
                    "trace_format": trace.format, "clock_hz": std.clock_hz,
                    "peak_bandwidth_bytes_per_s": std.peak_bandwidth_bytes_per_s})
        if violations is not None:
            out["checker_violations"] = len(violations)
        if lat is not None:
            out.update(lat.summary())
            out["latency_definition"] = "trace arrival -> last data beat, memory-clock cycles"
        print_json(out)
        return 0
    print_table(_rows(res, std, src, lat), columns=["quantity", "value", "unit", "provenance"],
                title=f"{std.name}: {trace.source} ({trace.format}, {len(trace)} requests)")
    if lat is not None and lat.per_channel:
        print()
        print_table(_channel_rows(lat), title="latency per channel (trace arrival -> last data "
                    f"beat; simulated; 1 cycle = {lat.tck_ns:g} ns)")
    if violations is not None:
        print(f"timing checker: {len(violations)} violations")
        for v in violations[:10]:
            print(f"  channel {v.channel} cycle {v.cycle} {v.command}: {v.rule} ({v.detail})")
    if run_id is not None:
        print(f"stored as run {run_id} in {args.db}")
    return 0


def _store(store, run_id: int, res, std, violations, lat=None) -> None:
    from neumelt.store import Metric

    src = f"{std.name}/{res.fidelity}"
    ms = [
        Metric("cycles", float(res.cycles), "cycles", "simulated", src),
        Metric("time", res.seconds, "s", "simulated", src),
        Metric("bandwidth", res.bandwidth_bytes_per_s, "B/s", "simulated", src),
        Metric("peak_fraction", res.peak_fraction, "fraction", "simulated", src),
        Metric("row_hit_rate", res.row_hit_rate, "fraction", "simulated", src),
        Metric("requests", float(res.reads + res.writes), "requests", "simulated", src),
    ]
    ms += [Metric(f"commands.{k}", float(v), "commands", "simulated", src)
           for k, v in res.commands.items()]
    ms += [Metric(f"energy.{k}", v, "J", "simulated", f"{src}/idd")
           for k, v in res.energy_j.items()]
    if lat is not None:
        s = lat.summary()
        ms += [Metric(f"latency.{k}", float(s[k]), "cycles", "simulated", src)
               for k in s if k.endswith("_latency_cycles")]
        ms.append(Metric("latency.avg_queue_occupancy_requests",
                         lat.avg_queue_occupancy_requests, "requests", "simulated", src))
    if violations is not None:
        ms.append(Metric("checker_violations", float(len(violations)), "violations",
                         "simulated", "sim.checker"))
    store.add_metrics(run_id, ms)
    store.add_records(run_id, "dram_channels", [
        (str(ch), {"cycles": int(c)}) for ch, c in enumerate(res.channel_cycles)])


def _write_log(path: str, log) -> None:
    import csv

    from neumelt.errors import InputError
    from sim.dram.commands import COMMAND_NAMES

    order = sorted(range(len(log)), key=lambda i: (int(log[i, 0]), int(log[i, 7])))
    try:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["cycle", "channel", "rank", "bank_group", "bank", "command", "row", "arg"])
            for i in order:
                r = log[i]
                w.writerow([int(r[0]), int(r[7]), int(r[2]), int(r[3]), int(r[4]),
                            COMMAND_NAMES[int(r[1])], int(r[5]), int(r[6])])
    except OSError as exc:
        raise InputError(f"cannot write the command log: {exc}", file=path) from None
