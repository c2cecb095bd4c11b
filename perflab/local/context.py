"""What every local-cloud component needs to know about the stack it runs in."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: Dummy credentials: the local endpoint accepts any, and boto3 refuses to sign without some.
DUMMY_ACCESS_KEY_ID = "perflab-local"
DUMMY_SECRET_ACCESS_KEY = "perflab-local-secret"
DEFAULT_ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class StackContext:
    """Shared facts about one running local cloud.

    ``image_commands`` maps a container image (as named in a task definition) to the local command
    that stands for it; a task whose image is not mapped runs its container definition's
    ``entryPoint`` + ``command`` as given, with ``python`` resolved to :attr:`python`.
    """

    endpoint_url: str
    region: str
    state_dir: Path
    python: str = sys.executable
    lambda_mode: str = "forkserver"
    #: How the ECS agent starts Python task commands: ``forkserver`` (forked from a preloaded
    #: process) or ``spawn`` (a fresh interpreter each); see :mod:`perflab.local.ecs_agent`.
    ecs_mode: str = "forkserver"
    image_commands: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def worker_env(self) -> dict[str, str]:
        """Environment for Lambda environments and ECS task processes.

        Unmodified boto3 code inside them reaches the local cloud, as SDK code on AWS reaches AWS.
        """
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_ACCESS_KEY,
        }
