"""The local cloud's PostgreSQL: a real server, unprivileged, on TCP, cleaned up on stop and on death."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from perflab.local.postgres import LocalPostgres, RunAs, processes_in, redact
from perflab.local.process import local_cloud_process
from perflab.local.stack import LocalCloudConfig

pytestmark = pytest.mark.local

IS_ROOT = os.geteuid() == 0


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    """Block until ``pid`` (not our child) has exited, or ``timeout``; True when it is gone."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable)
    finally:
        os.close(fd)


def proc_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for pid {pid}")


def password_of(url: str) -> str:
    password = urlsplit(url).password
    assert password
    return password


def modes_up_to_root(path: Path) -> dict[Path, int]:
    return {p: p.stat().st_mode for p in [path, *path.parents]}


MODES_BEFORE: dict[Path, dict[Path, int]] = {}


@pytest.fixture(scope="module")
def server() -> Iterator[LocalPostgres]:
    with tempfile.TemporaryDirectory(prefix="perflab-pgtest-") as tmp:
        MODES_BEFORE[Path(tmp)] = modes_up_to_root(Path(tmp))
        pg = LocalPostgres(Path(tmp) / "postgres", max_connections=137)
        pg.start()
        try:
            yield pg
        finally:
            pg.stop()


def test_tcp_connection_and_max_connections(server: LocalPostgres) -> None:
    assert server.url is not None
    assert server.url.startswith("postgresql://perflab:")
    assert f"@127.0.0.1:{server.port}/perflab" in server.url
    with psycopg.connect(server.url) as conn:
        assert conn.info.host == "127.0.0.1"
        row = conn.execute("SHOW max_connections").fetchone()
        assert row == ("137",)
        row = conn.execute("SELECT current_user, current_database(), inet_server_addr()::text").fetchone()
        assert row == ("perflab", "perflab", "127.0.0.1/32")
        row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        assert row == (False,)
    assert server.server_version is not None and server.binaries is not None
    assert (server.binaries / "postgres").is_file()
    assert server.startup_seconds is not None and server.startup_seconds > 0


def test_bytea_roundtrip(server: LocalPostgres) -> None:
    assert server.url is not None
    payload = os.urandom(3 * 1024 * 1024)
    with psycopg.connect(server.url) as conn:
        conn.execute("CREATE TEMP TABLE blobs (id int PRIMARY KEY, data bytea NOT NULL)")
        conn.execute("INSERT INTO blobs VALUES (1, %s)", (payload,))
        row = conn.execute("SELECT data FROM blobs WHERE id = 1").fetchone()
    assert row is not None and bytes(row[0]) == payload


def test_server_runs_unprivileged(server: LocalPostgres) -> None:
    assert server.pid is not None
    uid = proc_uid(server.pid)
    if IS_ROOT:
        assert uid != 0
    else:
        assert uid == os.geteuid()
    assert server.run_as is not None and server.run_as.uid == uid
    # The postmaster we know is the one serving: a backend's parent.
    assert server.url is not None
    with psycopg.connect(server.url) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        status = Path(f"/proc/{row[0]}/status").read_text()  # while the backend lives
    assert f"PPid:\t{server.pid}\n" in status


def test_bad_password_rejected(server: LocalPostgres) -> None:
    assert server.url is not None
    bad = server.url.replace(f"perflab:{password_of(server.url)}@", "perflab:wrong@")
    assert bad != server.url
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(bad, connect_timeout=5)
    # The bootstrap superuser is reachable only through the socket, never over TCP.
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(
            host="127.0.0.1", port=server.port, user="postgres", dbname="postgres", connect_timeout=5
        )


def test_password_never_in_records(server: LocalPostgres) -> None:
    assert server.url is not None
    password = password_of(server.url)
    assert len(password) >= 16
    assert redact(server.url) == f"postgresql://perflab:***@127.0.0.1:{server.port}/perflab"
    info = (server.data_dir / "server.json").read_text()
    assert password not in info
    assert password not in server.log_path.read_text()
    assert json.loads(info)["pid"] == server.pid


def test_unreachable_state_dir_goes_to_tmp_untouched(server: LocalPostgres) -> None:
    """The fixture's state dir is below a 0700 directory (mkdtemp): the server's user cannot reach
    it when we are root, so the cluster goes to /tmp, and no directory we did not create changes."""
    assert server.pgdata is not None and server.socket_dir is not None
    if IS_ROOT:
        assert server.pgdata.parent == Path("/tmp")
        assert server.pgdata.stat().st_uid == proc_uid(server.pid or 0) != 0
    else:
        assert server.pgdata == server.data_dir / "pgdata"
    assert modes_up_to_root(server.data_dir.parent) == MODES_BEFORE[server.data_dir.parent]
    created = json.loads((server.data_dir / "server.json").read_text())["created"]
    assert str(server.socket_dir) in created


def test_stop_leaves_nothing_and_a_second_start_works() -> None:
    with tempfile.TemporaryDirectory(prefix="perflab-pgtest-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)  # ours: lets the server's user reach <root>/postgres/pgdata
        first = LocalPostgres(root / "postgres", max_connections=30)
        url = first.start()
        assert first.pgdata == root / "postgres" / "pgdata"
        pid, pgdata, socket_dir = first.pid, first.pgdata, first.socket_dir
        assert pid is not None and socket_dir is not None
        conn = psycopg.connect(url, autocommit=True)  # an open session: fast shutdown must end it
        try:
            conn.execute("SELECT 1")
            assert processes_in(pgdata)
            first.stop()
            with pytest.raises(psycopg.OperationalError):
                conn.execute("SELECT 1")
        finally:
            conn.close()
        assert wait_gone(pid, timeout=0)
        assert processes_in(pgdata) == []
        assert not pgdata.exists()
        assert not socket_dir.exists()
        assert not (root / "postgres" / "server.json").exists()
        first.stop()  # idempotent

        second = LocalPostgres(root / "again", max_connections=31)
        try:
            with psycopg.connect(second.start()) as conn:
                assert conn.execute("SHOW max_connections").fetchone() == ("31",)
            assert second.port is not None
        finally:
            second.stop()


CHILD = """
import json, sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from perflab.local.postgres import LocalPostgres
pg = LocalPostgres(Path(sys.argv[1]), max_connections=20)
pg.start()
print(json.dumps({"pid": pg.pid, "pgdata": str(pg.pgdata), "socket_dir": str(pg.socket_dir)}), flush=True)
sys.stdin.read()
"""


def test_postmaster_dies_with_a_killed_owner_and_leftovers_are_swept(tmp_path: Path) -> None:
    data_dir = tmp_path / "postgres"
    owner = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    started: dict[str, Any] = {}
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline()
        assert line, "the owner process failed to start PostgreSQL"
        started = json.loads(line)
        owner.kill()
        owner.wait()
        assert wait_gone(started["pid"], timeout=15), "postmaster survived its owner's SIGKILL"
        # The killed owner could not clean up; the next start on the same data dir does.
        assert Path(started["socket_dir"]).exists()
        pg = LocalPostgres(data_dir, max_connections=20)
        try:
            pg.start()
            assert not Path(started["socket_dir"]).exists()
            assert not Path(started["pgdata"]).exists()
        finally:
            pg.stop()
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        for stream in (owner.stdin, owner.stdout):
            if stream is not None:
                stream.close()
        if started and not wait_gone(started["pid"], timeout=0):
            os.kill(started["pid"], signal.SIGKILL)  # never leave a stray server behind
            wait_gone(started["pid"])
        for key in ("socket_dir", "pgdata"):
            if key in started:
                shutil.rmtree(started[key], ignore_errors=True)


def test_access_is_judged_for_the_server_user(tmp_path: Path) -> None:
    stranger = RunAs("stranger", uid=54321, gid=54321, groups=(54321,), switch=True)
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "inner").mkdir(mode=0o755)
    public = tmp_path / "public"
    public.mkdir(mode=0o755)
    assert not stranger.can_access(private / "inner", os.X_OK)
    assert stranger.can_access(Path("/usr/bin/env"), os.R_OK | os.X_OK)
    assert stranger.can_access(public, os.X_OK) == all(
        p.stat().st_mode & 0o001 for p in [public, *public.parents]
    )
    owner = RunAs("owner", uid=os.geteuid(), gid=os.getegid(), groups=(), switch=False)
    assert owner.can_access(private / "inner", os.X_OK)


def test_local_cloud_process_database() -> None:
    with local_cloud_process(LocalCloudConfig(port=0)) as info:
        assert info.database_url is not None
        with psycopg.connect(info.database_url, connect_timeout=10) as conn:
            assert conn.execute("SHOW max_connections").fetchone() == ("300",)
            conn.execute("CREATE TABLE t (x int)")
        server = json.loads((Path(info.state_dir) / "postgres" / "server.json").read_text())
        pid, pgdata = int(server["pid"]), Path(server["pgdata"])
        assert processes_in(pgdata)
        assert info.env()["PERFLAB_DATABASE_URL"] == info.database_url
    assert wait_gone(pid, timeout=10)
    assert processes_in(pgdata) == []
    assert not pgdata.exists()
