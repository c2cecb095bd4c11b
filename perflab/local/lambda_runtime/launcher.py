"""Starting execution environments: a fresh interpreter each (``spawn``) or a fork of a preloaded
fork server (``forkserver``).

Every process is started from one long-lived thread: ``PR_SET_PDEATHSIG`` fires when the *thread*
that forked a child ends, and werkzeug's request threads end after each request.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from perflab.local.lambda_runtime.procutil import die_with_parent

LOG = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class LaunchSpec:
    environment_id: str
    handler: str
    task_root: str
    env: Mapping[str, str]
    #: Write end of the environment's output pipe (stdout and stderr); the launcher closes it.
    output_fd: int


class WorkerProcess(Protocol):
    pid: int

    def kill(self) -> None: ...

    def returncode(self, timeout: float) -> int | None:
        """Exit code (negative: killed by that signal), waiting up to ``timeout``; None if unknown."""


class Launcher(Protocol):
    mode: str

    def start(self) -> None: ...

    def launch(self, spec: LaunchSpec) -> WorkerProcess: ...

    def stop(self) -> None: ...


class SerialThread:
    """Runs callables one after another on a single long-lived thread."""

    def __init__(self, name: str) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    def run(self, fn: Callable[[], T], timeout: float = 60.0) -> T:
        return self._executor.submit(fn).result(timeout=timeout)

    def stop(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


class SpawnedProcess:
    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid = popen.pid

    def kill(self) -> None:
        if self._popen.returncode is None:
            _kill(self.pid)

    def returncode(self, timeout: float) -> int | None:
        try:
            return self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None


class SpawnLauncher:
    """``python -m awslambdaric <handler>`` per environment, cwd = the unpacked code."""

    mode = "spawn"

    def __init__(self, python: str) -> None:
        self.python = python
        self._thread = SerialThread("lambda-spawn")

    def start(self) -> None:
        pass

    def launch(self, spec: LaunchSpec) -> WorkerProcess:
        def _popen() -> subprocess.Popen[bytes]:
            try:
                return subprocess.Popen(
                    [self.python, "-m", "awslambdaric", spec.handler],
                    cwd=spec.task_root,
                    env=dict(spec.env),
                    stdin=subprocess.DEVNULL,
                    stdout=spec.output_fd,
                    stderr=spec.output_fd,
                    preexec_fn=die_with_parent,  # from one long-lived thread: see the module docstring
                )
            finally:
                os.close(spec.output_fd)

        return SpawnedProcess(self._thread.run(_popen))

    def stop(self) -> None:
        self._thread.stop()


class ForkedProcess:
    def __init__(self, pid: int, server: ForkServerLauncher) -> None:
        self.pid = pid
        self._server = server

    def kill(self) -> None:
        if not self._server.has_exited(self.pid):
            _kill(self.pid)

    def returncode(self, timeout: float) -> int | None:
        return self._server.wait_exit(self.pid, timeout)


class ForkServerError(RuntimeError):
    pass


class ForkServerLauncher:
    """Talks to :mod:`perflab.local.lambda_runtime.forkserver` over a ``SOCK_SEQPACKET`` socket."""

    mode = "forkserver"

    def __init__(self, python: str, preload: tuple[str, ...], ready_timeout: float = 120.0) -> None:
        self.python = python
        self.preload = preload
        self.ready_timeout = ready_timeout
        self.info: dict[str, Any] = {}
        self._thread = SerialThread("lambda-forkserver")
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._ready = threading.Event()
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        self._forked: dict[str, int | str] = {}
        self._exited: dict[int, int] = {}
        self._closed = False

    def start(self) -> None:
        """Start the server; preloading continues in the background (the first launch waits)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours

        def _popen() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                [
                    self.python,
                    "-m",
                    "perflab.local.lambda_runtime.forkserver",
                    str(theirs.fileno()),
                    json.dumps(list(self.preload)),
                ],
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                preexec_fn=die_with_parent,  # from one long-lived thread: see the module docstring
            )

        try:
            self._proc = self._thread.run(_popen)
        finally:
            theirs.close()
        self._reader = threading.Thread(target=self._read, name="lambda-forkserver-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._sock is not None
        while True:
            try:
                data = self._sock.recv(1 << 20)
            except OSError:
                data = b""
            if not data:
                with self._cond:
                    self._closed = True
                    self._cond.notify_all()
                self._ready.set()
                return
            message = json.loads(data)
            op = message.get("op")
            if op == "ready":
                self.info = message
                if message.get("missing"):
                    LOG.info("fork server: not preloaded (not installed): %s", message["missing"])
                self._ready.set()
                continue
            with self._cond:
                if op == "forked":
                    self._forked[message["id"]] = int(message["pid"])
                elif op == "error":
                    self._forked[str(message.get("id"))] = str(message.get("error"))
                elif op == "exited":
                    self._exited[int(message["pid"])] = int(message["returncode"])
                self._cond.notify_all()

    def launch(self, spec: LaunchSpec) -> WorkerProcess:
        try:
            if not self._ready.wait(self.ready_timeout) or self._closed:
                raise ForkServerError("the Lambda fork server is not running")
            request = {
                "op": "fork",
                "id": spec.environment_id,
                "handler": spec.handler,
                "task_root": spec.task_root,
                "env": dict(spec.env),
                "server_cwd": os.getcwd(),
            }
            assert self._sock is not None
            with self._send_lock:
                socket.send_fds(self._sock, [json.dumps(request).encode()], [spec.output_fd])
        finally:
            os.close(spec.output_fd)
        with self._cond:
            if not self._cond.wait_for(
                lambda: spec.environment_id in self._forked or self._closed, timeout=60
            ):
                raise ForkServerError("the Lambda fork server did not answer")
            outcome = self._forked.pop(spec.environment_id, None)
        if not isinstance(outcome, int):
            raise ForkServerError(f"fork failed: {outcome or 'fork server exited'}")
        return ForkedProcess(outcome, self)

    def has_exited(self, pid: int) -> bool:
        with self._cond:
            return pid in self._exited

    def wait_exit(self, pid: int, timeout: float) -> int | None:
        with self._cond:
            self._cond.wait_for(lambda: pid in self._exited or self._closed, timeout=timeout)
            return self._exited.pop(pid, None)

    def stop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=5)
        self._thread.stop()
