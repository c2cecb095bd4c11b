"""The ECS agent's spawner: a small single-threaded process that starts and reaps task processes.

Why a separate process: starting a process from the stack (a large, many-threaded Python process
serving 100 concurrent requests) cost 50-100 ms per ``Popen`` in GIL contention alone; this process
does nothing else, so a start costs a fork of a small interpreter. The stack talks to it over a
``SOCK_SEQPACKET`` socket pair, one JSON message per packet (file descriptors as ``SCM_RIGHTS``):

Started as ``python -m perflab.local.ecs_agent.spawner <socket-fd> <grace> [spawn|forkserver]``.

stack → spawner
    ``{"op": "spawn", "id", "argv", "env", "cwd"}`` with one fd: the task's stdout/stderr.
    ``{"op": "signal", "id", "signal"}``: signal the task's process if it has not been reaped.
spawner → stack
    ``{"op": "started", "id", "pid", "forked"}``, ``{"op": "failed", "id", "error"}``,
    ``{"op": "exited", "id", "returncode"}`` (negative: killed by that signal).

Task processes get ``PR_SET_PDEATHSIG`` = SIGKILL (they die with the spawner). When the stack's end
of the socket closes (the agent stopped, or the stack died) the spawner SIGTERMs every task process,
SIGKILLs what is left after the grace period, and exits: no strays.

**Modes.** ``spawn``: every task is a ``Popen`` of its argv. ``forkserver``: the spawner first
preloads boto3/botocore (and parses the common service models once), then a task whose argv is this
interpreter running ``-m``/``-c``/a script is a ``fork`` of the spawner that runs the task's code as
``__main__`` (:mod:`.pytask` says exactly which commands and what the child looks like); everything
else is still a ``Popen``. The spawner never starts a thread, so forking it is safe; it checks before
every fork and falls back to ``Popen`` if that ever changes.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from perflab.local.ecs_agent.agent import MAX_MESSAGE
from perflab.local.ecs_agent.pytask import PythonForker

_PR_SET_PDEATHSIG = 1


def _pdeathsig_setter() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    prctl = libc.prctl

    def set_pdeathsig() -> None:  # runs in the forked child: no imports, no allocation of note
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        # The spawner ignores SIGINT, and an ignored signal stays ignored across exec: give the
        # task the default disposition it would have in a container.
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    return set_pdeathsig


def send(sock: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(sock, [data], fds)
    else:
        sock.send(data)


class ForkedTask:
    """A task process forked from this spawner, with the part of ``Popen``'s interface it uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if timeout is None:
            if self.returncode is None:
                _pid, status = os.waitpid(self.pid, 0)
                self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode
        deadline = time.monotonic() + timeout
        delay = 0.0005
        while (returncode := self.poll()) is None:  # as Popen.wait(timeout) does it
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            delay = min(delay * 2, remaining, 0.05)
            time.sleep(delay)
        return returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


TaskProcess = subprocess.Popen[bytes] | ForkedTask


class Spawner:
    def __init__(self, sock: socket.socket, grace: float, forker: PythonForker | None = None) -> None:
        self.sock = sock
        self.grace = grace
        self.forker = forker
        self.procs: dict[str, TaskProcess] = {}
        self.selector = selectors.DefaultSelector()
        self.preexec = _pdeathsig_setter()

    def serve(self) -> None:
        self.selector.register(self.sock, selectors.EVENT_READ, None)
        try:
            while True:
                for key, _ in self.selector.select():
                    if key.data is None:
                        if not self._receive():
                            return
                    else:
                        self._reap(key.data, key.fd)
        finally:
            self._kill_all()

    def _receive(self) -> bool:
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.sock, MAX_MESSAGE, 4)
        except ConnectionResetError:
            return False
        if not data:
            return False
        message = json.loads(data)
        if message["op"] == "spawn":
            self._spawn(message, fds)
        elif message["op"] == "signal":
            proc = self.procs.get(message["id"])
            if proc is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(int(message["signal"]))
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        return True

    def _spawn(self, message: dict[str, Any], fds: list[int]) -> None:
        task_id = str(message["id"])
        proc: TaskProcess | None = None
        if self.forker is not None:
            command = self.forker.command_for(message["argv"], message["env"], message.get("cwd"))
            if command is not None:
                try:
                    proc = ForkedTask(self.forker.fork(command, message["env"], message.get("cwd"), fds[0]))
                except (OSError, RuntimeError) as error:
                    print(f"ECS spawner: fork failed ({error}); spawning instead", file=sys.stderr)
        if proc is None:
            proc = self._popen(message, fds)
            if proc is None:
                return
        self.procs[task_id] = proc
        send(
            self.sock,
            {"op": "started", "id": task_id, "pid": proc.pid, "forked": isinstance(proc, ForkedTask)},
        )
        try:
            pidfd = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):
            # No pidfds: fall back to a blocking wait in a helper thread would need threads; poll
            # this one on every message instead (rare: Linux < 5.3).
            self._poll_without_pidfd()
            return
        self.selector.register(pidfd, selectors.EVENT_READ, task_id)

    def _popen(self, message: dict[str, Any], fds: list[int]) -> subprocess.Popen[bytes] | None:
        task_id = str(message["id"])
        try:
            return subprocess.Popen(
                message["argv"],
                env=message["env"],
                cwd=message.get("cwd"),
                stdin=subprocess.DEVNULL,
                stdout=fds[0],
                stderr=subprocess.STDOUT,
                close_fds=True,
                preexec_fn=self.preexec,
            )
        except OSError as error:
            send(self.sock, {"op": "failed", "id": task_id, "error": str(error.strerror or error)})
            return None

    def _poll_without_pidfd(self) -> None:
        for task_id, proc in list(self.procs.items()):
            if proc.poll() is not None:
                self._exited(task_id, proc)

    def _reap(self, task_id: str, pidfd: int) -> None:
        self.selector.unregister(pidfd)
        os.close(pidfd)
        proc = self.procs.get(task_id)
        if proc is not None:
            proc.wait()
            self._exited(task_id, proc)

    def _exited(self, task_id: str, proc: TaskProcess) -> None:
        del self.procs[task_id]
        with contextlib.suppress(OSError):
            send(self.sock, {"op": "exited", "id": task_id, "returncode": proc.returncode})

    def _kill_all(self) -> None:
        live = [p for p in self.procs.values() if p.poll() is None]
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        deadline = time.monotonic() + self.grace
        for proc in live:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def main(argv: list[str]) -> int:
    fd, grace = int(argv[1]), float(argv[2])
    mode = argv[3] if len(argv) > 3 else "spawn"
    # The stack signals its process group on shutdown: let the socket's EOF drive the cleanup
    # so task processes get their SIGTERM and grace period from here.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=fd)
    forker = None
    if mode == "forkserver":
        forker = PythonForker()
        forker.prepare()  # spawn requests wait in the socket meanwhile
        if forker.disabled:
            print(f"ECS spawner: not forking Python tasks: {forker.disabled}", file=sys.stderr)
        elif forker.missing:
            print(f"ECS spawner: not preloaded (not installed): {forker.missing}", file=sys.stderr)
    Spawner(sock, grace, forker).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
