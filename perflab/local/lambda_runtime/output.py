"""One thread reads every environment's stdout/stderr pipe and notices when a process ends."""

from __future__ import annotations

import contextlib
import os
import selectors
import threading
from collections.abc import Callable

from perflab.local.lambda_runtime.environment import Environment


class OutputCollector:
    """Lines go to the environment's log stream as they arrive; end of file (every copy of the
    pipe's write end closed) means the process is gone, and ``on_exit`` is called on a thread of
    its own (fetching the exit status may wait a moment)."""

    def __init__(self, on_exit: Callable[[Environment], None]) -> None:
        self._on_exit = on_exit
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._pending: list[Environment] = []
        self._lock = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="lambda-output", daemon=True)

    def start(self) -> None:
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread.start()

    def add(self, env: Environment) -> None:
        with self._lock:
            self._pending.append(env)
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def _loop(self) -> None:
        while not self._stopping:
            for key, _ in self._selector.select(timeout=1.0):
                env = key.data
                if env is None:
                    with contextlib.suppress(BlockingIOError):
                        while os.read(self._wake_r, 4096):
                            pass
                    with self._lock:
                        pending, self._pending = self._pending, []
                    for new in pending:
                        self._selector.register(new.output_fd, selectors.EVENT_READ, new)
                    continue
                assert isinstance(env, Environment)
                if env.read_output():
                    self._selector.unregister(env.output_fd)
                    with env.log_lock:
                        os.close(env.output_fd)
                        env.output_fd = -1
                    threading.Thread(
                        target=self._on_exit, args=(env,), name="lambda-exit", daemon=True
                    ).start()

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        for key in list(self._selector.get_map().values()):
            if isinstance(key.data, Environment):
                with contextlib.suppress(OSError):
                    os.close(key.data.output_fd)
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
