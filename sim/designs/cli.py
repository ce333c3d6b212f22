"""``neumelt sim step``: one decode iteration (or prefill) of a batch on one design."""

from __future__ import annotations

import argparse


def register(sub, common) -> None:
    p = sub.add_parser(
        "step", parents=[common],
        help="simulate one decode iteration of a batch on gpu | npu | npu-pim | neupims",
        description="Simulate one batched decode iteration (default: one decoder block) and "
                    "print its stage table; the run goes to the results store.")
    p.add_argument("--design", default="neupims",
                   choices=("gpu", "gpu-overlap", "npu", "npu-pim", "neupims"))
    p.add_argument("--model", default="gpt3-7b", help="model preset or YAML (default gpt3-7b)")
    p.add_argument("--hw", default=None,
                   help="hardware preset (npu-neupims, a100-40gb, h100-sxm) or YAML; "
                        "default: the design's")
    p.add_argument("--batch", default="reference",
                   help="CSV file with seq_len[,ch_idx], 'reference' (the NeuPIMs 512-request "
                        "batch) or a batch size N (seeded synthetic lengths)")
    p.add_argument("--seed", type=int, default=0, help="seed for a synthetic batch")
    p.add_argument("--lengths", choices=("exp", "sharegpt", "alpaca"), default="exp",
                   help="context lengths of a batch of size N: exponential of --mean-len, or "
                        "prompt + a uniform share of the output from the ShareGPT / Alpaca "
                        "length tables")
    p.add_argument("--mean-len", type=int, default=300,
                   help="mean context length of an 'exp' synthetic batch (tokens)")
    p.add_argument("--phase", default="decode", choices=("decode", "prefill"),
                   help="prefill treats the batch's lengths as prompt lengths")
    p.add_argument("--layers", default="1",
                   help="decoder layers to simulate on one device, or 'all' (default 1)")
    p.add_argument("--row-buffer", choices=("single", "dual"), default=None)
    p.add_argument("--channels", choices=("greedy", "rr", "given"), default=None,
                   help="PIM channel assignment; 'given' keeps the batch file's ch_idx")
    p.add_argument("--sub-batch", choices=("on", "off"), default=None,
                   help="sub-batch interleaving of NPU and PIM work")
    p.add_argument("--fidelity", choices=("command", "fast"), default="command")
    p.add_argument("--pim-commands", choices=("composite", "newton"), default=None,
                   help="PIM command set: composite COMPS_READRES (NeuPIMs) or newton (k COMPs "
                        "+ READRES per head through the NPU's PIM port; the npu-pim default)")
    p.add_argument("--baselines", choices=("ideal", "artifact"), default="ideal",
                   help="baseline model: ideal (batched NPU attention) or artifact (npu runs "
                        "attention as the NeuPIMs artifact's npu-only branch does)")
    p.add_argument("--tp", type=int, default=None, help="tensor-parallel degree")
    p.add_argument("--pp", type=int, default=None, help="pipeline-parallel degree")
    p.add_argument("--trace", default=None, metavar="FILE",
                   help="also write a Chrome/Perfetto trace (JSON) of one layer")
    p.add_argument("--no-store", action="store_true", help="do not write the run to the store")
    p.set_defaults(func=_step)


def _layers(spec: str) -> int | None:
    from neumelt.errors import InputError

    if spec == "all":
        return None
    if spec.isdigit() and int(spec) > 0:
        return int(spec)
    raise InputError(f"invalid --layers {spec!r}", key="layers",
                     expected="a positive integer or 'all'")


def _step(args: argparse.Namespace) -> int:
    from neumelt.errors import InputError
    from neumelt.output import print_json, print_table
    from sim.designs import get_design
    from sim.designs.batch import parse_batch
    from workloads.models import load_model

    model = load_model(args.model)
    batch = parse_batch(args.batch, seed=args.seed, mean_len=args.mean_len,
                        max_len=model.max_context, lengths=args.lengths)
    layers = _layers(args.layers)
    sub_batch = None if args.sub_batch is None else args.sub_batch == "on"
    design = get_design(args.design, hw=args.hw, row_buffer=args.row_buffer,
                        channels=args.channels, sub_batch=sub_batch, fidelity=args.fidelity,
                        tp=args.tp, pp=args.pp, baselines=args.baselines,
                        pim_commands=args.pim_commands)
    config = {**design.config(), "model": model.name, "batch": batch.source,
              "batch_size": len(batch.seq_lens), "phase": args.phase,
              "layers": args.layers, "seed": args.seed}
    from neumelt.store import optional_run

    with optional_run(None if args.no_store else args.db, "sim", config,
                      name=f"step {args.design} {model.name}") as (store, run_id):
        try:
            if args.phase == "prefill":
                res = design.prefill(model, batch.seq_lens)
            else:
                chans = batch.channel_idx
                res = design.decode_iteration(model, batch.seq_lens, channel_idx=chans,
                                              layers=layers)
        except InputError as exc:
            if exc.key != "batch":
                raise
            # name the batch as the user gave it (a file, 'reference' or N with its seed)
            raise InputError(f"{batch.source}: {exc.detail}", key="batch",
                             expected=exc.expected) from None
        if store is not None:
            from sim.designs.record import record_result

            record_result(store, run_id, res)
    if args.trace:
        from sim.designs.trace import write_chrome_trace

        try:
            write_chrome_trace(res, args.trace)
        except OSError as exc:
            from neumelt.errors import InputError

            raise InputError(f"cannot write the trace: {exc}", file=args.trace) from None
    from sim.designs import reference as ref

    is_ref = args.phase == "decode" and ref.comparable(
        args.design, model.name, design.hw.name, res.counters.get("tp", 0), batch.source,
        layers, args.channels)
    ref_stages = (ref.STAGES_ON if len(res.stages) == 6 else ref.STAGES_OFF) if is_ref else None
    if args.json:
        out = res.to_json()
        if ref_stages:
            out["reference_stages"] = {"cycles": ref_stages,
                                       "source": "NeuPIMs artifact casys-kaist/NeuPIMs@f299af3"}
        out["run_id"] = run_id
        out["provenance"] = "simulated"
        out["source"] = f"{res.design}/{res.fidelity}"
        print_json(out)
        return 0
    us = 1e6 / res.clock_hz
    src = f"simulated ({res.design}/{res.fidelity})"
    rows = [{"stage": k, "cycles": v, "time (us)": round(v * us, 3), "provenance": src}
            for k, v in res.stages.items()]
    if ref_stages:
        for r in rows:
            r["NeuPIMs artifact (cycles)"] = ref_stages[r["stage"]]
            r["difference (%)"] = round(100.0 * (r["cycles"] / ref_stages[r["stage"]] - 1), 1)
    print_table(rows, title=f"{res.design} on {design.hw.name}: {model.name}, "
                            f"{res.phase}, batch {res.batch}, per layer")
    print()
    print_table([{"operator": k, "cycles": v, "time (us)": round(v * us, 3)}
                 for k, v in res.operators.items()], title="operators (one layer)")
    print()
    summary = [
        {"quantity": "total", "value": res.total_cycles, "unit": "cycles"},
        {"quantity": "total", "value": res.seconds * 1e3, "unit": "ms"},
        {"quantity": "layers simulated", "value": res.layers, "unit": "layers"},
        {"quantity": "steady-state layer", "value": res.layer_cycles, "unit": "cycles"},
    ]
    summary += [{"quantity": f"utilisation {k}", "value": round(v, 4), "unit": "fraction"}
                for k, v in res.utilisation.items()]
    summary += [{"quantity": f"energy {k}", "value": v * 1e3, "unit": "mJ"}
                for k, v in res.energy_j.items()]
    summary.append({"quantity": "energy total", "value": res.energy_total_j * 1e3,
                    "unit": "mJ"})
    print_table(summary, title=f"summary ({src})")
    if res.breakdown:
        print()
        tot = max(1, res.total_cycles)
        print_table([{"part": k, "cycles": v, "time (us)": round(v * us, 3),
                      "share": round(v / tot, 4)} for k, v in res.breakdown.items()],
                    title=f"where the time goes, whole iteration ({src}; critical path, "
                          "parts sum to the total)")
    for n in res.notes:
        print(f"note: {n}")
    if run_id is not None:
        print(f"stored as run {run_id} in {args.db}")
    return 0
