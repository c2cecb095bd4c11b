"""The local ECS agent (implementation): ``RunTask`` runs the task's container as a local process.

moto serves the ECS control plane; this agent hooks in where moto's backend answers ``RunTask``,
``StopTask`` and ``DescribeTasks`` (``EC2ContainerServiceBackend.run_task`` / ``stop_task`` /
``describe_tasks``, patched in :meth:`start`, restored in :meth:`stop`) and makes each task real.
Every answer carries a copy of the task taken under the agent's state lock, never the live object
the agent's thread is changing, so no answer mixes fields from before and after a change:

**What runs.** The task definition's first container (moto models one container per task). Its argv
is Docker's: the container definition's ``entryPoint`` (or, when it has none, the command its image
maps to, below) followed by the overrides' ``command`` for that container, else the definition's
``command``. No shell is involved. ``python`` / ``python3`` as argv[0] resolve to the project's
interpreter (:attr:`StackContext.python`). An empty argv fails the task to start, as on ECS.

**Image mapping.** :attr:`StackContext.image_commands` maps an image to the local command that stands
for its ``ENTRYPOINT``, e.g. ``{"perflab-download-task:latest": ["python", "-m", "ecs_task"]}``. An
image matches by its full name, then by its last path component (so an ECR URI
``123456789012.dkr.ecr.us-east-1.amazonaws.com/perflab-download-task:latest`` matches
``perflab-download-task:latest``), then by that component without its tag or digest
(``perflab-download-task``). An unmapped image contributes nothing: the definition's ``entryPoint``
and ``command`` must then form the whole argv.

**Environment.** A few variables of the stack's own (``PATH``, ``HOME``, locale, ``TMPDIR``), then
:meth:`StackContext.worker_env` (``AWS_ENDPOINT_URL``, region, dummy credentials: unmodified boto3
reaches the local cloud), ``AWS_EXECUTION_ENV=AWS_ECS_FARGATE`` (``AWS_ECS_EC2`` for EC2 tasks),
then the container definition's ``environment``, then the overrides' ``environment`` (later wins, by
name). No ``ECS_CONTAINER_METADATA_URI_V4``: nothing serves task metadata locally; instead
``ECS_TASK_ARN`` carries the task's ARN (a local-only variable, unless the definition or overrides set
it), which is what task code usually reads the metadata endpoint for.
``environmentFiles`` and ``secrets`` are not resolved. The working directory is the definition's
``workingDirectory`` when it exists, else the stack's.

**Lifecycle.** ``lastStatus`` PROVISIONING (``createdAt``; the RunTask answer) → PENDING
(``pullStartedAt``/``pullStoppedAt``: nothing is pulled) → RUNNING (``startedAt``, once the process
exists) → STOPPED (``executionStoppedAt``, ``stoppingAt``, ``stoppedAt``), with the container's
``exitCode`` (128 + N for a process killed by signal N, as Docker reports it), ``stopCode``
``EssentialContainerExited`` and ``stoppedReason`` "Essential container in task exited"; a task that
cannot start stops with ``TaskFailedToStart`` and a ``CannotStartContainerError`` /
``ResourceInitializationError`` reason. ``StopTask`` sets ``desiredStatus`` STOPPED, ``stopCode``
``UserInitiated`` and the given reason, sends SIGTERM and, after the container's ``stopTimeout`` (else
the agent's ``stop_timeout``, 30 s like ECS), SIGKILL. Memory and CPU limits are not enforced.

**Output.** With an ``awslogs`` log configuration, stdout and stderr go line by line to CloudWatch Logs,
group ``awslogs-group``, stream ``<awslogs-stream-prefix>/<container>/<task-id>`` (``<task-id>`` alone
without a prefix); a missing group is created only with ``awslogs-create-group: "true"``, otherwise the
task fails to start as on ECS. Without it, output goes to ``<state_dir>/ecs-tasks/<task-id>.log``.

**Start-up modes** (:attr:`StackContext.ecs_mode`, ``perflab local up --ecs-mode``). ``spawn``: every
task is a fresh process of its argv. ``forkserver`` (the default where cores are few, like the Lambda
runtime's): the spawner preloads boto3/botocore and parses the common service models once; a task
whose argv is the project's interpreter running ``-m module``, ``-c code`` or a script is then a fork
of the spawner that runs the code as ``__main__`` with the task's own environment, argv, working
directory, stdio and a fresh boto3 session (:mod:`.pytask` lists exactly which commands qualify and
what the child looks like); any other command is spawned. On 2 cores, 100 fresh interpreters
importing boto3 at once took 25-36 s; forked, they start in a few milliseconds each and share the
preloaded memory. Neither mode is Fargate's start-up: there is no image pull, no ENI attachment and
no container runtime, and with ``forkserver`` not even an interpreter start or a boto3 import, so
local task start-up latencies say nothing about Fargate's (reports must say so). The mode decides
only how the process starts: the lifecycle, environment, output and exit codes are the same.

**Processes.** RunTask hands the task to the agent's spawner (:mod:`.spawner`), a small
single-threaded process that starts and reaps task processes and reports back over a socket, so a
start costs the stack one message, not a ``fork`` of a large many-threaded process (which, in GIL
contention with 100 concurrent requests, cost 50-100 ms each). One reaper thread in the stack reads
the spawner's reports and awslogs output and enforces StopTask grace periods: no thread or poll loop
per task. Task processes stay in the stack's process group and get ``PR_SET_PDEATHSIG`` = SIGKILL
(they die with the spawner); the spawner terminates every task process when the agent stops or the
stack dies (its socket closes).
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import json
import logging
import os
import selectors
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from perflab.local.context import StackContext

LOG = logging.getLogger(__name__)

#: The largest message on the agent ↔ spawner socket. Defined here, not in :mod:`.spawner`: the
#: package must not import the spawner, which runs as ``python -m`` (runpy warns about a ``-m``
#: module that is already imported).
MAX_MESSAGE = 1 << 20
#: ECS's default grace period between SIGTERM and SIGKILL (ECS_CONTAINER_STOP_TIMEOUT).
DEFAULT_STOP_TIMEOUT = 30.0
#: How often buffered awslogs lines are shipped to CloudWatch Logs.
LOG_FLUSH_INTERVAL = 0.5
#: Variables of the stack's own environment a task process inherits.
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
PYTHON_NAMES = ("python", "python3")

_PR_SET_PDEATHSIG = 1


class TaskStartError(Exception):
    """The task cannot start; the message becomes its ``stoppedReason``."""


def _now() -> datetime:
    return datetime.now(UTC)


def _exit_code(returncode: int) -> int:
    """Docker's convention: a process killed by signal N exits with 128 + N."""
    return returncode if returncode >= 0 else 128 - returncode


@dataclass(frozen=True)
class AwsLogs:
    """Where a container's output goes in CloudWatch Logs."""

    account_id: str
    region: str
    group: str
    stream: str
    create_group: bool


@dataclass(frozen=True)
class LaunchSpec:
    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    stop_timeout: float
    awslogs: AwsLogs | None
    log_file: Path


def resolve_image_command(image: str, image_commands: Mapping[str, Sequence[str]]) -> list[str] | None:
    """The local command mapped to ``image`` (see the module docstring for the matching rules)."""
    last = image.rsplit("/", 1)[-1]
    bare = last.split("@", 1)[0].split(":", 1)[0]
    for candidate in (image, last, bare):
        if candidate in image_commands:
            return list(image_commands[candidate])
    return None


def container_override(overrides: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    for override in (overrides or {}).get("containerOverrides") or []:
        if override.get("name") == name:
            return dict(override)
    return {}


def build_argv(
    definition: Mapping[str, Any],
    override: Mapping[str, Any],
    image_commands: Mapping[str, Sequence[str]],
    python: str,
) -> list[str]:
    entry_point = definition.get("entryPoint")
    if not entry_point:
        entry_point = resolve_image_command(str(definition.get("image", "")), image_commands) or []
    command = override.get("command") or definition.get("command") or []
    argv = [str(part) for part in [*entry_point, *command]]
    if not argv:
        raise TaskStartError(
            f"CannotStartContainerError: container {definition.get('name')}: no entryPoint or command, "
            f"and image {definition.get('image')!r} maps to no local command"
        )
    if argv[0] in PYTHON_NAMES:
        argv[0] = python
    return argv


def resolve_executable(name: str, path: str | None, cwd: str | None) -> str:
    """``name`` as Docker's exec would find it (``$PATH`` lookup unless it contains a slash)."""
    if "/" in name:
        full = os.path.join(cwd or os.getcwd(), name)
        found = full if os.access(full, os.X_OK) and not os.path.isdir(full) else None
    else:
        found = shutil.which(name, path=path)
    if found is None:
        raise TaskStartError(f'CannotStartContainerError: exec: "{name}": executable file not found in $PATH')
    return found if "/" not in name else name


def build_env(
    ctx: StackContext,
    definition: Mapping[str, Any],
    override: Mapping[str, Any],
    launch_type: str,
    task_arn: str | None = None,
) -> dict[str, str]:
    env = {key: os.environ[key] for key in INHERITED_ENV if key in os.environ}
    env.update(ctx.worker_env())
    env["AWS_EXECUTION_ENV"] = "AWS_ECS_EC2" if launch_type == "EC2" else "AWS_ECS_FARGATE"
    if task_arn is not None:  # stands in for the task metadata endpoint (see the module docstring)
        env["ECS_TASK_ARN"] = task_arn
    for pairs in (definition.get("environment") or [], override.get("environment") or []):
        for pair in pairs:
            env[str(pair["name"])] = str(pair.get("value", ""))
    return env


@dataclass(eq=False)
class TaskRun:
    """One task the agent runs: moto's ``Task`` plus its process."""

    task: Any
    spec: LaunchSpec | None = None
    pid: int | None = None
    #: Whether the spawner forked the task from its preloaded image (``forkserver`` mode).
    forked: bool = False
    out_fd: int | None = None
    stop_requested: bool = False
    finished: bool = False
    partial_line: bytes = b""
    events: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def container(self) -> Any:
        return self.task.containers[0]


class _Reaper:
    """The agent's one thread: reads the spawner's reports (started, failed, exited), reads awslogs
    output pipes, ships log events, and escalates StopTask to SIGKILL when a grace period ends."""

    def __init__(self, agent: EcsAgent, sock: socket.socket) -> None:
        self._agent = agent
        self._sock = sock
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._selector.register(sock, selectors.EVENT_READ, "spawner")
        self._pipes: list[TaskRun] = []
        self._kills: list[tuple[float, int, TaskRun]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._stopping = False
        self.closing = False  # the agent is stopping: the spawner's EOF is expected
        self._thread = threading.Thread(target=self._loop, name="perflab-ecs-reaper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def read_output(self, run: TaskRun) -> None:
        with self._lock:
            self._pipes.append(run)
        self._wake()

    def kill_at(self, run: TaskRun, deadline: float) -> None:
        with self._lock:
            heapq.heappush(self._kills, (deadline, next(self._seq), run))
        self._wake()

    def stop(self) -> None:
        self._stopping = True
        self._wake()
        self._thread.join(timeout=10)
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"x")

    def _loop(self) -> None:
        next_flush = time.monotonic() + LOG_FLUSH_INTERVAL
        active: set[TaskRun] = set()
        while not self._stopping:
            with self._lock:
                pipes, self._pipes = self._pipes, []
                next_kill = self._kills[0][0] if self._kills else None
            for run in pipes:
                if run.out_fd is not None:
                    active.add(run)
                    self._selector.register(run.out_fd, selectors.EVENT_READ, run)
            now = time.monotonic()
            timeout = max(0.0, next_flush - now)
            if next_kill is not None:
                timeout = min(timeout, max(0.0, next_kill - now))
            for key, _ in self._selector.select(timeout):
                if key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wake_r, 4096)
                elif key.data == "spawner":
                    self._receive(active)
                elif key.data.out_fd is not None:
                    self._read(key.data, drain=False)
            self._escalate()
            if time.monotonic() >= next_flush:
                for run in active:
                    self._agent._flush_logs(run)
                next_flush = time.monotonic() + LOG_FLUSH_INTERVAL

    def _receive(self, active: set[TaskRun]) -> None:
        try:
            data = self._sock.recv(MAX_MESSAGE)
        except OSError:
            data = b""
        if not data:
            if not self.closing:
                LOG.error("the ECS spawner went away: tasks can no longer start")
            self._selector.unregister(self._sock)
            return
        message = json.loads(data)
        run = self._agent._find(message["id"])
        if run is None:
            return
        if message["op"] == "started":
            run.forked = bool(message.get("forked"))
            self._agent._running(run, int(message["pid"]))
        elif message["op"] == "failed":
            self._close_output(run)
            active.discard(run)
            reason = f'CannotStartContainerError: exec: "{run.spec.argv[0] if run.spec else "?"}": '
            self._agent._stopped(run, "TaskFailedToStart", reason + str(message["error"]))
        elif message["op"] == "exited":
            if run.out_fd is not None:
                self._read(run, drain=True)
            active.discard(run)
            self._agent._flush_logs(run)
            self._agent._on_exit(run, int(message["returncode"]))

    def _read(self, run: TaskRun, drain: bool) -> None:
        assert run.out_fd is not None
        while True:
            try:
                data: bytes | None = os.read(run.out_fd, 65536)
            except BlockingIOError:
                data = None
            if data:
                _add_output(run, data)
                if drain:
                    continue
                return
            if data is None and not drain:
                return
            # EOF, or (draining after exit) nothing more now: a grandchild may hold the pipe open;
            # the container is over, so what it writes later is dropped.
            self._close_output(run)
            return

    def _close_output(self, run: TaskRun) -> None:
        if run.out_fd is None:
            return
        if run.partial_line:
            _add_output(run, b"\n")
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(run.out_fd)
        os.close(run.out_fd)
        run.out_fd = None

    def _escalate(self) -> None:
        now = time.monotonic()
        due: list[TaskRun] = []
        with self._lock:
            while self._kills and self._kills[0][0] <= now:
                due.append(heapq.heappop(self._kills)[2])
        for run in due:
            if not run.finished:
                self._agent._signal(run, signal.SIGKILL)


def _add_output(run: TaskRun, data: bytes) -> None:
    timestamp = int(time.time() * 1000)
    lines = (run.partial_line + data).split(b"\n")
    run.partial_line = lines.pop()
    for line in lines:
        run.events.append({"timestamp": timestamp, "message": line.decode("utf-8", "replace")})


class EcsAgent:
    """Runs ECS tasks of the local cloud as local processes (see the package docstring)."""

    def __init__(self, ctx: StackContext, stop_timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        self.ctx = ctx
        self.stop_timeout = stop_timeout
        self._runs: dict[str, TaskRun] = {}
        self._runs_lock = threading.Lock()
        #: Held while the agent changes a task it runs and while an answer's copy of a task is
        #: taken (:meth:`_snapshot`), so no answer mixes fields from before and after a change.
        self._state_lock = threading.RLock()
        self._send_lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._spawner: subprocess.Popen[bytes] | None = None
        self._reaper: _Reaper | None = None
        self._originals: dict[str, Any] = {}
        self._backend_cls: Any = None
        self._log_dir = ctx.state_dir / "ecs-tasks"

    # -- lifecycle of the agent ------------------------------------------------------------------

    def start(self, shutdown_grace: float = 2.0) -> None:
        from moto.ecs.models import EC2ContainerServiceBackend

        self._log_dir.mkdir(parents=True, exist_ok=True)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with theirs:
            self._spawner = subprocess.Popen(
                [
                    self.ctx.python,
                    "-m",
                    "perflab.local.ecs_agent.spawner",
                    str(theirs.fileno()),
                    str(shutdown_grace),
                    self.ctx.ecs_mode,
                ],
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                start_new_session=False,
            )
        self._sock = ours
        self._reaper = _Reaper(self, ours)
        self._reaper.start()
        self._backend_cls = EC2ContainerServiceBackend
        self._originals = {
            "run_task": EC2ContainerServiceBackend.run_task,
            "stop_task": EC2ContainerServiceBackend.stop_task,
            "describe_tasks": EC2ContainerServiceBackend.describe_tasks,
        }
        EC2ContainerServiceBackend.run_task = self._wrap_run_task(self._originals["run_task"])
        EC2ContainerServiceBackend.stop_task = self._wrap_stop_task(self._originals["stop_task"])
        EC2ContainerServiceBackend.describe_tasks = self._wrap_describe_tasks(
            self._originals["describe_tasks"]
        )

    def stop(self) -> None:
        """Restore moto; the spawner then terminates every task process still running (SIGTERM,
        SIGKILL after the shutdown grace) and exits."""
        for name, original in self._originals.items():
            setattr(self._backend_cls, name, original)
        self._originals = {}
        if self._reaper is not None:
            self._reaper.closing = True
        if self._sock is not None:
            self._sock.shutdown(socket.SHUT_WR)  # EOF for the spawner: it cleans up and exits
        if self._spawner is not None:
            try:
                self._spawner.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._spawner.kill()
                self._spawner.wait()
            self._spawner = None
        if self._reaper is not None:
            self._reaper.stop()
            self._reaper = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        with self._runs_lock:
            for run in self._runs.values():
                if run.out_fd is not None:
                    os.close(run.out_fd)
                    run.out_fd = None

    # -- moto hooks ------------------------------------------------------------------------------

    def _wrap_run_task(self, original: Callable[..., Any]) -> Callable[..., Any]:
        agent = self

        @functools.wraps(original)
        def run_task(backend: Any, *args: Any, **kwargs: Any) -> Any:
            tasks = original(backend, *args, **kwargs)
            for task in tasks:
                agent._accept(backend, task)
            return [agent._snapshot(task) for task in tasks]

        return run_task

    def _wrap_describe_tasks(self, original: Callable[..., Any]) -> Callable[..., Any]:
        agent = self

        @functools.wraps(original)
        def describe_tasks(backend: Any, *args: Any, **kwargs: Any) -> Any:
            return [agent._snapshot(task) for task in original(backend, *args, **kwargs)]

        return describe_tasks

    def _snapshot(self, task: Any) -> Any:
        """A copy of ``task`` and its containers, taken under the state lock, for an answer.

        moto serialises an answer after the backend method returned, field by field, outside any
        lock: from the live object, a DescribeTasks could read a container without ``exitCode`` and
        then ``lastStatus`` STOPPED (the reaper stopped the task in between), which Step Functions'
        ``ecs:runTask.sync`` takes for a failed task. The copy bypasses moto's ``BaseModel.__new__``,
        which would keep every instance in a registry."""
        with self._state_lock:
            copy = object.__new__(type(task))
            copy.__dict__.update(task.__dict__)
            containers = []
            for container in task.containers:
                container_copy = object.__new__(type(container))
                container_copy.__dict__.update(container.__dict__)
                containers.append(container_copy)
            copy.containers = containers
            return copy

    def _wrap_stop_task(self, original: Callable[..., Any]) -> Callable[..., Any]:
        agent = self

        @functools.wraps(original)
        def stop_task(backend: Any, cluster_str: str, task_str: str, reason: str | None) -> Any:
            run = agent._find(task_str)
            if run is None:
                return original(backend, cluster_str, task_str, reason)
            cluster = backend._get_cluster(cluster_str)
            if cluster.name != run.task.cluster_name:
                from moto.ecs.exceptions import InvalidParameterException

                raise InvalidParameterException(f"The referenced task was not found in {cluster_str}.")
            agent._request_stop(run, reason)
            return agent._snapshot(run.task)

        return stop_task

    def _find(self, task_str: str) -> TaskRun | None:
        with self._runs_lock:
            return self._runs.get(task_str.rsplit("/", 1)[-1])

    def _send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        assert self._sock is not None
        data = json.dumps(message).encode()
        with self._send_lock:
            if fds:
                socket.send_fds(self._sock, [data], fds)
            else:
                self._sock.send(data)

    # -- a task's life -------------------------------------------------------------------------

    def _accept(self, backend: Any, task: Any) -> None:
        """In the RunTask request: record the task as PROVISIONING and hand it to the spawner."""
        with self._state_lock:
            task.created_at = _now()
            task.last_status = "PROVISIONING"
            task.desired_status = "RUNNING"
            task.stopped_reason = None
            task.version = 1
            task.containers[0].last_status = "PENDING"
        run = TaskRun(task=task)
        with self._runs_lock:
            self._runs[task.id] = run
        try:
            definition = backend.describe_task_definition(task.task_definition_arn)
            with self._state_lock:
                task.cpu = (task.overrides or {}).get("cpu") or definition.cpu
                task.memory = (task.overrides or {}).get("memory") or definition.memory
            run.spec = self._spec(task, definition.container_definitions[0])
            self._launch(run)
        except TaskStartError as error:
            self._stopped(run, "TaskFailedToStart", str(error))

    def _spec(self, task: Any, definition: Mapping[str, Any]) -> LaunchSpec:
        name = str(definition.get("name"))
        override = container_override(task.overrides, name)
        launch_type = task.launch_type or ("FARGATE" if task.container_instance_arn is None else "EC2")
        cwd = definition.get("workingDirectory")
        cwd = cwd if cwd and Path(cwd).is_dir() else None
        stop_timeout = definition.get("stopTimeout")
        env = build_env(self.ctx, definition, override, launch_type, str(task.task_arn))
        argv = build_argv(definition, override, self.ctx.image_commands, self.ctx.python)
        argv[0] = resolve_executable(argv[0], env.get("PATH"), cwd)
        return LaunchSpec(
            argv=argv,
            env=env,
            cwd=cwd,
            stop_timeout=float(stop_timeout) if stop_timeout is not None else self.stop_timeout,
            awslogs=self._awslogs(task, definition),
            log_file=self._log_dir / f"{task.id}.log",
        )

    def _awslogs(self, task: Any, definition: Mapping[str, Any]) -> AwsLogs | None:
        config = definition.get("logConfiguration") or {}
        if config.get("logDriver") != "awslogs":
            return None
        options = config.get("options") or {}
        group = options.get("awslogs-group")
        if not group:
            raise TaskStartError("ResourceInitializationError: awslogs: awslogs-group is required")
        prefix = options.get("awslogs-stream-prefix")
        stream = f"{prefix}/{definition.get('name')}/{task.id}" if prefix else str(task.id)
        return AwsLogs(
            account_id=task._account_id,
            region=str(options.get("awslogs-region") or task.region_name),
            group=str(group),
            stream=stream,
            create_group=str(options.get("awslogs-create-group", "")).lower() == "true",
        )

    def _launch(self, run: TaskRun) -> None:
        """Prepare the task's output, then ask the spawner to start it (answered in the reaper)."""
        task, spec = run.task, run.spec
        assert spec is not None
        pull_started_at = _now()  # nothing to pull: the "image" is a local command
        if spec.awslogs is not None:
            self._prepare_log_stream(spec.awslogs)
            read_fd, write_fd = os.pipe()
            os.set_blocking(read_fd, False)
            run.out_fd = read_fd
        else:
            write_fd = os.open(spec.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        with self._state_lock:
            task.pull_started_at, task.pull_stopped_at = pull_started_at, _now()
        try:
            self._send(
                {"op": "spawn", "id": task.id, "argv": spec.argv, "env": spec.env, "cwd": spec.cwd},
                [write_fd],
            )
        finally:
            os.close(write_fd)
        if run.out_fd is not None:
            assert self._reaper is not None
            self._reaper.read_output(run)

    def _running(self, run: TaskRun, pid: int) -> None:
        task = run.task
        with self._state_lock:
            with run.lock:
                run.pid = pid
                stop = run.stop_requested
            task.started_at = _now()
            task.connectivity = "CONNECTED"
            task.connectivity_at = task.started_at
            run.container.last_status = "RUNNING"
            task.last_status = "DEACTIVATING" if stop else "RUNNING"
        if stop:  # StopTask arrived before the process existed
            self._terminate(run)

    def _prepare_log_stream(self, awslogs: AwsLogs) -> None:
        backend = _logs_backend(awslogs)
        if awslogs.group not in backend.groups:
            if not awslogs.create_group:
                raise TaskStartError(
                    "ResourceInitializationError: failed to validate logger args: create stream has "
                    "been retried 1 times: failed to create Cloudwatch log stream: "
                    "ResourceNotFoundException: The specified log group does not exist."
                )
            backend.ensure_log_group(awslogs.group)
        backend.ensure_log_stream(awslogs.group, awslogs.stream)

    def _flush_logs(self, run: TaskRun) -> None:
        if not run.events or run.spec is None or run.spec.awslogs is None:
            return
        events, run.events = run.events, []
        try:
            _logs_backend(run.spec.awslogs).put_log_events(
                run.spec.awslogs.group, run.spec.awslogs.stream, events
            )
        except Exception:
            LOG.exception("shipping %d log events of task %s failed", len(events), run.task.id)

    def _request_stop(self, run: TaskRun, reason: str | None) -> None:
        task = run.task
        with self._state_lock, run.lock:
            if run.finished or run.stop_requested:
                return
            run.stop_requested = True
            task.desired_status = "STOPPED"
            task.stop_code = "UserInitiated"
            task.stopped_reason = reason or "Task stopped by user"
            task.stopping_at = _now()
            started = run.pid is not None
            if started:  # else the reaper terminates it as soon as the spawner reports it started
                task.last_status = "DEACTIVATING"
        if started:
            self._terminate(run)

    def _terminate(self, run: TaskRun) -> None:
        self._signal(run, signal.SIGTERM)
        assert run.spec is not None and self._reaper is not None
        self._reaper.kill_at(run, time.monotonic() + run.spec.stop_timeout)

    def _signal(self, run: TaskRun, signum: int) -> None:
        with contextlib.suppress(OSError):
            self._send({"op": "signal", "id": run.task.id, "signal": int(signum)})

    def _on_exit(self, run: TaskRun, returncode: int) -> None:
        with self._state_lock:
            run.task.execution_stopped_at = _now()
            run.container.exitCode = _exit_code(returncode)
            if run.stop_requested:
                self._stopped(run, "UserInitiated", run.task.stopped_reason)
            else:
                self._stopped(run, "EssentialContainerExited", "Essential container in task exited")

    def _stopped(self, run: TaskRun, stop_code: str, reason: str | None) -> None:
        """Record the end of a task, as one change under the state lock: an answer (a snapshot)
        that shows ``lastStatus`` STOPPED also shows the exit code, stop code and timestamps."""
        task, container = run.task, run.container
        with self._state_lock:
            now = _now()
            with run.lock:
                run.finished = True
            if stop_code == "TaskFailedToStart":
                container.reason = reason
            container.last_status = "STOPPED"
            task.desired_status = "STOPPED"
            task.stop_code = stop_code
            task.stopped_reason = reason
            if getattr(task, "stopping_at", None) is None:
                task.stopping_at = now
            task.stopped_at = now
            task.connectivity = None
            task.last_status = "STOPPED"
        LOG.debug("ECS task %s stopped: %s (%s)", task.id, stop_code, reason)


def _logs_backend(awslogs: AwsLogs) -> Any:
    from moto.logs.models import logs_backends

    return logs_backends[awslogs.account_id][awslogs.region]
