"""Step Functions: ``StartExecution`` without a name gets a generated one, as on AWS.

moto's interpreter backend formats the execution ARN with the name as given, so an execution started
without a name is called ``None`` (its ARN ends in ``:None``) and a second such start of the same state
machine fails with ``ExecutionAlreadyExists``. AWS generates a UUID name; so does this patch (also for
executions started by the ``states:startExecution`` integration without ``Name``).
"""

from __future__ import annotations

import uuid
from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.sfn_support import import_attr, is_marked, mark, source_of

NAME = "sfn_start_execution_name"
_TARGET = "moto.stepfunctions.parser.models.StepFunctionsParserBackend"


def _wrap(original: Any) -> Any:
    def start_execution(
        self: Any,
        state_machine_arn: str,
        name: str | None = None,
        execution_input: str | None = None,
        trace_header: str | None = None,
    ) -> Any:
        if not name:
            name = str(uuid.uuid4())
        return original(
            self,
            state_machine_arn,
            name=name,
            execution_input=execution_input,
            trace_header=trace_header,
        )

    return mark(start_execution, NAME)


def needed() -> bool:
    backend = import_attr(_TARGET)
    method = None if backend is None else backend.__dict__.get("start_execution")
    if method is None or is_marked(method):
        return False
    source = source_of(method) or ""
    # The gap: the name goes into the ARN unchecked; a fixed moto generates one (uuid) when absent.
    return "exec_name = name" in source and "uuid" not in source


def apply() -> None:
    backend = import_attr(_TARGET)
    if backend is None:
        return
    method = backend.__dict__["start_execution"]
    if not is_marked(method):
        backend.start_execution = _wrap(method)


PATCH = CompatPatch(
    name=NAME,
    gap="StartExecution without a name yields an ARN ending in ':None'; the second such start fails",
    touches=(f"{_TARGET}.start_execution",),
    needed=needed,
    apply=apply,
)
