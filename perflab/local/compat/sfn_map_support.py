"""Shared plumbing for the ``sfn_map_*`` compat patches (this module defines no ``PATCH``).

Two patches may need to change the same moto method. Rather than rely on the order in which patches
are applied, a method changed here is a *stack*: wrappers (which call what lies beneath them) and at
most one replacement at the bottom (which does not). Adding either keeps the others in place.

The ASL lexer is changed the same way: each patch registers a named token rule, and one wrapper of
``ASLLexer.nextToken`` runs them all, so definitions that moto's grammar rejects only because of a
token's type can be accepted without regenerating the ANTLR parser.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_LOCK = threading.RLock()

#: Attribute on a stacked wrapper: a one-element list holding the function it calls.
_INNER = "__perflab_inner__"
#: Attribute on a stacked wrapper or replacement: the name of the layer it implements.
_LAYER = "__perflab_layer__"

Method = Callable[..., Any]


def _current(cls: Any, attr: str) -> Method:
    method: Method = getattr(cls, attr)
    return method


def wrap_method(cls: Any, attr: str, layer: str, make: Callable[[Method], Method]) -> None:
    """Put ``make(inner)`` on top of ``cls.attr``. ``inner`` is resolved at call time, so a
    replacement installed later (:func:`replace_method`) still runs beneath this wrapper.

    Idempotent per ``layer``.
    """
    with _LOCK:
        if layer in layers(cls, attr):
            return
        cell: list[Method] = [_current(cls, attr)]

        def call_inner(*args: Any, **kwargs: Any) -> Any:
            return cell[0](*args, **kwargs)

        wrapper = make(call_inner)
        setattr(wrapper, _INNER, cell)
        setattr(wrapper, _LAYER, layer)
        setattr(cls, attr, wrapper)


def replace_method(cls: Any, attr: str, layer: str, replacement: Method) -> None:
    """Make ``replacement`` the bottom of ``cls.attr``'s stack, keeping any wrappers above it.

    Idempotent per ``layer``.
    """
    with _LOCK:
        if layer in layers(cls, attr):
            return
        setattr(replacement, _LAYER, layer)
        cell: list[Method] | None = getattr(_current(cls, attr), _INNER, None)
        if cell is None:
            setattr(cls, attr, replacement)
            return
        while (below := getattr(cell[0], _INNER, None)) is not None:
            cell = below
        cell[0] = replacement


def layers(cls: Any, attr: str) -> list[str]:
    """Names of the perflab layers on ``cls.attr``, top first (empty when untouched)."""
    found: list[str] = []
    node: Any = getattr(cls, attr, None)
    while node is not None:
        name = getattr(node, _LAYER, None)
        if name is None:
            break
        found.append(name)
        cell = getattr(node, _INNER, None)
        node = cell[0] if cell is not None else None
    return found


def bottom(cls: Any, attr: str) -> Method:
    """What ``cls.attr`` runs beneath every perflab wrapper: moto's own method or a replacement."""
    node: Method = _current(cls, attr)
    while (cell := getattr(node, _INNER, None)) is not None:
        node = cell[0]
    return node


# --- ASL lexer token rules -----------------------------------------------------------------------

#: ``rule(state, recent, token)``: ``state`` is a dict private to the rule and the lexer instance,
#: ``recent`` the previous tokens (newest last, at most 4), ``token`` the token about to be returned;
#: a rule may change ``token.type``.
TokenRule = Callable[[dict[str, Any], list[Any], Any], None]

_RECENT = 4


def install_token_rule(name: str, rule: TokenRule) -> None:
    """Run ``rule`` on every token moto's ASL lexer produces. Idempotent per ``name``."""
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer

    with _LOCK:
        rules: dict[str, TokenRule] | None = ASLLexer.__dict__.get("_perflab_token_rules")
        if rules is None:
            rules = {}
            original = ASLLexer.nextToken

            def next_token(self: Any) -> Any:
                token = original(self)
                recent: list[Any] = self.__dict__.setdefault("_perflab_recent", [])
                states: dict[str, dict[str, Any]] = self.__dict__.setdefault("_perflab_rule_state", {})
                for rule_name, token_rule in list(rules.items()):
                    token_rule(states.setdefault(rule_name, {}), recent, token)
                recent.append(token)
                if len(recent) > _RECENT:
                    del recent[0]
                return token

            ASLLexer.nextToken = next_token
            ASLLexer._perflab_token_rules = rules
        rules[name] = rule


def token_rule_installed(name: str) -> bool:
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer

    rules = ASLLexer.__dict__.get("_perflab_token_rules") or {}
    return name in rules


def asl_syntax_errors(definition: str) -> list[str]:
    """Syntax errors moto's ASL grammar reports for ``definition`` (empty when it parses)."""
    import importlib

    from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser
    from moto.stepfunctions.parser.asl.parse.asl_parser import SyntaxErrorListener

    antlr4: Any = importlib.import_module("antlr4")  # untyped; imported by name to keep mypy quiet
    listener = SyntaxErrorListener()
    parser = ASLParser(antlr4.CommonTokenStream(ASLLexer(antlr4.InputStream(definition))))
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    parser.state_machine()
    errors: list[str] = list(listener.errors)
    return errors


def token_types(recent: list[Any], count: int) -> list[int]:
    """Types of the last ``count`` tokens in ``recent`` (fewer when there are fewer)."""
    return [int(token.type) for token in recent[-count:]]
