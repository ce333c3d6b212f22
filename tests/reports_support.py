"""Support for the reports tests: a real results store filled with small, seeded runs,
and a headless Chromium driven over the DevTools protocol (stdlib only, ``--remote-debugging-
pipe``) that opens a page from a file:// URL and reports console errors, exceptions, network
requests, a DOM count and a screenshot."""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from neumelt.store import Event, Metric, Sample, Store

XSS = '<script>document.body.setAttribute("data-pwned","1")</script>' \
      '<img src=x onerror="document.body.setAttribute(\'data-pwned\',\'1\')">'

DESIGNS = {  # design: (system tok/s, J/token by component, TTFT p50 s, TPOT p50 s)
    "gpu": (1000.0, {"gpu": 0.5, "static": 0.4, "hbm": 0.6}, 0.080, 1 / 25),
    "npu": (1250.0, {"npu": 0.5, "hbm": 0.6}, 0.070, 1 / 30),
    "npu-pim": (1800.0, {"npu": 0.4, "pim": 0.15, "hbm": 0.3}, 0.065, 1 / 45),
    "neupims": (2900.0, {"npu": 0.35, "pim": 0.12, "hbm": 0.2}, 0.060, 1 / 70),
}


WEIGHTS_B = 13.4e9  # gpt3-7b f16 on one device


def add_sim_run(store: Store, design: str, seed: int = 0, model: str = "gpt3-7b") -> int:
    """A serving-style sim run (metric names as ``sim.serving`` writes them) that also holds
    step-style stage/operator records and NPU/PIM/per-channel timeline events."""
    tps, energy, ttft, tpot = DESIGNS[design]
    rng = random.Random(seed)
    rid = store.start_run("sim", {"serving": {"design": design, "model": model,
                                              "workload": "mobile-agent-v2",
                                              "max_batch": 256,
                                              "max_prefill_tokens": 8192}},
                          name=f"serve {design} {model}")
    # the memory plan sim.serving records: 32 GiB per device, weights first, 18e9 B of KV
    store.set_run_info(rid, "devices", 1)
    store.set_run_info(rid, "memory", {
        "capacity_bytes": 18e9 + WEIGHTS_B, "mem_util": 1.0, "weights_bytes": WEIGHTS_B,
        "weight_format": "f16", "kv_bytes_per_token": 524288,
        "activation_bytes_per_token": 65536, "source": "test"})
    src = f"{design}/fast"
    ms = [Metric("throughput_tok_s", tps, "tokens/s", "simulated", src),
          Metric("decode_throughput_tok_s", tps * 1.1, "tokens/s", "simulated", src),
          Metric("ttft_mean_s", ttft * 1.2, "s", "simulated", src),
          Metric("ttft_p50_s", ttft, "s", "simulated", src),
          Metric("ttft_p99_s", ttft * 3, "s", "simulated", src),
          Metric("tpot_p50_s", tpot, "s", "simulated", src),
          Metric("tpot_p99_s", tpot * 2, "s", "simulated", src),
          Metric("kv_capacity_bytes", 18e9, "bytes", "simulated", src),
          Metric("kv_peak_fraction", 0.4, "fraction", "simulated", src),
          Metric("energy_per_token_j", sum(energy.values()), "J/token", "simulated", src),
          Metric("peak_flops", 262e12, "FLOP/s", "simulated", "128x128 @ 1 GHz x 8"),
          Metric("peak_bw_bytes_s", 1.024e12, "B/s", "simulated", "32 ch x 32 GB/s")]
    for comp, j in energy.items():
        ms.append(Metric(f"energy_per_token_j.{comp}", j, "J/token", "simulated", src))
    store.add_metrics(rid, ms)
    store.add_records(rid, "stage", [
        (s, {"cycles": int(t * 1e6 * 1000 / tps), "seconds": t * 1e-3 * (1000 / tps)})
        for s, t in (("qkv", 1.2), ("attention", 2.5), ("projection", 0.6), ("ffn", 3.1))])
    ops = []
    for name, flops, nbytes, t in (("qkv_gemm", 2.4e11, 1.0e8, 1.2e-3),
                                   ("logits_gemv", 1.1e9, 5.5e8, 0.9e-3),
                                   ("softmax", 4e7, 1e7, 0.1e-3),
                                   ("attend_gemv", 1.1e9, 5.5e8, 0.8e-3),
                                   ("ffn_gemm", 9.6e11, 4.0e8, 3.0e-3)):
        ops.append((name, {"flops": flops, "bytes": nbytes, "seconds": t * 1000 / tps}))
    store.add_records(rid, "operator", ops)
    events = []
    t = 0.0
    for layer in range(4):
        d = rng.uniform(2e-6, 4e-6)
        events.append(Event("npu", f"layer {layer} qkv", t, d, {"layer": layer}))
        if design in ("npu-pim", "neupims"):
            for ch in range(4):
                events.append(Event(f"pim/ch{ch}", "logits", t + d, rng.uniform(1e-6, 3e-6),
                                    {"channel": ch}))
            events.append(Event("pim", "attention", t + d, 3e-6))
        t += d + 3e-6
    store.add_events(rid, events)
    store.add_samples(rid, [Sample(src, "utilisation.npu", i * 0.01, 0.5 + 0.4 * (i % 2),
                                   "fraction", t_device_s=i * 0.01) for i in range(20)])
    store.finish_run(rid)
    return rid


def add_profile_run(store: Store, seed: int = 1, device: str = f"Pixel {XSS}",
                    model: str = "/models/SmolLM2-135M-Instruct.Q4_1.gguf",
                    throttle: bool = True) -> int:
    """A profile run shaped like ``profiler.session`` writes it: ``calls``/``tasks`` records,
    slot and session events, runtime memory / thermal / clock samples, and an unavailable
    power sensor."""
    rng = random.Random(seed)
    rid = store.start_run("profile", {"device": "local", "model": model,
                                      "workload": "mobile-agent-v2", "tasks": 1},
                          name="agent task")
    store.set_run_info(rid, "device", {"kind": "android", "model": device, "soc": "Tensor",
                                       "cores": 8, "ram_bytes": 8 * 2 ** 30, "os": "14",
                                       "serial": "X1"})
    calls, delays = [], []
    events = [Event("session", "idle_baseline", 90.0, 9.0), Event("session", "load", 99.0, 0.8)]
    t = 100.0
    roles = ["planner", "decision", "reflector", "memory"]
    for i in range(10):
        role = roles[i % len(roles)]
        warm = i == 0
        ttft = rng.uniform(0.2, 0.6)
        n_out = rng.randint(20, 40)
        slow = 1.0 + (0.4 * i / 9 if throttle else 0.0)
        times = [t + ttft]
        for _ in range(n_out - 1):
            times.append(times[-1] + rng.uniform(0.008, 0.012) * slow)
        t_end = times[-1] + 0.001
        key = f"r{0 if warm else 1}/t0/n{i}"
        calls.append((key, {
            "rep": 0 if warm else 1, "warmup": warm, "inst": 0, "id": f"n{i}", "kind": "call",
            "role": role, "t_start_s": t, "t_first_s": t + ttft, "t_end_s": t_end,
            "prompt_tokens": 600, "output_tokens": n_out, "token_times_s": times,
            "output_text": f"tap {XSS}", "ttft_s": ttft, "e2e_s": t_end - t,
            "decode_tps": (n_out - 1) / (times[-1] - times[0])}))
        events.append(Event("slot0", f"call n{i}", t, t_end - t, {"key": key, "role": role}))
        events.append(Event("slot0", "first_token", t + ttft, None, {"key": key}))
        events += [Event("slot0", "token", x, None, {"key": key, "i": j})
                   for j, x in enumerate(times)]
        t = t_end + 0.05
        if i % 2 and not warm:  # a tool / screenshot wait after every other call
            delays.append((f"r1/t0/d{i}", {"rep": 1, "warmup": False, "inst": 0,
                                           "id": f"d{i}", "kind": "delay", "role": "tool",
                                           "resource": "screen", "t_start_s": t,
                                           "t_end_s": t + 0.3, "seconds": 0.3}))
            t += 0.35
    events.append(Event("session", "task r1/t0", 100.0, t - 100.0))
    store.add_records(rid, "calls", calls)
    store.add_records(rid, "delays", delays)
    measured = [c for _, c in calls if not c["warmup"]]
    store.add_records(rid, "tasks", [("r1/t0", {
        "rep": 1, "inst": 0, "warmup": False, "calls": len(measured),
        "output_tokens": sum(c["output_tokens"] for c in measured),
        "energy_gross_j": None, "energy_net_j": None})])
    store.add_events(rid, events)
    samples = []
    ts = 100.0
    while ts < t:
        samples.append(Sample("runtime.memory", "rss_bytes", ts, 180e6 + rng.uniform(0, 2e7),
                              "B"))
        samples.append(Sample("thermal_zone0", "cpu_temp", ts, 40 + (ts - 100) * 0.8, "C"))
        samples.append(Sample("cpufreq", "cpu0_freq", ts, 2.4e9 - (ts - 100) * 2e7, "Hz"))
        samples.append(Sample("powercap", "package_power", ts, None, "W"))  # unavailable
        ts += 0.25
    store.add_samples(rid, samples)
    tot_decode = sum(c["t_end_s"] - c["t_first_s"] for c in measured)
    tot_out = sum(c["output_tokens"] for c in measured)
    store.add_metrics(rid, [
        Metric("ttft_s.p50", sorted(c["ttft_s"] for c in measured)[len(measured) // 2], "s",
               "measured", "llama-cpp-python, host clock"),
        Metric("ttft_s.sd", 0.1, "s", "measured", "llama-cpp-python, host clock"),
        Metric("decode_tps.p50", (tot_out - len(measured)) / tot_decode, "tokens/s",
               "measured", "llama-cpp-python, host clock"),
        Metric("decode_tps.sd", 3.0, "tokens/s", "measured", "host clock"),
        Metric("memory.hwm", 2.0e8, "bytes", "measured", "/proc of the runtime process"),
        Metric("memory.min_mem_available", 5e9, "bytes", "measured", "/proc/meminfo"),
        Metric("task.energy_gross_j.mean", None, "J", "measured", "no power source"),
        Metric("energy.idle_baseline_j", None, "J", "measured", "no power source"),
        Metric("energy.load_j", None, "J", "measured", "no power source"),
        Metric("energy_per_output_token_j.mean", None, "J/token", "measured",
               "no power source"),
        Metric("thermal.max_c", max(s.value for s in samples if s.name == "cpu_temp"), "C",
               "measured", "thermal_zone0"),
    ])
    store.finish_run(rid)
    return rid


def add_sweep_run(store: Store, n: int = 30, seed: int = 2) -> int:
    """A sweep run shaped like ``sim.sweep`` writes it: ``point`` rows with ``coords`` and
    ``metrics`` (name -> value, unit, provenance, source), objectives in the run info, and
    one failed point."""
    rng = random.Random(seed)
    rid = store.start_run("sweep", {"space": "pim channels x array"}, name=f"sweep {XSS}")
    store.set_run_info(rid, "objectives", [{"metric": "throughput_tokens_per_s", "goal": "max"},
                                           {"metric": "energy_per_token_j", "goal": "min"},
                                           {"metric": "memory_area_rel", "goal": "min"}])
    pts = []
    for i in range(n):
        ch = rng.choice([8, 16, 32, 64])
        design = rng.choice(["npu", "neupims"])
        tps = 200 * ch ** 0.6 * (1.5 if design == "neupims" else 1.0) * rng.uniform(0.9, 1.1)

        def m(value, unit, prov="simulated", src=f"{design}/fast"):
            return {"value": value, "unit": unit, "provenance": prov, "source": src}

        pts.append((f"p{i}", {
            "key": f"p{i}", "index": i, "status": "ok",
            "coords": {"design": design, "hbm_channels": ch},
            "config": {"design": design, "hbm_channels": ch, "fidelity": "fast"},
            "metrics": {"throughput_tokens_per_s": m(tps, "tokens/s"),
                        "energy_per_token_j": m(0.002 + 0.08 / ch + rng.uniform(0, 0.002),
                                                "J/token"),
                        "memory_area_rel": m(ch / 32 * (1.03 if design == "neupims" else 1),
                                             "x", "estimated", "area-proxy"),
                        "pim_utilisation": m(None, "fraction")}}))
    pts.append(("bad", {"key": "bad", "status": "error", "error": "boom", "metrics": {}}))
    store.add_records(rid, "point", pts)
    store.finish_run(rid)
    return rid


def populate(path: Path) -> dict[str, list[int]]:
    """A store with 4 sim designs, 1 profile run and 1 sweep; returns ids by kind."""
    store = Store(path)
    try:
        sims = [add_sim_run(store, d, seed=i) for i, d in enumerate(DESIGNS)]
        prof = [add_profile_run(store)]
        sweep = [add_sweep_run(store)]
    finally:
        store.close()
    return {"sim": sims, "profile": prof, "sweep": sweep}


# -- headless Chromium over the DevTools protocol (pipe transport) --------------------

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


# Measured in the page after the plots drew: elements reaching past the viewport, scroll
# boxes whose content is wider than they are, and per plot its axes (type, title), colour
# bar titles and the screen boxes of its text annotations (annotations, text labels on
# marks, bar texts, plot and axis titles, the legend's box) with every overlapping pair.
LAYOUT_JS = r"""
(() => {
  const vw = document.documentElement.clientWidth;
  const desc = el => (el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ')[0] : '') +
      ' "' + (el.textContent || '').trim().slice(0, 50) + '"');
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg') || el.closest('.modebar')) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > vw + 0.5 || r.left < -0.5) wide.push(desc(el) + ' right=' + Math.round(r.right));
  }
  const scrolls = [...document.querySelectorAll('.scroll')]
    .filter(d => d.getClientRects().length && d.scrollWidth > d.clientWidth + 1)
    .map(d => desc(d) + ' content ' + d.scrollWidth + ' px in ' + d.clientWidth + ' px');
  const plots = [];
  for (const gd of document.querySelectorAll('.plotly-graph-div')) {
    const fl = gd._fullLayout || {};
    const axes = [];
    for (const k of Object.keys(fl).sort()) {
      if (!/^[xy]axis\d*$/.test(k) || !fl[k] || fl[k].visible === false) continue;
      const tt = (fl[k].title && fl[k].title.text) || '';
      axes.push({name: k, type: fl[k].type, title: /^Click to enter/.test(tt) ? '' : tt,
                 matches: fl[k].matches || null, ticks: fl[k].showticklabels !== false});
    }
    for (const k of Object.keys(fl)) {
      if (/^coloraxis\d*$/.test(k) && fl[k] && fl[k].showscale !== false && fl[k].colorbar)
        axes.push({name: k, type: 'colorbar', title: (fl[k].colorbar.title && fl[k].colorbar.title.text) || ''});
    }
    const sel = 'g.annotation, g.textpoint, text.bartext, .gtitle, .g-xtitle text, .g-ytitle text, g.legend .bg, ' +
                'text.xtitle, text.ytitle, [class^="g-x"][class$="title"] text, [class^="g-y"][class$="title"] text';
    const seen = new Set();
    const boxes = [];
    for (const e of gd.querySelectorAll(sel)) {
      if (seen.has(e)) continue;
      seen.add(e);
      const r = e.getBoundingClientRect();
      const legend = e.classList.contains('bg');
      if (r.width < 1 || r.height < 1 || (!legend && !(e.textContent || '').trim())) continue;
      boxes.push({text: legend ? 'legend' : e.textContent.trim().slice(0, 60),
                  l: r.left, t: r.top, r: r.right, b: r.bottom});
    }
    const overlaps = [];
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      const w = Math.min(a.r, b.r) - Math.max(a.l, b.l), h = Math.min(a.b, b.b) - Math.max(a.t, b.t);
      if (w > 1 && h > 1) overlaps.push([a.text, b.text]);
    }
    plots.push({id: gd.id, title: (fl.title && fl.title.text) || '', axes, boxes: boxes.length, overlaps});
  }
  return JSON.stringify({viewport: vw, pageWidth: document.documentElement.scrollWidth,
                         pageHeight: document.documentElement.scrollHeight, wide, scrolls, plots});
})()
"""

# a parenthesised part naming a unit: "TTFT (s)", "energy (J/token, simulated)", "busy (%)"
UNIT_IN_TITLE = (r"\((?:[^()]*[ ,])?(s|ms|µs|ns|cycles|tok/s|tokens/s|J|J/token|J/task|W|"
                 r"B|KiB|MiB|GiB|GB|%|°C|Hz|kHz|MHz|GHz|FLOP/s|FLOP/byte|count|ratio|×|"
                 r"mm²|USD)(?:[ ,][^()]*)?\)")


def layout_problems(layout: dict) -> list[str]:
    """What a page measured by :data:`LAYOUT_JS` does wrong at its viewport: elements
    wider than it, tables that need a scroll bar, overlapping plot text, numeric axes
    (and colour bars) without a title naming a unit, category axes without a title."""
    import re

    out = []
    if layout["pageWidth"] > layout["viewport"]:
        out.append(f"page is {layout['pageWidth']} px wide in a {layout['viewport']} px viewport")
    out += [f"wider than the viewport: {w}" for w in layout["wide"]]
    out += [f"needs a horizontal scroll bar: {s}" for s in layout["scrolls"]]
    for p in layout["plots"]:
        name = p["title"] or p["id"]
        out += [f"{name}: overlapping text {a!r} / {b!r}" for a, b in p["overlaps"]]
        titled = {a["name"].replace("axis", ""): bool(a["title"].strip()) for a in p["axes"]}
        for ax in p["axes"]:
            title = re.sub(r"<[^>]+>", "", ax["title"]).strip()
            if not title and ax.get("matches") and not ax.get("ticks") \
                    and titled.get(ax["matches"]):
                continue  # a shared axis without tick labels: its twin carries the title
            if not title:
                out.append(f"{name}: {ax['name']} has no title")
            elif ax["type"] != "category" and not re.search(UNIT_IN_TITLE, title):
                out.append(f"{name}: {ax['name']} title {title!r} names no unit")
    return out


class Chromium:
    """A real headless Chromium, driven over ``--remote-debugging-pipe`` (fd 3 in, fd 4 out:
    NUL-terminated JSON messages)."""

    def __init__(self, timeout_s: float = 60.0) -> None:
        exe = chromium_path()
        if exe is None:
            raise RuntimeError("chromium is not installed (Debian package 'chromium')")
        self.profile = tempfile.mkdtemp(prefix="neumelt-chromium-")
        to_child_r, self._to_child_w = os.pipe()
        self._from_child_r, from_child_w = os.pipe()

        def setup() -> None:  # runs in the child before exec: put the pipes on fds 3 and 4
            a = os.dup(to_child_r)  # copies above 4 first, so neither end is clobbered
            b = os.dup(from_child_w)
            while a <= 4 or b <= 4:
                a, b = (os.dup(a) if a <= 4 else a), (os.dup(b) if b <= 4 else b)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [exe, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
             "--remote-debugging-pipe", "--host-resolver-rules=MAP * ~NOTFOUND",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=setup, pass_fds=(3, 4), close_fds=True)
        os.close(to_child_r)
        os.close(from_child_w)
        self._buf = b""
        self._id = 0
        self.timeout_s = timeout_s
        self.events: list[dict] = []

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child_w)
        os.close(self._from_child_r)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read_message(self, deadline: float) -> dict:
        import select

        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self._from_child_r], [], [], left)
            if ready:
                chunk = os.read(self._from_child_r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, session: str | None = None
             ) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout_s
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, session: str, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        for i, ev in enumerate(self.events):
            if ev.get("method") == method and ev.get("sessionId") == session:
                return self.events.pop(i)
        while True:
            ev = self._read_message(deadline)
            if ev.get("method") == method and ev.get("sessionId") == session:
                return ev
            self.events.append(ev)

    def open_page(self, url: str, screenshot: Path, settle_s: float = 1.0,
                  dom_query: str = ".plotly-graph-div .main-svg", full_page: bool = False
                  ) -> dict:
        """Open ``url`` offline at 1280 px; returns console errors, exceptions, network
        requests, number of rendered plots, the body's data-pwned attribute, the page's
        layout measurements (``layout``: see :data:`LAYOUT_JS`) and the screenshot path
        (``full_page``: the whole page, else the first 1800 px)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send("Network.emulateNetworkConditions",
                  {"offline": True, "latency": 0, "downloadThroughput": -1,
                   "uploadThroughput": -1}, session=session)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": 1280, "height": 1800, "deviceScaleFactor": 1, "mobile": False},
                  session=session)
        self.events = [e for e in self.events if e.get("sessionId") != session]
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_event("Page.loadEventFired", session, self.timeout_s)
        time.sleep(settle_s)
        counts = self.send("Runtime.evaluate", {"expression": (
            "JSON.stringify({plots: document.querySelectorAll('.plotly-graph-div').length,"
            f"rendered: document.querySelectorAll({json.dumps(dom_query)}).length,"
            "divsWithSvg: Array.from(document.querySelectorAll('.plotly-graph-div'))"
            ".filter(d => d.querySelector('svg.main-svg')).length,"
            "pwned: document.body.getAttribute('data-pwned'),"
            "scripts: document.scripts.length,"
            "title: document.title})"), "returnByValue": True}, session=session)
        info = json.loads(counts["result"]["value"])
        layout = self.send("Runtime.evaluate", {"expression": LAYOUT_JS, "returnByValue": True},
                           session=session)
        info["layout"] = json.loads(layout["result"]["value"])
        if full_page:  # the whole page in one image, still 1280 px wide
            height = min(int(info["layout"]["pageHeight"]) + 10, 16000)
            self.send("Emulation.setDeviceMetricsOverride",
                      {"width": 1280, "height": height, "deviceScaleFactor": 1,
                       "mobile": False}, session=session)
            time.sleep(0.5)
        shot = self.send("Page.captureScreenshot", {"format": "png",
                                                    "captureBeyondViewport": False},
                         session=session)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        mine = [e for e in self.events if e.get("sessionId") == session]
        console_errors = [e["params"] for e in mine
                          if e.get("method") == "Runtime.consoleAPICalled"
                          and e["params"].get("type") in ("error", "assert")]
        log_errors = [e["params"]["entry"] for e in mine if e.get("method") == "Log.entryAdded"
                      and e["params"]["entry"].get("level") == "error"]
        exceptions = [e["params"] for e in mine if e.get("method") == "Runtime.exceptionThrown"]
        requests = [e["params"]["request"]["url"] for e in mine
                    if e.get("method") == "Network.requestWillBeSent"]
        self.send("Target.closeTarget", {"targetId": target})
        self.events = [e for e in self.events if e.get("sessionId") != session]
        return {**info, "console_errors": console_errors, "log_errors": log_errors,
                "exceptions": exceptions, "requests": requests, "screenshot": screenshot}
