"""The trigger API's paths: served by :mod:`perflab.api`, called by :mod:`perflab.api_client`,
routed by :mod:`perflab.deploy_api` (and ``infra/modules/api``, which spells the same keys)."""

from __future__ import annotations

WORKLOAD_PATH = "/health/performance/workload"
RESULTS_PATH = "/health/performance/results"
RUNS_PATH = "/health/performance/runs"
DASHBOARD_PATH = "/"

#: API Gateway route keys, one per route the api function serves.
ROUTE_KEYS = (
    f"POST {WORKLOAD_PATH}",
    f"GET {RESULTS_PATH}/{{run_id}}",
    f"GET {RUNS_PATH}",
    f"GET {RUNS_PATH}/{{run_id}}/progress",
    f"GET {DASHBOARD_PATH}",
)
