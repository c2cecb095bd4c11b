"""Python task commands forked from the preloaded spawner (the agent's ``forkserver`` mode).

**Which commands.** A task whose argv is the project's interpreter (the one the spawner runs, i.e.
:attr:`StackContext.python`) running ``-m module args…``, ``-c code args…`` or ``script.py args…``,
optionally after ``-u`` / ``-B`` (also combined, ``-uB``, or attached, ``-mmodule``). Anything else —
another interpreter, other flags (``-O``, ``-X``, ``-W``, ``-I`` …), ``-`` or no program, a script that
is not a regular file — is spawned as before. So is a task whose environment would start a different
interpreter: a ``PYTHON*`` variable other than ``PYTHONUNBUFFERED`` / ``PYTHONDONTWRITEBYTECODE``
(``PYTHONPATH``, ``PYTHONHASHSEED`` …), or ``HOME``, ``LANG``, ``LC_ALL``, ``LC_CTYPE`` different from
the spawner's (they fix the stdio encoding and botocore's model path at start-up).

**What the child looks like to the task code.** Its own pid; ``os.environ`` (and the C environment)
exactly the task's; ``sys.argv`` as Python sets it (``['-c', …]``, the module's file for ``-m``, the
script path as given) and ``sys.orig_argv`` the task's argv; ``__main__`` a fresh module with what
Python puts in it (a script's ``__file__`` absolute, ``-m`` through runpy's ``_run_module_as_main``,
as the interpreter does); ``sys.path[0]`` as Python sets it ('' for ``-c``, the working directory for
``-m``, the script's real directory), the rest of ``sys.path`` the interpreter's own; the task's
working directory; none of perflab's modules imported (the spawner's own are dropped from
``sys.modules``); Python's start-up signal dispositions (SIGINT raises KeyboardInterrupt,
SIGPIPE/SIGXFSZ ignored, the rest default) and an empty signal mask; stdin ``/dev/null``; new
``sys.stdin/stdout/stderr`` on fds 0/1/2 (stdout and stderr: the task's output, line-buffered only on
a tty, unbuffered with ``-u``/``PYTHONUNBUFFERED``); no other file descriptor (the spawner's socket
and pidfds are closed); ``PR_SET_PDEATHSIG`` = SIGKILL like a spawned task. boto3 has no default
session: the first ``boto3.client(...)`` builds one from the task's environment (region, credentials,
``AWS_ENDPOINT_URL``), with botocore's parsed models shared from the spawner
(:class:`perflab.local.preload.BotocoreWarmup`).

**How it ends.** Like Python: ``SystemExit`` gives its code (``None`` → 0, a non-int is printed and
gives 1); an uncaught exception prints its traceback (through ``sys.excepthook``, without the
spawner's frames) and gives 1; an uncaught KeyboardInterrupt ends the process by SIGINT. Then
non-daemon threads are joined, ``atexit`` handlers run — the task's own and the import-time ones of
``logging`` / ``multiprocessing`` (registered when the spawner preloaded them, as a fresh interpreter
importing them would; the spawner registers none of its own) — stdio is flushed and the process ends
with ``os._exit``. There is no module teardown: an object still alive at exit is not finalised, so
a file the task left open and unflushed loses its buffered data where CPython's teardown would
usually have flushed it. Modules the spawner preloaded are already imported (that is the point), with
their import-time state: urllib3's warning filters, ``random`` reseeded at fork by Python itself, and
the string hash seed of the spawner (every forked task shares it).
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import importlib
import io
import os
import runpy
import signal
import sys
import threading
import time
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from perflab.local.preload import (
    COMMON_LIBRARY_PRELOAD,
    COMMON_PRELOAD,
    BotocoreWarmup,
    import_modules,
    preload_from_env,
)

#: What the spawner imports before it forks: what Python task code commonly imports at start-up.
DEFAULT_PRELOAD: tuple[str, ...] = (*COMMON_PRELOAD, *COMMON_LIBRARY_PRELOAD)
#: Services whose models the spawner parses once (see :class:`BotocoreWarmup`).
DEFAULT_WARM_SERVICES: tuple[str, ...] = ("dynamodb", "s3", "stepfunctions", "sqs", "logs")
PRELOAD_ENV = "PERFLAB_ECS_PRELOAD"

#: ``PYTHON*`` variables a forked task may have: they change nothing fixed at interpreter start-up.
ALLOWED_PYTHON_ENV = frozenset({"PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"})
#: Variables that must equal the spawner's for a task to be forked.
SAME_ENV = ("HOME", "LANG", "LC_ALL", "LC_CTYPE")
_FLAGS = frozenset("uB")
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class PythonCommand:
    """``python [-u] [-B] (-m module | -c code | script) args…``."""

    kind: str  # "module" | "code" | "script"
    target: str
    args: tuple[str, ...]
    unbuffered: bool = False
    dont_write_bytecode: bool = False


def parse_python_command(argv: Sequence[str], python: str) -> PythonCommand | None:
    """The Python command ``argv`` runs, when it is one a forked child can run (else ``None``)."""
    if len(argv) < 2 or argv[0] != python:
        return None
    flags: set[str] = set()
    i = 1
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-"):
            return PythonCommand("script", arg, tuple(argv[i + 1 :]), "u" in flags, "B" in flags)
        if arg == "-" or arg.startswith("--"):
            return None
        for j, char in enumerate(arg[1:], start=1):
            if char in _FLAGS:
                flags.add(char)
                continue
            if char not in "mc":
                return None
            kind = "module" if char == "m" else "code"
            attached = arg[j + 1 :]
            if attached:
                return PythonCommand(kind, attached, tuple(argv[i + 1 :]), "u" in flags, "B" in flags)
            if i + 1 >= len(argv):
                return None
            return PythonCommand(kind, argv[i + 1], tuple(argv[i + 2 :]), "u" in flags, "B" in flags)
        i += 1
    return None


def env_blocker(env: Mapping[str, str], base_env: Mapping[str, str]) -> str | None:
    """Why a task with environment ``env`` must be spawned, not forked from a spawner started with
    ``base_env`` (``None``: it may be forked)."""
    for key in env:
        if key.startswith("PYTHON") and key not in ALLOWED_PYTHON_ENV:
            return f"{key} is set"
    for key in SAME_ENV:
        if env.get(key) != base_env.get(key):
            return f"{key} differs from the spawner's"
    return None


def _pdeathsig(signum: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)


class PythonForker:
    """In the spawner: preload once, then fork a child per Python task command."""

    def __init__(self, preload: Sequence[str] | None = None, warm_services: Sequence[str] | None = None):
        self.preload = tuple(
            preload_from_env(os.environ, PRELOAD_ENV, DEFAULT_PRELOAD) if preload is None else preload
        )
        self.warm_services = tuple(DEFAULT_WARM_SERVICES if warm_services is None else warm_services)
        self.python = sys.executable
        self.base_env = dict(os.environ)
        self.warmup = BotocoreWarmup()
        self.loaded: list[str] = []
        self.missing: list[str] = []
        #: Why no task can be forked (the spawner's own interpreter is not a plain one), if so.
        self.disabled: str | None = None
        # sys.path without the spawner's own sys.path[0] (the directory it was started in) and
        # without PYTHONPATH's entries, which a task's interpreter would not have.
        pythonpath = {os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
        self.base_path = [p for p in sys.path[1:] if not p or os.path.abspath(p) not in pythonpath]
        harmless = ALLOWED_PYTHON_ENV | {"PYTHONPATH"}
        own = [k for k in os.environ if k.startswith("PYTHON") and k not in harmless]
        if own:
            self.disabled = f"the stack's environment sets {', '.join(sorted(own))}"
        self.encoding: str = getattr(sys.stdout, "encoding", None) or "utf-8"
        self.errors: str = getattr(sys.stdout, "errors", None) or "strict"

    def prepare(self) -> None:
        """Import the preload modules and warm botocore; freeze the heap so children share it."""
        import gc

        if self.disabled is None:
            self.loaded, self.missing = import_modules(self.preload)
            self.warmup.warm(self.warm_services)
        gc.collect()
        gc.freeze()  # the collector of a child never touches (so never copies) the spawner's objects

    def command_for(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: str | None
    ) -> PythonCommand | None:
        if self.disabled is not None:
            return None
        command = parse_python_command(argv, self.python)
        if command is None or env_blocker(env, self.base_env) is not None:
            return None
        if command.kind == "script" and not os.path.isfile(os.path.join(cwd or os.getcwd(), command.target)):
            return None  # let the interpreter say so
        return command

    def fork(self, command: PythonCommand, env: Mapping[str, str], cwd: str | None, output_fd: int) -> int:
        """Fork a child that runs ``command``; return its pid (the child never returns)."""
        if threading.active_count() != 1:
            raise RuntimeError("the spawner has threads: forking it is unsafe")
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.flush()
        parent = os.getpid()
        pid = os.fork()
        if pid != 0:
            return pid
        code = 1
        try:
            self._become_task(command, env, cwd, output_fd, parent)
            code = _run(command)
        except BaseException:  # in the child, nothing may escape to the spawner's loop
            with contextlib.suppress(BaseException):
                import traceback

                traceback.print_exc()
        finally:
            os._exit(code)

    # -- in the child ------------------------------------------------------------------------

    def _become_task(
        self, command: PythonCommand, env: Mapping[str, str], cwd: str | None, output_fd: int, parent: int
    ) -> None:
        _pdeathsig(signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(128 + signal.SIGKILL)  # the spawner died while forking: so does its task
        signal.set_wakeup_fd(-1)
        for signum in signal.valid_signals():
            handler = signal.getsignal(signum)
            if handler not in (None, signal.SIG_DFL):
                with contextlib.suppress(OSError, ValueError):
                    signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        if hasattr(signal, "SIGXFSZ"):
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])

        devnull = os.open(os.devnull, os.O_RDONLY)
        if devnull != 0:
            os.dup2(devnull, 0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))

        os.environ.clear()
        os.environ.update(env)
        time.tzset()
        if cwd:
            os.chdir(cwd)

        unbuffered = command.unbuffered or bool(env.get("PYTHONUNBUFFERED"))
        for name, stream in (
            ("stdin", _stdio(0, "r", False, self.encoding, self.errors)),
            ("stdout", _stdio(1, "w", unbuffered, self.encoding, self.errors)),
            ("stderr", _stdio(2, "w", unbuffered, self.encoding, "backslashreplace")),
        ):
            setattr(sys, name, stream)
            setattr(sys, f"__{name}__", stream)
        sys.dont_write_bytecode = command.dont_write_bytecode or bool(env.get("PYTHONDONTWRITEBYTECODE"))

        if command.kind == "code":
            path0 = ""
        elif command.kind == "module":
            path0 = os.getcwd()
        else:
            path0 = os.path.dirname(os.path.realpath(command.target))
        sys.path[:] = [path0, *self.base_path]
        importlib.invalidate_caches()
        own_package = __name__.split(".", 1)[0]
        for name in [n for n in sys.modules if n == own_package or n.startswith(own_package + ".")]:
            del sys.modules[name]
        main = types.ModuleType("__main__")  # as the interpreter creates it
        main.__dict__.update(
            __builtins__=builtins, __annotations__={}, __loader__=importlib.machinery.BuiltinImporter
        )
        sys.modules["__main__"] = main

        python = self.python
        if command.kind == "code":
            sys.argv = ["-c", *command.args]
        elif command.kind == "module":
            sys.argv = ["-m", *command.args]  # runpy replaces argv[0] with the module's file
        else:
            sys.argv = [command.target, *command.args]
        flags = [f"-{f}" for f, on in (("u", command.unbuffered), ("B", command.dont_write_bytecode)) if on]
        option = {"code": ["-c"], "module": ["-m"], "script": []}[command.kind]
        sys.orig_argv = [python, *flags, *option, command.target, *command.args]

        atexit._clear()
        for module, function in (("logging", "shutdown"), ("multiprocessing.util", "_exit_function")):
            hook = getattr(sys.modules.get(module), function, None)
            if hook is not None:
                atexit.register(hook)
        self.warmup.install_in_child()


def _stdio(fd: int, mode: str, unbuffered: bool, encoding: str, errors: str) -> io.TextIOWrapper:
    raw_mode = mode + "b"
    buffer: Any = open(fd, raw_mode, buffering=0 if unbuffered and mode == "w" else -1, closefd=False)  # noqa: SIM115
    return io.TextIOWrapper(
        buffer,
        encoding=encoding,
        errors=errors,
        newline="\n",
        line_buffering=os.isatty(fd),
        write_through=unbuffered,
    )


def _run(command: PythonCommand) -> int:
    """Run the task's code as ``__main__``; the exit code Python would give."""
    code = 0
    try:
        if command.kind == "code":
            exec(compile(command.target, "<string>", "exec"), sys.modules["__main__"].__dict__)
        elif command.kind == "module":
            run_as_main = getattr(runpy, "_run_module_as_main", None)
            if run_as_main is not None:  # what ``python -m`` itself calls
                run_as_main(command.target, True)
            else:
                runpy.run_module(command.target, run_name="__main__", alter_sys=True)
        else:
            _run_script(command.target)
    except SystemExit as exc:
        code = _system_exit_code(exc)
    except KeyboardInterrupt as exc:
        _print_exception(exc)
        _finish()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        code = 128 + signal.SIGINT
    except BaseException as exc:
        _print_exception(exc)
        code = 1
    return _finish(code)


def _run_script(target: str) -> None:
    """As ``python script.py`` runs a source file: ``__file__`` absolute, ``sys.argv[0]`` as given."""
    path = os.path.abspath(target)
    with io.open_code(path) as source_file:
        source = source_file.read()
    main = sys.modules["__main__"]
    main.__dict__.update(
        __file__=path, __cached__=None, __loader__=importlib.machinery.SourceFileLoader("__main__", path)
    )
    exec(compile(source, path, "exec"), main.__dict__)


def _system_exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    with contextlib.suppress(Exception):
        print(exc.code, file=sys.stderr)
    return 1


def _print_exception(exc: BaseException) -> None:
    """As Python prints an uncaught exception, without this module's and runpy's frames."""
    ours = {__file__, runpy.__file__}
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename in ours:
        tb = tb.tb_next
    with contextlib.suppress(BaseException):
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)


def _finish(code: int = 0) -> int:
    """Interpreter shutdown, as far as a forked child does it: join threads, run atexit, flush."""
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        with contextlib.suppress(BaseException):
            shutdown()
    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(BaseException):
                stream.flush()
    return code
