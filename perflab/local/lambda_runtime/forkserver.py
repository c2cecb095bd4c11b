"""The fork server: one single-threaded process that preloads heavy libraries and forks an
execution environment per cold start.

Run as ``python -m perflab.local.lambda_runtime.forkserver <socket-fd> <preload-json>``. It talks to
the stack over a ``SOCK_SEQPACKET`` socket: the stack sends ``{"op": "fork", ...}`` with the
environment's output pipe attached (``SCM_RIGHTS``); the server answers ``{"op": "forked", "id",
"pid"}``, and ``{"op": "exited", "pid", "returncode"}`` when it reaps a child. The server never starts
a thread (forking a multi-threaded process is unsafe); it checks before every fork.

This module imports only the standard library at the top: it must not pull the stack's modules
(moto, werkzeug) into the image every environment inherits.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import sys
import threading
from typing import Any

from perflab.local.lambda_runtime.procutil import die_with_parent
from perflab.local.preload import BotocoreWarmup, import_modules

MAX_MESSAGE = 1 << 20
#: Services whose botocore models the fork server parses once, so a handler's first client is cheap
#: (measured: ~150 ms → ~15 ms per environment, and the parsed models stay shared between forks).
WARM_SERVICES: tuple[str, ...] = ("dynamodb", "s3", "stepfunctions", "sqs", "logs", "secretsmanager")
_WARMUP = BotocoreWarmup()


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.send(json.dumps(message).encode())


def child_main(request: dict[str, Any], output_fd: int) -> None:
    """In the forked child: become an execution environment and run awslambdaric's loop."""
    die_with_parent()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    os.closerange(3, 65536)

    os.environ.clear()
    os.environ.update(request["env"])
    task_root = request["task_root"]
    os.chdir(task_root)
    server_cwd = request.get("server_cwd", "")
    sys.path[:] = [task_root] + [p for p in sys.path if p not in ("", server_cwd)]
    sys.argv = ["awslambdaric", request["handler"]]

    _WARMUP.install_in_child()  # no default session; new sessions start from the warm model cache

    code = 0
    try:
        from awslambdaric.__main__ import main

        main(sys.argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
    os._exit(code)


def _fork(sock: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
    if len(fds) != 1:
        for fd in fds:
            os.close(fd)
        _send(sock, {"op": "error", "id": request.get("id"), "error": "expected one output fd"})
        return
    if threading.active_count() != 1:
        os.close(fds[0])
        _send(sock, {"op": "error", "id": request.get("id"), "error": "fork server has threads"})
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            child_main(request, fds[0])
        finally:
            os._exit(1)
    os.close(fds[0])
    _send(sock, {"op": "forked", "id": request["id"], "pid": pid})


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(sock, {"op": "exited", "pid": pid, "returncode": os.waitstatus_to_exitcode(status)})


def serve(sock: socket.socket, modules: list[str]) -> None:
    die_with_parent(signal.SIGTERM)
    loaded, missing = import_modules(modules)
    _WARMUP.warm(WARM_SERVICES)
    import gc

    gc.collect()
    gc.freeze()  # children's collectors never touch (so never copy) the server's objects
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    _send(
        sock,
        {
            "op": "ready",
            "pid": os.getpid(),
            "threads": threading.active_count(),
            "loaded": loaded,
            "missing": missing,
        },
    )
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ, "control")
    selector.register(wake_r, selectors.EVENT_READ, "signal")
    while True:
        for key, _ in selector.select():
            if key.data == "signal":
                with contextlib.suppress(BlockingIOError):
                    while os.read(wake_r, 4096):
                        pass
                _reap(sock)
                continue
            try:
                data, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE, 4)
            except InterruptedError:
                continue
            if not data:
                return  # the stack closed its end: stop; children die with us (PDEATHSIG)
            request = json.loads(data)
            if request.get("op") == "fork":
                _fork(sock, request, fds)
        # SIGCHLD may have arrived while forking
        _reap(sock)


def main(argv: list[str]) -> None:
    sock = socket.socket(fileno=int(argv[1]))
    modules = json.loads(argv[2]) if len(argv) > 2 else []
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        serve(sock, modules)


if __name__ == "__main__":
    main(sys.argv)
