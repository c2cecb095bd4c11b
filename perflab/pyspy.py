"""py-spy, the sampling profiler the project uses to see inside its own processes (a dev dependency).

:func:`executable` finds it; :func:`dump` writes where each thread of a process is. The recording
side (``py-spy record`` over a measured window) is :class:`perflab.perf.profile.PySpy`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def executable() -> str | None:
    """py-spy next to this interpreter (the project's venv), else on PATH; None without it."""
    beside = Path(sys.executable).with_name("py-spy")
    if beside.exists():
        return str(beside)
    return shutil.which("py-spy")


def dump(pid: int, path: Path) -> bool:
    """Write every thread's Python stack (with locals) of process ``pid`` to ``path``; False when
    py-spy is missing or could not read the process (what it said is then in ``path``)."""
    found = executable()
    if found is None:
        return False
    try:
        done = subprocess.run(
            [found, "dump", "--pid", str(pid), "--locals"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    path.write_text(done.stdout + done.stderr)
    return done.returncode == 0
