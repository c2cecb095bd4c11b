"""Download task (ECS/Fargate): one invocation of the workload, then exit.

Thin: parse the environment the state machine's container overrides set, call
:func:`perflab.invocation.run`, exit. Exit code 0 means the download succeeded and its record is
written; 1 means it failed and its failure record is written (``runTask.sync`` then fails the
state, and the state machine's own failure record for the item is a no-op: first write wins). An
exception (the record could not be written) also exits 1, with a traceback in the task's log; the
state machine then writes the failure record.
"""

from __future__ import annotations

import os
import sys

from perflab import invocation
from perflab.observability import logger, metrics


def main() -> int:
    event = invocation.DownloadEvent.from_environ(os.environ)
    try:
        outcome = invocation.run(event, invocation.ecs_environment_id())
    finally:
        metrics.flush_metrics()
    if not outcome.ok:
        logger.error("download failed", extra={"error_type": outcome.error_type})
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
