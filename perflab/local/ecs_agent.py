"""Local ECS agent: runs RunTask'd task definitions as local processes. (Being built.)"""

from __future__ import annotations

from perflab.local.context import StackContext


class EcsAgent:
    def __init__(self, ctx: StackContext) -> None:
        self.ctx = ctx

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass
