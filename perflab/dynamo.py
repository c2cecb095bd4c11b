"""DynamoDB attribute values (the low-level client's ``{"S": …}``, ``{"N": "…"}`` format), both ways.

Numbers come back as ``int`` or ``float``, never ``Decimal``; a non-finite float is stored as NULL.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

AttributeValue = dict[str, Any]


def encode(value: Any) -> AttributeValue:
    """A Python value as a DynamoDB attribute value (low-level client format)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, float):
        return {"N": repr(value)} if math.isfinite(value) else {"NULL": True}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, Mapping):
        return {"M": {str(k): encode(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [encode(v) for v in value]}
    raise TypeError(f"no DynamoDB attribute value for {type(value).__name__}")


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def decode(value: Mapping[str, Any]) -> Any:
    """A DynamoDB attribute value as a Python value (numbers as int or float, never Decimal)."""
    if "S" in value:
        return str(value["S"])
    if "N" in value:
        return _number(str(value["N"]))
    if "BOOL" in value:
        return bool(value["BOOL"])
    if "NULL" in value:
        return None
    if "M" in value:
        return {k: decode(v) for k, v in value["M"].items()}
    if "L" in value:
        return [decode(v) for v in value["L"]]
    if "NS" in value:
        return sorted(_number(str(n)) for n in value["NS"])
    if "SS" in value:
        return sorted(str(s) for s in value["SS"])
    if "B" in value:
        return bytes(value["B"])
    raise ValueError(f"unsupported DynamoDB attribute value {dict(value)!r}")
