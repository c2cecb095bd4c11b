"""The loopback reference: how fast this machine moves an artifact-sized file over 127.0.0.1.

**Server.** nginx (``sendfile on``, ``listen ... backlog=`` at least the concurrency) when the binary
is installed (Debian's ``nginx``; ``make bench-perf`` installs it), else an aiohttp static file server
(``FileResponse``, which uses ``sendfile`` too) in its own process with the same backlog. Each serves
one file of the artifact's size from a temporary directory.

**Clients**, measured one after the other at every concurrency level; the reference is the **faster**
of them, so a data-path ratio is never flattered by a slow client:

- ``wrk`` (C) when installed, for ``WRK_DURATION_S`` per level. wrk reads 8 KiB per ``read()``, so
  on a multi-megabyte body it mostly measures its own system calls; it is reported for comparison.
- ``socket``: HTTP/1.1 keep-alive GETs over raw sockets that ``recv_into`` one reused 1 MiB buffer (no
  parsing beyond the header, no copy of the body), run by :func:`perflab.perf.harness.run_rounds` in
  the same barrier-synchronised rounds as the data path, one process per client like the data path
  (measured at 100 clients: 2.4 GB/s as 100 processes, 1.2 GB/s as 4 processes of 25 threads, where
  the GIL, not the loopback, is the limit).

When neither nginx nor wrk is installed the reference is aiohttp server + socket client, and
``perf.json`` says so (``reference.server``, ``reference.clients``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perflab.perf.harness import Operation, Sample, run_rounds
from perflab.perf.measure import summarize_level

WRK_DURATION_S = 3
RECV_BYTES = 1 << 20
READY_TIMEOUT_S = 15.0
#: File the servers serve (the artifact-sized payload).
FILE_NAME = "artifact.bin"


@dataclass(frozen=True)
class Server:
    name: str
    url: str


def find_binary(name: str) -> str | None:
    """``name`` on the PATH, else in ``/usr/sbin`` / ``/usr/local/sbin`` (nginx lives there)."""
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/usr/local/sbin"):
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def write_payload(directory: Path, size: int) -> Path:
    """A file of ``size`` random bytes (incompressible, like the artifact), readable by anyone."""
    path = directory / FILE_NAME
    block = os.urandom(1 << 20)
    with path.open("wb") as f:
        left = size
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= len(block)
    path.chmod(0o644)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    """Until ``port`` accepts a connection (or ``proc`` exits, or the timeout passes)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {READY_TIMEOUT_S:.0f} s")


def nginx_config(root: Path, work: Path, port: int, backlog: int, as_root: bool) -> str:
    temp = "\n".join(
        f"  {kind}_temp_path {work / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""daemon off;
{"user root;" if as_root else ""}
worker_processes auto;
pid {work / "nginx.pid"};
error_log {work / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
{temp}
  server {{
    listen 127.0.0.1:{port} backlog={backlog};
    root {root};
  }}
}}
"""


@contextlib.contextmanager
def _process(args: list[str], port: int, what: str) -> Iterator[None]:
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_listening(port, proc, what)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextlib.contextmanager
def serve(root: Path, backlog: int, prefer: str = "nginx") -> Iterator[Server]:
    """A static file server for ``root`` on a free loopback port: nginx, else aiohttp."""
    port = free_port()
    nginx = find_binary("nginx") if prefer == "nginx" else None
    if nginx is not None:
        with tempfile.TemporaryDirectory(prefix="perflab-nginx-") as tmp:
            work = Path(tmp)
            conf = work / "nginx.conf"
            conf.write_text(nginx_config(root, work, port, backlog, os.geteuid() == 0))
            args = [nginx, "-p", str(work), "-e", str(work / "error.log"), "-c", str(conf)]
            with _process(args, port, "nginx"):
                yield Server("nginx", f"http://127.0.0.1:{port}")
        return
    args = [sys.executable, "-m", "perflab.perf.reference", str(root), str(port), str(backlog)]
    with _process(args, port, "aiohttp file server"):
        yield Server("aiohttp", f"http://127.0.0.1:{port}")


def _aiohttp_main(root: str, port: int, backlog: int) -> None:
    """The fallback server (``python -m perflab.perf.reference ROOT PORT BACKLOG``)."""
    from aiohttp import web

    app = web.Application()
    app.router.add_static("/", root)
    web.run_app(app, host="127.0.0.1", port=port, backlog=backlog, print=None, access_log=None)


# --- clients -----------------------------------------------------------------------------------------


class SocketClient:
    """One keep-alive connection; each call GETs the file into a reused buffer and times it."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.sock = socket.create_connection((host, port))
        self.request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
        self.buffer = memoryview(bytearray(RECV_BYTES))
        self(-1)  # warm-up: connection, server-side file cache

    def __call__(self, round_index: int) -> Sample:
        started_at = time.time()
        t0 = time.perf_counter_ns()
        self.sock.sendall(self.request)
        head = b""
        while b"\r\n\r\n" not in head:
            n = self.sock.recv_into(self.buffer)
            if n == 0:
                raise ConnectionError("server closed the connection")
            head += self.buffer[:n].tobytes()
        ttfb_ns = time.perf_counter_ns()
        header, _, body = head.partition(b"\r\n\r\n")
        length = content_length(header)
        got = len(body)
        while got < length:
            n = self.sock.recv_into(self.buffer)
            if n == 0:
                raise ConnectionError("server closed the connection mid-body")
            got += n
        end_ns = time.perf_counter_ns()
        return Sample(
            round=round_index,
            started_at=started_at,
            finished_at=time.time(),
            latency_ms=(end_ns - t0) / 1e6,
            ttfb_ms=(ttfb_ns - t0) / 1e6,
            bytes=got,
            ok=got == length,
        )


def content_length(header: bytes) -> int:
    for line in header.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    raise ValueError("no Content-Length in the response")


def measure_socket(server: Server, concurrency: int, rounds: int) -> dict[str, Any]:
    host, port = server.url.removeprefix("http://").split(":")

    def factory(_index: int) -> Operation:
        return SocketClient(host, int(port), f"/{FILE_NAME}")

    result = run_rounds(factory, concurrency, rounds)
    level = summarize_level(result.samples, concurrency, None)
    level.pop("ratio")
    level["client"] = "socket"
    if result.errors:
        level["errors"] = result.errors[:3]
    return level


_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_TIME = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(output: str) -> dict[str, float | None]:
    """``{mb_s, p50_ms, p99_ms, requests_s}`` from ``wrk --latency`` output (wrk's units are binary:
    its ``MB`` is MiB; ``mb_s`` is in 10^6 bytes per second)."""
    transfer = re.search(r"Transfer/sec:\s*([\d.]+)([KMGT]?B)", output)
    requests = re.search(r"Requests/sec:\s*([\d.]+)", output)

    def latency(pct: str) -> float | None:
        m = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
        return None if m is None else float(m.group(1)) * _TIME[m.group(2)]

    return {
        "mb_s": None if transfer is None else float(transfer.group(1)) * _UNITS[transfer.group(2)] / 1e6,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "requests_s": None if requests is None else float(requests.group(1)),
    }


def measure_wrk(
    wrk: str, server: Server, concurrency: int, cpus: int, duration_s: int = WRK_DURATION_S
) -> dict[str, Any]:
    threads = max(1, min(concurrency, cpus))
    args = [wrk, "-t", str(threads), "-c", str(concurrency), "-d", f"{duration_s}s", "--latency"]
    done = subprocess.run(
        [*args, f"{server.url}/{FILE_NAME}"], capture_output=True, text=True, timeout=duration_s + 60
    )
    parsed = parse_wrk(done.stdout)
    level: dict[str, Any] = {"client": "wrk", "concurrency": concurrency, **parsed}
    level["mb_s"] = None if parsed["mb_s"] is None else round(parsed["mb_s"], 1)
    if done.returncode != 0 or parsed["mb_s"] is None:
        level["error"] = (done.stderr or done.stdout)[-300:]
    return level


def measure_reference(
    size: int,
    concurrencies: list[int],
    rounds: int,
    cpus: int,
    log: Callable[[str], None] = print,
    wrk_duration_s: int = WRK_DURATION_S,
) -> dict[str, Any]:
    """The reference at every concurrency level (see the module docstring)."""
    wrk = find_binary("wrk")
    with tempfile.TemporaryDirectory(prefix="perflab-ref-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        write_payload(root, size)
        with serve(root, backlog=max(1024, max(concurrencies))) as server:
            levels: dict[str, dict[str, Any]] = {}
            for c in concurrencies:
                measured: list[dict[str, Any]] = []
                if wrk is not None:
                    measured.append(measure_wrk(wrk, server, c, cpus, wrk_duration_s))
                measured.append(measure_socket(server, c, rounds))
                usable = [m for m in measured if m.get("mb_s")]
                fastest = max(usable, key=lambda m: float(m["mb_s"])) if usable else None
                levels[f"c{c}"] = {
                    "concurrency": c,
                    "mb_s": None if fastest is None else fastest["mb_s"],
                    "client": None if fastest is None else fastest["client"],
                    "p50_ms": None if fastest is None else fastest.get("p50_ms"),
                    "p99_ms": None if fastest is None else fastest.get("p99_ms"),
                    "clients": {m["client"]: m for m in measured},
                }
                summary = ", ".join(f"{m['client']} {m.get('mb_s') or 0:,.0f}" for m in measured)
                log(f"  reference c{c}: {summary} MB/s")
    return {
        "server": server.name,
        "clients": (["wrk"] if wrk is not None else []) + ["socket"],
        "bytes": size,
        "levels": levels,
    }


if __name__ == "__main__":
    _aiohttp_main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
