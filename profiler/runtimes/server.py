"""Any OpenAI-compatible completion server over HTTP with streaming.

Works with ``llama-server`` (llama.cpp) and with llama-cpp-python's server; other
OpenAI-compatible servers (MLC, vLLM) work for timing, with counts from their ``usage``.
Token arrival times are taken on the client as each streamed chunk is read, so TTFT and
inter-token latency include the transport (for a phone: the forwarded adb port).

Requests ask for exactly ``n_predict`` tokens with EOS ignored (``ignore_eos`` for
llama-server, ``min_tokens`` for llama-cpp-python) and ``cache_prompt`` on. Counts come
from the server: ``usage``/``timings`` when it sends them, else its tokenizer endpoint
(``/tokenize`` or ``/extras/tokenize``) for the prompt and the streamed chunks (one per
token) for the output.

:class:`ServerLauncher` starts the server on a device (through ``Device.run``, so the same
code serves the local host and a phone over ADB), forwards its port, waits until it
answers, and kills it at the end.
"""

from __future__ import annotations

import http.client
import json
import shlex
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from neumelt.errors import InputError, RunError
from profiler.runtimes.base import CallResult, LoadInfo, TokenCallback

try:  # devices/ is the transport; the runtime still works against a bare URL without it
    from devices.errors import DeviceGone
except ImportError:  # pragma: no cover
    class DeviceGone(RunError):  # type: ignore[no-redef]
        pass


class ServerLost(DeviceGone):
    """The server stopped answering (device lost, port forward closed, process died)."""


@dataclass(frozen=True)
class ServerSpec:
    """How to start a server on the device.

    ``kind``: ``llama-server`` (a llama.cpp binary at ``binary`` on the device),
    ``xllamacpp`` (llama.cpp's server from the prebuilt xllamacpp wheel, through
    :mod:`profiler.runtimes.xllama_server`) or ``llama-cpp-python`` (``python -m
    llama_cpp.server``), the last two with ``python`` on the device.
    """

    kind: str
    model_remote: str
    port: int = 8089
    n_ctx: int = 4096
    n_threads: int = 1
    slots: int = 1
    binary: str = "llama-server"
    python: str = "python3"
    workdir: str = "/data/local/tmp/neumelt"
    lib_dir: str = ""   # LD_LIBRARY_PATH for a dynamically linked llama-server build
    extra_args: tuple[str, ...] = ()   # more llama-server flags (e.g. "--cache-ram", "0")
    launcher: tuple[str, ...] = ()     # runs the binary: ("taskset", "f0"), ("qemu-aarch64",)

    def argv(self) -> list[str]:
        if self.kind == "llama-server":
            return [*self.launcher, self.binary, "-m", self.model_remote, "--host", "127.0.0.1",
                    "--port", str(self.port), "-c", str(self.n_ctx * self.slots),
                    "-t", str(self.n_threads), "-tb", str(self.n_threads),
                    "-np", str(self.slots), *self.extra_args]
        if self.kind == "xllamacpp":  # llama.cpp's server from the prebuilt xllamacpp wheel
            return [self.python, "-m", "profiler.runtimes.xllama_server", "-m",
                    self.model_remote, "--host", "127.0.0.1", "--port", str(self.port),
                    "-c", str(self.n_ctx * self.slots), "-t", str(self.n_threads),
                    "-tb", str(self.n_threads), "-np", str(self.slots)]
        if self.kind == "llama-cpp-python":
            return [self.python, "-m", "llama_cpp.server", "--model", self.model_remote,
                    "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx),
                    "--n_threads", str(self.n_threads), "--n_threads_batch",
                    str(self.n_threads), "--verbose", "False",
                    # queue concurrent requests instead of cancelling the running one
                    "--interrupt_requests", "False"]
        raise InputError(f"unknown server kind {self.kind!r}", key="server",
                         expected="llama-server, xllamacpp or llama-cpp-python")


class ServerLauncher:
    """Start ``spec`` on ``device`` in the background; forward its port; stop it."""

    def __init__(self, device: Any, spec: ServerSpec, ready_timeout_s: float = 180.0) -> None:
        self.device = device
        self.spec = spec
        self.ready_timeout_s = ready_timeout_s
        self.pid: int | None = None
        self.local_port: int | None = None

    def start(self) -> tuple[str, float, float]:
        """Launch, forward, wait until it answers; returns (base_url, t_launch, t_ready)."""
        s = self.spec
        log = f"{s.workdir}/server-{s.port}.log"
        env = f"LD_LIBRARY_PATH={shlex.quote(s.lib_dir)} " if s.lib_dir else ""
        cmd = (f"mkdir -p {shlex.quote(s.workdir)} && cd {shlex.quote(s.workdir)} && "
               f"{env}nohup {' '.join(shlex.quote(a) for a in s.argv())} > {shlex.quote(log)} "
               f"2>&1 < /dev/null & echo $!")
        t0 = time.monotonic()
        res = self.device.run(["sh", "-c", cmd], timeout=30.0)
        try:
            self.pid = int(res.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise RunError(f"could not start the server: {res.stdout} {res.stderr}") from None
        self.local_port = self.device.forward(s.port)
        base = f"http://127.0.0.1:{self.local_port}"
        deadline = t0 + self.ready_timeout_s
        while True:
            if _get_json(base, "/health", timeout=2.0, quiet=True) is not None or \
                    _get_json(base, "/v1/models", timeout=2.0, quiet=True) is not None:
                return base, t0, time.monotonic()
            if not self.process_alive():
                tail = self.device.run(["sh", "-c", f"tail -n 20 {shlex.quote(log)}"],
                                       timeout=10.0).stdout
                raise RunError(f"the server exited before answering; its log ends:\n{tail}")
            if time.monotonic() > deadline:
                raise RunError(f"the server did not answer within {self.ready_timeout_s:g} s")
            time.sleep(0.1)

    def process_alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            return self.device.run(["kill", "-0", str(self.pid)], timeout=10.0).returncode == 0
        except Exception:
            return False

    def stop(self) -> None:
        if self.local_port is not None and hasattr(self.device, "unforward"):
            self.device.unforward(self.local_port)
            self.local_port = None
        if self.pid is None:
            return
        try:
            self.device.run(["kill", str(self.pid)], timeout=10.0)
            for _ in range(50):
                if not self.process_alive():
                    break
                time.sleep(0.1)
            else:
                self.device.run(["kill", "-9", str(self.pid)], timeout=10.0)
        except Exception:  # device already gone: nothing left to stop from here
            pass
        self.pid = None


def _request(base: str, method: str, path: str, body: dict | None, timeout: float
             ) -> http.client.HTTPResponse:
    host, port = base.replace("http://", "").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=data, headers=headers)
    return conn.getresponse()


def _get_json(base: str, path: str, timeout: float = 10.0, quiet: bool = False) -> Any:
    try:
        resp = _request(base, "GET", path, None, timeout)
        data = resp.read()
        if resp.status != 200:
            return None
        return json.loads(data)
    except (OSError, http.client.HTTPException, ValueError):
        if quiet:
            return None
        raise


def _post_json(base: str, path: str, body: dict, timeout: float = 30.0) -> tuple[int, Any]:
    try:
        resp = _request(base, "POST", path, body, timeout)
        data = resp.read()
    except (OSError, http.client.HTTPException) as exc:
        raise ServerLost(f"server at {base} stopped answering: {exc}") from None
    try:
        return resp.status, json.loads(data)
    except ValueError:
        return resp.status, None


class OpenAIServer:
    """Drive an OpenAI-compatible server at ``base_url`` (started by ``launcher`` if given)."""

    name = "openai-server"

    def __init__(self, base_url: str | None = None, launcher: ServerLauncher | None = None,
                 slots: int | None = None, request_timeout_s: float = 600.0) -> None:
        if base_url is None and launcher is None:
            raise InputError("a server runtime needs a URL or a launcher", key="server")
        self.base = base_url
        self.launcher = launcher
        self._slots_override = slots
        self.slots = slots or 1
        self.request_timeout_s = request_timeout_s
        self._tokenize_path: str | None = None
        self.server_kind = launcher.spec.kind if launcher else "openai-compatible"
        self.source = f"{self.server_kind} over HTTP (client-side token times)"
        self._lock = threading.Lock()
        self._local = threading.local()
        self.abort = threading.Event()   # set to stop reading running streams
        self._free_slots: list[int] = []

    def start(self) -> LoadInfo:
        t0 = time.monotonic()
        if self.launcher is not None:
            self.base, t0, t1 = self.launcher.start()
            pids: tuple[int, ...] = (self.launcher.pid,) if self.launcher.pid else ()
        else:
            t1 = time.monotonic()
            pids = ()
        props = _get_json(self.base, "/props", quiet=True) or {}
        total = props.get("total_slots") if isinstance(props, dict) else None
        self.slots = self._slots_override or int(total or 1)
        self._free_slots = list(range(self.slots))
        self._detect_tokenizer()
        detail = {"base_url": self.base, "server": self.server_kind, "slots": self.slots,
                  "props": {k: v for k, v in props.items() if k in
                            ("total_slots", "model_path", "build_info", "n_ctx")}
                  if isinstance(props, dict) else {},
                  "vision": bool(isinstance(props, dict) and props.get("modalities", {})
                                 .get("vision")),
                  "load_time_note": "launch to first answer (process start included)"
                  if self.launcher else "server was already running"}
        return LoadInfo(t0, t1, None, pids, detail)

    def _detect_tokenizer(self) -> None:
        for path, body in (("/tokenize", {"content": "the", "add_special": True}),
                           ("/extras/tokenize", {"input": "the"})):
            status, data = _post_json(self.base, path, body)
            if status == 200 and isinstance(data, dict) and "tokens" in data:
                self._tokenize_path = path
                return
        raise RunError(f"the server at {self.base} has no tokenizer endpoint "
                       "(/tokenize or /extras/tokenize); token-exact prompts need one")

    def _post_keepalive(self, path: str, body: dict) -> tuple[int, Any]:
        """POST on this thread's kept-alive connection (one port-forward setup, not one per
        request: over adb each new connection costs tens of ms)."""
        conn = getattr(self._local, "conn", None)
        for attempt in (0, 1):
            if conn is None:
                host, port = self.base.replace("http://", "").split(":")
                conn = http.client.HTTPConnection(host, int(port), timeout=30.0)
                self._local.conn = conn
            try:
                conn.request("POST", path, body=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                try:
                    return resp.status, json.loads(data)
                except ValueError:
                    return resp.status, None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = self._local.conn = None
                if attempt:
                    raise ServerLost(f"server at {self.base} stopped answering: {exc}") from None
        raise AssertionError("unreachable")

    def count_tokens(self, text: str) -> int:
        if self._tokenize_path == "/tokenize":
            body: dict[str, Any] = {"content": text, "add_special": True}
        else:
            body = {"input": text}
        status, data = self._post_keepalive(self._tokenize_path or "/tokenize", body)
        if status != 200 or not isinstance(data, dict):
            raise RunError(f"tokenize failed with HTTP {status}: {data}")
        return len(data["tokens"])

    def complete(self, prompt: str, n_predict: int,
                 on_token: TokenCallback | None = None) -> CallResult:
        body = {"prompt": prompt, "max_tokens": n_predict, "n_predict": n_predict,
                "min_tokens": n_predict, "ignore_eos": True, "temperature": 0.0,
                "top_k": 1, "stream": True, "cache_prompt": True,
                "stream_options": {"include_usage": True}}
        with self._lock:
            slot = self._free_slots.pop(0) if self._free_slots else None
        try:
            return self._stream(body, n_predict, on_token, slot)
        finally:
            if slot is not None:
                with self._lock:
                    self._free_slots.append(slot)
                    self._free_slots.sort()

    def _stream(self, body: dict, n_predict: int, on_token: TokenCallback | None,
                slot: int | None) -> CallResult:
        t_start = time.monotonic()
        times: list[float] = []
        parts: list[str] = []
        usage: dict[str, Any] | None = None
        timings: dict[str, Any] | None = None
        try:
            resp = _request(self.base, "POST", "/v1/completions", body, self.request_timeout_s)
            if resp.status != 200:
                raise RunError(f"completion failed with HTTP {resp.status}: "
                               f"{resp.read()[:500]!r}")
            while True:
                if self.abort.is_set():
                    resp.close()
                    raise RunError("request aborted")
                line = resp.readline()
                if not line:
                    break
                line = line.strip()
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    break
                chunk = json.loads(payload)
                now = time.monotonic()
                if chunk.get("usage"):
                    usage = chunk["usage"]
                if chunk.get("timings"):
                    timings = chunk["timings"]
                choices = chunk.get("choices") or []
                text = choices[0].get("text", "") if choices else ""
                if text:
                    times.append(now)
                    parts.append(text)
                    if on_token is not None:
                        on_token(now, len(times))
        except (OSError, http.client.HTTPException) as exc:
            raise ServerLost(f"server at {self.base} stopped answering: {exc}") from None
        t_end = time.monotonic()
        text = "".join(parts)
        sources = []
        out_n: int | None
        if usage and usage.get("completion_tokens") is not None:
            out_n, _ = int(usage["completion_tokens"]), sources.append("usage")
        elif timings and timings.get("predicted_n") is not None:
            out_n, _ = int(timings["predicted_n"]), sources.append("timings")
        else:
            out_n, _ = len(times), sources.append("streamed chunks")
        evaluated = int(timings["prompt_n"]) if timings and "prompt_n" in timings else None
        if usage and usage.get("prompt_tokens") is not None:
            p_n, _ = int(usage["prompt_tokens"]), sources.append("usage prompt")
        elif timings and "prompt_n" in timings:
            p_n = int(timings["prompt_n"]) + int(timings.get("cache_n", 0) or 0)
            sources.append("timings prompt")
        else:
            p_n, _ = self.count_tokens(body["prompt"]), sources.append("tokenizer endpoint")
        return CallResult(t_start, times[0] if times else None, t_end, times, text, p_n,
                          evaluated, out_n, f"{self.server_kind}: " + ", ".join(sources),
                          timings, slot)

    def pids(self) -> list[int]:
        return [self.launcher.pid] if self.launcher and self.launcher.pid else []

    def alive(self) -> bool:
        try:
            return _get_json(self.base, "/v1/models", timeout=5.0, quiet=True) is not None
        except Exception:
            return False

    def close(self) -> None:
        if self.launcher is not None:
            self.launcher.stop()


def free_port() -> int:
    """An unused TCP port on this host."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
