"""A function version's zip, unpacked once into the state directory (it plays /var/task)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tempfile
import threading
import zipfile
from pathlib import Path

_LOCK = threading.Lock()
_PATH_LOCKS: dict[Path, threading.Lock] = {}


def code_digest(code: bytes) -> str:
    return hashlib.sha256(code).hexdigest()


def _lock_for(path: Path) -> threading.Lock:
    with _LOCK:
        return _PATH_LOCKS.setdefault(path, threading.Lock())


def unpack(code: bytes, root: Path, function_name: str) -> Path:
    """Unpack ``code`` into ``root/lambda/<function>/<sha256>/`` unless already there; return it.

    Extraction goes to a sibling temporary directory renamed into place, so a half-written tree is
    never seen. Unix permission bits stored in the zip (executables) are restored.
    """
    target = root / "lambda" / function_name / code_digest(code)
    if target.is_dir():
        return target
    with _lock_for(target):
        if target.is_dir():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
        try:
            with zipfile.ZipFile(io.BytesIO(code)) as archive:
                for info in archive.infolist():
                    extracted = Path(archive.extract(info, staging))
                    mode = (info.external_attr >> 16) & 0o777
                    if mode and not info.is_dir():
                        os.chmod(extracted, mode | stat.S_IRUSR)
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return target
