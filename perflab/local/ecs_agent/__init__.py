"""The local ECS agent: ``RunTask`` runs the task's container as a local process.

See :mod:`perflab.local.ecs_agent.agent` for what runs, with which environment, and the lifecycle.

Two start-up modes (``ecs_mode``): ``spawn`` runs every task as a fresh process; ``forkserver`` (the
default where cores are few) forks Python task commands (``python -m``/``-c``/script) from a spawner
that preloaded boto3, and spawns the rest (:mod:`perflab.local.ecs_agent.pytask`). Local task start-up
is not Fargate's in either mode — no image pull, no ENI attachment, and with ``forkserver`` no
interpreter start or boto3 import — so reports must not read local start-up times as Fargate's.
"""

from perflab.local.ecs_agent.agent import (
    DEFAULT_STOP_TIMEOUT,
    EcsAgent,
    TaskStartError,
    build_argv,
    build_env,
    container_override,
    resolve_executable,
    resolve_image_command,
)
from perflab.local.ecs_agent.pytask import PythonCommand, parse_python_command

__all__ = [
    "DEFAULT_STOP_TIMEOUT",
    "EcsAgent",
    "PythonCommand",
    "TaskStartError",
    "build_argv",
    "build_env",
    "container_override",
    "parse_python_command",
    "resolve_executable",
    "resolve_image_command",
]
