"""The CPU budget's bookkeeping and the profile summaries (pure: fixed snapshots and stacks)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from perflab.local.procstats import ProcStat, group_memory, parse_stat
from perflab.perf import profile
from perflab.perf.profile import cpu_by_role, parse_collapsed, summarize

SELF, STACK = 100, 200


def proc(
    pid: int, ppid: int, own: int, children: int = 0, command: str = "python", cmdline: str = ""
) -> ProcStat:
    return ProcStat(
        pid, ppid, pgid=ppid, command=command, cmdline=cmdline, own_ticks=own, children_ticks=children
    )


def test_parse_stat_reads_times_after_a_command_with_spaces_and_parentheses() -> None:
    stat = "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 70 30 5 6 20 0 1 0 10 0 0"
    parsed = parse_stat(4242, stat, "python -m x")
    assert (parsed.ppid, parsed.pgid, parsed.command) == (1, 4242, "my (odd) cmd")
    assert (parsed.own_ticks, parsed.children_ticks) == (100, 11)


def test_cpu_is_attributed_by_role_and_counts_only_the_window() -> None:
    before = {
        SELF: proc(SELF, 1, own=50, children=10),
        STACK: proc(STACK, SELF, own=1000),  # the stack is this process's child, yet the server
        301: proc(301, SELF, own=40),  # a download client, warm before the window
        400: proc(400, STACK, own=5, command="postgres"),
        500: proc(500, STACK, own=7, cmdline="python -m perflab.local.lambda_runtime.forkserver 3"),
    }
    after = {
        SELF: proc(SELF, 1, own=60, children=10 + 30),  # reaped a client that spent 30 ticks
        STACK: proc(STACK, SELF, own=1400),
        301: proc(301, SELF, own=240),
        302: proc(302, SELF, own=100),  # started inside the window: counts from 0
        400: proc(400, STACK, own=205, command="postgres"),
        500: proc(
            500, STACK, own=7, children=50, cmdline="python -m perflab.local.lambda_runtime.forkserver 3"
        ),
        600: proc(600, SELF, own=20, command="py-spy"),
        700: proc(700, 1, own=3, command="sshd"),
    }
    spent = cpu_by_role(before, after, SELF, STACK, ticks_per_s=100.0)
    assert spent == {
        profile.CLIENTS: 3.3,  # 200 + 100 + 30 reaped
        profile.SERVER: 4.0,
        profile.POSTGRES: 2.0,
        profile.LAMBDA: 0.5,  # the fork server's reaped environments
        profile.SELF: 0.1,
        profile.PROFILER: 0.2,
        profile.OTHER: 0.03,
    }


def test_a_reused_pid_counts_from_zero() -> None:
    before = {700: proc(700, 1, own=500, command="old")}
    after = {700: proc(700, 5, own=20, command="new")}
    assert cpu_by_role(before, after, SELF, STACK, ticks_per_s=100.0) == {profile.OTHER: 0.2}
    # same command and parent, but less CPU than before: another process (CPU times only grow)
    again = {700: proc(700, 1, own=30, command="old")}
    assert cpu_by_role(before, again, SELF, STACK, ticks_per_s=100.0) == {profile.OTHER: 0.3}


def test_summary_ranks_leaf_lines_with_their_share_and_source() -> None:
    lines = [
        "main (perflab/perf/profile.py:1);download (perflab/download.py:184) 30\n",
        "main (perflab/perf/profile.py:1);recv (socket.py:706) 10\n",
        "other;download (perflab/download.py:184) 10\n",
        "\n",
        "garbage-without-count\n",
    ]
    stacks = parse_collapsed(lines)
    assert sum(stacks.values()) == 50
    summary = summarize(stacks, top=5)
    assert summary["samples"] == 50
    first, second = summary["top"]
    assert (first["function"], first["location"], first["samples"], first["share"]) == (
        "download",
        "perflab/download.py:184",
        40,
        0.8,
    )
    assert second["share"] == 0.2
    # the source text comes from the file the location names, found along sys.path
    download_py = Path(profile.__file__).parent.parent / "download.py"
    expected = download_py.read_text().splitlines()[183]
    assert first["source"] == expected.strip() and first["source"]


def test_budget_lines_show_capacity_roles_and_profile_errors() -> None:
    result = {
        "window_s": 2.0,
        "cpus": 2,
        "capacity_cpu_s": 4.0,
        "busy_cpu_s": 3.0,
        "busy_share": 0.75,
        "cpu_s_by_role": {profile.CLIENTS: 1.0, profile.SERVER: 2.0},
        "profiles": {"server": {"error": "Permission denied"}},
    }
    lines = profile.format_budget("w", result)
    assert lines[0] == "w: 2.00 s window, 2 CPUs -> 4.00 CPU-s capacity, 3.00 busy (75%)"
    assert lines[1].split()[-2:] == ["2.00", "CPU-s"] and "moto" in lines[1]  # largest first
    assert lines[-1] == "  py-spy server: could not record (Permission denied)"


def test_machine_ticks_are_busy_within_total() -> None:
    busy, total = profile.read_machine_ticks()
    assert 0 < busy <= total


@pytest.mark.parametrize("with_pss", [True, False])
def test_group_memory_of_this_process_group(with_pss: bool) -> None:
    known: dict[str, tuple[int, str]] = {"999999999": (1, "gone")}
    memory = group_memory(os.getpgid(0), with_pss=with_pss, known=known)
    assert memory.processes >= 1 and memory.rss_bytes > 0 and memory.largest_rss_bytes > 0
    assert (memory.pss_bytes > 0) is with_pss
    assert "999999999" not in known  # pruned: that pid does not exist
    assert known[str(os.getpid())][0] == os.getpgid(0)
