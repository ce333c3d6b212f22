"""``neumelt models list|show`` and ``neumelt workloads list|show|expand|trace``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neumelt.errors import InputError


def register(sub, common) -> None:
    models = sub.add_parser("models", help="model catalog: shapes, weights, KV cache, FLOPs")
    msub = models.add_subparsers(dest="models_command", metavar="MODELS_COMMAND")
    models.set_defaults(func=lambda a: (models.print_help(), 2)[1])
    p = msub.add_parser("list", parents=[common], help="one line per shipped model preset")
    p.set_defaults(func=_models_list)
    p = msub.add_parser("show", parents=[common],
                        help="a model's shape and derived figures (estimated)")
    p.add_argument("model", help="preset name or YAML file")
    p.add_argument("--context", type=int, default=1024,
                   help="context length for per-token FLOPs and bytes (tokens, default 1024)")
    p.add_argument("--image", metavar="WxH", action="append", default=[],
                   help="also show image tokens for this size (vision models), e.g. 1080x2340")
    p.set_defaults(func=_models_show)

    wl = sub.add_parser("workloads", help="agent workload templates and request traces")
    wsub = wl.add_subparsers(dest="workloads_command", metavar="WORKLOADS_COMMAND")
    wl.set_defaults(func=lambda a: (wl.print_help(), 2)[1])
    p = wsub.add_parser("list", parents=[common], help="shipped agent workload templates")
    p.set_defaults(func=_wl_list)
    for name, helptext in (("show", "a template's summary and per-role statistics of one "
                                    "expansion"),
                           ("expand", "expand a template into a flat list of calls (JSONL)")):
        p = wsub.add_parser(name, parents=[common], help=helptext)
        p.add_argument("template", help="template name or YAML file")
        p.add_argument("--seed", type=int, default=None,
                       help="random seed (default: the template's seed, else 0)")
        p.add_argument("--set", dest="params", action="append", default=[],
                       metavar="VAR=VALUE", help="override a template variable; VALUE is a "
                       "number or a YAML NumberSpec such as '{dist: const, value: 5}'")
        p.add_argument("--instances", type=int, default=None,
                       help="task instances (default: the template's arrivals.instances)")
        p.add_argument("--vision", default=None, metavar="RULE",
                       help="count image tokens with a named rule (gpt-4o-high, claude, "
                       "gemini-2.0, qwen2-vl-1280, ...) instead of a model's")
        p.add_argument("--serial", action="store_true",
                       help="run each task's calls one at a time (serial code vs the DAG)")
        p.add_argument("--model", default=None,
                       help="bind every model slot to this preset/YAML, or per slot "
                       "SLOT=NAME[,SLOT=NAME] (fills image_tokens)")
        if name == "expand":
            p.add_argument("--jsonl", action="store_true",
                           help="print one JSON record per line instead of a table")
            p.add_argument("-o", "--output", type=Path, help="write JSONL to this file")
            p.set_defaults(func=_wl_expand)
        else:
            p.set_defaults(func=_wl_show)
    p = wsub.add_parser("validate", parents=[common],
                        help="check template files (schema, references, cycles, one expansion)")
    p.add_argument("templates", nargs="+", help="template names or YAML files")
    p.set_defaults(func=_wl_validate)
    p = wsub.add_parser("trace", parents=[common],
                        help="generate a seeded synthetic request trace, or read one")
    p.add_argument("dataset", nargs="?", default="sharegpt",
                   help="length generator (sharegpt, alpaca, sharegpt-vllm, lmsys, arena, "
                        "azure-conv, azure-code, arxiv) or, with --from, ignored")
    p.add_argument("--from", dest="src", type=Path, help="import a ShareGPT JSON or CSV trace")
    p.add_argument("-n", "--requests", type=int, default=1000, help="requests (default 1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--arrival", default="poisson", help="poisson, gamma, fixed or closed")
    p.add_argument("--rate", type=float, default=1.0, help="requests per second (default 1)")
    p.add_argument("--concurrency", type=int, default=1, help="closed-loop clients")
    p.add_argument("-o", "--output", type=Path,
                   help="write arrival_s,prompt_tokens,output_tokens CSV here")
    p.set_defaults(func=_wl_trace)


def _json(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "json", False))


# ---- models ------------------------------------------------------------------------------


def _models_list(args: argparse.Namespace) -> int:
    from neumelt.output import print_json, print_table
    from workloads.models import list_models, load_model

    rows = []
    for name in list_models():
        m = load_model(name)
        rows.append({
            "model": m.name, "family": m.family, "params_B": round(m.param_count() / 1e9, 3),
            "layers": m.n_layers, "d_model": m.d_model, "heads": m.n_heads,
            "kv_heads": m.n_kv_heads, "context": m.max_context,
            "f16_GB": round(m.weight_bytes("f16") / 1e9, 2),
            "q4_k_m_GB": round(m.weight_bytes("q4_k_m") / 1e9, 2),
            "kv_KiB_per_token": round(m.kv_bytes_per_token(2) / 1024, 1),
            "vision": m.vision.rule if m.vision else "-",
        })
    if _json(args):
        print_json({"provenance": "estimated (analytic, from the shape)", "models": rows})
    else:
        print_table(rows, title="Model presets (sizes estimated from the shape; GB = 1e9 "
                                "bytes; KV in f16)")
    return 0


def _parse_wh(s: str) -> tuple[int, int]:
    try:
        w, h = s.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise InputError(f"bad image size '{s}'", key="--image", expected="WxH, e.g. 1080x2340")\
            from None


def _models_show(args: argparse.Namespace) -> int:
    from neumelt.output import print_json, print_table
    from workloads.models import _FORMAT_NOTES, FORMATS, load_model

    if args.context < 1:
        raise InputError(f"got {args.context}", key="--context", expected="tokens >= 1")
    m = load_model(args.model)
    summary = m.summary(context_len=args.context)
    sizes = [_parse_wh(s) for s in args.image]
    if sizes:
        summary["image_tokens"] = {f"{w}x{h}": m.image_tokens(w, h) for w, h in sizes}
    if _json(args):
        print_json(summary)
        return 0
    shape = summary["shape"]
    print_table([{"key": k, "value": "-" if v is None else v} for k, v in shape.items()
                 if k not in ("vision", "source", "description")], title=f"{m.name}: shape")
    if m.source:
        print(f"source: {m.source}")
    print()
    pc = m.param_count()
    rows = [{"component": k, "params": v, "share_%": round(100 * v / pc, 2)}
            for k, v in summary["param_breakdown"].items() if v]
    rows.append({"component": "total", "params": pc, "share_%": 100.0})
    print_table(rows, title="Parameters (estimated)")
    if m.published_params:
        print(f"published: {m.published_params / 1e9:.3f} B; derived {pc / 1e9:.3f} B "
              f"({100 * (pc / m.published_params - 1):+.2f} %)")
    print()
    print_table([{"format": f, "GB": round(m.weight_bytes(f) / 1e9, 3),
                  "bits_per_weight": round(m.bits_per_weight(f), 3), "note": _FORMAT_NOTES[f]}
                 for f in FORMATS], title="Weight bytes per format (estimated)")
    if m.vision is not None and m.vision.encoder_params:
        print(f"(includes the {m.vision.encoder_params / 1e6:.0f} M-parameter vision encoder, "
              "kept in F16 like llama.cpp's mmproj file for quantised formats)")
    print()
    c = args.context
    print_table([
        {"figure": "KV cache per token (f16)", "value": m.kv_bytes_per_token(2),
         "unit": "bytes/token"},
        {"figure": f"KV cache at {c} tokens (f16)", "value": m.kv_bytes(c, 2), "unit": "bytes"},
        {"figure": f"prefill of {c} tokens", "value": m.prefill_flops(c), "unit": "FLOP"},
        {"figure": "prefill per token", "value": round(m.prefill_flops(c) / c),
         "unit": "FLOP/token"},
        {"figure": f"decode at context {c}", "value": m.decode_flops(c), "unit": "FLOP/token"},
        {"figure": f"decode bytes at context {c}, f16", "value": m.decode_bytes(c, "f16"),
         "unit": "bytes/token"},
        {"figure": f"decode bytes at context {c}, q4_k_m", "value": m.decode_bytes(c, "q4_k_m"),
         "unit": "bytes/token"},
        {"figure": "decode arithmetic intensity, f16, batch 1",
         "value": round(m.decode_flops(c) / m.decode_bytes(c, "f16"), 3), "unit": "FLOP/byte"},
    ], title="Per-token cost (estimated, matmul FLOPs; a multiply-add = 2)")
    if m.vision is not None:
        print()
        sizes = sizes or [(1080, 2340), (720, 1280), (120, 120)]
        print_table([{"image": f"{w}x{h}", "tokens": m.image_tokens(w, h)} for w, h in sizes],
                    title=f"Image tokens (vision rule '{m.vision.rule}')")
    return 0


# ---- workloads ---------------------------------------------------------------------------


def _wl_list(args: argparse.Namespace) -> int:
    from neumelt.output import print_json, print_table
    from workloads.agents import list_templates, load_template

    rows = []
    for name in list_templates():
        t = load_template(name)
        counts = t.count_nodes()
        rows.append({"template": name, "calls_in_graph": counts.get("call", 0),
                     "process": t.arrivals.process,
                     "description": " ".join(t.description.split())[:70]})
    if _json(args):
        print_json({"templates": rows})
    else:
        print_table(rows, title="Agent workload templates (agentwl/v1)")
    return 0


def _params(items: list[str]) -> dict:
    import yaml

    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise InputError(f"bad --set '{item}'", key="--set", expected="VAR=VALUE")
        try:
            out[name.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise InputError(f"bad value in --set '{item}'", key="--set",
                             expected="a number or a YAML NumberSpec") from None
    return out


def _expand(args: argparse.Namespace):
    from workloads.agents import expand, load_template, with_vars

    t = with_vars(load_template(args.template), _params(args.params))
    n = args.instances if args.instances is not None else t.arrivals.instances
    if n < 1:
        raise InputError(f"got {n}", key="--instances", expected="an integer >= 1")
    if args.seed is None:
        args.seed = t.seed if t.seed is not None else 0
    if args.seed < 0:
        raise InputError(f"got {args.seed}", key="--seed", expected="an integer >= 0")
    model = args.model
    if model is not None and "=" in model:  # per slot: main=llama3-8b,caption=qwen2-vl-2b
        pairs = [x.partition("=") for x in model.split(",") if x.strip()]
        if any(not sep or not k.strip() or not v.strip() for k, sep, v in pairs):
            raise InputError(f"bad --model '{model}'", key="--model",
                             expected="NAME or SLOT=NAME[,SLOT=NAME...]")
        model = {k.strip(): v.strip() for k, _, v in pairs}
        unknown = sorted(set(model) - set(t.models) - {t.default_model})
        if unknown:
            raise InputError(f"template '{t.name}' has no model slot '{unknown[0]}'",
                             key="--model", expected="one of " + ", ".join(
                                 sorted(set(t.models) | {t.default_model})))
    if args.vision is not None:
        if model is not None:
            raise InputError("give --model or --vision, not both", key="--vision")
        from workloads.models import vision_rule

        model = vision_rule(args.vision)
    calls = expand(t, seed=args.seed, instances=n, model=model)
    if args.serial:
        from workloads.agents import serialize

        calls = serialize(calls)
    return t, n, calls


def _role_stats(calls) -> list[dict]:
    from collections import OrderedDict

    by: OrderedDict[str, dict] = OrderedDict()
    n_inst = len({c.inst for c in calls}) or 1
    for c in calls:
        r = by.setdefault(c.role or c.id, {"role": c.role or c.id, "kind": c.kind, "count": 0,
                                             "prompt_tokens": 0, "image_tokens": 0,
                                             "output_tokens": 0, "seconds": 0.0,
                                             "_img_unknown": False})
        r["count"] += 1
        if c.kind == "call":
            r["prompt_tokens"] += c.prompt_tokens
            r["output_tokens"] += c.output_tokens
            if c.image_tokens is None:
                r["_img_unknown"] = True
            else:
                r["image_tokens"] += c.image_tokens
        else:
            r["seconds"] += c.seconds or 0.0
    rows = []
    for r in by.values():
        unknown = r.pop("_img_unknown")
        rows.append({
            "role": r["role"], "kind": r["kind"], "per_task": round(r["count"] / n_inst, 2),
            "prompt_tokens_per_task": round(r["prompt_tokens"] / n_inst, 1),
            "image_tokens_per_task": "unknown (no vision model bound)" if unknown
            else round(r["image_tokens"] / n_inst, 1),
            "output_tokens_per_task": round(r["output_tokens"] / n_inst, 1),
            "delay_s_per_task": round(r["seconds"] / n_inst, 2),
        })
    return rows


def _wl_show(args: argparse.Namespace) -> int:
    from neumelt.output import print_json, print_table
    from workloads.agents import dag_stats, token_stats

    t, n, calls = _expand(args)
    rows = _role_stats(calls)
    dag = dag_stats(calls)
    tok = token_stats(calls)
    info = {"template": t.name, "file": t.file, "description": " ".join(t.description.split()),
            "sources": t.sources, "models": t.models, "arrivals": vars(t.arrivals),
            "vars": {k: v for k, v in t.vars}, "seed": args.seed, "instances": n,
            "records": len(calls), "calls": sum(c.kind == "call" for c in calls),
            "provenance": "estimated (template defaults; see sources)", "dag": dag,
            "tokens": tok,
            "roles": rows}
    if _json(args):
        print_json(info)
        return 0
    print(f"{t.name}: {info['description']}")
    for k, v in t.sources.items():
        print(f"  [{k}] {v}")
    print(f"seed {args.seed}, {n} instance(s): {info['records']} records, {info['calls']} "
          f"LLM calls")
    print_table(rows, title="Per task (mean over instances; tokens and seconds estimated)")
    print(f"critical path: {dag['critical_path_calls']:.1f} calls + "
          f"{dag['critical_path_delay_s']:.1f} s of delays; up to "
          f"{dag['max_parallel_calls']:.1f} calls at once (per task, estimated)")
    nc, pc = tok["prefill_nocache_tokens_per_task"], tok["prefill_cached_tokens_per_task"]
    if nc is None:
        print("prefill tokens per task: unavailable until a vision model is bound "
              "(--model / --vision)")
    else:
        share = 100 * (1 - pc / nc) if nc else 0.0
        print(f"prefill tokens per task: {nc:,.0f} without a cache, {pc:,.0f} with a prefix "
              f"cache ({share:.0f} % reused); output {tok['output_tokens_per_task']:,.0f} "
              f"(estimated)")
    return 0


def _wl_expand(args: argparse.Namespace) -> int:
    from neumelt.output import print_json, print_table

    t, n, calls = _expand(args)
    if args.output is not None:
        try:
            with open(args.output, "w", encoding="utf-8") as f:
                for c in calls:
                    f.write(c.to_json() + "\n")
        except OSError as exc:
            raise InputError(f"cannot write: {exc.strerror}", file=str(args.output)) from None
        print(f"wrote {len(calls)} records to {args.output}", file=sys.stderr)
        return 0
    if args.jsonl:
        out = sys.stdout
        for c in calls:
            out.write(c.to_json() + "\n")
        return 0
    if _json(args):
        print_json({"schema": "agentwl/v1", "template": t.name, "seed": args.seed,
                    "instances": n, "model": args.model, "params": _params(args.params),
                    "serial": args.serial,
                    "calls": [c.to_dict() for c in calls]})
        return 0
    rows = [{"inst": c.inst, "id": c.id, "kind": c.kind, "deps": len(c.deps),
             "prompt": c.prompt_tokens if c.kind == "call" else "",
             "images": len(c.images) if c.kind == "call" else "",
             "image_tok": ("?" if c.image_tokens is None else c.image_tokens)
             if c.kind == "call" else "",
             "output": c.output_tokens if c.kind == "call" else "",
             "prefix": f"{c.prefix_key}:{c.prefix_tokens}" if c.prefix_key else "",
             "seconds": c.seconds if c.kind == "delay" else "",
             "resource": c.resource or ""} for c in calls]
    print_table(rows, title=f"{t.name}, seed {args.seed}: {len(calls)} records (tokens, s)")
    return 0


def _wl_trace(args: argparse.Namespace) -> int:
    from neumelt.output import print_json, print_table
    from workloads.traces import load_trace, synthetic_trace, trace_stats, write_trace_csv

    if args.requests < 1:
        raise InputError(f"got {args.requests}", key="--requests", expected="an integer >= 1")
    if args.src is not None:
        reqs = load_trace(args.src, rate=args.rate, seed=args.seed, arrival=args.arrival)
        label = str(args.src)
    else:
        reqs = synthetic_trace(args.dataset, n=args.requests, seed=args.seed,
                               arrival=args.arrival, rate=args.rate,
                               concurrency=args.concurrency)
        label = f"{args.dataset} (synthetic, seed {args.seed})"
    if args.output is not None:
        write_trace_csv(reqs, args.output)
    stats = trace_stats(reqs)
    if _json(args):
        if args.src is not None:
            prov = f"imported from {args.src}"
        else:
            from workloads.traces import DATASETS

            prov = f"synthetic, seed {args.seed}: {DATASETS[args.dataset].note}"
        print_json({"trace": label, "provenance": prov, "stats": stats,
                    "output": str(args.output or "")})
    else:
        print_table([{"figure": k, "value": round(v, 3) if isinstance(v, float) else v}
                     for k, v in stats.items()], title=f"Trace {label}")
        if args.output:
            print(f"wrote {len(reqs)} requests to {args.output}")
    return 0


def _wl_validate(args: argparse.Namespace) -> int:
    """Exit 2 on the first bad template (one message), else one line per template."""
    from neumelt.output import print_json
    from workloads.agents import dag_stats, expand, load_template

    rows = []
    for name in args.templates:
        t = load_template(name)
        calls = expand(t, seed=t.seed or 0, instances=1)
        st = dag_stats(calls)
        rows.append({"template": t.name, "file": t.file, "nodes": t.count_nodes(),
                     "records_seed0": len(calls), "calls_seed0": int(st["calls_per_task"])})
    if _json(args):
        print_json({"ok": True, "templates": rows})
    else:
        for r in rows:
            kinds = ", ".join(f"{v} {k}" for k, v in sorted(r["nodes"].items()))
            print(f"ok: {r['template']} ({r['file']}): {kinds}; seed 0 expands to "
                  f"{r['records_seed0']} records, {r['calls_seed0']} calls")
    return 0
