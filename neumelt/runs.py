"""Runs as rows: one row per run carrying every parameter and result (llama-bench style).

The same row feeds every printer: ``md``, ``csv``, ``json`` and ``jsonl``. In JSON forms a
row keeps its structure (``config`` as a mapping, ``metrics`` as a list with unit and
provenance), so a row read back with :func:`import_rows` recreates the run; with
``full=True`` a row also carries the run's records, samples and events. The flat forms
(md, csv) spell each config key as ``config.<path>`` and each metric as
``<scope>.<name> [<unit>]``.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from neumelt.errors import InputError
from neumelt.store import Event, Metric, Sample, Store

FORMATS = ("md", "csv", "json", "jsonl")
RUN_FIELDS = ("run_id", "kind", "name", "status", "started_at", "ended_at", "host", "version",
              "config_hash", "error")


def run_row(store: Store, run_id: int, full: bool = False) -> dict[str, Any]:
    """The row of one run: metadata, config, metrics (and records/samples/events if full)."""
    run = store.get_run(run_id)
    row: dict[str, Any] = {
        "run_id": run.id, "kind": run.kind, "name": run.name, "status": run.status,
        "started_at": run.started_at, "ended_at": run.ended_at, "host": run.host,
        "version": run.version, "config_hash": run.config_hash, "error": run.error,
        "config": run.config, "info": run.info,
        "metrics": [{"scope": m.scope, "name": m.name, "value": m.value, "unit": m.unit,
                     "provenance": m.provenance, "source": m.source}
                    for m in store.metrics(run_id)],
    }
    if full:
        row["records"] = [{"table": t, "key": k, "data": d} for t, k, d in store.records(run_id)]
        row["samples"] = [s.__dict__ for s in store.samples(run_id)]
        row["events"] = [e.__dict__ for e in store.events(run_id)]
    return row


def _flatten(prefix: str, obj: Any, out: dict[str, Any]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(obj, list):
        out[prefix] = json.dumps(obj, sort_keys=True)
    else:
        out[prefix] = obj


def flat_row(row: dict[str, Any]) -> dict[str, Any]:
    """Row for md/csv: config keys as ``config.<path>``, metrics as ``<scope>.<name> [unit]``."""
    out = {k: row[k] for k in RUN_FIELDS}
    _flatten("config", row["config"], out)
    for m in row["metrics"]:
        out[f"{m['scope']}.{m['name']} [{m['unit']}]"] = m["value"]
    return out


def render(rows: list[dict[str, Any]], fmt: str) -> str:
    """Render rows in one of :data:`FORMATS`."""
    if fmt == "json":
        return json.dumps(rows, sort_keys=True, indent=2, default=str) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in rows)
    flat = [flat_row(r) for r in rows]
    columns: list[str] = []
    for r in flat:
        for k in r:
            if k not in columns:
                columns.append(k)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for r in flat:
            writer.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in columns})
        return buf.getvalue()
    if fmt == "md":
        if len(flat) > 1:  # like llama-bench: drop config columns equal across every row
            columns = [c for c in columns if not c.startswith("config.")
                       or len({json.dumps(r.get(c), default=str) for r in flat}) > 1]

        def cell(c: str, v: Any) -> str:
            metric = c not in RUN_FIELDS and not c.startswith("config.")
            text = ("unavailable" if metric else "") if v is None else str(v)
            return text.replace("|", "\\|").replace("\n", " ")

        lines = ["| " + " | ".join(columns) + " |",
                 "| " + " | ".join("---" for _ in columns) + " |"]
        lines += ["| " + " | ".join(cell(c, r.get(c)) for c in columns) + " |" for r in flat]
        return "\n".join(lines) + "\n"
    raise InputError(f"unknown format {fmt!r}", key="--format", expected=" | ".join(FORMATS))


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Read rows written by ``render`` in json or jsonl form."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=str(path)) from None
    try:
        if text.lstrip().startswith("["):
            rows = json.loads(text)
        else:
            rows = []
            for i, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as exc:
                        raise InputError(f"not valid JSON: {exc.msg}", file=str(path),
                                         line=i) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
    for i, r in enumerate(rows):
        for key in ("kind", "config", "metrics", "status"):
            if not isinstance(r, dict) or key not in r:
                raise InputError(f"row {i} has no '{key}'", file=str(path), key=f"[{i}].{key}",
                                 expected="rows written by 'neumelt runs export --format json|jsonl'")
    return rows


def import_rows(store: Store, rows: list[dict[str, Any]]) -> list[int]:
    """Recreate runs from rows; returns the new run ids (kind and status kept)."""
    ids = []
    for r in rows:
        run_id = store.start_run(r["kind"], r["config"], name=r.get("name", ""))
        info = dict(r.get("info") or {})
        info["imported_from"] = {"run_id": r.get("run_id"), "host": r.get("host"),
                                 "started_at": r.get("started_at"), "version": r.get("version")}
        for k, v in info.items():
            store.set_run_info(run_id, k, v)
        store.add_metrics(run_id, [Metric(m["name"], m["value"], m["unit"], m["provenance"],
                                          m["source"], m.get("scope", "run"))
                                   for m in r["metrics"]])
        for rec in r.get("records", []):
            store.add_record(run_id, rec["table"], rec["key"], rec["data"])
        store.add_samples(run_id, [Sample(**s) for s in r.get("samples", [])])
        store.add_events(run_id, [Event(**e) for e in r.get("events", [])])
        status = r["status"] if r["status"] != "running" else "interrupted"
        store.finish_run(run_id, status, r.get("error"))
        ids.append(run_id)
    return ids
