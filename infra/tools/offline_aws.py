"""The two AWS calls an offline ``terraform plan`` of perflab makes, served on 127.0.0.1.

``make infra-check`` points the AWS provider (``aws_endpoint_url``) at this server:

- **STS GetCallerIdentity** (``data.aws_caller_identity``): a fixed test account, so ARNs built from it,
  and the IAM policies that name them, are known at plan time;
- **Step Functions ValidateStateMachineDefinition**, which the AWS provider (>= 5.67) calls during plan
  for every state machine whose definition is known. It is validated for real: the structural checks of
  :mod:`asl_structure` (targets exist, states reachable, Next/End, Distributed Map fields) and, when
  moto is importable (the project's ``.venv``), moto's ASL parser, the one that executes the definition
  on the local cloud, with perflab's compat patches. moto 5.2.5's own server does not route this
  operation, hence this server.

Any other call is answered with an error and logged, so a plan that needs more of AWS fails loudly.
Every request is logged as one JSON line (``--log``). ``--validate FILE`` checks one definition file
the same way and exits 1 when it is invalid.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

sys.path.insert(0, str(Path(__file__).resolve().parent))

from asl_structure import problems  # a sibling module of this script

ACCOUNT_ID = "123456789012"
_MOTO_LOCK = threading.Lock()  # moto's ASL parser keeps class-level state


def _moto_analyser() -> Any | None:
    """moto's static analyser with perflab's compat patches applied (the parser the local cloud runs),
    or None outside the project's environment: without the patches the pinned moto's grammar rejects
    valid ASL (an integer ``ToleratedFailurePercentage``)."""
    try:
        from moto.stepfunctions.parser.asl.static_analyser.static_analyser import StaticAnalyser

        from perflab.local.compat import apply_all
    except ImportError:
        return None
    apply_all()
    logging.getLogger("moto").setLevel(logging.ERROR)  # "declarations have no effect" notices
    return StaticAnalyser


def validate(definition: str, analyser: Any | None) -> dict[str, Any]:
    """A ValidateStateMachineDefinition answer for ``definition``."""
    diagnostics = [
        {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": message, "location": location}
        for location, message in problems(definition)
    ]
    if analyser is not None:
        with _MOTO_LOCK:
            try:
                analyser().analyse(definition)
            except Exception as error:  # the parser raises many types; each is a finding
                message = " ".join(str(error).split())[:1000]
                diagnostics.append(
                    {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": message}
                )
    return {"result": "FAIL" if diagnostics else "OK", "diagnostics": diagnostics, "truncated": False}


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: requests go to the JSON log
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        if target == "AWSStepFunctions.ValidateStateMachineDefinition":
            request = json.loads(body or b"{}")
            answer = validate(str(request.get("definition", "")), self.server.analyser)
            self.server.record(
                {"operation": "ValidateStateMachineDefinition", "type": request.get("type"), **answer}
            )
            self._send(200, "application/x-amz-json-1.0", json.dumps(answer).encode())
            return
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        if action == "GetCallerIdentity":
            self.server.record({"operation": "GetCallerIdentity"})
            self._send(200, "text/xml", _caller_identity().encode())
            return
        operation = target or action or self.path
        self.server.record({"operation": operation, "unexpected": True})
        error = {"__type": "UnknownOperationException", "message": f"offline stub: {operation} is not served"}
        self._send(400, "application/x-amz-json-1.0", json.dumps(error).encode())

    def _send(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(payload)


def _caller_identity() -> str:
    return (
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<GetCallerIdentityResult>"
        f"<Arn>arn:aws:iam::{ACCOUNT_ID}:user/perflab-infra-check</Arn>"
        "<UserId>AIDAPERFLABINFRACHECK</UserId>"
        f"<Account>{ACCOUNT_ID}</Account>"
        "</GetCallerIdentityResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</GetCallerIdentityResponse>"
    )


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, log: Path | None, analyser: Any | None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.analyser = analyser
        self._log = log
        self._lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        if self._log is None:
            return
        with self._lock, self._log.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, help="append one JSON line per request here")
    parser.add_argument("--port-file", type=Path, help="write the listening port here once serving")
    parser.add_argument("--validate", type=Path, help="validate this definition file and exit")
    parser.add_argument("--no-moto", action="store_true", help="structural checks only")
    args = parser.parse_args(argv)
    analyser = None if args.no_moto else _moto_analyser()
    if args.validate is not None:
        answer = validate(args.validate.read_text(encoding="utf-8"), analyser)
        checks = "structure + moto's ASL parser" if analyser is not None else "structure only"
        for diagnostic in answer["diagnostics"]:
            print(f"  {diagnostic.get('location', '/')}: {diagnostic['message']}")
        print(f"{args.validate}: {answer['result']} ({checks})")
        return 0 if answer["result"] == "OK" else 1
    server = Server(args.log, analyser)
    port = server.server_address[1]
    if args.port_file is not None:
        tmp = args.port_file.with_suffix(".tmp")
        tmp.write_text(str(port), encoding="utf-8")
        tmp.replace(args.port_file)
    print(f"offline AWS stub on http://127.0.0.1:{port} (moto parser: {analyser is not None})", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
