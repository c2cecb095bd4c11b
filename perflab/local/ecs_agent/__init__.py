"""The local ECS agent: ``RunTask`` runs the task's container as a local process.

See :mod:`perflab.local.ecs_agent.agent` for what runs, with which environment, and the lifecycle.
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

__all__ = [
    "DEFAULT_STOP_TIMEOUT",
    "EcsAgent",
    "TaskStartError",
    "build_argv",
    "build_env",
    "container_override",
    "resolve_executable",
    "resolve_image_command",
]
