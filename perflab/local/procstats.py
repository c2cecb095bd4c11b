"""Memory of a process group, read from /proc: for the stack's peak-RSS figures.

Resident sets come from ``/proc/<pid>/statm`` (constant cost). The proportional set size needs
``/proc/<pid>/smaps_rollup``, which walks the process's page tables: over the local cloud's ~100
processes during a 100-way run, one such pass cost ~70 ms of CPU (``perflab perf --profile`` showed
the sampler, reading it every 0.25 s, taking 16% of the machine during a pipeline run), so the
sampler reads it far less often than the resident sets.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GroupMemory:
    processes: int
    rss_bytes: int  # sum of resident sets: counts pages shared between forks once per process
    pss_bytes: int  # proportional set size: shared pages split between sharers (the honest total)
    #: the largest single resident set among the processes not excluded (see :func:`group_memory`)
    largest_rss_bytes: int = 0


def _fields(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in path.read_text().splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[name] = int(parts[0]) * 1024  # kB
    return out


_PAGE = os.sysconf("SC_PAGE_SIZE")


def _read(path: str) -> str:
    with open(path, "rb") as fh:
        return fh.read().decode(errors="replace")


@dataclass(frozen=True)
class ProcStat:
    """What ``/proc/<pid>/stat`` says of one process (and, when read, its command line)."""

    pid: int
    ppid: int
    pgid: int
    command: str  # the kernel's comm, e.g. "postgres"
    own_ticks: int  # utime + stime
    children_ticks: int  # cutime + cstime: reaped children
    sid: int = 0
    state: str = ""
    cmdline: str = ""


def parse_stat(pid: int, stat: str, cmdline: str = "") -> ProcStat:
    """One ``/proc/<pid>/stat`` line (the command may contain spaces and parentheses)."""
    command = stat.split("(", 1)[1].rsplit(")", 1)[0]
    fields = stat.rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): ppid 4, pgrp 5, session 6, utime 14, stime 15, cutime 16, cstime 17
    return ProcStat(
        pid=pid,
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        command=command,
        own_ticks=int(fields[11]) + int(fields[12]),
        children_ticks=int(fields[13]) + int(fields[14]),
        sid=int(fields[3]),
        state=fields[0],
        cmdline=cmdline,
    )


def read_stat(pid: int | str, with_cmdline: bool = False) -> ProcStat:
    """``/proc/<pid>/stat`` (and ``cmdline``) of one process; OSError/ValueError if it is gone."""
    cmdline = ""
    if with_cmdline:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    return parse_stat(int(pid), _read(f"/proc/{pid}/stat"), cmdline)


def processes(with_cmdline: bool = False) -> list[ProcStat]:
    """Every process that exists (those that go away while being read are left out)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                found.append(read_stat(name, with_cmdline))
            except (OSError, IndexError, ValueError):
                continue
    return found


def group_memory(
    pgid: int,
    exclude_pids: Collection[int] = (),
    exclude_names: Collection[str] = (),
    with_pss: bool = True,
    known: dict[str, tuple[int, str]] | None = None,
) -> GroupMemory:
    """RSS (and, ``with_pss``, PSS; else 0) summed over every process whose process group is
    ``pgid``, and the largest RSS of one process other than ``exclude_pids`` and those whose
    command name is in ``exclude_names``. ``known``: a cache of each pid's group and command name
    kept between calls (pruned here to the pids that still exist), so a sampler reads the ``stat``
    of each process once rather than on every pass."""
    count = rss = pss = largest = 0
    pids = [name for name in os.listdir("/proc") if name.isdigit()]
    if known is not None:
        for gone in known.keys() - set(pids):
            del known[gone]
    for pid in pids:
        try:
            member = known.get(pid) if known is not None else None
            if member is None:
                stat = read_stat(pid)
                member = (stat.pgid, stat.command)
                if known is not None:
                    known[pid] = member
            if member[0] != pgid:
                continue
            resident = int(_read(f"/proc/{pid}/statm").split()[1]) * _PAGE
            proportional = _fields(Path(f"/proc/{pid}/smaps_rollup")).get("Pss", 0) if with_pss else 0
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError, ValueError):
            continue
        count += 1
        rss += resident
        pss += proportional
        if int(pid) not in exclude_pids and member[1] not in exclude_names:
            largest = max(largest, resident)
    return GroupMemory(count, rss, pss, largest)


class PeakMemorySampler:
    """Samples :func:`group_memory` in a thread until stopped; keeps the peaks. Resident sets every
    ``interval_s``, the PSS every ``pss_interval_s`` (and on the first and last sample), since
    reading it costs far more (module docstring)."""

    def __init__(
        self,
        pgid: int,
        interval_s: float = 0.25,
        exclude_pids: Collection[int] = (),
        exclude_names: Collection[str] = (),
        pss_interval_s: float = 5.0,
    ) -> None:
        self.pgid = pgid
        self.interval_s = interval_s
        self.pss_interval_s = pss_interval_s
        self.exclude_pids = exclude_pids
        self.exclude_names = exclude_names
        self.peak_rss_bytes = 0
        self.peak_largest_rss_bytes = 0
        self.peak_pss_bytes = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)

    def _run(self) -> None:
        next_pss = 0.0
        last = False
        known: dict[str, tuple[int, str]] = {}
        while True:
            now = time.monotonic()
            with_pss = last or now >= next_pss
            if with_pss:
                next_pss = now + self.pss_interval_s
            sample = group_memory(self.pgid, self.exclude_pids, self.exclude_names, with_pss, known)
            self.peak_rss_bytes = max(self.peak_rss_bytes, sample.rss_bytes)
            self.peak_largest_rss_bytes = max(self.peak_largest_rss_bytes, sample.largest_rss_bytes)
            self.peak_pss_bytes = max(self.peak_pss_bytes, sample.pss_bytes)
            self.peak_processes = max(self.peak_processes, sample.processes)
            if last:
                return
            last = self._stop.wait(self.interval_s)

    def __enter__(self) -> PeakMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
