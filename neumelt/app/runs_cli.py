"""``neumelt runs list|show|export|import``: browse and move runs in the results store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub, common) -> None:
    runs = sub.add_parser("runs", help="list, show, export and import stored runs")
    rsub = runs.add_subparsers(dest="runs_command", metavar="RUNS_COMMAND")
    runs.set_defaults(func=lambda a: (runs.print_help(), 2)[1])

    p = rsub.add_parser("list", parents=[common], help="one line per run")
    p.add_argument("--kind", choices=("sim", "profile", "sweep", "import"))
    p.add_argument("--status", choices=("running", "done", "failed", "interrupted"))
    p.set_defaults(func=_list)

    p = rsub.add_parser("show", parents=[common], help="a run's config and metrics")
    p.add_argument("run", type=int)
    p.set_defaults(func=_show)

    p = rsub.add_parser("export", parents=[common], help="runs as rows (md, csv, json, jsonl)")
    p.add_argument("run", type=int, nargs="*", help="run ids (default: all)")
    p.add_argument("--format", default="md", choices=("md", "csv", "json", "jsonl"))
    p.add_argument("--full", action="store_true",
                   help="json/jsonl: include records, samples and events")
    p.add_argument("-o", "--output", type=Path, help="write to a file instead of stdout")
    p.set_defaults(func=_export)

    p = rsub.add_parser("import", parents=[common], help="add runs from a json/jsonl export")
    p.add_argument("file", type=Path)
    p.set_defaults(func=_import)


def _store(args: argparse.Namespace):
    from neumelt.store import open_store

    return open_store(args.db)


def _list(args: argparse.Namespace) -> int:
    from neumelt.output import print_json, print_table

    store = _store(args)
    runs = store.list_runs(kind=args.kind, status=args.status)
    rows = [{"id": r.id, "kind": r.kind, "name": r.name, "status": r.status,
             "started_at (UTC)": r.started_at, "config_hash": r.config_hash} for r in runs]
    if args.json:
        print_json(rows)
    elif rows:
        print_table(rows)
    else:
        print(f"no runs in {store.path}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from neumelt.output import print_json, print_table
    from neumelt.runs import run_row

    store = _store(args)
    row = run_row(store, args.run)
    if args.json:
        print_json(row)
        return 0
    print(f"run {row['run_id']}  kind {row['kind']}  status {row['status']}  "
          f"{row['started_at']} -> {row['ended_at']}  host {row['host']}  neumelt {row['version']}")
    if row["error"]:
        print(f"error: {row['error']}")
    print_table([{"scope": m["scope"], "metric": m["name"], "value": m["value"],
                  "unit": m["unit"], "provenance": m["provenance"], "source": m["source"]}
                 for m in row["metrics"]], title="metrics") if row["metrics"] else print("no metrics")
    return 0


def _export(args: argparse.Namespace) -> int:
    from neumelt.runs import render, run_row

    store = _store(args)
    ids = args.run or [r.id for r in store.list_runs()]
    text = render([run_row(store, i, full=args.full) for i in ids], args.format)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {len(ids)} run(s) to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _import(args: argparse.Namespace) -> int:
    from neumelt.output import print_json
    from neumelt.runs import import_rows, read_rows

    store = _store(args)
    ids = import_rows(store, read_rows(args.file))
    if args.json:
        print_json({"imported": ids})
    else:
        print(f"imported {len(ids)} run(s): {', '.join(map(str, ids))}")
    return 0
