"""Write a :class:`~reports.doc.Report` as self-contained HTML, markdown, CSV and text.

HTML: one file, plotly.js inline (written once in the head), no external resource of any
kind, so it opens from disk with no network. Every piece of text that came from the store
(run names, model names, device strings, prompts) is escaped with :func:`html.escape`; the
page also carries a Content-Security-Policy that allows only its own scripts (by SHA-256
hash) and no network access, so an escaping slip still could not run injected code or
fetch anything.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from neumelt import __version__
from reports.doc import PROVENANCE_MARK, Note, Plot, Quantity, Report, Section, Table

PLOT_CONFIG = {"displaylogo": False, "responsive": True,
               "modeBarButtonsToRemove": ["sendDataToCloud"]}

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;
background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px}
header .sub{color:#c4cad6;font-size:13px}
main{padding:8px 28px 40px;max-width:1280px;box-sizing:border-box}
header{overflow-wrap:anywhere}
nav{font-size:13px;margin:12px 0}
nav a{margin-right:14px;color:#2b5cb8;text-decoration:none}
section{background:#fff;border:1px solid #e1e4ea;border-radius:6px;padding:12px 18px;
margin:14px 0}
h2{font-size:18px;margin:4px 0 10px}
h3{font-size:14px;margin:14px 0 6px;color:#3b4456}
table{border-collapse:collapse;font-size:13px;margin:6px 0 10px;max-width:100%}
th,td{border:1px solid #e1e4ea;padding:4px 8px;text-align:left;vertical-align:top;
overflow-wrap:anywhere}
th{overflow-wrap:normal;word-break:normal;hyphens:auto}
th{background:#f0f2f6}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.prov{display:inline-block;font-size:10px;font-weight:600;border-radius:3px;padding:0 4px;
margin-left:4px;vertical-align:1px}
.prov-measured{background:#d9f2e1;color:#145c2c}
.prov-simulated{background:#dde8fb;color:#1d4695}
.prov-estimated{background:#fdebd3;color:#8a4b05}
.na{color:#8a93a5;font-style:italic}
.note{font-size:13px;color:#3b4456;margin:6px 0}
.note-warn{color:#8a4b05}
.note-nodata{color:#8a93a5;font-style:italic}
.note-ok{color:#145c2c}
.plot{margin:4px 0 16px}
.legend{font-size:12px;color:#3b4456}
.scroll{overflow-x:auto}
td.wrap{max-width:360px}
pre{font-size:12px;background:#f0f2f6;padding:8px;overflow:auto}
"""


@dataclass(frozen=True)
class ReportFiles:
    """Paths written for one report."""

    html: Path
    markdown: Path
    csv: Path


def esc(text: object) -> str:
    """Escape any value for HTML text or attribute context."""
    return html.escape(str(text), quote=True)


def plot_text(text: object) -> str:
    """Escape text placed inside a plotly figure (titles, labels, hover text).

    plotly.js draws a small HTML subset in SVG text and decodes entities, so escaped text
    is shown literally (``<script>`` reads as ``<script>``) and never becomes markup.
    """
    return html.escape(str(text), quote=False)


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s or "section"


def _cell_html(cell: object) -> tuple[str, bool]:
    """(inner html, is_numeric)."""
    if isinstance(cell, Quantity):
        if not cell.available:
            inner = '<span class="na">unavailable</span>'
        else:
            inner = esc(" ".join(cell.display()).rstrip())
        if cell.provenance:
            mark = PROVENANCE_MARK.get(cell.provenance, "?")
            title = cell.provenance + (f": {cell.source}" if cell.source else "")
            inner += (f'<span class="prov prov-{esc(cell.provenance)}" '
                      f'title="{esc(title)}">{esc(mark)}</span>')
        return inner, True
    if cell is None:
        return '<span class="na">—</span>', False
    if isinstance(cell, bool):
        return esc("yes" if cell else "no"), False
    if isinstance(cell, int):
        return esc(str(cell)), True
    if isinstance(cell, float):
        return esc(Quantity(cell).number()), True
    return esc(cell), False


def _cell_text(cell: object, with_provenance: bool = True) -> str:
    if isinstance(cell, Quantity):
        return cell.text(with_provenance)
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "yes" if cell else "no"
    if isinstance(cell, int):
        return str(cell)
    if isinstance(cell, float):
        return Quantity(cell).number()
    return str(cell)


def _table_html(t: Table) -> str:
    out = []
    if t.csv_only:
        return (f'<p class="note">{esc(t.title or "A table")}: {len(t.rows)} rows of '
                f"{len(t.columns)} columns ({esc(', '.join(t.columns))}), in the .csv and .md "
                "files written beside this page; too wide to read here.</p>")
    if t.title:
        out.append(f"<h3>{esc(t.title)}</h3>")
    out.append('<div class="scroll"><table><thead><tr>'
               + "".join(f"<th>{esc(c)}</th>" for c in t.columns) + "</tr></thead><tbody>")
    for row in t.rows:
        cells = []
        for cell in row:
            inner, numeric = _cell_html(cell)
            cls = ' class="num"' if numeric else ""
            cells.append(f"<td{cls}>{inner}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    if t.note:
        out.append(f'<p class="note">{esc(t.note)}</p>')
    return "\n".join(out)


def _plot_html(p: Plot, index: int) -> tuple[str, str]:
    """(div html, script body) for one figure; the script is hashed into the CSP."""
    import plotly.io as pio

    fig = p.figure
    if not fig.layout.title.text:
        title = p.title if len(p.title) <= 90 else p.title[:87] + "..."
        fig.update_layout(title_text=plot_text(title))
    fig.update_layout(height=p.height_px, margin={"t": 60, "l": 60, "r": 30, "b": 50})
    div_id = f"plot-{index}"
    fig_json = pio.to_json(fig, validate=False, engine="json")
    # plotly's JSON escapes '<', '>' and '/' inside strings; assert it so an injected
    # "</script>" can never close our script element early.
    if "</" in fig_json:
        fig_json = fig_json.replace("</", "<\\/")
    config = json.dumps(PLOT_CONFIG)
    script = (f"(function(){{var f={fig_json};"
              f'Plotly.newPlot("{div_id}",f.data,f.layout,{config});}})();')
    note = f'<p class="note">{esc(p.note)}</p>' if p.note else ""
    div = (f'<div class="plot"><div id="{div_id}" class="plotly-graph-div" '
           f'style="height:{p.height_px}px;width:100%"></div>{note}</div>')
    return div, script


def _csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def to_html(report: Report) -> str:
    """The whole report as one self-contained HTML page."""
    from plotly.offline import get_plotlyjs

    plotlyjs = get_plotlyjs()
    scripts = [plotlyjs]
    body = []
    nav = []
    plot_index = 0
    plot_scripts: list[str] = []
    for sec in report.sections:
        anchor = _slug(sec.title)
        nav.append(f'<a href="#{esc(anchor)}">{esc(sec.title)}</a>')
        parts = [f'<section id="{esc(anchor)}"><h2>{esc(sec.title)}</h2>']
        for block in sec.blocks:
            if isinstance(block, Table):
                parts.append(_table_html(block))
            elif isinstance(block, Plot):
                div, script = _plot_html(block, plot_index)
                plot_index += 1
                parts.append(div)
                plot_scripts.append(script)
            elif isinstance(block, Note):
                parts.append(f'<p class="note note-{esc(block.level)}">{esc(block.text)}</p>')
        parts.append("</section>")
        body.append("\n".join(parts))
    scripts.extend(plot_scripts)
    csp = ("default-src 'none'; script-src " + " ".join(_csp_hash(s) for s in scripts)
           + "; style-src 'unsafe-inline'; img-src data:; font-src data:; connect-src 'none'; "
           "base-uri 'none'; form-action 'none'")
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    runs = ", ".join(f"#{r.id} {r.kind} {r.name!s} ({r.status})".replace(" ()", "")
                     for r in report.runs) or "none"
    legend = ("Provenance: "
              '<span class="prov prov-measured">M</span> measured (a sensor on a real run) '
              '<span class="prov prov-simulated">S</span> simulated (a design model) '
              '<span class="prov prov-estimated">E</span> estimated (an analytical model). '
              "Hover a mark for its source. “unavailable” means the quantity could not be "
              "measured or modelled; it is never shown as zero.")
    head = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(report.title)}</title><style>{_CSS}</style>"
        f'<script type="text/javascript">{plotlyjs}</script></head>'
    )
    header = (
        f"<header><h1>{esc(report.title)}</h1><div class=\"sub\">"
        + (f"{esc(report.subtitle)}<br>" if report.subtitle else "")
        + f"neumelt {esc(__version__)} · {esc(report.kind)} report · generated {esc(generated)}"
        + f" · runs: {esc(runs)}</div></header>"
    )
    page = [head, "<body>", header, "<main>",
            f'<p class="legend">{legend}</p>',
            "<nav>" + "".join(nav) + "</nav>", *body, "</main>"]
    for script in plot_scripts:
        page.append(f"<script>{script}</script>")
    page.append("</body></html>\n")
    return "\n".join(page)


def to_markdown(report: Report) -> str:
    """Markdown: header, every table (with provenance in each cell) and notes; plots listed."""
    lines = [f"# {_md(report.title)}", ""]
    if report.subtitle:
        lines += [_md(report.subtitle), ""]
    lines.append("Runs: " + (", ".join(f"#{r.id} {r.kind} {_md(r.name)} ({r.status})"
                                       for r in report.runs) or "none"))
    lines.append("")
    lines.append("Each number says its provenance: measured, simulated or estimated; "
                 "`unavailable` means it could not be measured or modelled.")
    lines.append("")
    for sec in report.sections:
        lines += [f"## {_md(sec.title)}", ""]
        for block in sec.blocks:
            if isinstance(block, Table):
                if block.title:
                    lines += [f"### {_md(block.title)}", ""]
                lines.append("| " + " | ".join(_md(c) for c in block.columns) + " |")
                lines.append("|" + "|".join("---" for _ in block.columns) + "|")
                for row in block.rows:
                    lines.append("| " + " | ".join(_md(_cell_text(c)) for c in row) + " |")
                lines.append("")
                if block.note:
                    lines += [_md(block.note), ""]
            elif isinstance(block, Plot):
                lines += [f"*Plot (see the HTML report): {_md(block.title)}*", ""]
            elif isinstance(block, Note):
                prefix = "**No data.** " if block.level == "nodata" else ""
                text = block.text[len("No data: "):] if block.text.startswith("No data: ") \
                    else block.text
                lines += [prefix + _md(text), ""]
    return "\n".join(lines).rstrip() + "\n"


def _md(text: object) -> str:
    """Markdown-safe text: pipes and angle brackets escaped, newlines flattened."""
    s = str(text).replace("\r", " ").replace("\n", " ")
    return html.escape(s, quote=False).replace("|", "\\|")


def to_csv(report: Report) -> str:
    """The primary table as CSV: a value column, then ``<col> unit`` and ``<col> provenance``."""
    table = report.primary_table()
    buf = io.StringIO()
    writer = csv.writer(buf)
    if table is None:
        writer.writerow(["note"])
        writer.writerow(["no data"])
        return buf.getvalue()
    quantity_cols = {i for i, _ in enumerate(table.columns)
                     if any(isinstance(r[i], Quantity) for r in table.rows if i < len(r))}
    header = []
    for i, c in enumerate(table.columns):
        header.append(c)
        if i in quantity_cols:
            header += [f"{c} unit", f"{c} provenance"]
    writer.writerow(header)
    for row in table.rows:
        out = []
        for i, cell in enumerate(row):
            if i in quantity_cols:
                if isinstance(cell, Quantity):
                    out += ["" if not cell.available else repr(float(cell.value)),
                            cell.unit, cell.provenance or ""]
                else:
                    out += [_csv_text(cell), "", ""]
            else:
                out.append(_csv_text(cell))
        writer.writerow(out)
    return buf.getvalue()


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(cell: object) -> str:
    """A text cell a spreadsheet will not run: one that starts like a formula (``=``,
    ``+``, ``-``, ``@``; names come from the store) gets a leading ``'``; numbers stay."""
    text = _cell_text(cell)
    if text.startswith(_FORMULA):
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


def summary_text(report: Report) -> str:
    """Terminal summary: title, summary lines, the primary table."""
    lines = [report.title]
    lines += [f"  {s}" for s in report.summary]
    # names come from the store: drop control characters so a device string cannot
    # move the cursor or recolour the terminal
    return "\n".join(_CONTROL.sub("?", line) for line in lines)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def write_report(report: Report, html_path: str | Path) -> ReportFiles:
    """Write ``FILE.html`` and, beside it, ``FILE.md`` and ``FILE.csv``."""
    html_path = Path(html_path)
    if html_path.suffix.lower() not in (".html", ".htm"):
        html_path = html_path.with_name(html_path.name + ".html")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    md_path = html_path.with_suffix(".md")
    csv_path = html_path.with_suffix(".csv")
    for path, text in ((html_path, to_html(report)), (md_path, to_markdown(report)),
                       (csv_path, to_csv(report))):
        write_whole(path, text)
    return ReportFiles(html_path, md_path, csv_path)


def write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` all or nothing: into a temporary file beside it, then
    renamed over it, so a killed process or a full disk never leaves a truncated page."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as exc:  # name the file the user asked for, not the temporary one
        tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def section_or_nodata(title: str, blocks: list, what: str) -> Section:
    """A section with ``blocks``, or one that says "No data: <what>"."""
    return Section(title, tuple(blocks)) if blocks else Section.nodata(title, what)
