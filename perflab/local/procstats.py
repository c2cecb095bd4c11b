"""Memory of a process group, read from /proc: for the stack's peak-RSS figures."""

from __future__ import annotations

import threading
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


def group_memory(
    pgid: int, exclude_pids: Collection[int] = (), exclude_names: Collection[str] = ()
) -> GroupMemory:
    """RSS and PSS summed over every process whose process group is ``pgid``, and the largest RSS of
    one process other than ``exclude_pids`` and those whose command name is in ``exclude_names``."""
    count = rss = pss = largest = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # field 5 (pgrp) comes after the parenthesised command, which may contain spaces
            after = stat.rsplit(")", 1)[1].split()
            if int(after[2]) != pgid:
                continue
            rollup = _fields(entry / "smaps_rollup")
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError, ValueError):
            continue
        count += 1
        rss += rollup.get("Rss", 0)
        pss += rollup.get("Pss", 0)
        if int(entry.name) not in exclude_pids and _command(stat) not in exclude_names:
            largest = max(largest, rollup.get("Rss", 0))
    return GroupMemory(count, rss, pss, largest)


def _command(stat: str) -> str:
    return stat.split("(", 1)[1].rsplit(")", 1)[0]


class PeakMemorySampler:
    """Samples :func:`group_memory` in a thread until stopped; keeps the peaks."""

    def __init__(
        self,
        pgid: int,
        interval_s: float = 0.25,
        exclude_pids: Collection[int] = (),
        exclude_names: Collection[str] = (),
    ) -> None:
        self.pgid = pgid
        self.interval_s = interval_s
        self.exclude_pids = exclude_pids
        self.exclude_names = exclude_names
        self.peak_rss_bytes = 0
        self.peak_largest_rss_bytes = 0
        self.peak_pss_bytes = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)

    def _run(self) -> None:
        while True:
            sample = group_memory(self.pgid, self.exclude_pids, self.exclude_names)
            self.peak_rss_bytes = max(self.peak_rss_bytes, sample.rss_bytes)
            self.peak_largest_rss_bytes = max(self.peak_largest_rss_bytes, sample.largest_rss_bytes)
            self.peak_pss_bytes = max(self.peak_pss_bytes, sample.pss_bytes)
            self.peak_processes = max(self.peak_processes, sample.processes)
            if self._stop.wait(self.interval_s):
                return

    def __enter__(self) -> PeakMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
