"""Accept ``"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}``.

The gap: moto's ASL grammar knows only ``"STANDARD"`` as an ``ExecutionType`` (there is no EXPRESS
token; ``"EXPRESS"`` lexes as a plain string), so ``CreateStateMachine`` rejects every Distributed
Map with Express children, a definition AWS accepts.

The fix: a lexer token rule turns the string ``"EXPRESS"`` that is the value of ``ExecutionType``
inside a ``ProcessorConfig`` object into the token the grammar expects there. Nothing else in the
definition is affected, and the stored definition is unchanged.

Local semantics (a documented difference from AWS): the children of an EXPRESS Distributed Map run
exactly like STANDARD children locally: same interpreter, same per-item child executions and
history, and no enforcement of Express limits (5-minute duration, no ``.sync`` or
``.waitForTaskToken`` integrations, at-least-once semantics). Workflows that rely on those limits
being enforced must be tested on AWS.
"""

from __future__ import annotations

from typing import Any

from perflab.local.compat import CompatPatch
from perflab.local.compat.sfn_map_support import (
    asl_syntax_errors,
    install_token_rule,
    token_rule_installed,
    token_types,
)

NAME = "sfn_map_express_processor"

_PROBE = """{
  "StartAt": "M",
  "States": {"M": {"Type": "Map",
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
      "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
    "End": true}}
}"""


def needed() -> bool:
    try:
        from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer

        ASLLexer.EXECUTIONTYPE, ASLLexer.STANDARD, ASLLexer.PROCESSORCONFIG  # noqa: B018
    except (ImportError, AttributeError):
        return False
    return not token_rule_installed(NAME) and bool(asl_syntax_errors(_PROBE))


def express_rule() -> Any:
    from moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer import ASLLexer

    def rule(state: dict[str, Any], recent: list[Any], token: Any) -> None:
        if token.type == ASLLexer.LBRACE and token_types(recent, 2) == [
            ASLLexer.PROCESSORCONFIG,
            ASLLexer.COLON,
        ]:
            state["inside"] = True
        elif token.type == ASLLexer.RBRACE:
            state["inside"] = False
        elif (
            state.get("inside")
            and token.type == ASLLexer.STRING
            and token.text == '"EXPRESS"'
            and token_types(recent, 2) == [ASLLexer.EXECUTIONTYPE, ASLLexer.COLON]
        ):
            # The grammar's only execution type; see the module docstring for what it means here.
            token.type = ASLLexer.STANDARD

    return rule


def apply() -> None:
    install_token_rule(NAME, express_rule())


PATCH = CompatPatch(
    name=NAME,
    gap="ProcessorConfig.ExecutionType EXPRESS is rejected by the ASL parser",
    touches=(
        "moto.stepfunctions.parser.asl.antlr.runtime.ASLLexer.ASLLexer.nextToken",
        "moto.stepfunctions.parser.asl.antlr.runtime.ASLParser.ASLParser",
        "moto.stepfunctions.parser.asl.parse.asl_parser.SyntaxErrorListener",
        "moto.stepfunctions.parser.asl.component.state.exec.state_map.execution_type.ExecutionType",
    ),
    needed=needed,
    apply=apply,
)
