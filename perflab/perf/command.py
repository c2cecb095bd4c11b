"""The ``perflab perf`` sub-command: its arguments and the call into :func:`perflab.perf.run.run_perf`.

Kept here (light imports only) so ``perflab/cli.py`` needs two lines for it. Exit codes: 0 every
measured download succeeded, 1 some failed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEFAULT_CONCURRENCY = (1, 10, 100)
DEFAULT_SCALING_INVOCATIONS = (10, 100, 1000)
DEFAULT_SCALING_BYTES = (1_000_000, 24_800_000, 100_000_000)
#: ``--quick`` leaves out scaling points above these (the 1,000-invocation and 100 MB runs).
QUICK_MAX_INVOCATIONS = 100
QUICK_MAX_BYTES = 25_000_000


def int_list(positive_int: Callable[[str], int]) -> Callable[[str], tuple[int, ...]]:
    """An argparse type: ``"1,10,100"`` -> ``(1, 10, 100)``, each a positive integer; ``""`` -> ``()``."""

    def parse(text: str) -> tuple[int, ...]:
        return tuple(positive_int(item.strip()) for item in text.split(",") if item.strip())

    return parse


def names(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


def add_parser(sub: Any, positive_int: Callable[[str], int]) -> None:
    """Add ``perf`` to the CLI's sub-parsers (``positive_int``: the CLI's argparse type)."""
    ints = int_list(positive_int)
    perf = sub.add_parser(
        "perf",
        help="perflab's own performance: loopback reference, data path, pipeline, scaling -> reports/perf/",
    )
    perf.add_argument("--out", type=Path, default=Path("reports/perf"), help="result directory")
    perf.add_argument(
        "--concurrency", type=ints, default=DEFAULT_CONCURRENCY, help="data-path levels (1,10,100)"
    )
    perf.add_argument("--rounds", type=positive_int, default=3, help="rounds per data-path level (3)")
    perf.add_argument(
        "--artifact-bytes", type=positive_int, default=24_800_000, help="artifact size (24.8 MB)"
    )
    perf.add_argument(
        "--invocations", type=positive_int, default=100, help="invocations per pipeline run (100)"
    )
    perf.add_argument(
        "--layouts",
        default="s3,rds_chunks,rds_large_object",
        help="data-path layouts, comma-separated ('' none)",
    )
    perf.add_argument(
        "--configurations",
        default="lambda-s3,lambda-rds,ecs-s3,ecs-rds",
        help="pipeline configurations, comma-separated ('' none)",
    )
    perf.add_argument(
        "--scaling-configuration", default="lambda-rds", help="the scaling series' configuration"
    )
    perf.add_argument(
        "--scaling-invocations", type=ints, default=DEFAULT_SCALING_INVOCATIONS, help="N series ('' none)"
    )
    perf.add_argument(
        "--scaling-artifact-bytes",
        type=ints,
        default=DEFAULT_SCALING_BYTES,
        help="artifact-size series, each at --invocations ('' none)",
    )
    perf.add_argument("--quick", action="store_true", help="leave out the 1,000-invocation and 100 MB points")
    perf.add_argument("--no-reference", action="store_true", help="skip the loopback reference")
    perf.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the local cloud and one client in each CPU-budget window -> OUT/profile.md",
    )


def plan_from_args(args: argparse.Namespace) -> Any:
    from perflab.perf.run import PerfPlan

    quick = bool(args.quick)
    return PerfPlan(
        out=args.out,
        concurrencies=tuple(args.concurrency),
        rounds=args.rounds,
        artifact_bytes=args.artifact_bytes,
        invocations=args.invocations,
        layouts=names(args.layouts),
        configurations=names(args.configurations),
        scaling_configuration=args.scaling_configuration.strip(),
        scaling_invocations=tuple(
            n for n in args.scaling_invocations if not (quick and n > QUICK_MAX_INVOCATIONS)
        ),
        scaling_artifact_bytes=tuple(
            b for b in args.scaling_artifact_bytes if not (quick and b > QUICK_MAX_BYTES)
        ),
        reference=not args.no_reference,
        profile=bool(args.profile),
    )


def run_command(args: argparse.Namespace) -> int:
    from perflab.config import ConfigError
    from perflab.perf.run import run_perf, validate

    plan = plan_from_args(args)
    try:
        validate(plan)
    except (ValueError, ConfigError) as exc:
        print(f"perflab perf: {exc}", file=sys.stderr)
        return 2
    return run_perf(plan)
