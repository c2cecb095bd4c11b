"""The Lambda Runtime API (``/2018-06-01/runtime/...``) as awslambdaric expects it.

One listening socket per execution environment, all accepted by one thread, so an environment is
known by the local port it connected to (awslambdaric's native client fixes the address it was given
in ``AWS_LAMBDA_RUNTIME_API``, and its Python half cannot take a path prefix). Each accepted
connection gets a thread: ``/next`` is a long poll, and 100+ environments poll at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Protocol

LOG = logging.getLogger(__name__)

PREFIX = "/2018-06-01/runtime"


@dataclass
class Delivery:
    """What ``/invocation/next`` answers: the event and the headers awslambdaric reads."""

    request_id: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


class RuntimeApiTarget(Protocol):
    """One execution environment, as the Runtime API sees it."""

    def next_invocation(self) -> Delivery | None:
        """Block until there is work; ``None`` when the environment is going away."""

    def post_response(self, request_id: str, body: bytes) -> bool: ...

    def post_error(self, request_id: str, body: bytes, error_type: str | None) -> bool: ...

    def post_init_error(self, body: bytes, error_type: str | None) -> None: ...


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    target: RuntimeApiTarget

    def log_message(self, format: str, *args: object) -> None:
        LOG.debug("runtime api: " + format, *args)

    def _reply(self, status: int, body: bytes = b"{}", headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        if self.path != f"{PREFIX}/invocation/next":
            self._reply(404, b'{"errorType":"NotFound"}')
            return
        delivery = self.target.next_invocation()
        if delivery is None:
            self.close_connection = True
            self._reply(410, b'{"errorType":"EnvironmentShutdown"}')
            return
        self._reply(200, delivery.body, delivery.headers)

    def do_POST(self) -> None:
        body = self._body()
        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
        path = self.path
        if path == f"{PREFIX}/init/error":
            self.target.post_init_error(body, error_type)
            self._reply(202, b'{"status":"OK"}')
            return
        prefix = f"{PREFIX}/invocation/"
        if path.startswith(prefix):
            request_id, _, kind = path[len(prefix) :].partition("/")
            accepted = False
            if kind == "response":
                accepted = self.target.post_response(request_id, body)
            elif kind == "error":
                accepted = self.target.post_error(request_id, body, error_type)
            if accepted:
                self._reply(202, b'{"status":"OK"}')
            else:
                self._reply(400, b'{"errorType":"InvalidRequestID","errorMessage":"Invalid request ID"}')
            return
        self._reply(404, b'{"errorType":"NotFound"}')


class RuntimeApiServer:
    """Accepts connections for every registered environment's port on one thread."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._pending: list[tuple[str, socket.socket, RuntimeApiTarget | None]] = []
        self._lock = threading.Lock()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._loop, name="lambda-runtime-api", daemon=True)
        self._thread.start()

    def open(self, target: RuntimeApiTarget) -> socket.socket:
        """A new listening socket whose connections are served for ``target``."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((self.host, 0))
        sock.listen(16)
        sock.setblocking(False)
        self._enqueue("add", sock, target)
        return sock

    def close(self, sock: socket.socket) -> None:
        self._enqueue("remove", sock, None)

    def _enqueue(self, op: str, sock: socket.socket, target: RuntimeApiTarget | None) -> None:
        with self._lock:
            self._pending.append((op, sock, target))
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _apply_pending(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 4096):
                pass
        with self._lock:
            pending, self._pending = self._pending, []
        for op, sock, target in pending:
            if op == "add":
                self._selector.register(sock, selectors.EVENT_READ, target)
            else:
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(sock)
                sock.close()

    def _loop(self) -> None:
        while not self._stopping:
            for key, _ in self._selector.select(timeout=1.0):
                if key.data is None:
                    self._apply_pending()
                    continue
                listener = key.fileobj
                assert isinstance(listener, socket.socket)
                try:
                    conn, address = listener.accept()
                except (BlockingIOError, OSError):
                    continue
                conn.setblocking(True)
                threading.Thread(
                    target=self._serve,
                    args=(conn, address, key.data),
                    name="lambda-runtime-api-conn",
                    daemon=True,
                ).start()

    @staticmethod
    def _serve(conn: socket.socket, address: tuple[str, int], target: RuntimeApiTarget) -> None:
        handler = type("_BoundHandler", (_Handler,), {"target": target})
        try:
            handler(conn, address, None)
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
        for key in list(self._selector.get_map().values()):
            if isinstance(key.fileobj, socket.socket):
                key.fileobj.close()
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
