"""Per-call and summary metrics from what the client saw and what the runtime counted.

Definitions (all times host-monotonic seconds):

* TTFT = first token arrival - request start; end-to-end (E2E) = last token - start.
* prefill tokens/s = prompt tokens actually evaluated (cached prefix excluded) / TTFT.
* decode tokens/s = (output tokens - 1) / (last token - first token).
* inter-token latency (ITL) = gaps between consecutive token arrivals; p50/p90/p99.
* energy: see :mod:`profiler.energy` (prefill window = start..first token, decode window =
  first..last token; per output token = (prefill + decode) / output tokens, MELT-style).
"""

from __future__ import annotations

from typing import Any

from profiler.stats import mean_sd, percentile, summary


def call_timing(t_start: float, t_first: float | None, t_end: float,
                token_times: list[float], evaluated: int | None,
                output_tokens: int | None, prompt_tokens: int | None = None) -> dict[str, Any]:
    """Latency and throughput figures of one call (s, tokens/s).

    Prefill tokens/s counts the tokens the runtime evaluated; a runtime that does not say
    how many came from its cache is credited with the whole prompt (``prefill_basis``).
    """
    basis = "evaluated"
    if evaluated is None:
        evaluated, basis = prompt_tokens, "whole prompt (runtime reports no cache hits)"
    ttft = None if t_first is None else t_first - t_start
    itl = [b - a for a, b in zip(token_times, token_times[1:])]
    n_out = output_tokens if output_tokens is not None else len(token_times)
    decode_s = (token_times[-1] - token_times[0]) if len(token_times) > 1 else None
    return {
        "ttft_s": ttft,
        "e2e_s": t_end - t_start,
        "prefill_tps": (evaluated / ttft) if (evaluated and ttft and ttft > 0) else None,
        "decode_tps": ((len(token_times) - 1) / decode_s) if decode_s else None,
        "tpot_s": ((t_end - t_first) / (n_out - 1)) if (t_first is not None and n_out > 1)
        else None,
        "itl_p50_s": percentile(itl, 50),
        "itl_p90_s": percentile(itl, 90),
        "itl_p99_s": percentile(itl, 99),
        "prefill_basis": basis,
    }


#: Summary figures: (record field, unit)
CALL_FIGURES = (
    ("ttft_s", "s"), ("e2e_s", "s"), ("prefill_tps", "tokens/s"), ("decode_tps", "tokens/s"),
    ("tpot_s", "s"), ("runtime_prefill_tps", "tokens/s"), ("runtime_decode_tps", "tokens/s"),
    ("energy_gross_j", "J"), ("energy_net_j", "J"),
    ("energy_per_output_token_j", "J/token"),
)


def summarize_calls(calls: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Mean, sd, percentiles of each per-call figure, plus ITL over every token gap."""
    out = {name: summary([c.get(name) for c in calls]) | {"unit": unit}
           for name, unit in CALL_FIGURES}
    gaps: list[float] = []
    for c in calls:
        ts = c.get("token_times_s") or []
        gaps += [b - a for a, b in zip(ts, ts[1:])]
    out["itl_s"] = summary(gaps) | {"unit": "s"}
    return out


def summarize_tasks(tasks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per-task figures over repetitions: mean and sd (every sample kept by the caller)."""
    out = {}
    for name, unit in (("span_s", "s"), ("llm_s", "s"), ("calls", "calls"),
                       ("output_tokens", "tokens"), ("energy_gross_j", "J"),
                       ("energy_net_j", "J"), ("energy_per_output_token_j", "J/token")):
        vals = [t.get(name) for t in tasks]
        m, sd = mean_sd(vals)
        out[name] = {"mean": m, "sd": sd, "n": sum(v is not None for v in vals),
                     "samples": vals, "unit": unit}
    return out
