"""Where the CPU goes during one measured window: a CPU budget by process role, and py-spy profiles.

``perflab perf --profile`` wraps the highest data-path level of each layout and the first pipeline
run in a :class:`ProfileWindow`. A window records:

- **the CPU budget** (always): the machine's busy CPU-seconds over the window from ``/proc/stat``,
  against its capacity (cores x wall), split by process role from ``/proc/<pid>/stat``
  (``utime + stime``; a role also gets the CPU of its reaped children, ``cutime + cstime``, so
  worker processes that exited inside the window still count). Roles: the download clients (the
  data-path worker processes, forked from this process), the local cloud's server process (moto:
  S3, DynamoDB, Step Functions' interpreter, the ECS agent's threads), PostgreSQL, Lambda
  environments (the fork server and its workers), ECS tasks (the spawner and its tasks), this
  process, and everything else on the machine.
- **py-spy profiles** (when py-spy is installed and allowed to read the processes): the server
  process, this process (it polls the run and samples memory) and, in a data-path window, one
  download client, sampled at :data:`RATE_HZ` without pausing them (``--nonblocking``), written as
  collapsed stacks (``<name>.txt``, flamegraph.pl's input) and summarised as the leaf lines that
  took the most samples, with their source text. Threads waiting in the kernel are not sampled
  (py-spy's default), so shares are shares of the process's active samples.

What a profile cannot show: PostgreSQL is C (its CPU is in the budget, not in a stack), and py-spy
attributes a C call (``hashlib``'s update, a socket's ``recv_into``) to the Python line that made it.
"""

from __future__ import annotations

import contextlib
import linecache
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from perflab import pyspy
from perflab.local.procstats import ProcStat, processes

#: py-spy's sampling rate (per second, per process).
RATE_HZ = 100
#: How many leaf lines a profile summary lists.
TOP = 12
CLIENTS = "download clients"
SERVER = "local cloud server (moto)"
POSTGRES = "postgresql"
LAMBDA = "lambda environments"
ECS = "ecs tasks"
SELF = "perflab perf"
PROFILER = "py-spy (the profiler)"
OTHER = "other processes"
ROLES = (CLIENTS, SERVER, POSTGRES, LAMBDA, ECS, SELF, PROFILER, OTHER)


def read_processes() -> dict[int, ProcStat]:
    return {proc.pid: proc for proc in processes(with_cmdline=True)}


def read_machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies summed over every CPU, from ``/proc/stat``'s first line."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


def role_of(proc: ProcStat, self_pid: int, stack_pid: int | None) -> str:
    if proc.pid == self_pid:
        return SELF
    if proc.pid == stack_pid:
        return SERVER
    if proc.command == "py-spy":
        return PROFILER
    if proc.ppid == self_pid:
        return CLIENTS
    if proc.command == "postgres" or proc.command.startswith("postgres"):
        return POSTGRES
    if "lambda_runtime" in proc.cmdline:
        return LAMBDA
    if "ecs_agent" in proc.cmdline or (
        stack_pid is not None and proc.pgid == stack_pid and "ecs" in proc.cmdline
    ):
        return ECS
    return OTHER


def children_role(proc: ProcStat, self_pid: int, stack_pid: int | None) -> str:
    """Whose CPU a process's reaped children spent: this process reaps the download clients."""
    if proc.pid == self_pid:
        return CLIENTS
    return role_of(proc, self_pid, stack_pid)


def cpu_by_role(
    before: Mapping[int, ProcStat],
    after: Mapping[int, ProcStat],
    self_pid: int,
    stack_pid: int | None,
    ticks_per_s: float,
) -> dict[str, float]:
    """CPU-seconds each role spent between two snapshots (a process new in ``after`` counts from 0)."""
    spent: Counter[str] = Counter()
    for pid, now in after.items():
        then = before.get(pid)
        if then is not None and (
            now.own_ticks < then.own_ticks
            or now.children_ticks < then.children_ticks
            or (then.command != now.command and then.ppid != now.ppid)
        ):
            then = None  # the pid was reused by another process (CPU times only grow)
        own = now.own_ticks - (then.own_ticks if then else 0)
        reaped = now.children_ticks - (then.children_ticks if then else 0)
        spent[role_of(now, self_pid, stack_pid)] += max(own, 0)
        spent[children_role(now, self_pid, stack_pid)] += max(reaped, 0)
    return {role: round(spent[role] / ticks_per_s, 2) for role in ROLES if spent[role]}


# -- py-spy ------------------------------------------------------------------------------------


def py_spy_path() -> str | None:
    """py-spy for the profiles (:func:`perflab.pyspy.executable`)."""
    return pyspy.executable()


class PySpy:
    """``py-spy record`` of one process until :meth:`stop` (SIGINT makes it write its output)."""

    def __init__(self, executable: str, pid: int, output: Path, rate_hz: int = RATE_HZ) -> None:
        self.output = output
        self.error: str | None = None
        output.parent.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            [
                executable,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(rate_hz),
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(output),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
        try:
            out, _ = self._proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            out, _ = self._proc.communicate()
        if not self.output.exists():  # it never sampled (e.g. not allowed to read the process)
            text = [line for line in out.decode(errors="replace").splitlines() if line.strip()]
            self.error = (text[0] if text else f"py-spy exited {self._proc.returncode}")[:300]
        # An empty output is a profile too: the process never ran Python while sampled (idle)


def parse_collapsed(lines: Iterable[str]) -> Counter[tuple[str, ...]]:
    """flamegraph.pl's collapsed format: ``frame;frame;...;leaf <count>`` per line."""
    stacks: Counter[tuple[str, ...]] = Counter()
    for line in lines:
        line = line.rstrip("\n")
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(stack.split(";"))] += int(count)
    return stacks


def _source_text(location: str) -> str:
    """``"perflab/download.py:184"`` -> that line's text, looked up along ``sys.path``."""
    path, _, line = location.rpartition(":")
    if not line.isdigit():
        return ""
    candidates = [Path(path)] + [Path(entry) / path for entry in sys.path if entry]
    for candidate in candidates:
        if candidate.is_file():
            return linecache.getline(str(candidate), int(line)).strip()
    return ""


def summarize(stacks: Counter[tuple[str, ...]], top: int = TOP) -> dict[str, Any]:
    """The leaf lines with the most samples, each with its share and source text."""
    total = sum(stacks.values())
    leaves: Counter[str] = Counter()
    for stack, count in stacks.items():
        leaves[stack[-1]] += count
    rows = []
    for frame, count in leaves.most_common(top):
        function, _, location = frame.rpartition(" (")
        location = location.rstrip(")")
        rows.append(
            {
                "function": function or frame,
                "location": location,
                "source": _source_text(location),
                "samples": count,
                "share": round(count / total, 3) if total else 0.0,
            }
        )
    return {"samples": total, "top": rows}


# -- one window --------------------------------------------------------------------------------


class ProfileWindow:
    """Brackets one measured window: CPU budget always, py-spy of the chosen processes if it can."""

    def __init__(self, name: str, out_dir: Path | None, stack_pid: int | None) -> None:
        self.name = name
        self.out_dir = out_dir
        self.stack_pid = stack_pid
        self.self_pid = os.getpid()
        self._spies: dict[str, PySpy] = {}
        self._before: dict[int, ProcStat] = {}
        self._machine_before = (0, 0)
        self._started = 0.0
        self._open = False
        self.result: dict[str, Any] = {}

    def start(self, profile_clients: bool = False) -> None:
        """Open the window; with ``profile_clients``, py-spy also samples one download client (the
        lowest-numbered child process of this one)."""
        self._open = True
        self._before = read_processes()
        self._machine_before = read_machine_ticks()
        self._started = time.monotonic()
        executable = py_spy_path() if self.out_dir is not None else None
        if self.out_dir is None:
            return
        if executable is None:
            self.result["py_spy"] = "not installed (pip install py-spy; it is in the dev dependencies)"
            return
        targets: dict[str, int] = {"perf": self.self_pid}
        if self.stack_pid is not None:
            targets["server"] = self.stack_pid
        if profile_clients:
            clients = sorted(
                p.pid for p in self._before.values() if role_of(p, self.self_pid, self.stack_pid) == CLIENTS
            )
            if clients:
                targets["client"] = clients[0]
        slug = self.name.replace(" ", "-")
        for who, pid in targets.items():
            self._spies[who] = PySpy(executable, pid, self.out_dir / f"{slug}-{who}.txt")

    def stop(self) -> dict[str, Any]:
        """Close the window and return its figures (a window already closed, or never opened, is
        left as it is)."""
        if not self._open:
            return self.result
        self._open = False
        wall = time.monotonic() - self._started
        busy_after, total_after = read_machine_ticks()
        after = read_processes()
        busy_before, total_before = self._machine_before
        ticks_per_s = float(os.sysconf("SC_CLK_TCK"))
        cpus = os.cpu_count() or 1
        busy_s = (busy_after - busy_before) / ticks_per_s
        self.result.update(
            {
                "window_s": round(wall, 2),
                "cpus": cpus,
                "capacity_cpu_s": round(wall * cpus, 2),
                "busy_cpu_s": round(busy_s, 2),
                "busy_share": round(busy_s / (wall * cpus), 3) if wall > 0 else None,
                "cpu_s_by_role": cpu_by_role(self._before, after, self.self_pid, self.stack_pid, ticks_per_s),
            }
        )
        if total_after == total_before:
            self.result["busy_share"] = None
        profiles: dict[str, Any] = {}
        for who, spy in self._spies.items():
            spy.stop()
            if spy.error is not None:
                profiles[who] = {"error": spy.error}
                continue
            with spy.output.open() as fh:
                profiles[who] = {"file": spy.output.name, **summarize(parse_collapsed(fh))}
        if profiles:
            self.result["profiles"] = profiles
        return self.result

    @contextlib.contextmanager
    def around(self, profile_clients: bool = False) -> Any:
        self.start(profile_clients)
        try:
            yield self
        finally:
            self.stop()


def format_budget(name: str, result: Mapping[str, Any]) -> list[str]:
    """A window's budget and profile summaries as text lines (the printed tables, profile.md)."""
    lines = [
        f"{name}: {result.get('window_s', 0):.2f} s window, {result.get('cpus')} CPUs -> "
        f"{result.get('capacity_cpu_s', 0):.2f} CPU-s capacity, {result.get('busy_cpu_s', 0):.2f} busy "
        f"({(result.get('busy_share') or 0) * 100:.0f}%)"
    ]
    for role, seconds in sorted((result.get("cpu_s_by_role") or {}).items(), key=lambda kv: -kv[1]):
        lines.append(f"  {role:<28} {seconds:7.2f} CPU-s")
    if result.get("py_spy"):
        lines.append(f"  py-spy: {result['py_spy']}")
    for who, profile in (result.get("profiles") or {}).items():
        if "error" in profile:
            lines.append(f"  py-spy {who}: could not record ({profile['error']})")
            continue
        if not profile["samples"]:
            lines.append(f"  py-spy {who}: no active samples (the process was idle in the window)")
            continue
        lines.append(f"  py-spy {who} ({profile['samples']} active samples, {profile['file']}):")
        for row in profile["top"]:
            source = f"  `{row['source']}`" if row["source"] else ""
            lines.append(f"    {row['share'] * 100:5.1f}%  {row['function']} ({row['location']}){source}")
    return lines
