"""Local Lambda runtime: invoking a function created from a zip runs its handler for real.

Design (one concern per module):

- :mod:`.runtime` hooks into moto where ``LambdaFunction.invoke`` would start Docker, keeps a pool
  of execution environments per function, enforces reserved concurrency, Timeout and MemorySize, and
  writes START/END/REPORT lines; :class:`LambdaRuntime` is the stack component.
- :mod:`.environment`: one execution environment (worker process + Runtime API endpoint + log
  stream), serving one invocation at a time; its first invocation is a cold start.
- :mod:`.api_server`: the Lambda Runtime API awslambdaric talks to (one port per environment).
- :mod:`.launcher` / :mod:`.forkserver`: environments as fresh interpreters (``spawn``) or forks of a
  single-threaded server that preloaded boto3 & co. (``forkserver``, default where cores are few:
  local init durations are then much shorter than AWS's and reports must say so).
- :mod:`.output`: worker stdout/stderr into CloudWatch Logs; :mod:`.cloudwatch`: the moto logs
  backend, in-process. :mod:`.records`: per-invocation facts (REPORT line), queryable in-process.
- :mod:`.code`: a version's zip unpacked once (it plays ``/var/task``).

This package's ``__init__`` stays import-light: the fork server imports the package, and everything it
imports ends up in every environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perflab.local.lambda_runtime.runtime import LambdaRuntime

__all__ = ["LambdaRuntime"]


def __getattr__(name: str) -> Any:
    if name == "LambdaRuntime":
        from perflab.local.lambda_runtime.runtime import LambdaRuntime

        return LambdaRuntime
    raise AttributeError(name)
