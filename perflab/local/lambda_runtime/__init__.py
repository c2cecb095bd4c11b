"""Local Lambda runtime: runs deployed zips' handlers in worker processes. (Being built.)"""

from __future__ import annotations

from perflab.local.context import StackContext


class LambdaRuntime:
    def __init__(self, ctx: StackContext) -> None:
        self.ctx = ctx

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass
