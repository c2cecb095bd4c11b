"""The local cloud in its own process: foreground ``up``, ``--detach``/``down``, and a test fixture.

The stack process reports readiness by writing one JSON line (:class:`LocalCloudInfo`) to a pipe the
parent passed it (``--ready-fd``); the parent blocks on that pipe, so start-up needs no polling. A
detached stack also records itself in ``<state_dir>/local.json`` for ``perflab local down``.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from perflab.local.stack import LocalCloud, LocalCloudConfig, LocalCloudInfo

STATE_FILE = "local.json"
DEFAULT_STATE_DIR = Path(".perflab") / "local"


class LocalCloudError(RuntimeError):
    pass


def export_lines(info: LocalCloudInfo) -> list[str]:
    lines = [f"export {key}={value}" for key, value in info.env().items()]
    if info.api_url:
        lines.append(f"export PERFLAB_API_URL={info.api_url}")
    return lines


def serve_forever(
    config: LocalCloudConfig,
    ready_fd: int | None,
    out: TextIO,
    extra_exports: Mapping[str, str] | None = None,
    on_ready: Callable[[LocalCloudInfo], None] | None = None,
) -> int:
    """Run the stack in this process until SIGINT/SIGTERM; used by ``perflab local up``.

    ``extra_exports`` are printed as further ``export`` lines (the caller's own settings);
    ``on_ready`` runs once the stack is up, before the export lines are printed (the caller deploys
    its own resources there).
    """
    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    become_subreaper()
    cloud = LocalCloud(config)
    try:
        info = cloud.start()
        if on_ready is not None:
            on_ready(info)
        state_dir = Path(info.state_dir)
        # Mode 0600: it holds the database URL with its password (like the api-token file).
        fd = os.open(state_dir / STATE_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as state:
            state.write(json.dumps(info.to_json()))
        print(f"perflab local cloud: {info.endpoint_url} (region {info.region})", file=out)
        if info.api_url:
            print(f"API Gateway (HTTP APIs): {info.api_url}", file=out)
        if info.database_url:
            from perflab.local.postgres import redact

            print(f"PostgreSQL: {redact(info.database_url)}", file=out)
        for patch in cloud.applied_patches:
            print(f"moto compat: {patch.name}", file=out)
        # With a ready pipe the caller gets everything from the pipe and ``out`` is a log file: the
        # lines stay, their secrets do not (the database password, the extra exports' values).
        to_log = ready_fd is not None
        from perflab.local.postgres import redact

        for line in export_lines(info):
            print(redact(line) if to_log else line, file=out)
        for key, value in (extra_exports or {}).items():
            print(f"export {key}={'***' if to_log else value}", file=out)
        out.flush()
        if ready_fd is not None:
            with os.fdopen(ready_fd, "w") as ready:
                ready.write(json.dumps(info.to_json()) + "\n")
        while not stop.wait(timeout=3600):
            pass
        return 0
    finally:
        cloud.stop()
        reap_descendants()
        with contextlib.suppress(FileNotFoundError):
            if cloud.info is not None:
                (Path(cloud.info.state_dir) / STATE_FILE).unlink()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Make this process the reaper of its orphaned descendants (Linux ``PR_SET_CHILD_SUBREAPER``).

    Lambda environments are forked by a fork server and ECS tasks by a spawner; when those stop, their
    children are re-parented to this process instead of to init, so the stack can wait for every one
    of them before it exits: nothing it started outlives it.
    """
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _children() -> list[int]:
    from perflab.local.procstats import processes

    me = os.getpid()
    return [proc.pid for proc in processes() if proc.ppid == me]


def reap_descendants(grace_s: float = 10.0) -> None:
    """Wait for every child (and re-parented orphan) to exit; SIGKILL what is left after ``grace_s``."""
    deadline = time.monotonic() + grace_s
    killed = False
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid != 0:
            continue
        if not killed and time.monotonic() > deadline:
            for child in _children():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            killed = True
        time.sleep(0.02)


def _spawn(
    config: LocalCloudConfig, log_path: Path, extra_args: Sequence[str] = ()
) -> tuple[subprocess.Popen[bytes], LocalCloudInfo]:
    """Start ``perflab local up`` in a new session and wait until it is ready."""
    read_fd, write_fd = os.pipe()
    args = [
        sys.executable,
        "-m",
        "perflab.cli",
        "local",
        "up",
        "--host",
        config.host,
        "--port",
        str(config.port),
        "--region",
        config.region,
        "--lambda-mode",
        config.lambda_mode,
        "--ecs-mode",
        config.ecs_mode,
        "--postgres-max-connections",
        str(config.postgres_max_connections),
        "--api-port",
        str(config.api_port),
        "--ready-fd",
        str(write_fd),
        *extra_args,
    ]
    if config.state_dir is not None:
        args += ["--state-dir", str(config.state_dir)]
    if not config.database:
        args.append("--no-database")
    env = None
    if config.database_url:
        # Through the environment, not argv: a process listing must not show the password.
        env = {**os.environ, "PERFLAB_DATABASE_URL": config.database_url}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
            start_new_session=True,
        )
    os.close(write_fd)
    with os.fdopen(read_fd) as ready:
        # Blocks until the stack writes its info line, or closes the pipe by exiting.
        readable, _, _ = select.select([ready], [], [], 120)
        line = ready.readline() if readable else ""
    if not line:
        terminate(proc.pid)
        proc.wait(timeout=30)
        tail = log_path.read_text(errors="replace")[-4000:] if log_path.exists() else ""
        raise LocalCloudError(f"local cloud failed to start; log {log_path}:\n{tail}")
    return proc, LocalCloudInfo.from_json(json.loads(line))


def terminate(pid: int, timeout: float = 30.0, stuck_dump: Path | None = None) -> bool:
    """SIGTERM the stack's process group, then SIGKILL it if it has not exited in ``timeout``.

    ``stuck_dump``: when the stack is still running at the deadline, first write where each of its
    threads is to this file (``py-spy dump``, when py-spy is installed), so a stop that hangs can be
    diagnosed afterwards. Returns True when the group is gone.
    """
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return True
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _group_alive(pgid, pid):
            return True
        time.sleep(0.1)
    if stuck_dump is not None:
        dumped = dump_threads(pid, stuck_dump)
        print(
            f"perflab: the local cloud (pid {pid}) did not stop within {timeout:.0f} s of SIGTERM; "
            + (f"its threads then: {stuck_dump}; " if dumped else "")
            + "killing its process group",
            file=sys.stderr,
        )
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    # SIGKILL is delivered asynchronously: give the kernel a moment before calling the group alive.
    deadline = time.monotonic() + 5.0
    while _group_alive(pgid, pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def dump_threads(pid: int, path: Path) -> bool:
    """Where each thread of process ``pid`` is, written to ``path`` (:func:`perflab.pyspy.dump`)."""
    from perflab import pyspy

    return pyspy.dump(pid, path)


def _group_alive(pgid: int, pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def detach(config: LocalCloudConfig) -> LocalCloudInfo:
    state_dir = config.state_dir or DEFAULT_STATE_DIR
    state_dir = state_dir.resolve()
    existing = read_state(state_dir)
    if existing is not None:
        raise LocalCloudError(
            f"a local cloud is already running (pid {existing.pid}, {existing.endpoint_url}); "
            "run `perflab local down` first"
        )
    config.state_dir = state_dir
    _proc, info = _spawn(config, state_dir / "local.log")
    return info


def read_state(state_dir: Path) -> LocalCloudInfo | None:
    path = state_dir / STATE_FILE
    if not path.exists():
        return None
    info = LocalCloudInfo.from_json(json.loads(path.read_text()))
    try:
        os.kill(info.pid, 0)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return None
    return info


def down(state_dir: Path | None = None) -> LocalCloudInfo | None:
    state_dir = (state_dir or DEFAULT_STATE_DIR).resolve()
    info = read_state(state_dir)
    if info is None:
        return None
    dump = state_dir / "stuck-at-stop.txt"
    if not terminate(info.pid, stuck_dump=dump):
        raise LocalCloudError(f"local cloud pid {info.pid} did not stop (its threads then: {dump})")
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    return info


@contextlib.contextmanager
def local_cloud_process(config: LocalCloudConfig | None = None) -> Iterator[LocalCloudInfo]:
    """A local cloud in a child process for the duration of the block (tests, benchmarks).

    Port 0 by default, so parallel stacks never collide. The whole process group (workers, task
    processes, PostgreSQL) is stopped on exit, also when the block raises.
    """
    import tempfile

    config = config or LocalCloudConfig(port=0)
    with tempfile.TemporaryDirectory(prefix="perflab-stack-") as tmp:
        if config.state_dir is None:
            config.state_dir = Path(tmp) / "state"
        proc, info = _spawn(config, Path(tmp) / "local.log")
        try:
            yield info
        finally:
            terminate(proc.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
