"""``perflab inspect RUN_ID|EXECUTION_ARN``: the Step Functions console's view of a run, in a terminal.

Plain AWS APIs only (Step Functions history and map runs, DynamoDB records, CloudWatch Logs), so it
works the same against the local endpoint and against AWS: the execution's states with their durations,
the Map run's item counts, the slowest and the failed invocations with their errors and a log excerpt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from perflab.history import history, map_run_arns

ClientFactory = Callable[[str], Any]

LAMBDA_LOG_GROUP = "/aws/lambda/{function}"


@dataclass(frozen=True)
class StateSpan:
    name: str
    type: str
    entered: float
    exited: float | None

    @property
    def duration_s(self) -> float | None:
        return None if self.exited is None else self.exited - self.entered


def state_spans(events: list[dict[str, Any]]) -> list[StateSpan]:
    """Pair each ``…StateEntered`` with the next ``…StateExited`` of the same state name."""
    open_states: dict[str, tuple[str, float]] = {}
    spans: list[StateSpan] = []
    for event in events:
        kind = str(event["type"])
        at = event["timestamp"].timestamp()
        if kind.endswith("StateEntered"):
            name = event.get("stateEnteredEventDetails", {}).get("name", "?")
            open_states[name] = (kind.removesuffix("StateEntered"), at)
        elif kind.endswith("StateExited"):
            name = event.get("stateExitedEventDetails", {}).get("name", "?")
            if name in open_states:
                state_type, entered = open_states.pop(name)
                spans.append(StateSpan(name, state_type, entered, at))
    spans += [StateSpan(name, t, entered, None) for name, (t, entered) in open_states.items()]
    return sorted(spans, key=lambda s: s.entered)


def resolve_execution(clients: ClientFactory, ref: str, runs_table: str) -> tuple[str, str | None]:
    """(execution ARN, run id) for a run id (looked up in the runs table) or an execution ARN."""
    if ref.startswith("arn:"):
        return ref, ref.rsplit(":", 1)[-1]
    item = clients("dynamodb").get_item(TableName=runs_table, Key={"run_id": {"S": ref}}).get("Item")
    if not item or "execution_arn" not in item:
        raise LookupError(f"no run {ref!r} in table {runs_table} (pass an execution ARN instead)")
    return str(item["execution_arn"]["S"]), ref


def log_excerpt(
    clients: ClientFactory, record: dict[str, Any], log_group_for_task: str | None, lines: int = 6
) -> list[str]:
    """The last log lines of the invocation's environment (Lambda log stream or ECS task stream)."""
    environment = str(record.get("environment_id") or "")
    logs = clients("logs")
    try:
        if record.get("compute") == "lambda" and "#" in environment:
            stream, request_id = environment.split("#", 1)
            function = str(record.get("function") or "")
            groups = [LAMBDA_LOG_GROUP.format(function=function)] if function else []
            if not groups:
                groups = [
                    g["logGroupName"]
                    for g in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
                ]
            for group in groups:
                try:
                    events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
                except logs.exceptions.ResourceNotFoundException:
                    continue
                text = [e["message"].rstrip() for e in events["events"]]
                mine = [t for t in text if request_id in t] or text
                return mine[-lines:]
        if record.get("compute") == "ecs" and log_group_for_task and ":task/" in environment:
            task_id = environment.rsplit("/", 1)[-1]
            streams = logs.describe_log_streams(logGroupName=log_group_for_task)["logStreams"]
            for stream in streams:
                if stream["logStreamName"].endswith(task_id):
                    events = logs.get_log_events(
                        logGroupName=log_group_for_task,
                        logStreamName=stream["logStreamName"],
                        startFromHead=True,
                    )
                    return [e["message"].rstrip() for e in events["events"]][-lines:]
    except Exception as exc:  # an excerpt is a courtesy: say why it is missing, never fail the view
        return [f"(no log excerpt: {type(exc).__name__}: {exc})"]
    return []


def inspect_run(
    clients: ClientFactory,
    ref: str,
    *,
    runs_table: str,
    invocations_table: str,
    task_log_group: str | None = None,
    slowest: int = 5,
    out: Callable[[str], None] = print,
) -> int:
    """Print the view; return 0 when the execution succeeded with no failed invocation, else 1."""
    from perflab.results import ResultsStore

    sfn = clients("stepfunctions")
    execution_arn, run_id = resolve_execution(clients, ref, runs_table)
    described = sfn.describe_execution(executionArn=execution_arn)
    out(f"execution {execution_arn}")
    stop = described.get("stopDate")
    wall = f"{(stop - described['startDate']).total_seconds():.2f} s" if stop else "running"
    out(f"  status {described['status']}, {wall}")
    if described.get("error"):
        out(f"  error {described['error']}: {str(described.get('cause', ''))[:300]}")
    events = list(history(sfn, execution_arn))
    out("")
    out(f"{'state':<28} {'type':<10} {'duration':>10}")
    for span in state_spans(events):
        duration = "running" if span.duration_s is None else f"{span.duration_s:.2f} s"
        out(f"{span.name:<28} {span.type:<10} {duration:>10}")
    for map_run_arn in map_run_arns(sfn, execution_arn):
        counts = sfn.describe_map_run(mapRunArn=map_run_arn).get("itemCounts", {})
        out("")
        out(
            f"map run (orchestration: an item whose failure was caught and recorded succeeded): "
            f"{counts.get('total', 0)} items: {counts.get('succeeded', 0)} succeeded, "
            f"{counts.get('failed', 0)} failed, {counts.get('running', 0)} running, "
            f"{counts.get('pending', 0)} pending"
        )
    if run_id is None:
        return 0 if described["status"] == "SUCCEEDED" else 1
    store = ResultsStore(clients("dynamodb"), invocations_table, runs_table)
    records = store.invocation_items(run_id)
    ok = [r for r in records if not r.get("error_type")]
    failed = [r for r in records if r.get("error_type")]
    out("")
    out(f"invocations recorded: {len(records)} ({len(ok)} ok, {len(failed)} failed)")
    if ok:
        out(f"slowest {min(slowest, len(ok))}:")
        for r in sorted(ok, key=lambda r: -float(r.get("latency_ms") or 0))[:slowest]:
            out(
                f"  #{r['index']:<4} {float(r.get('latency_ms') or 0):>10.1f} ms  ttfb "
                f"{float(r.get('ttfb_ms') or 0):.1f} ms  {'cold' if r.get('cold_start') else 'warm'}  "
                f"{r.get('environment_id', '')}"
            )
    for r in failed[:20]:
        out(f"  FAILED #{r['index']}: {r.get('error_type')}: {str(r.get('error_message') or '')[:200]}")
        for line in log_excerpt(clients, r, task_log_group):
            out(f"      | {line[:200]}")
    if len(failed) > 20:
        out(f"  … and {len(failed) - 20} more failed")
    return 0 if described["status"] == "SUCCEEDED" and not failed else 1
