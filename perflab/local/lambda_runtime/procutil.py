"""Small Linux process helpers: die-with-parent, memory readings, exit-status wording."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal

_PR_SET_PDEATHSIG = 1
_PAGE = os.sysconf("SC_PAGE_SIZE")
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send ``sig`` to this process when the thread that forked it exits.

    The parent *thread* matters: a process forked from a short-lived thread would die with it, so
    every worker is forked from a long-lived thread (or from the single-threaded fork server).
    """
    _libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)


def rss_bytes(pid: int) -> int | None:
    """Resident set size now, from ``/proc/<pid>/statm``; ``None`` if the process is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


def status_kb(pid: int, field: str) -> int | None:
    """A ``kB`` field of ``/proc/<pid>/status`` (``VmHWM`` = peak RSS, ``VmRSS``)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def smaps_kb(pid: int) -> dict[str, int]:
    """``Rss``/``Pss``/``Private_*`` totals from ``/proc/<pid>/smaps_rollup`` (empty if gone)."""
    totals: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "kB":
                    totals[parts[0].rstrip(":")] = int(parts[1])
    except OSError:
        return {}
    return totals


def describe_exit(returncode: int | None) -> str:
    """AWS's wording for how a runtime process ended (``exit status 1``, ``signal: killed``)."""
    if returncode is None:
        return "exit status unknown"
    if returncode >= 0:
        return f"exit status {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        return f"signal: {-returncode}"
    wording = {"SIGKILL": "killed", "SIGTERM": "terminated", "SIGSEGV": "segmentation fault"}
    return f"signal: {wording.get(name, name.lower())}"


def waitstatus_to_returncode(status: int) -> int:
    return os.waitstatus_to_exitcode(status)
