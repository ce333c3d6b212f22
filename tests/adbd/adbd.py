"""A small device-side ADB daemon for tests: the real ADB wire protocol, no phone needed.

Speaks what a phone's ``adbd`` speaks over TCP (``adb connect 127.0.0.1:PORT``):

* transport messages CNXN, OPEN, OKAY, WRTE, CLSE (24-byte little-endian header; no AUTH,
  no TLS; protocol version 0x01000001 so payload checksums may be 0);
* services ``shell:CMD`` (v1: stdout+stderr merged, no exit code), ``shell,v2,...:CMD``
  (shell protocol v2: stdout id 1, stderr id 2, exit id 3, stdin id 0, close-stdin id 4),
  ``exec:CMD`` (raw), ``sync:`` (STAT, LIST, SEND, RECV, QUIT; v1 only) and ``tcp:PORT``
  (what ``adb forward`` opens);
* commands run on this host with ``/bin/bash -c`` (Android's mksh is close enough for
  POSIX scripts), in their own process group, with ``ROOT/system/bin`` first on ``PATH`` so
  the stub ``getprop``, ``dumpsys`` and ``settings`` of the Android-like root answer.

Run it as a process so a test can kill it::

    python tests/adbd/adbd.py --port 40123 --root /tmp/x/root --serial neumelt-test

Known gaps against a phone: no pty (interactive ``shell:`` with no command gets a plain
bash on pipes), no sync v2 / ls_v2 / stat_v2, no ``reverse:``, no ``root:``/``remount:``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import stat
import struct
import sys

A_SYNC = 0x434E5953
A_CNXN = 0x4E584E43
A_OPEN = 0x4E45504F
A_OKAY = 0x59414B4F
A_CLSE = 0x45534C43
A_WRTE = 0x45545257
A_AUTH = 0x48545541
A_VERSION = 0x01000001
MAX_PAYLOAD = 256 * 1024
SYNC_DATA_MAX = 64 * 1024

SHELL_STDIN, SHELL_STDOUT, SHELL_STDERR, SHELL_EXIT, SHELL_CLOSE_STDIN = 0, 1, 2, 3, 4


class Stream:
    """One OPENed service on the transport."""

    def __init__(self, conn: Connection, local_id: int, remote_id: int) -> None:
        self.conn = conn
        self.local_id = local_id
        self.remote_id = remote_id
        self.can_write = asyncio.Event()
        self.can_write.set()
        self.inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = False
        self.task: asyncio.Task[None] | None = None

    async def write(self, data: bytes) -> None:
        """Send ``data`` as WRTE packets, one outstanding at a time (wait for OKAY)."""
        view = memoryview(data)
        step = self.conn.max_payload
        for i in range(0, len(view), step):
            await self.can_write.wait()
            if self.closed:
                raise ConnectionResetError("stream closed by host")
            self.can_write.clear()
            await self.conn.send(A_WRTE, self.local_id, self.remote_id, bytes(view[i:i + step]))

    async def read(self) -> bytes | None:
        """Next chunk the host wrote; None once the host closed the stream."""
        return await self.inbox.get()

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.can_write.set()
            await self.conn.send(A_CLSE, self.local_id, self.remote_id)
        self.conn.streams.pop(self.local_id, None)


class Connection:
    """One transport (one ``adb connect``)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 daemon: Daemon) -> None:
        self.reader = reader
        self.writer = writer
        self.daemon = daemon
        self.max_payload = 4096
        self.streams: dict[int, Stream] = {}
        self.next_id = 1
        self.wlock = asyncio.Lock()

    async def send(self, cmd: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        header = struct.pack("<6I", cmd, arg0, arg1, len(data), 0, cmd ^ 0xFFFFFFFF)
        async with self.wlock:
            self.writer.write(header + data)
            await self.writer.drain()

    async def serve(self) -> None:
        try:
            while True:
                header = await self.reader.readexactly(24)
                cmd, arg0, arg1, length, _crc, magic = struct.unpack("<6I", header)
                if magic != cmd ^ 0xFFFFFFFF:
                    return
                data = await self.reader.readexactly(length) if length else b""
                await self.dispatch(cmd, arg0, arg1, data)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            for s in list(self.streams.values()):
                s.closed = True
                s.can_write.set()
                s.inbox.put_nowait(None)
            self.writer.close()

    async def dispatch(self, cmd: int, arg0: int, arg1: int, data: bytes) -> None:
        if cmd == A_CNXN:
            self.max_payload = max(4096, min(arg1, MAX_PAYLOAD))
            await self.send(A_CNXN, A_VERSION, MAX_PAYLOAD, self.daemon.banner())
        elif cmd == A_OPEN:
            service = data.rstrip(b"\0").decode("utf-8", "replace")
            local_id = self.next_id
            self.next_id += 1
            stream = Stream(self, local_id, arg0)
            handler = self.daemon.handler_for(service)
            if handler is None:
                await self.send(A_CLSE, 0, arg0)
                return
            self.streams[local_id] = stream
            await self.send(A_OKAY, local_id, arg0)
            stream.task = asyncio.ensure_future(self._run(handler, stream, service))
        elif cmd == A_OKAY:
            stream = self.streams.get(arg1)
            if stream is not None:
                stream.remote_id = arg0
                stream.can_write.set()
        elif cmd == A_WRTE:
            stream = self.streams.get(arg1)
            if stream is None:
                await self.send(A_CLSE, 0, arg0)
                return
            stream.inbox.put_nowait(data)
            await self.send(A_OKAY, arg1, arg0)
        elif cmd == A_CLSE:
            stream = self.streams.pop(arg1, None)
            if stream is not None:
                stream.closed = True
                stream.can_write.set()
                stream.inbox.put_nowait(None)
        # A_SYNC and A_AUTH are not used by a TCP transport without auth; ignore.

    async def _run(self, handler, stream: Stream, service: str) -> None:  # noqa: ANN001
        try:
            await handler(stream, service)
        except (ConnectionError, OSError):
            pass
        finally:
            await stream.close()


class Daemon:
    """Service table plus the Android-like root the commands see."""

    def __init__(self, root: str, serial: str, model: str = "Pixel 7",
                 product: str = "panther", device: str = "panther") -> None:
        self.root = os.path.abspath(root)
        self.serial = serial
        self.model = model
        self.product = product
        self.device = device

    def banner(self) -> bytes:
        props = (f"ro.product.name={self.product};ro.product.model={self.model};"
                 f"ro.product.device={self.device};features=shell_v2,cmd")
        return f"device::{props}\0".encode()

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{self.root}/system/bin:" + env.get("PATH", "/usr/bin:/bin")
        env["ANDROID_ROOT"] = f"{self.root}/system"
        env["NEUMELT_ADBD_ROOT"] = self.root
        env["HOME"] = f"{self.root}/data/local/tmp"
        env["TMPDIR"] = f"{self.root}/data/local/tmp"
        return env

    def handler_for(self, service: str):  # noqa: ANN201
        if service.startswith("shell"):
            return self.shell
        if service.startswith("exec:"):
            return self.exec_
        if service == "sync:":
            return self.sync
        if service.startswith("tcp:"):
            return self.tcp
        return None

    # -- shell / exec -----------------------------------------------------------
    async def _spawn(self, command: str) -> asyncio.subprocess.Process:
        argv = ["/bin/bash", "-c", command] if command else ["/bin/bash"]
        return await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=self.env(), cwd="/",
            start_new_session=True)

    async def shell(self, stream: Stream, service: str) -> None:
        head, _, command = service.partition(":")
        options = head.split(",")[1:]
        v2 = "v2" in options
        await self._run_process(stream, command, v2=v2, merge=not v2)

    async def exec_(self, stream: Stream, service: str) -> None:
        await self._run_process(stream, service[len("exec:"):], v2=False, merge=False)

    async def _run_process(self, stream: Stream, command: str, *, v2: bool, merge: bool) -> None:
        proc = await self._spawn(command)

        def packet(kind: int, data: bytes) -> bytes:
            return struct.pack("<BI", kind, len(data)) + data

        async def pump(src: asyncio.StreamReader, kind: int) -> None:
            while True:
                chunk = await src.read(stream.conn.max_payload - 5)
                if not chunk:
                    return
                if stream.closed:
                    continue
                try:
                    await stream.write(packet(kind, chunk) if v2 else chunk)
                except ConnectionError:
                    return

        async def feed_stdin() -> None:
            buf = b""
            while True:
                data = await stream.read()
                if data is None:
                    _kill(proc)
                    return
                if not v2:
                    try:
                        proc.stdin.write(data)
                        await proc.stdin.drain()
                    except (ConnectionError, OSError):
                        pass
                    continue
                buf += data
                while len(buf) >= 5:
                    kind, length = struct.unpack("<BI", buf[:5])
                    if len(buf) < 5 + length:
                        break
                    payload, buf = buf[5:5 + length], buf[5 + length:]
                    try:
                        if kind == SHELL_STDIN:
                            proc.stdin.write(payload)
                            await proc.stdin.drain()
                        elif kind == SHELL_CLOSE_STDIN:
                            proc.stdin.close()
                    except (ConnectionError, OSError):
                        pass

        stdin_task = asyncio.ensure_future(feed_stdin())
        if v2:
            outs = [pump(proc.stdout, SHELL_STDOUT), pump(proc.stderr, SHELL_STDERR)]
        elif merge:
            outs = [pump(proc.stdout, SHELL_STDOUT), pump(proc.stderr, SHELL_STDOUT)]
        else:
            outs = [pump(proc.stdout, SHELL_STDOUT), _drain(proc.stderr)]
        try:
            await asyncio.gather(*outs)
            code = await proc.wait()
            if v2 and not stream.closed:
                await stream.write(packet(SHELL_EXIT, bytes([code & 0xFF])))
        finally:
            stdin_task.cancel()
            _kill(proc)

    # -- sync -------------------------------------------------------------------
    async def sync(self, stream: Stream, service: str) -> None:
        buf = bytearray()

        async def need(n: int) -> bytes | None:
            while len(buf) < n:
                data = await stream.read()
                if data is None:
                    return None
                buf.extend(data)
            out = bytes(buf[:n])
            del buf[:n]
            return out

        while True:
            head = await need(8)
            if head is None:
                return
            ident, length = head[:4], struct.unpack("<I", head[4:])[0]
            if ident in (b"DATA", b"DONE"):
                continue  # stray data after a failed SEND
            arg = await need(length) if length else b""
            if arg is None:
                return
            path = arg.decode("utf-8", "replace")
            if ident == b"QUIT":
                return
            if ident == b"STAT":
                try:
                    st = os.stat(path)
                    reply = struct.pack("<4s3I", b"STAT", st.st_mode & 0xFFFFFFFF,
                                        st.st_size & 0xFFFFFFFF, int(st.st_mtime))
                except OSError:
                    reply = struct.pack("<4s3I", b"STAT", 0, 0, 0)
                await stream.write(reply)
            elif ident == b"LIST":
                out = bytearray()
                try:
                    names = [".", ".."] + sorted(os.listdir(path))
                except OSError:
                    names = []
                for name in names:
                    try:
                        st = os.lstat(os.path.join(path, name))
                    except OSError:
                        continue
                    raw = name.encode()
                    out += struct.pack("<4s4I", b"DENT", st.st_mode & 0xFFFFFFFF,
                                       st.st_size & 0xFFFFFFFF, int(st.st_mtime), len(raw)) + raw
                out += struct.pack("<4s4I", b"DONE", 0, 0, 0, 0)
                await stream.write(bytes(out))
            elif ident == b"SEND":
                remote, _, mode_s = path.rpartition(",")
                if not remote:
                    remote, mode_s = path, "33188"
                await self._recv_file(stream, need, remote, int(mode_s or "33188"))
            elif ident == b"RECV":
                await self._send_file(stream, path)
            else:
                await _sync_fail(stream, f"unknown sync request {ident!r}")
                return

    async def _recv_file(self, stream: Stream, need, remote: str, mode: int) -> None:  # noqa: ANN001
        error = None
        tmp = f"{remote}.adbd-tmp"
        fh = None
        try:
            if os.path.isdir(remote):
                raise IsADirectoryError(f"{remote}: is a directory")
            os.makedirs(os.path.dirname(remote) or ".", exist_ok=True)  # fixed_push_mkdir
            fh = open(tmp, "wb")  # noqa: SIM115
        except OSError as exc:
            error = f"couldn't create file: {exc.strerror or exc}"
        while True:
            head = await need(8)
            if head is None:
                if fh:
                    fh.close()
                    os.unlink(tmp)
                return
            ident, length = head[:4], struct.unpack("<I", head[4:])[0]
            if ident == b"DATA":
                data = await need(length)
                if data is None:
                    return
                if fh:
                    fh.write(data)
            elif ident == b"DONE":
                if fh:
                    fh.close()
                    os.chmod(tmp, stat.S_IMODE(mode) or 0o644)
                    os.replace(tmp, remote)
                    os.utime(remote, (length, length))
                if error:
                    await _sync_fail(stream, error)
                else:
                    await stream.write(struct.pack("<4sI", b"OKAY", 0))
                return
            else:
                if fh:
                    fh.close()
                    os.unlink(tmp)
                await _sync_fail(stream, f"bad SEND chunk {ident!r}")
                return

    async def _send_file(self, stream: Stream, path: str) -> None:
        try:
            fh = open(path, "rb")  # noqa: SIM115
        except OSError as exc:
            await _sync_fail(stream, f"remote object '{path}' does not exist"
                             if isinstance(exc, FileNotFoundError) else str(exc))
            return
        with fh:
            while True:
                chunk = fh.read(SYNC_DATA_MAX)
                if not chunk:
                    break
                await stream.write(struct.pack("<4sI", b"DATA", len(chunk)) + chunk)
        await stream.write(struct.pack("<4sI", b"DONE", 0))

    # -- tcp forward --------------------------------------------------------------
    async def tcp(self, stream: Stream, service: str) -> None:
        parts = service.split(":")
        host = parts[2] if len(parts) > 2 else "127.0.0.1"
        reader, writer = await asyncio.open_connection(host, int(parts[1]))

        async def up() -> None:
            while True:
                data = await stream.read()
                if data is None:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()

        task = asyncio.ensure_future(up())
        try:
            while True:
                chunk = await reader.read(stream.conn.max_payload)
                if not chunk or stream.closed:
                    break
                await stream.write(chunk)
        finally:
            task.cancel()
            writer.close()


async def _drain(src: asyncio.StreamReader) -> None:
    while await src.read(65536):
        pass


async def _sync_fail(stream: Stream, message: str) -> None:
    raw = message.encode()
    await stream.write(struct.pack("<4sI", b"FAIL", len(raw)) + raw)


def _kill(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


async def serve(port: int, root: str, serial: str, model: str, ready_file: str | None) -> None:
    daemon = Daemon(root, serial, model=model)

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await Connection(reader, writer, daemon).serve()

    server = await asyncio.start_server(on_client, "127.0.0.1", port, reuse_address=True)
    if ready_file:
        with open(ready_file + ".tmp", "w") as fh:
            fh.write(str(server.sockets[0].getsockname()[1]))
        os.replace(ready_file + ".tmp", ready_file)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free)")
    ap.add_argument("--root", required=True, help="the Android-like root directory")
    ap.add_argument("--serial", default="neumelt-test")
    ap.add_argument("--model", default="Pixel 7")
    ap.add_argument("--ready-file", help="write the bound port here once listening")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        asyncio.run(serve(args.port, args.root, args.serial, args.model, args.ready_file))
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
