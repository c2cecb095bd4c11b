"""The AWS-compatible HTTP endpoint: moto's server app, configured to execute state machines.

moto serves S3, DynamoDB, IAM, CloudWatch Logs, the Lambda and ECS control planes and Step Functions.
Its Step Functions interpreter calls service integrations back through this same endpoint (moto reads
the port from ``MOTO_PORT``), so the endpoint must be up, and ``MOTO_PORT`` set, before any execution.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

LOG = logging.getLogger(__name__)


def configure_moto() -> None:
    """Turn on the moto behaviour the local cloud relies on. Idempotent."""
    from moto.core.config import default_user_config

    # Step Functions: run the real interpreter instead of moto's canned execution records.
    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True
    # Lambda: never reach for Docker; perflab.local.lambda_runtime runs invocations.
    default_user_config.setdefault("lambda", {})["use_docker"] = False
    # werkzeug logs one line per request: far too much at 100-way fan-out.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


@dataclass
class Endpoint:
    """moto's WSGI app served by a threaded werkzeug server on ``host:port`` (port 0 picks one)."""

    host: str = "127.0.0.1"
    port: int = 4566

    def __post_init__(self) -> None:
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        configure_moto()
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            self.host, self.port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self.port = int(self._server.server_address[1])
        # moto's Step Functions interpreter calls integrations at http://localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="perflab-endpoint", daemon=True
        )
        self._thread.start()
        LOG.info("endpoint listening on %s", self.url)
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
