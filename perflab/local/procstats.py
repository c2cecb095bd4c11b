"""Memory of a process group, read from /proc: for the stack's peak-RSS figures."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class GroupMemory:
    processes: int
    rss_bytes: int  # sum of resident sets: counts pages shared between forks once per process
    pss_bytes: int  # proportional set size: shared pages split between sharers (the honest total)


def _fields(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in path.read_text().splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            out[name] = int(parts[0]) * 1024  # kB
    return out


def group_memory(pgid: int) -> GroupMemory:
    """RSS and PSS summed over every process whose process group is ``pgid``."""
    count = rss = pss = 0
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
    return GroupMemory(count, rss, pss)


class PeakMemorySampler:
    """Samples :func:`group_memory` in a thread until stopped; keeps the peaks."""

    def __init__(self, pgid: int, interval_s: float = 0.25) -> None:
        self.pgid = pgid
        self.interval_s = interval_s
        self.peak_rss_bytes = 0
        self.peak_pss_bytes = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)

    def _run(self) -> None:
        while True:
            sample = group_memory(self.pgid)
            self.peak_rss_bytes = max(self.peak_rss_bytes, sample.rss_bytes)
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
