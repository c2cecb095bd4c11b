"""The dashboard end to end in a real headless Chromium: start a run through the API, open its page,
wait for the run to finish, and check the rendered numbers against the stored summary.

Needs Debian's ``chromium``: ``.ci/run`` installs it and sets ``PERFLAB_REQUIRE_CHROMIUM=1`` so a
missing browser fails there; elsewhere the test is skipped with the reason. The screenshots are left in
``build/test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from perflab.config import Settings, load_settings
from perflab.deploy import Deployment, deploy
from perflab.local.stack import LocalCloudInfo
from perflab.results import ResultsStore
from perflab.seed import seed
from tests.conftest import ClientFactory, unique
from tests.local.chromium import Page, find_chromium, launch
from tests.local.helpers import wait_for_execution
from tests.local.test_apigateway import request

pytestmark = pytest.mark.local

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
TOKEN = "dashboard-test-token"
INVOCATIONS = 12
ARTIFACT_BYTES = 1_000_000
TERMINAL = ("SUCCEEDED", "COMPLETED_WITH_FAILURES", "FAILED", "TIMED_OUT", "ABORTED")

# Installed before the page's own script: records every status and highlighted state the page shows,
# so the test can tell what the page rendered while the run was still going.
RECORDER = """
window.__seen = {statuses: [], current: []};
new MutationObserver(() => {
  const badge = document.querySelector('#run-status .status');
  if (badge) window.__seen.statuses.push(badge.dataset.status);
  for (const g of document.querySelectorAll('#graph g.state.current'))
    window.__seen.current.push(g.dataset.state);
}).observe(document, {subtree: true, childList: true, attributes: true});
"""

# Resolves once the page has finished rendering a run that ended (the page sets both attributes).
RUN_RENDERED = """
new Promise((resolve) => {
  const done = () => document.body.dataset.ready === '1' && document.body.dataset.runStatus;
  if (done()) return resolve(document.body.dataset.runStatus);
  const observer = new MutationObserver(() => {
    if (done()) { observer.disconnect(); resolve(document.body.dataset.runStatus); }
  });
  observer.observe(document.body, {attributes: true});
})
"""

PAGE_READY = """
new Promise((resolve) => {
  if (document.body.dataset.ready === '1') return resolve(true);
  const observer = new MutationObserver(() => {
    if (document.body.dataset.ready === '1') { observer.disconnect(); resolve(true); }
  });
  observer.observe(document.body, {attributes: true});
})
"""

RENDERED_NUMBERS = """
Array.from(document.querySelectorAll('#summary td[data-metric]'))
  .map((td) => [td.dataset.metric, td.textContent, Number(td.dataset.digits)])
"""


@dataclass
class Dashboard:
    settings: Settings
    deployment: Deployment
    store: ResultsStore

    @property
    def host(self) -> str:
        return f"{self.deployment.api_id}.execute-api.localhost"


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        if os.environ.get("PERFLAB_REQUIRE_CHROMIUM") == "1":
            pytest.fail("chromium is required (PERFLAB_REQUIRE_CHROMIUM=1) but not installed")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    return binary


@pytest.fixture(scope="module")
def dashboard(local_cloud: LocalCloudInfo, aws: ClientFactory) -> Iterator[Dashboard]:
    assert local_cloud.database_url is not None
    settings = load_settings(
        region=local_cloud.region,
        bucket=unique("perflab-dash"),
        invocations_table=unique("dash-invocations"),
        runs_table=unique("dash-runs"),
        model_id=unique("tiny-llm"),
        database_url=local_cloud.database_url,
        api_token=SecretStr(TOKEN),
    )
    deployment = deploy(aws, settings, local_cloud.database_url, name=unique("dash"), api_token=TOKEN)
    assert deployment.api_id is not None
    seed(settings, aws("s3"), local_cloud.database_url, ARTIFACT_BYTES, other_models=0)
    yield Dashboard(
        settings, deployment, ResultsStore(aws("dynamodb"), settings.invocations_table, settings.runs_table)
    )
    aws("apigatewayv2").delete_api(ApiId=deployment.api_id)


def start_run(local_cloud: LocalCloudInfo, dash: Dashboard, compute: str, storage: str) -> dict[str, Any]:
    body = {
        "compute": compute,
        "storage": storage,
        "invocations": INVOCATIONS,
        "model_id": dash.settings.model_id,
        "artifact_bytes": ARTIFACT_BYTES,
    }
    headers = {"Host": dash.host, "Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    answer = request(local_cloud, "POST", "/health/performance/workload", json.dumps(body).encode(), headers)
    assert answer.status == 202, answer.body
    started: dict[str, Any] = answer.json()
    return started


def page_url(local_cloud: LocalCloudInfo, dash: Dashboard, fragment: str) -> str:
    assert local_cloud.api_url is not None
    port = local_cloud.api_url.rsplit(":", 1)[-1].rstrip("/")
    return f"http://{dash.host}:{port}/{fragment}"


def metric(summary: dict[str, Any], dotted: str) -> Any:
    value: Any = summary
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


async def open_page(browser_binary: str, url: str, screenshot: Path, script: str) -> Any:
    async with launch(browser_binary) as browser:
        page: Page = await browser.new_page(height=1800)
        await page.send("Page.addScriptToEvaluateOnNewDocument", source=RECORDER)
        await page.goto(url)
        result = await page.evaluate(script, timeout=240)
        state = await page.evaluate(
            "({seen: window.__seen, title: document.title, numbers: " + RENDERED_NUMBERS + ","
            " done: Array.from(document.querySelectorAll('#graph g.state.done:not([data-parent])'))"
            ".map((g) => g.dataset.state),"
            " failedStates: Array.from(document.querySelectorAll('#graph g.state.failed'))"
            ".map((g) => g.dataset.state),"
            " mapCounts: (document.querySelector('#graph text.map-counts') || {}).textContent,"
            " bars: document.querySelectorAll('#timeline g.bar').length,"
            " coldBars: document.querySelectorAll('#timeline g.bar[data-cold=\"1\"]').length,"
            " cdfSamples: Number((document.querySelector('#cdf polyline') || {dataset: {}}).dataset.samples),"
            " runs: Array.from(document.querySelectorAll('#runs tr[data-run]')).map((tr) => ["
            "tr.dataset.run, tr.querySelector('.status').dataset.status]),"
            " errors: Array.from(document.querySelectorAll('#load-error')).map((e) => e.textContent)})"
        )
        await page.screenshot(screenshot)
        return result, state, list(browser.console)


def test_run_page_renders_the_summary_live_and_finished(
    chromium: str, local_cloud: LocalCloudInfo, aws: ClientFactory, dashboard: Dashboard
) -> None:
    started = start_run(local_cloud, dashboard, "ecs", "s3")
    run_id = started["run_id"]
    url = page_url(local_cloud, dashboard, f"#/runs/{run_id}")
    shot = ARTIFACTS / "dashboard-run.png"
    status, state, console = asyncio.run(open_page(chromium, url, shot, RUN_RENDERED))

    execution = wait_for_execution(aws("stepfunctions"), started["execution_arn"], timeout=60)
    assert status == execution["status"] == "SUCCEEDED", (status, console)
    assert not state["errors"], state["errors"]
    summary = dashboard.store.get_run(run_id)["summary"]  # type: ignore[index]
    assert summary["invocations"]["succeeded"] == INVOCATIONS

    # Every number the table shows equals the stored summary (to the digits shown).
    shown = {key: (text, digits) for key, text, digits in state["numbers"]}
    assert len(shown) >= 15
    for key, (text, digits) in shown.items():
        expected = metric(summary, key)
        if expected is None:
            assert text == "—", (key, text)
            continue
        assert abs(float(text.replace(",", "")) - float(expected)) <= 0.5 * 10**-digits + 1e-9, (
            key,
            text,
            expected,
        )

    # The graph: the path the run took is marked done, no state failed, the Map shows its item counts.
    assert {"Validate", "Fanout", "Aggregate", "Done"} <= set(state["done"]), state["done"]
    assert "InvalidInput" not in state["done"] and not state["failedStates"]
    assert state["mapCounts"].startswith(f"{INVOCATIONS} ok"), state["mapCounts"]
    # The charts hold one bar / one sample per invocation.
    assert state["bars"] == state["cdfSamples"] == INVOCATIONS
    assert state["coldBars"] == summary["cold_starts"]
    # While the run was going the page said so and highlighted where it was.
    seen = state["seen"]
    assert seen["statuses"][-1] == "SUCCEEDED"
    if "RUNNING" in seen["statuses"]:
        assert seen["current"], "the page showed RUNNING but highlighted no current state"
    assert shot.stat().st_size > 10_000


def test_runs_list_shows_the_runs_with_their_status(
    chromium: str, local_cloud: LocalCloudInfo, aws: ClientFactory, dashboard: Dashboard
) -> None:
    started = start_run(local_cloud, dashboard, "lambda", "rds")
    wait_for_execution(aws("stepfunctions"), started["execution_arn"], timeout=120)
    url = page_url(local_cloud, dashboard, "#/")
    _ready, state, console = asyncio.run(
        open_page(chromium, url, ARTIFACTS / "dashboard-runs.png", PAGE_READY)
    )
    rows = dict(state["runs"])
    assert rows.get(started["run_id"]) == "SUCCEEDED", (rows, console)


def test_dashboard_page_is_self_contained(local_cloud: LocalCloudInfo, dashboard: Dashboard) -> None:
    answer = request(local_cloud, "GET", "/", None, {"Host": dashboard.host})
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    page = answer.body.decode()
    assert "<script src" not in page and "<link" not in page  # nothing fetched from elsewhere
