"""Step Functions service integrations: PascalCase parameters ↔ the SDK's own casing.

Step Functions writes integration parameters in PascalCase (``Cluster``, ``TaskDefinition``) and
returns responses in PascalCase (``Tasks``, ``TaskArn``), whatever casing the service API uses. moto's
interpreter (a port of LocalStack's) left ``StateTaskService._normalise_parameters`` and
``_normalise_response`` as ``pass`` stubs (moto issue 10076, PR 10094), so parameters reach boto3
unconverted and every ECS integration fails with ``KeyError: 'Cluster'``.

This patch restores both directions from botocore's operation shapes, recursively through
structures, lists and map values (map keys are data and stay as they are). Timestamps are left to
``sfn_timestamps``.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.sfn_support import body_is_pass, import_attr, is_marked, mark

NAME = "sfn_service_normalisation"
_TARGET = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service."
    "state_task_service.StateTaskService"
)

_LOCK = threading.Lock()


@functools.cache
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@functools.cache
def _service_operations(service: str) -> tuple[Any, dict[str, str]] | None:
    """botocore's service model and a map from snake_case action to operation name."""
    from botocore import xform_name
    from botocore.exceptions import UnknownServiceError

    with _LOCK:
        try:
            model = _session().get_service_model(service)
        except UnknownServiceError:
            return None
    return model, {xform_name(name): name for name in model.operation_names}


def operation_model(service: str, action: str) -> Any | None:
    """The botocore operation model for ``service`` and a snake_case or PascalCase ``action``."""
    from botocore import xform_name

    found = _service_operations(service)
    if found is None:
        return None
    model, operations = found
    name = operations.get(xform_name(action))
    return None if name is None else model.operation_model(name)


def _sfn_cased(name: str) -> str:
    """``taskArn`` → ``TaskArn``: Step Functions capitalises the first letter only."""
    return name[:1].upper() + name[1:]


def to_sdk_request(value: Any, shape: Any) -> Any:
    """Convert a PascalCase request value to the casing ``shape`` (a botocore Shape) expects."""
    type_name = getattr(shape, "type_name", None)
    if type_name == "structure" and isinstance(value, dict):
        # Step Functions matches member names regardless of case (``Cluster`` → ``cluster``).
        members: dict[str, str] = {member.lower(): member for member in shape.members}
        converted: dict[str, Any] = {}
        for key, item in value.items():
            member = members.get(key.lower())
            if member is None:
                converted[key] = item
            else:
                converted[member] = to_sdk_request(item, shape.members[member])
        return converted
    if type_name == "list" and isinstance(value, list):
        return [to_sdk_request(item, shape.member) for item in value]
    if type_name == "map" and isinstance(value, dict):
        return {key: to_sdk_request(item, shape.value) for key, item in value.items()}
    if type_name == "string" and isinstance(value, dict | list):
        from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

        return to_json_str(value)
    if type_name == "blob" and isinstance(value, dict | list | int | float | bool):
        from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

        return to_json_str(value, separators=(",", ":")).encode("utf-8")
    return value


def from_sdk_response(value: Any, shape: Any) -> Any:
    """Convert an SDK response value to Step Functions' PascalCase, following ``shape``."""
    from botocore.response import StreamingBody

    if isinstance(value, StreamingBody):
        return value.read().decode("utf-8")
    type_name = getattr(shape, "type_name", None)
    if type_name == "structure" and isinstance(value, dict):
        converted: dict[str, Any] = {}
        for key, item in value.items():
            member_shape = shape.members.get(key)
            if member_shape is None:
                converted[key] = item
            else:
                converted[_sfn_cased(key)] = from_sdk_response(item, member_shape)
        return converted
    if type_name == "list" and isinstance(value, list):
        return [from_sdk_response(item, shape.member) for item in value]
    if type_name == "map" and isinstance(value, dict):
        return {key: from_sdk_response(item, shape.value) for key, item in value.items()}
    return value


def _replace_in_place(target: dict[str, Any], converted: dict[str, Any]) -> None:
    target.clear()
    target.update(converted)


def _operation(self: Any, boto_service_name: str | None, service_action_name: str | None) -> Any | None:
    """The botocore operation model of the state's integration (None when botocore has none)."""
    service = self._get_boto_service_name(boto_service_name=boto_service_name)
    action = self._get_boto_service_action(service_action_name=service_action_name)
    return operation_model(service, action)


def _normalise_parameters(
    self: Any,
    parameters: dict[str, Any],
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    operation = _operation(self, boto_service_name, service_action_name)
    if operation is None or operation.input_shape is None or not isinstance(parameters, dict):
        return
    _replace_in_place(parameters, to_sdk_request(parameters, operation.input_shape))


def _normalise_response(
    self: Any,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    operation = _operation(self, boto_service_name, service_action_name)
    if operation is None or operation.output_shape is None or not isinstance(response, dict):
        return
    _replace_in_place(response, from_sdk_response(response, operation.output_shape))


def _target() -> Any | None:
    return import_attr(_TARGET)


def needed() -> bool:
    cls = _target()
    if cls is None:
        return False
    methods = [cls.__dict__.get("_normalise_parameters"), cls.__dict__.get("_normalise_response")]
    # Helpers this patch relies on (it reads the boto service name and action from the state).
    if not all(hasattr(cls, name) for name in ("_get_boto_service_name", "_get_boto_service_action")):
        return False
    return any(m is not None and not is_marked(m) and body_is_pass(m) for m in methods)


def apply() -> None:
    cls = _target()
    if cls is None:
        return
    for name, fn in (
        ("_normalise_parameters", _normalise_parameters),
        ("_normalise_response", _normalise_response),
    ):
        current = cls.__dict__.get(name)
        if current is not None and not is_marked(current) and body_is_pass(current):
            setattr(cls, name, mark(fn, NAME))


PATCH = CompatPatch(
    name=NAME,
    gap=(
        "Step Functions service integrations pass PascalCase parameters straight to boto3 and "
        "return SDK-cased responses (moto issue 10076): every ECS integration fails with 'Cluster'"
    ),
    touches=(
        f"{_TARGET}._normalise_parameters",
        f"{_TARGET}._normalise_response",
        f"{_TARGET}._get_boto_service_name",
        f"{_TARGET}._get_boto_service_action",
        "moto.stepfunctions.parser.asl.utils.encoding.to_json_str",
    ),
    needed=needed,
    apply=apply,
)
