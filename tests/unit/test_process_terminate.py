"""``terminate``: a process group that ignores SIGTERM is killed, and its threads are dumped first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from perflab.local.process import terminate

STUBBORN = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "def stuck_here():\n"
    "    time.sleep(600)\n"
    "stuck_here()\n"
)


def test_a_stack_that_ignores_sigterm_is_dumped_then_killed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    dump = tmp_path / "stuck-at-stop.txt"

    try:
        assert terminate(proc.pid, timeout=0.5, stuck_dump=dump) is True  # it reaped the child too
        with pytest.raises(ProcessLookupError):
            os.kill(proc.pid, 0)
    finally:
        proc.stdout.close()
        proc.wait(timeout=10)  # terminate() already reaped it: this only settles the Popen
    assert "stuck_here" in dump.read_text()  # where its main thread was when it did not stop
    err = capsys.readouterr().err
    assert f"pid {proc.pid}) did not stop within 0 s of SIGTERM" in err and str(dump) in err


def test_a_stack_that_stops_is_not_dumped(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    dump = tmp_path / "stuck-at-stop.txt"
    assert terminate(proc.pid, timeout=30, stuck_dump=dump) is True
    with pytest.raises(ProcessLookupError):
        os.kill(proc.pid, 0)
    proc.wait(timeout=10)
    assert not dump.exists()
