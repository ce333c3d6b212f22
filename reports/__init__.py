"""Reports: read the results store only, write what people open.

- :mod:`reports.api` — ``generate(store, kind, run_ids, out)`` for the four report kinds
  (``sim``, ``profile``, ``deploy``, ``sweep``): one self-contained HTML file each
  (plotly.js inline, no network, Content-Security-Policy by script hash), with markdown
  and CSV written beside it and a terminal summary.
- :mod:`reports.trace` — Chrome / Perfetto trace JSON of simulated iterations (NPU, PIM
  and per-channel lanes, request lanes) and of profiled runs (calls, prefill/decode
  phases, counter tracks for power, memory, temperature and clocks).
- :mod:`reports.doc` / :mod:`reports.render` — the document model (every number a
  :class:`~reports.doc.Quantity` with unit and provenance) and its renderers.
- :mod:`reports.data` — tolerant readers of runs, metrics, records, samples and events.

Nothing here imports ``sim/``, ``profiler/`` or ``devices/``.
"""
