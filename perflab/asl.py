"""Render an Amazon States Language template: ``${snake_case}`` placeholders inside JSON strings.

The same file is rendered by Terraform's ``templatefile()`` on AWS and by :func:`render` locally.
Only ``${name}`` is touched: ``string.Template`` would treat ``$$`` as an escape and turn the context
object paths (``$$.Map.Item.Value``, ``$$.Execution.Input``) into ``$.…``, silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

#: ``${name}`` with a snake_case name. Anything else with ``${`` is malformed.
PLACEHOLDER = re.compile(r"\$\{([a-z][a-z0-9_]*)\}")
_ANY_PLACEHOLDER = re.compile(r"\$\{[^}]*\}?")

STATE_MACHINES = Path(__file__).resolve().parent.parent / "state_machines"


class RenderError(ValueError):
    """A placeholder has no value, a value names no placeholder, or the result is not valid JSON."""


def placeholders(template_text: str) -> set[str]:
    """The placeholder names ``template_text`` uses."""
    return set(PLACEHOLDER.findall(template_text))


def render(template_text: str, values: Mapping[str, str]) -> str:
    """``template_text`` with every ``${name}`` replaced by ``values[name]`` (JSON-escaped, since a
    placeholder sits inside a JSON string). Raises :class:`RenderError` for a placeholder without a
    value, a value without a placeholder (a typo on either side), or a malformed ``${…}``."""
    used = placeholders(template_text)
    missing = sorted(used - values.keys())
    if missing:
        raise RenderError(f"no value for placeholder(s): {', '.join(missing)}")
    unknown = sorted(values.keys() - used)
    if unknown:
        raise RenderError(f"value(s) for unknown placeholder(s): {', '.join(unknown)}")

    def substitute(match: re.Match[str]) -> str:
        # json.dumps gives the escaped string with its quotes: strip them, it goes inside one.
        return json.dumps(str(values[match.group(1)]))[1:-1]

    rendered = PLACEHOLDER.sub(substitute, template_text)
    leftover = [m.group(0) for m in _ANY_PLACEHOLDER.finditer(PLACEHOLDER.sub("", template_text))]
    if leftover:
        raise RenderError(f"malformed placeholder(s): {', '.join(sorted(set(leftover)))}")
    try:
        json.loads(rendered)
    except json.JSONDecodeError as error:
        raise RenderError(f"rendered definition is not valid JSON: {error}") from error
    return rendered


def render_file(name: str, values: Mapping[str, str]) -> str:
    """Render ``state_machines/<name>.asl.json``."""
    return render((STATE_MACHINES / f"{name}.asl.json").read_text(), values)
