"""One PostgreSQL connection per execution environment, reused while warm.

A Lambda execution environment or an ECS task serves one download at a time, so it needs one
connection, opened by its first (cold) invocation and reused by every warm one: a 100-way fan-out
then holds at most 100 connections, never 100 times the retries. :func:`lease` hands out the cached
connection for a conninfo (opening one when there is none) and takes it back afterwards; a caller
that leases while another lease is out (threads in one process) gets a connection of its own, and
only one idle connection per conninfo is kept. A connection that is closed, broken or left inside a
transaction is closed instead of cached.

Connection failures (wrong password, ``too many clients already``, server down) raise
:class:`~perflab.storage.base.ConnectionFailed` (a ``StorageError``) with PostgreSQL's message:
never a retry loop, so an exhausted server shows up in the results as ``ConnectionFailed`` failures
carrying the server's own words.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from perflab.storage.base import ConnectionFailed

Connection = psycopg.Connection[tuple[Any, ...]]

CONNECT_TIMEOUT_S = 10
APPLICATION_NAME = "perflab"

_lock = threading.Lock()
_idle: dict[str, Connection] = {}


def connect(conninfo: str) -> Connection:
    """A new autocommit connection; failures become :class:`StorageError` with the server's message."""
    try:
        return psycopg.connect(
            conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name=APPLICATION_NAME
        )
    except psycopg.Error as exc:
        raise ConnectionFailed(f"PostgreSQL connection failed: {message_of(exc)}") from exc


def message_of(exc: BaseException) -> str:
    """The server's message, on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


def acquire(conninfo: str) -> tuple[Connection, bool]:
    """The environment's connection and whether it was reused (warm); opens one when needed."""
    with _lock:
        conn = _idle.pop(conninfo, None)
    if conn is not None:
        if not conn.closed and not conn.broken:
            return conn, True
        conn.close()
    return connect(conninfo), False


def release(conninfo: str, conn: Connection) -> None:
    """Take a connection back: cached when healthy and idle (and none is cached yet), else closed."""
    healthy = not conn.closed and not conn.broken and conn.info.transaction_status == TransactionStatus.IDLE
    if healthy:
        with _lock:
            if conninfo not in _idle:
                _idle[conninfo] = conn
                return
    conn.close()


@contextlib.contextmanager
def lease(conninfo: str) -> Iterator[Connection]:
    """``with lease(conninfo) as conn:`` the cached connection, given back (or closed) afterwards."""
    conn, _ = acquire(conninfo)
    try:
        yield conn
    finally:
        release(conninfo, conn)


def query_one(conninfo: str, query: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """One row of ``query`` on the environment's connection.

    Like the stores, reconnects once when a reused connection turns out to have been dropped by the
    server while idle; every other failure propagates (``psycopg.Error`` / :class:`StorageError`).
    """
    for attempt in (1, 2):
        conn, reused = acquire(conninfo)
        try:
            return conn.execute(query, params).fetchone()
        except psycopg.OperationalError:
            dropped = conn.broken
            conn.close()
            if not (reused and dropped and attempt == 1):
                raise
        finally:
            release(conninfo, conn)
    raise AssertionError("unreachable")


def close_all() -> None:
    """Close every cached connection (tests, shutdown)."""
    with _lock:
        conns = list(_idle.values())
        _idle.clear()
    for conn in conns:
        conn.close()
