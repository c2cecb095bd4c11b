"""perflab command line: ``perflab local up|down|status`` and ``perflab smoke``.

Exit codes: 0 success, 1 the work ran and failed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perflab.local.stack import (
    DEFAULT_API_PORT,
    DEFAULT_PORT,
    DEFAULT_REGION,
    LocalCloudConfig,
    LocalCloudInfo,
    default_ecs_mode,
    default_lambda_mode,
)

if TYPE_CHECKING:
    from perflab.bench import BenchPlan
    from perflab.config import Settings

LAMBDA_MODES = ("forkserver", "spawn")
ECS_MODES = ("forkserver", "spawn")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--port must be an integer 0-65535, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"--port must be 0-65535 (0 picks a free port), got {value}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from perflab.faults import FAULTS

    parser = argparse.ArgumentParser(prog="perflab", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    local = sub.add_parser("local", help="the local cloud: one AWS-compatible endpoint")
    local_sub = local.add_subparsers(dest="local_command", required=True)

    up = local_sub.add_parser("up", help="start the local cloud (foreground unless --detach)")
    up.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    up.add_argument("--port", type=_port, default=DEFAULT_PORT, help="port (default 4566; 0 = any)")
    up.add_argument("--region", default=DEFAULT_REGION)
    up.add_argument("--state-dir", type=Path, help="directory the stack owns (default .perflab/local)")
    up.add_argument("--detach", action="store_true", help="run in the background; stop with `down`")
    up.add_argument("--no-database", action="store_true", help="do not start PostgreSQL")
    up.add_argument("--database-url", help="use this PostgreSQL instead of starting one")
    up.add_argument(
        "--postgres-max-connections",
        type=_positive_int,
        default=300,
        help="max_connections of the local PostgreSQL (mimic an RDS instance class; default 300)",
    )
    up.add_argument(
        "--lambda-mode",
        choices=LAMBDA_MODES,
        default=default_lambda_mode(),
        help="how Lambda environments start: forkserver (preloaded, default on few cores) or spawn",
    )
    up.add_argument(
        "--ecs-mode",
        choices=ECS_MODES,
        default=default_ecs_mode(),
        help="how ECS Python tasks start: forkserver (forked from a preloaded process, default on "
        "few cores) or spawn (a fresh interpreter each)",
    )
    up.add_argument(
        "--api-port",
        type=_port,
        help=f"port of the API Gateway stand-in (default {DEFAULT_API_PORT}; 0 = any; any when --port is 0)",
    )
    up.add_argument(
        "--no-deploy",
        action="store_true",
        help="start the bare local cloud without deploying perflab's workload and API into it",
    )
    up.add_argument("--ready-fd", type=int, help=argparse.SUPPRESS)

    down = local_sub.add_parser("down", help="stop a detached local cloud")
    down.add_argument("--state-dir", type=Path)
    status = local_sub.add_parser("status", help="show the detached local cloud, if any")
    status.add_argument("--state-dir", type=Path)
    patches = local_sub.add_parser("patches", help="list the moto compat patches and what they touch")
    patches.add_argument("--markdown", action="store_true", help="as a Markdown table")

    bench = sub.add_parser(
        "bench",
        help="run the benchmark: deploy, seed, fan out, write summary.json / invocations.csv / report.md",
    )
    bench.add_argument("--compute", choices=("lambda", "ecs", "all"), default="all")
    bench.add_argument("--storage", choices=("s3", "rds", "all"), default="all")
    bench.add_argument("--invocations", type=_positive_int, default=100, help="per run (default 100)")
    bench.add_argument(
        "--artifact-bytes",
        type=_positive_int,
        default=24_800_000,
        help="size of the seeded Tiny-LLM artifact in bytes (default 24,800,000 = 24.8 MB)",
    )
    bench.add_argument("--repeat", type=_positive_int, default=1, help="runs per configuration")
    bench.add_argument("--out", type=Path, default=Path("reports/latest"), help="result directory")
    bench.add_argument(
        "--endpoint", help="an already running cloud's endpoint (default: start the local cloud)"
    )
    bench.add_argument(
        "--api-url",
        help="run through a deployed trigger API instead (e.g. on AWS; token from PERFLAB_API_TOKEN; "
        "deploys and seeds nothing)",
    )
    bench.add_argument("--label", help="a label stored with every run")
    bench.add_argument(
        "--inject",
        metavar="FAULT[:EVERY]",
        help="run with a fault injected, for demonstration (hits every invocation whose index is a "
        f"multiple of EVERY, default 1): {', '.join(FAULTS)} (README: Faults)",
    )
    bench.add_argument("--rds-layout", choices=("chunks", "large_object"), help="RDS artifact layout")
    bench.add_argument(
        "--s3-range-parts", type=int, help="parallel ranged GETs per S3 download (0 = one GET)"
    )

    inspect = sub.add_parser("inspect", help="a run's execution, map run, slowest and failed invocations")
    inspect.add_argument("run", help="run id or execution ARN")
    inspect.add_argument("--endpoint", help="AWS endpoint (default: $AWS_ENDPOINT_URL, else AWS)")
    inspect.add_argument("--slowest", type=_positive_int, default=5)

    report = sub.add_parser("report", help="build report.md and plots from one or more result directories")
    report.add_argument("results", nargs="*", type=Path, default=[Path("reports/latest")], help="result dirs")
    report.add_argument(
        "--out", type=Path, help="where to write (default: the result directory; required with several)"
    )
    report.add_argument(
        "--performance",
        type=Path,
        metavar="PATH",
        help="also write the performance report (e.g. reports/PERFORMANCE_REPORT.md) from the result dirs",
    )

    seed = sub.add_parser("seed", help="seed the model registry and the Tiny-LLM artifact (idempotent)")
    seed.add_argument("--artifact-bytes", type=_positive_int, default=24_800_000)
    seed.add_argument("--artifact", type=Path, help="seed this file instead of generated bytes")
    seed.add_argument("--endpoint", help="AWS endpoint (default: $AWS_ENDPOINT_URL, else AWS)")

    smoke = sub.add_parser(
        "smoke",
        help="local-cloud smoke benchmark: 100-way fan-out of a trivial Lambda and ECS task",
    )
    smoke.add_argument("--invocations", type=_positive_int, default=100)
    smoke.add_argument("--compute", choices=("lambda", "ecs", "all"), default="all")
    smoke.add_argument("--out", type=Path, help="write the figures as JSON here")

    package = sub.add_parser(
        "package", help="build the Lambda zips and the ECS image context for AWS, with their manifest"
    )
    package.add_argument("--arch", choices=("x86_64", "arm64"), default="x86_64", help="Lambda architecture")
    package.add_argument("--out", type=Path, default=Path("build/package"), help="output directory")
    package.add_argument(
        "--image-repository", help="ECR repository URI: writes task_image = URI:ctx-<digest> into the tfvars"
    )
    from perflab.perf.command import add_parser as add_perf_parser

    add_perf_parser(sub, _positive_int)
    return parser


def _local(args: argparse.Namespace) -> int:
    from perflab.local import process

    if args.local_command == "up":
        config = LocalCloudConfig(
            host=args.host,
            port=args.port,
            region=args.region,
            state_dir=args.state_dir,
            database=not args.no_database,
            database_url=args.database_url,
            postgres_max_connections=args.postgres_max_connections,
            lambda_mode=args.lambda_mode,
            ecs_mode=args.ecs_mode,
            api_port=_api_port(args),
        )
        if config.state_dir is None:
            config.state_dir = process.DEFAULT_STATE_DIR
        config.state_dir = config.state_dir.resolve()
        token = _api_token(config.state_dir)
        if token is None:
            return 2
        from perflab import redaction

        redaction.register(token)
        exports = {"PERFLAB_API_TOKEN": token}
        # A stack started for someone else (--ready-fd: tests, bench, --detach's child) is bare.
        deploy_into = None if (args.no_deploy or args.ready_fd is not None) else token
        if args.detach:
            info = process.detach(config)
            print(f"perflab local cloud running in the background (pid {info.pid})")
            print(f"endpoint: {info.endpoint_url}")
            if deploy_into is not None:
                _deploy_perflab(info, deploy_into)
            for line in process.export_lines(info):
                print(line)
            for key, value in exports.items():
                print(f"export {key}={value}")
            return 0

        def on_ready(info: LocalCloudInfo) -> None:
            if deploy_into is not None:
                _deploy_perflab(info, deploy_into)

        return process.serve_forever(config, args.ready_fd, sys.stdout, exports, on_ready)
    if args.local_command == "down":
        stopped = process.down(args.state_dir)
        print("stopped" if stopped else "no local cloud running")
        return 0
    if args.local_command == "patches":
        return _print_patches(markdown=args.markdown)
    running = process.read_state((args.state_dir or process.DEFAULT_STATE_DIR).resolve())
    if running is None:
        print("no local cloud running")
        return 1
    print(f"running: pid {running.pid}, {running.endpoint_url}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from perflab.bench import COMPUTES, STORAGES, BenchPlan, run_bench, validate_plan
    from perflab.config import ConfigError, InvalidRequest

    options: dict[str, object] = {}
    if args.rds_layout:
        options["rds_layout"] = args.rds_layout
    if args.s3_range_parts is not None:
        options["s3_range_parts"] = args.s3_range_parts
    plan = BenchPlan(
        computes=COMPUTES if args.compute == "all" else (args.compute,),
        storages=STORAGES if args.storage == "all" else (args.storage,),
        invocations=args.invocations,
        artifact_bytes=args.artifact_bytes,
        repeat=args.repeat,
        out=args.out,
        endpoint=args.endpoint,
        api_url=args.api_url,
        label=args.label,
        options=options,
        inject=args.inject,
    )
    if args.api_url and args.endpoint:
        print("perflab bench: --api-url and --endpoint exclude each other", file=sys.stderr)
        return 2
    try:
        validate_plan(plan)
    except ConfigError as exc:
        print(f"perflab bench: invalid settings: {exc}", file=sys.stderr)
        return 2
    except InvalidRequest as exc:
        print(f"perflab bench: {exc}", file=sys.stderr)
        return 2
    if args.api_url:
        return _bench_api(plan)
    return run_bench(plan)


def _bench_api(plan: BenchPlan) -> int:
    """``perflab bench --api-url``: API refusals and an unreachable API end the command with a message."""
    from perflab.api_client import ApiCallError, api_auth
    from perflab.bench import run_bench

    settings = _settings_or_none()
    if settings is None:
        return 2
    try:
        auth = api_auth()
    except ValueError as exc:
        print(f"perflab bench: {exc}", file=sys.stderr)
        return 2
    if auth == "token" and settings.api_token is None:
        print(
            "perflab bench: --api-url needs PERFLAB_API_TOKEN (the API's bearer token), "
            "or PERFLAB_API_AUTH=iam to sign requests with your AWS credentials",
            file=sys.stderr,
        )
        return 2
    try:
        return run_bench(plan)
    except ApiCallError as exc:
        print(f"perflab bench: the API refused: {exc}", file=sys.stderr)
        return 2 if exc.status in (400, 401, 403, 404, 413, 415) else 1
    except OSError as exc:
        print(f"perflab bench: cannot reach {plan.api_url}: {exc}", file=sys.stderr)
        return 1


def _settings_or_none() -> Settings | None:
    """perflab's settings, or None after saying which field is wrong (callers exit 2)."""
    from perflab.config import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError as exc:
        print(f"perflab: invalid settings: {exc}", file=sys.stderr)
        return None


def _aws_clients(endpoint: str | None, region: str) -> Callable[[str], Any]:
    """Clients for ``endpoint`` (else ``$AWS_ENDPOINT_URL``), or for AWS itself when neither is set."""
    import os

    import boto3

    from perflab.local.clients import LocalClients

    endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        return LocalClients(endpoint, region)
    return lambda service: boto3.client(service, region_name=region)


def _inspect(args: argparse.Namespace) -> int:
    from botocore.exceptions import ClientError, EndpointConnectionError

    from perflab.deploy import task_log_group
    from perflab.inspect import inspect_run

    settings = _settings_or_none()
    if settings is None:
        return 2
    clients = _aws_clients(args.endpoint, settings.region)
    try:
        return inspect_run(
            clients,
            args.run,
            runs_table=settings.runs_table,
            invocations_table=settings.invocations_table,
            task_log_group=task_log_group(),
            slowest=args.slowest,
        )
    except LookupError as exc:
        print(f"perflab inspect: {exc}", file=sys.stderr)
        return 2
    except EndpointConnectionError as exc:
        where = args.endpoint or "AWS"
        print(f"perflab inspect: cannot reach {where}: {exc} (is the local cloud up?)", file=sys.stderr)
        return 2
    except ClientError as exc:
        error = exc.response.get("Error", {})
        print(f"perflab inspect: {error.get('Code')}: {error.get('Message')}", file=sys.stderr)
        return 2


def _report(args: argparse.Namespace) -> int:
    from perflab.report.build import build_report

    for directory in args.results:
        if not (directory / "summary.json").is_file() or not (directory / "invocations.csv").is_file():
            print(f"perflab report: {directory}: no summary.json and invocations.csv there", file=sys.stderr)
            return 2
    if len(args.results) > 1 and args.out is None:
        # The merged result must not overwrite the first input directory (a second report would count
        # the other directories' runs twice).
        print(
            "perflab report: several result directories need --out DIR for the merged result", file=sys.stderr
        )
        return 2
    out = args.out or args.results[0]
    path = build_report(args.results, out)
    print(f"wrote {path}")
    if args.performance is not None:
        from perflab.report.performance import build_performance_report

        # From the merged result build_report just wrote: every run exactly once.
        print(f"wrote {build_performance_report([out], args.performance)}")
    return 0


def _seed(args: argparse.Namespace) -> int:
    from perflab.seed import seed

    settings = _settings_or_none()
    if settings is None:
        return 2
    if args.artifact is not None and not args.artifact.is_file():
        print(f"perflab: --artifact: no such file: {args.artifact}", file=sys.stderr)
        return 2
    if settings.database_url is None:
        print("perflab: PERFLAB_DATABASE_URL is not set (where is the registry?)", file=sys.stderr)
        return 2
    s3 = _aws_clients(args.endpoint, settings.region)("s3")
    ref = seed(settings, s3, settings.database_url.get_secret_value(), args.artifact_bytes, args.artifact)
    print(f"seeded {ref.model_id} {ref.version}: {ref.size:,} bytes, sha256 {ref.sha256}")
    return 0


def _deploy_perflab(info: LocalCloudInfo, token: str) -> None:
    """Deploy perflab's workload and API into a freshly started local cloud (idempotent)."""
    from perflab import redaction
    from perflab.config import load_settings
    from perflab.deploy import deploy
    from perflab.local.clients import LocalClients

    redaction.register_url(info.database_url)
    try:
        deployment = deploy(
            LocalClients(info.endpoint_url, info.region), load_settings(), info.database_url, api_token=token
        )
    except Exception as exc:  # the stack stays up: a user can fix the settings and redeploy
        print(f"perflab: deploying the workload failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return
    print(f"perflab deployed: {deployment.state_machine_arn}")


def _api_port(args: argparse.Namespace) -> int:
    if args.api_port is not None:
        return int(args.api_port)
    return 0 if args.port == 0 else DEFAULT_API_PORT


def _api_token(state_dir: Path) -> str | None:
    """perflab's API token for this stack (``PERFLAB_API_TOKEN``, else stored in the state dir)."""
    from perflab.deploy_api import resolve_api_token

    settings = _settings_or_none()
    if settings is None:
        return None
    return resolve_api_token(settings, state_dir)


def _print_patches(markdown: bool) -> int:
    from perflab.local import compat

    patches = compat.discover()
    if markdown:
        print("| patch | gap | moto internals touched |")
        print("|---|---|---|")
        for p in patches:
            touched = "<br>".join(f"`{t}`" for t in p.touches)
            print(f"| `{p.name}` | {p.gap} | {touched} |")
        return 0
    print(f"moto {compat.moto_version()} (patches written against {compat.PATCHED_MOTO_VERSION})")
    for p in patches:
        print(f"{p.name}: {p.gap}")
        for t in p.touches:
            print(f"    touches {t}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from perflab import redaction

    redaction.install()  # no token or password in any log line, whatever logs it (perflab.redaction)
    if args.command == "local":
        return _local(args)
    if args.command == "bench":
        return _bench(args)
    if args.command == "inspect":
        return _inspect(args)
    if args.command == "report":
        return _report(args)
    if args.command == "seed":
        return _seed(args)
    if args.command == "smoke":
        from perflab.local.smoke import run_smoke

        return run_smoke(args.invocations, args.compute, args.out)
    if args.command == "perf":
        from perflab.perf.command import run_command

        return run_command(args)
    if args.command == "package":
        from perflab.package import PackageError, build_package

        try:
            build_package(args.out, args.arch, image_repository=args.image_repository, log=print)
        except PackageError as exc:
            print(f"perflab package: {exc}", file=sys.stderr)
            return 1
        return 0
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
