"""ecs_backend_lock: a RunTask that lands while DescribeTasks/ListTasks iterates waits for it.

The interleaving is forced, not hoped for. The reader (``describe_tasks`` or ``list_tasks``) iterates
the cluster's task dict, which the test swaps for a dict whose ``items()``/``values()`` pause after
the first task until the writer (``run_task``, inserting into that same dict) has either finished
or is blocked on the patch's lock. Without the patch the writer finishes inside the reader's
iteration, which then dies with "dictionary changed size during iteration" (HTTP 500 in the
server); with it the writer blocks until the reader is done.

A private backend instance keeps moto's global backends untouched; the patched methods and ``LOCK``
are restored after each test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import pytest
from moto.ecs.models import EC2ContainerServiceBackend

from perflab.local.compat import ecs_backend_lock

ACCOUNT = "123456789012"
REGION = "us-east-1"
CLUSTER = "race"
#: Upper bound for every wait: reached only if the test is broken, never on the expected path.
WAIT = 10.0


@dataclass
class Interleaving:
    """What happened, in order, and the events the two threads meet on."""

    reader_paused: threading.Event = field(default_factory=threading.Event)
    writer_settled: threading.Event = field(default_factory=threading.Event)
    log: list[str] = field(default_factory=list)
    guard: threading.Lock = field(default_factory=threading.Lock)

    def note(self, what: str) -> None:
        with self.guard:
            self.log.append(what)


class PausingTasks(dict[str, Any]):
    """A cluster task dict whose iteration stops after the first task until the writer has settled."""

    def __init__(self, tasks: dict[str, Any], sync: Interleaving) -> None:
        super().__init__(tasks)
        self.sync = sync

    def _pause_after_first(self, items: Iterator[Any]) -> Iterator[Any]:
        for index, item in enumerate(items):
            yield item
            if index == 0:
                self.sync.note("reader paused")
                self.sync.reader_paused.set()
                if not self.sync.writer_settled.wait(WAIT):
                    raise AssertionError("writer neither finished nor blocked on the lock")
                self.sync.note("reader resumed")
        # Still inside the backend method, so still under the lock when the patch is applied.
        self.sync.note("reader iterated")

    def items(self) -> Any:
        return self._pause_after_first(iter(dict.items(self)))

    def values(self) -> Any:
        return self._pause_after_first(iter(dict.values(self)))


class InstrumentedLock:
    """The patch's re-entrant lock, reporting when a thread has to wait for it."""

    def __init__(self, on_contended: Callable[[], None]) -> None:
        self._lock = threading.RLock()
        self._on_contended = on_contended

    def __enter__(self) -> bool:
        if self._lock.acquire(blocking=False):
            return True
        self._on_contended()
        if not self._lock.acquire(timeout=WAIT):
            raise AssertionError("ECS backend lock never released")
        return True

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._lock.release()


@pytest.fixture
def backend_class(monkeypatch: pytest.MonkeyPatch) -> type[EC2ContainerServiceBackend]:
    """moto's ECS backend class with its own (unlocked) methods, restored after the test."""
    cls: Any = ecs_backend_lock._backend_class()
    for name, method in ecs_backend_lock._public_methods(cls).items():
        original = method.__wrapped__ if getattr(method, ecs_backend_lock._MARKER, False) else method
        monkeypatch.setattr(cls, name, original)
    assert ecs_backend_lock.needed(), "the pinned moto no longer has the gap"
    return cls  # type: ignore[no-any-return]


def _backend_with_one_task(cls: type[EC2ContainerServiceBackend]) -> tuple[Any, str, str]:
    backend: Any = cls(REGION, ACCOUNT)
    backend.create_cluster(cluster_name=CLUSTER)
    definition = backend.register_task_definition(
        family="race",
        container_definitions=[{"name": "main", "image": "python", "memory": 128}],
        network_mode="bridge",  # no ENI in the EC2 backend (awsvpc would create one)
    )
    (first,) = _run(backend, definition.arn)
    return backend, definition.arn, first.task_arn


def _run(backend: Any, definition_arn: str) -> list[Any]:
    return backend.run_task(  # type: ignore[no-any-return]
        CLUSTER, definition_arn, 1, None, "perflab", None, "FARGATE"
    )


READERS: dict[str, Callable[[Any, str], list[Any]]] = {
    "describe_tasks": lambda backend, first: backend.describe_tasks(CLUSTER, [first]),
    "list_tasks": lambda backend, first: backend.list_tasks(CLUSTER),
}


@pytest.mark.parametrize("reader_name", sorted(READERS))
@pytest.mark.parametrize("patched", [False, True], ids=["without-patch", "with-patch"])
def test_run_task_during_task_iteration(
    backend_class: type[EC2ContainerServiceBackend],
    monkeypatch: pytest.MonkeyPatch,
    reader_name: str,
    patched: bool,
) -> None:
    backend, definition_arn, first = _backend_with_one_task(backend_class)
    sync = Interleaving()

    def writer_blocked() -> None:
        sync.note("writer blocked on lock")
        sync.writer_settled.set()

    monkeypatch.setattr(ecs_backend_lock, "LOCK", InstrumentedLock(writer_blocked))
    if patched:
        ecs_backend_lock.apply()
    backend.tasks[CLUSTER] = PausingTasks(backend.tasks[CLUSTER], sync)

    outcome: dict[str, Any] = {}

    def read() -> None:
        try:
            outcome["read"] = READERS[reader_name](backend, first)
        except Exception as error:  # the race, reported by the main thread
            outcome["read_error"] = error
            sync.note("reader failed")

    def write() -> None:
        try:
            outcome["written"] = _run(backend, definition_arn)
            sync.note("writer done")
        finally:
            sync.writer_settled.set()

    reader = threading.Thread(target=read, name="ecs-reader")
    writer = threading.Thread(target=write, name="ecs-writer")
    reader.start()
    assert sync.reader_paused.wait(WAIT), "reader never reached the task dict"
    writer.start()
    reader.join(WAIT)
    writer.join(WAIT)
    assert not reader.is_alive() and not writer.is_alive(), sync.log

    if not patched:
        # The gap: the insert lands inside the reader's iteration.
        assert sync.log == ["reader paused", "writer done", "reader resumed", "reader failed"]
        error = outcome["read_error"]
        assert isinstance(error, RuntimeError)
        assert str(error) == "dictionary changed size during iteration"
        return

    # The fix: the writer waits on the lock until the reader has finished.
    if "read_error" in outcome:
        raise outcome["read_error"]
    assert sync.log == [
        "reader paused",
        "writer blocked on lock",
        "reader resumed",
        "reader iterated",
        "writer done",
    ]
    assert [task.task_arn for task in outcome["read"]] == [first]
    (second,) = outcome["written"]
    assert {task.task_arn for task in backend.list_tasks(CLUSTER)} == {first, second.task_arn}
