"""Outside observers of an OpenAI-compatible streaming server (stdlib only, no neumelt code).

Two independent ways to time llama-server's streamed tokens, used to check the profiler:

* :func:`stream_completion`: a streaming client of its own (``http.client``, SSE) that
  sends one ``/v1/completions`` request and stamps each ``data:`` event carrying text as it
  is read.
* :class:`TimingProxy`: a TCP relay between a client (the profiler) and the server. It
  stamps the first byte of each HTTP request it relays and each complete SSE ``data:``
  line the server sends with the time the kernel received those bytes on the proxy's
  socket (``SO_TIMESTAMPNS``; where that is unavailable, when the proxy read them), so its
  own scheduling delays do not enter. It sees the profiler's very requests, so its times
  and the profiler's are for the same tokens.

Times are ``time.monotonic()`` seconds; on Linux that is CLOCK_MONOTONIC, one clock for
every process on the host, so the proxy's stamps and the profiler's share a timeline
(kernel timestamps are CLOCK_REALTIME and are moved onto it by one offset read at start).
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Observation:
    """One streamed request as an observer saw it (host-monotonic seconds)."""

    path: str
    t_request_s: float                 # client: before connecting; proxy: first request byte
    token_times_s: list[float] = field(default_factory=list)   # events that carry text
    texts: list[str] = field(default_factory=list)
    timings: dict[str, Any] | None = None   # llama-server's own ``timings`` (last event)
    usage: dict[str, Any] | None = None

    @property
    def ttft_s(self) -> float | None:
        return self.token_times_s[0] - self.t_request_s if self.token_times_s else None

    @property
    def itl_s(self) -> list[float]:
        t = self.token_times_s
        return [b - a for a, b in zip(t, t[1:])]


def _event(obs: Observation, line: bytes, now: float) -> None:
    """Account one SSE line (``data: {...}``) seen at ``now``."""
    line = line.strip()
    if not line.startswith(b"data:"):
        return
    payload = line[5:].strip()
    if payload == b"[DONE]":
        return
    try:
        chunk = json.loads(payload)
    except ValueError:
        return
    if chunk.get("timings"):
        obs.timings = chunk["timings"]
    if chunk.get("usage"):
        obs.usage = chunk["usage"]
    choices = chunk.get("choices") or []
    text = ""
    if choices:
        text = choices[0].get("text") or (choices[0].get("delta") or {}).get("content") or ""
    if text:
        obs.token_times_s.append(now)
        obs.texts.append(text)


def stream_completion(host: str, port: int, body: dict[str, Any], path: str = "/v1/completions",
                      timeout: float = 300.0) -> Observation:
    """POST ``body`` (``stream`` forced on) and time the streamed tokens as they are read."""
    body = dict(body, stream=True)
    t0 = time.monotonic()
    obs = Observation(path, t0)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("POST", path, body=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {resp.read()[:300]!r}")
        while True:
            line = resp.readline()
            if not line:
                break
            _event(obs, line, time.monotonic())
            if line.strip() == b"data: [DONE]":
                break
    finally:
        conn.close()
    return obs


SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)   # Linux asm-generic value


def _stamped(sock: socket.socket) -> bool:
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        return True
    except OSError:
        return False


class _Receiver:
    """recv() that also returns when the kernel received the bytes (host-monotonic s)."""

    def __init__(self, sock: socket.socket, realtime_to_mono: float) -> None:
        self.sock = sock
        self.offset = realtime_to_mono
        self.kernel = _stamped(sock)

    def recv(self) -> tuple[bytes, float, bool]:
        if not self.kernel:
            data = self.sock.recv(65536)
            return data, time.monotonic(), False
        data, anc, _flags, _addr = self.sock.recvmsg(65536, socket.CMSG_SPACE(16))
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(cdata) >= 16:
                sec, nsec = struct.unpack("qq", cdata[:16])
                return data, sec + nsec * 1e-9 - self.offset, True
        return data, time.monotonic(), False


class TimingProxy:
    """Relay 127.0.0.1:``port`` to ``upstream``; record every streamed request it carries."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self._srv = socket.create_server(("127.0.0.1", 0))
        _stamped(self._srv)            # accepted sockets inherit kernel receive stamps
        self.port = self._srv.getsockname()[1]
        self.offset = time.time() - time.monotonic()   # CLOCK_REALTIME -> monotonic
        self.kernel_stamps = 0         # stamps taken by the kernel (the rest: on read)
        self.user_stamps = 0
        self.observations: list[Observation] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> TimingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._srv.close()

    def streamed(self, path: str = "/v1/completions") -> list[Observation]:
        """Observations of ``path`` requests, in the order their requests arrived."""
        with self._lock:
            return sorted((o for o in self.observations if o.path == path),
                          key=lambda o: o.t_request_s)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._srv.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _count(self, kernel: bool) -> None:
        with self._lock:
            if kernel:
                self.kernel_stamps += 1
            else:
                self.user_stamps += 1

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        _stamped(upstream)
        try:
            upstream.settimeout(600)
            upstream.connect(self.upstream)
        except OSError:
            client.close()
            upstream.close()
            return
        current: list[Observation] = []   # the request whose response is being relayed
        down = _Receiver(upstream, self.offset)
        up = _Receiver(client, self.offset)

        def upward() -> None:   # client -> server: stamp each request's first byte
            while True:
                try:
                    data, now, kernel = up.recv()
                except OSError:
                    break
                if not data:
                    break
                head = data.split(b"\r\n", 1)[0].split()
                if len(head) >= 2 and head[0] in (b"GET", b"POST"):
                    obs = Observation(head[1].decode("latin-1"), now)
                    self._count(kernel)
                    with self._lock:
                        self.observations.append(obs)
                    current[:] = [obs]
                try:
                    upstream.sendall(data)
                except OSError:
                    break
            try:
                upstream.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        t = threading.Thread(target=upward, daemon=True)
        t.start()
        buf = b""
        try:
            while True:   # server -> client: stamp each complete SSE line, then forward
                data, now, kernel = down.recv()
                if not data:
                    break
                buf += data
                *lines, buf = buf.split(b"\n")
                if current:
                    for line in lines:
                        _event(current[0], line, now)
                    self._count(kernel)
                client.sendall(data)
        except OSError:
            pass
        finally:
            for s in (client, upstream):
                try:
                    s.close()
                except OSError:
                    pass
