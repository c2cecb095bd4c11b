"""Concurrency and restarts: runs triggered at once stay apart, a repeated idempotency key starts one
execution, and ``perflab local down`` in the middle of runs leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from perflab.config import RunRequest, load_settings
from perflab.deploy import deploy, task_log_group
from perflab.local.clients import LocalClients
from perflab.local.procstats import processes
from perflab.local.stack import LocalCloudInfo
from perflab.seed import seed
from tests.faults.conftest import TOKEN, FaultRun, Workload, check_accounted, wait_until
from tests.local.helpers import wait_for_execution
from tests.local.test_apigateway import Answer, request

pytestmark = pytest.mark.faults


def stop_diagnostics(stderr: str, state: Path) -> str:
    """Why ``local down`` failed: its stderr, the stack's threads when it hung (``stuck-at-stop.txt``,
    written by ``perflab local down``) and the end of the stack's log."""
    parts = [stderr]
    for name, limit in (("stuck-at-stop.txt", 20_000), ("local.log", 4_000)):
        path = state / name
        if path.exists():
            parts.append(f"--- {name}:\n{path.read_text(errors='replace')[-limit:]}")
    return "\n".join(parts)


def post(info: LocalCloudInfo, host: str, body: dict[str, Any], **headers: str) -> Answer:
    return request(
        info,
        "POST",
        "/health/performance/workload",
        json.dumps(body).encode(),
        {"Host": host, "Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}", **headers},
    )


def test_runs_triggered_at_once_stay_isolated(local_cloud: LocalCloudInfo, workload: Workload) -> None:
    """Five runs (every configuration, one twice) and one request sent twice with the same
    Idempotency-Key, all through the API at the same moment: six executions, whose records never mix."""
    workload.redeploy()  # the API named perflab-api answers for this deployment
    host = f"{workload.deployment.api_id}.execute-api.localhost"
    model = {"model_id": workload.ref.model_id, "version": workload.ref.version}
    bodies = [
        {"compute": c, "storage": s, "invocations": n, **model, "label": f"at-once-{i}"}
        for i, (c, s, n) in enumerate(
            [
                ("lambda", "s3", 4),
                ("lambda", "rds", 3),
                ("ecs", "s3", 3),
                ("ecs", "rds", 4),
                ("lambda", "s3", 5),
            ]
        )
    ]
    keyed = {"compute": "ecs", "storage": "s3", "invocations": 2, **model, "label": "keyed"}
    key = f"same-key-{os.getpid()}-{id(bodies)}"
    calls = [(body, {}) for body in bodies] + [(keyed, {"Idempotency-Key": key})] * 2
    with ThreadPoolExecutor(len(calls)) as pool:
        answers = list(pool.map(lambda call: post(local_cloud, host, call[0], **call[1]), calls))

    assert [a.status for a in answers[:5]] == [202] * 5, [a.body for a in answers]
    keyed_answers = answers[5:]
    assert {a.status for a in keyed_answers} <= {200, 202} and 202 in {a.status for a in keyed_answers}
    keyed_run = keyed_answers[0].json()["run_id"]
    assert keyed_answers[1].json()["run_id"] == keyed_run
    sfn = workload.aws("stepfunctions")
    names = Counter(
        e["name"]
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=workload.deployment.state_machine_arn
        )
        for e in page["executions"]
    )
    assert names[keyed_run] == 1  # the same key twice: one execution

    run_ids = [a.json()["run_id"] for a in answers[:5]] + [keyed_run]
    assert len(set(run_ids)) == 6
    requests = {}
    for run_id, body in zip(run_ids, [*bodies, keyed], strict=True):
        requests[run_id] = RunRequest.from_input({**body, "run_id": run_id}, workload.settings)
    runs = []
    for run_id, req in requests.items():
        arn = workload.deployment.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{run_id}"
        execution = wait_for_execution(sfn, arn, timeout=240)
        summary = (workload.store.get_run(run_id) or {}).get("summary") or {}
        run = FaultRun(
            req,
            execution,
            workload.store.invocations(run_id),
            workload.store.invocation_items(run_id),
            summary,
        )
        print(f"\n  {run.describe()}")
        check_accounted(run, set())
        assert len(run.succeeded) == req.invocations
        for record in run.records:
            assert (record.run_id, record.compute, record.storage) == (run_id, req.compute, req.storage)
        runs.append(run)

    # The table as a whole: every item belongs to one of the runs, as many as each requested.
    ddb = workload.aws("dynamodb")
    per_run: Counter[str] = Counter()
    for page in ddb.get_paginator("scan").paginate(TableName=workload.settings.invocations_table):
        for item in page["Items"]:
            if item["run_id"]["S"] in requests:
                per_run[item["run_id"]["S"]] += 1
    assert per_run == {run_id: req.invocations for run_id, req in requests.items()}
    # Every ECS invocation ran in a task of its own, whichever run it belonged to.
    task_arns = [r.environment_id for run in runs if run.request.compute == "ecs" for r in run.records]
    assert (
        len(task_arns)
        == len(set(task_arns))
        == sum(r.invocations for r in requests.values() if r.compute == "ecs")
    )


# --- perflab local down during runs -----------------------------------------------------------------


def perflab(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perflab.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


def exports_of(stdout: str) -> dict[str, str]:
    return dict(
        line.removeprefix("export ").split("=", 1)
        for line in stdout.splitlines()
        if line.startswith("export ")
    )


def session_processes(sid: int) -> list[int]:
    """Live processes of the session ``sid`` (the detached stack starts one: everything it runs is in it)."""
    return [proc.pid for proc in processes() if proc.sid == sid and proc.state != "Z"]


def injection_logged(clients: LocalClients, group: str) -> bool:
    """Whether an environment has logged its injected fault (it is then inside it, sleeping)."""
    logs = clients("logs")
    try:
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group)
        return any("perflab fault injection" in e["message"] for page in pages for e in page["events"])
    except logs.exceptions.ResourceNotFoundException:
        return False


def test_local_down_during_runs_leaves_nothing_and_up_starts_clean(tmp_path: Path) -> None:
    state = tmp_path / "state"
    start = ("local", "up", "--detach", "--no-deploy", "--port", "0", "--state-dir", str(state))
    up = perflab(*start, cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    try:
        exports = exports_of(up.stdout)
        stack = json.loads((state / "local.json").read_text())
        clients = LocalClients(exports["AWS_ENDPOINT_URL"], exports["AWS_DEFAULT_REGION"])
        url = exports["PERFLAB_DATABASE_URL"]
        settings = load_settings(database_url=url)
        seed(settings, clients("s3"), url, 100_000, other_models=0)
        # Every download then sleeps past any limit: the runs are surely going on when the stack stops.
        deployment = deploy(clients, settings, url, api_token=exports["PERFLAB_API_TOKEN"], inject="timeout")
        host = f"{deployment.api_id}.execute-api.localhost"
        info = LocalCloudInfo.from_json(stack)
        for compute in ("lambda", "ecs"):
            body = {"compute": compute, "storage": "s3", "invocations": 3}
            answer = request(
                info,
                "POST",
                "/health/performance/workload",
                json.dumps(body).encode(),
                {
                    "Host": host,
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {exports['PERFLAB_API_TOKEN']}",
                },
            )
            assert answer.status == 202, answer.body
        wait_until(
            lambda: injection_logged(clients, f"/aws/lambda/{deployment.download_function}"), "a Lambda run"
        )
        wait_until(lambda: injection_logged(clients, task_log_group()), "an ECS task run")
        sfn = clients("stepfunctions")
        running = sfn.list_executions(stateMachineArn=deployment.state_machine_arn, statusFilter="RUNNING")
        assert len(running["executions"]) == 2
        server = json.loads((state / "postgres" / "server.json").read_text())
        before = session_processes(stack["pid"])
        assert server["pid"] in before and len(before) > 4  # stack, PostgreSQL, environments, tasks

        down = perflab("local", "down", "--state-dir", str(state), cwd=tmp_path)
        assert down.returncode == 0 and "stopped" in down.stdout, stop_diagnostics(down.stderr, state)
        assert session_processes(stack["pid"]) == []
        for pid in before:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        assert not (state / "local.json").exists()
        assert not Path(server["socket_dir"]).exists() and not Path(server["pgdata"]).exists()

        again = perflab(*start, cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        fresh = exports_of(again.stdout)
        clients = LocalClients(fresh["AWS_ENDPOINT_URL"], fresh["AWS_DEFAULT_REGION"])
        assert clients("stepfunctions").list_state_machines()["stateMachines"] == []
        assert clients("lambda").list_functions()["Functions"] == []
        assert clients("ecs").list_clusters()["clusterArns"] == []
        assert clients("dynamodb").list_tables()["TableNames"] == []
        with psycopg.connect(fresh["PERFLAB_DATABASE_URL"]) as conn:
            assert conn.execute("SELECT to_regclass('models')").fetchone() == (None,)  # a new cluster
        fresh_stack = json.loads((state / "local.json").read_text())
        assert fresh_stack["pid"] != stack["pid"] and session_processes(fresh_stack["pid"])
    finally:
        from perflab.local import process

        process.down(state)
