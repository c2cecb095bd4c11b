"""Cost model: what a benchmark run would have cost on AWS, from a dated, sourced price file.

The price file (``prices-us-east-1.json``, shipped as package data) records every price with its value,
unit, source URL, source date and whether the source is third-party; :func:`load_prices` refuses a
file where any of these is missing. :func:`run_cost` applies the prices to what one run actually used,
line by line, each line carrying its quantity, unit price, cost and source.

What is counted, and the choices made where the result data cannot say:

* **Lambda duration** (``compute == "lambda"``): per invocation, billed ms = ceil(``latency_ms`` +
  ``init_ms`` when ``cold_start``) to 1 ms (AWS rounds duration up to 1 ms; INIT is billed for
  on-demand functions). ``latency_ms`` is the measured download inside the handler, so the handler's
  few ms of parsing/recording around it are not counted. GB = ``lambda_memory_mb`` / 1024.
* **Lambda requests**: one per attempt (``attempt`` column, default 1). Earlier failed attempts'
  durations are not recorded and not counted.
* **Fargate** (``compute == "ecs"``): per task, task seconds = the row's ``task_billed_s`` when the
  task's record gives it (e.g. ``stoppedAt - pullStartedAt``), else ``finished_at - started_at`` +
  ``init_ms`` (process start-up, when measured) + ``fargate_startup_allowance_s`` (default
  :data:`FARGATE_STARTUP_ALLOWANCE_S` = 10 s for image pull and ENI attachment, which AWS bills and
  does not publish; local runs cannot measure it). Billed seconds = max(60, ceil(task seconds)): per-
  second billing with the 1-minute minimum. A task with no timestamps is billed the minimum.
* **Step Functions** (Standard): ``transitions`` when given, else the run's stored ``transitions``
  (``perflab bench`` counts them from the execution history with :mod:`perflab.history`: the
  parent's plus the Map Run children's). Otherwise (older summaries) estimated from
  ``download_fanout.asl.json``: :data:`PARENT_STATES` (Validate, HasMaxConcurrency,
  DefaultMaxConcurrency, PlanFanout, Indexes, Fanout, Aggregate, Done) + per child 1 (child started,
  Distributed Map billing) + 2 (Route, the download Task) + 2 more when the invocation failed
  (RecordInvocationFailure, InvocationFailed) + 1 per retry (``attempt - 1``). Children = max(rows,
  requested).
* **S3 GET** (``storage == "s3"``): one per download, or ``s3_range_parts`` per download when the run
  used ranged GETs. Same-Region transfer is free.
* **DynamoDB**: one write (≤ 1 KB = 1 WRU) per invocation record plus one for the run summary.
* **RDS** (``storage == "rds"``): the instance runs all month whatever the benchmark does, so each run
  carries hours_per_month / ``runs_per_month`` instance-hours (default from the price file, 1,000).
  Storage, backups and RDS Proxy are not counted.
* **API Gateway** HTTP API: the one trigger request.

Not counted: free tiers, the Aggregate Lambda (one short invocation, duration not recorded), CloudWatch
Logs, NAT/VPC endpoints, ECR. ``per_1000_downloads`` divides by successful downloads (rows without an
error), so failures make a configuration dearer per download, as they would in production.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

PRICES_SCHEMA = "perflab.prices/1"
DEFAULT_PRICE_FILE = "prices-us-east-1.json"
#: Parent-execution states on the success path of ``download_fanout`` (see module docstring).
PARENT_STATES = 8
#: Child states per invocation on the success path: Route + InvokeDownload/RunDownloadTask.
CHILD_STATES = 2
#: Extra child states when an invocation failed: RecordInvocationFailure + InvocationFailed.
CHILD_FAILURE_STATES = 2
#: Assumed Fargate start-up that is billed but not measured (image pull, ENI attachment).
FARGATE_STARTUP_ALLOWANCE_S = 10.0
DEFAULT_RDS_INSTANCE_CLASS = "db.t4g.micro"
#: How a run's Step Functions transitions were obtained (the note of its transitions line).
TRANSITIONS_COUNTED = "counted from the execution history"
TRANSITIONS_ESTIMATED = "estimated from the state machine"

Arch = Literal["x86_64", "arm64"]
_REQUIRED_FIELDS = ("value", "unit", "source", "source_date")


@dataclass(frozen=True)
class Price:
    """One price as recorded in the price file."""

    key: str
    value: float
    unit: str
    source: str
    source_date: str
    third_party: bool
    verify_at: str | None = None
    minimum_billed_seconds: int | None = None
    billing_granularity_seconds: int | None = None
    hours_per_month: float | None = None
    runs_per_month: int | None = None


@dataclass(frozen=True)
class Prices:
    """A loaded price file: region, retrieval date and the prices by key."""

    region: str
    retrieved: str
    currency: str
    path: str
    prices: Mapping[str, Price]

    def get(self, key: str) -> Price:
        try:
            return self.prices[key]
        except KeyError:
            raise KeyError(f"price {key!r} is not in {self.path}") from None


@dataclass(frozen=True)
class CostLine:
    """One line of a run's bill: quantity x unit price = cost."""

    item: str
    quantity: float
    unit: str
    unit_price: float
    cost: float
    price_key: str
    price_unit: str
    source: str
    source_date: str
    third_party: bool
    note: str = ""


@dataclass(frozen=True)
class CostBreakdown:
    """A run's estimated AWS cost, line by line."""

    run_id: str
    compute: str
    storage: str
    downloads: int
    lines: tuple[CostLine, ...]
    region: str
    retrieved: str

    @property
    def total(self) -> float:
        return math.fsum(line.cost for line in self.lines)

    @property
    def per_1000_downloads(self) -> float | None:
        """Total per 1,000 successful downloads; ``None`` when nothing succeeded."""
        if self.downloads <= 0:
            return None
        return self.total * 1000.0 / self.downloads

    def line(self, item: str) -> CostLine | None:
        return next((line for line in self.lines if line.item == item), None)


# --------------------------------------------------------------------------------------------- prices


def _price(key: str, raw: Any, path: str) -> Price:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: price {key!r} is not an object")
    for field in _REQUIRED_FIELDS:
        if raw.get(field) in (None, ""):
            raise ValueError(f"{path}: price {key!r} has no {field!r}")
    value = raw["value"]
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{path}: price {key!r} has an invalid value {value!r}")

    def opt_int(name: str) -> int | None:
        got = raw.get(name)
        return None if got is None else int(got)

    hours = raw.get("hours_per_month")
    return Price(
        key=key,
        value=float(value),
        unit=str(raw["unit"]),
        source=str(raw["source"]),
        source_date=str(raw["source_date"]),
        third_party=bool(raw.get("third_party", False)),
        verify_at=None if raw.get("verify_at") is None else str(raw["verify_at"]),
        minimum_billed_seconds=opt_int("minimum_billed_seconds"),
        billing_granularity_seconds=opt_int("billing_granularity_seconds"),
        hours_per_month=None if hours is None else float(hours),
        runs_per_month=opt_int("runs_per_month"),
    )


def load_prices(path: str | Path | None = None) -> Prices:
    """Load and validate a price file; default: the us-east-1 file shipped with the package."""
    if path is None:
        resource = resources.files("perflab.report").joinpath(DEFAULT_PRICE_FILE)
        text = resource.read_text(encoding="utf-8")
        where = f"perflab/report/{DEFAULT_PRICE_FILE}"
    else:
        text = Path(path).read_text(encoding="utf-8")
        where = str(path)
    data = json.loads(text)
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: not a JSON object")
    for field in ("region", "retrieved"):
        if not data.get(field):
            raise ValueError(f"{where}: no top-level {field!r}")
    raw_prices = data.get("prices")
    if not isinstance(raw_prices, Mapping) or not raw_prices:
        raise ValueError(f"{where}: no prices")
    prices = {str(key): _price(str(key), raw, where) for key, raw in raw_prices.items()}
    return Prices(
        region=str(data["region"]),
        retrieved=str(data["retrieved"]),
        currency=str(data.get("currency", "USD")),
        path=where,
        prices=prices,
    )


# ------------------------------------------------------------------------------------- result values


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def _int(value: Any, default: int) -> int:
    number = _float(value)
    return default if number is None else int(number)


def _failed(row: Mapping[str, Any]) -> bool:
    return bool(row.get("error")) or row.get("latency_ms") in (None, "")


def _ceil(value: float) -> int:
    # Round first so that 3000.0000000004 ms (float noise) bills as 3000, not 3001.
    return math.ceil(round(value, 6))


def _arch(arch: str) -> Arch:
    normal = arch.strip().lower().replace("-", "_")
    if normal in ("x86_64", "amd64", "x86"):
        return "x86_64"
    if normal in ("arm64", "aarch64", "arm"):
        return "arm64"
    raise ValueError(f"unknown architecture {arch!r}: use x86_64 or arm64")


def _line(item: str, quantity: float, unit: str, price: Price, note: str = "") -> CostLine:
    return CostLine(
        item=item,
        quantity=quantity,
        unit=unit,
        unit_price=price.value,
        cost=quantity * price.value,
        price_key=price.key,
        price_unit=price.unit,
        source=price.source,
        source_date=price.source_date,
        third_party=price.third_party,
        note=note,
    )


def fargate_task_seconds(row: Mapping[str, Any], startup_allowance_s: float) -> float | None:
    """A task's running time as this module bills it (see the module docstring); ``None`` if unknown."""
    recorded = _float(row.get("task_billed_s"))
    if recorded is not None:
        return recorded
    started, finished = _float(row.get("started_at")), _float(row.get("finished_at"))
    if started is None or finished is None:
        return None
    init_s = (_float(row.get("init_ms")) or 0.0) / 1000.0
    return max(0.0, finished - started) + init_s + startup_allowance_s


def recorded_transitions(run: Mapping[str, Any]) -> int | None:
    """The run's transitions as counted from its execution history and stored in its summary, if any."""
    value = run.get("transitions")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def estimate_transitions(run: Mapping[str, Any], invocations: Sequence[Mapping[str, Any]]) -> int:
    """Standard state transitions of one ``download_fanout`` run, estimated (module docstring)."""
    requested = _int((run.get("invocations") or {}).get("requested"), 0)
    children = max(len(invocations), requested)
    failed = sum(1 for row in invocations if _failed(row))
    retries = sum(max(0, _int(row.get("attempt"), 1) - 1) for row in invocations)
    return PARENT_STATES + children * (1 + CHILD_STATES) + failed * CHILD_FAILURE_STATES + retries


# ---------------------------------------------------------------------------------------- the model


def run_cost(
    run: Mapping[str, Any],
    invocations: Sequence[Mapping[str, Any]],
    prices: Prices,
    *,
    lambda_memory_mb: float,
    lambda_arch: str = "x86_64",
    task_vcpu: float,
    task_memory_gb: float,
    task_arch: str = "x86_64",
    transitions: int | None = None,
    runs_per_month: int | None = None,
    rds_instance_class: str = DEFAULT_RDS_INSTANCE_CLASS,
    fargate_startup_allowance_s: float = FARGATE_STARTUP_ALLOWANCE_S,
) -> CostBreakdown:
    """What ``run`` would have cost on AWS at ``prices`` (see the module docstring for every choice).

    ``invocations`` are the run's rows (``invocations.csv`` rows or records); rows of other runs are
    ignored when both sides carry a ``run_id``.
    """
    run_id = str(run.get("run_id", ""))
    compute = str(run.get("compute", ""))
    storage = str(run.get("storage", ""))
    rows = [row for row in invocations if not run_id or row.get("run_id") in (None, "", run_id)]
    lines: list[CostLine] = []

    if compute == "lambda":
        arch = _arch(lambda_arch)
        gb = lambda_memory_mb / 1024.0
        billed_ms = 0
        for row in rows:
            latency = _float(row.get("latency_ms"))
            if latency is None:
                continue
            init = (_float(row.get("init_ms")) or 0.0) if _bool(row.get("cold_start")) else 0.0
            billed_ms += max(1, _ceil(latency + init))
        lines.append(
            _line(
                f"Lambda duration ({arch})",
                billed_ms / 1000.0 * gb,
                "GB-s",
                prices.get(f"lambda_gb_second_{arch}"),
                f"{len(rows)} invocations, {billed_ms / 1000.0:.3f} s billed at {lambda_memory_mb:g} MB; "
                "latency + init on cold starts, ceil to 1 ms",
            )
        )
        requests = sum(max(1, _int(row.get("attempt"), 1)) for row in rows)
        lines.append(
            _line(f"Lambda requests ({arch})", requests, "requests", prices.get(f"lambda_request_{arch}"))
        )
    elif compute == "ecs":
        arch = _arch(task_arch)
        vcpu_price = prices.get(f"fargate_vcpu_hour_{arch}")
        gb_price = prices.get(f"fargate_gb_hour_{arch}")
        minimum = vcpu_price.minimum_billed_seconds or 60
        billed_s = 0
        for row in rows:
            seconds = fargate_task_seconds(row, fargate_startup_allowance_s)
            billed_s += max(minimum, _ceil(seconds or 0.0))
        note = (
            f"{len(rows)} tasks, {billed_s} s billed (per second, {minimum} s minimum; "
            f"run time + init + {fargate_startup_allowance_s:g} s start-up allowance)"
        )
        hours = billed_s / 3600.0
        lines.append(
            _line(
                f"Fargate vCPU ({arch})",
                hours * task_vcpu,
                "vCPU-h",
                vcpu_price,
                f"{task_vcpu:g} vCPU; {note}",
            )
        )
        lines.append(
            _line(
                f"Fargate memory ({arch})", hours * task_memory_gb, "GB-h", gb_price, f"{task_memory_gb:g} GB"
            )
        )
    else:
        raise ValueError(f"run {run_id!r}: unknown compute {compute!r}")

    if transitions is None:
        transitions = recorded_transitions(run)
    if transitions is None:
        count, how = estimate_transitions(run, rows), TRANSITIONS_ESTIMATED
    else:
        count, how = transitions, TRANSITIONS_COUNTED
    lines.append(
        _line(
            "Step Functions transitions",
            count,
            "transitions",
            prices.get("stepfunctions_standard_transition"),
            how,
        )
    )

    if storage == "s3":
        parts = max(1, _int(run.get("s3_range_parts"), 0))
        lines.append(
            _line(
                "S3 GET requests",
                len(rows) * parts,
                "requests",
                prices.get("s3_get_request"),
                f"{parts} GET per download" if parts > 1 else "1 GET per download",
            )
        )
    elif storage == "rds":
        price = prices.get(f"rds_instance_hour_{rds_instance_class}")
        per_month = runs_per_month or price.runs_per_month or 1000
        hours_per_month = price.hours_per_month or 730.0
        lines.append(
            _line(
                f"RDS {rds_instance_class} (amortised)",
                hours_per_month / per_month,
                "instance-hours",
                price,
                f"{hours_per_month:g} h/month over {per_month} runs/month",
            )
        )
    else:
        raise ValueError(f"run {run_id!r}: unknown storage {storage!r}")

    lines.append(
        _line(
            "DynamoDB writes",
            len(rows) + 1,
            "WRU",
            prices.get("dynamodb_write_request_unit"),
            "1 per invocation record + 1 run summary",
        )
    )
    lines.append(
        _line("API Gateway requests", 1, "requests", prices.get("apigateway_http_request"), "the trigger")
    )

    return CostBreakdown(
        run_id=run_id,
        compute=compute,
        storage=storage,
        downloads=sum(1 for row in rows if not _failed(row)),
        lines=tuple(lines),
        region=prices.region,
        retrieved=prices.retrieved,
    )


# ------------------------------------------------------------------------------------------- output


def money(value: float) -> str:
    """A dollar amount as the reports print it: 6 decimals below $1, else 4 with separators."""
    return f"${value:.6f}" if value < 1 else f"${value:,.4f}"


def format_cost_table(breakdowns: Sequence[CostBreakdown]) -> str:
    """A Markdown table, one column per run, then the prices used with their sources."""
    if not breakdowns:
        return "_No runs to cost._\n"
    items: list[str] = []
    for breakdown in breakdowns:
        items.extend(line.item for line in breakdown.lines if line.item not in items)
    header = ["item", *(f"{b.compute}/{b.storage}" for b in breakdowns)]
    out = [
        f"Estimated AWS cost per run ({breakdowns[0].region}, on-demand, no free tier; prices retrieved "
        f"{breakdowns[0].retrieved}).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---", *("---:" for _ in breakdowns)]) + "|",
    ]
    for item in items:
        cells = []
        for breakdown in breakdowns:
            line = breakdown.line(item)
            cells.append("-" if line is None else f"{money(line.cost)} ({line.quantity:,.6g} {line.unit})")
        out.append(f"| {item} | " + " | ".join(cells) + " |")
    out.append("| **total** | " + " | ".join(f"**{money(b.total)}**" for b in breakdowns) + " |")
    per_1000 = [b.per_1000_downloads for b in breakdowns]
    out.append(
        "| **per 1,000 downloads** | "
        + " | ".join("n/a" if value is None else f"**{money(value)}**" for value in per_1000)
        + " |"
    )
    bases = []
    for breakdown in breakdowns:
        line = breakdown.line("Step Functions transitions")
        if line is not None:
            bases.append(f"{breakdown.compute}/{breakdown.storage} `{breakdown.run_id}` {line.note}")
    if bases:
        out += ["", "Step Functions transitions: " + "; ".join(bases) + "."]
    out += ["", "| price | value | unit | source | source date |", "|---|---:|---|---|---|"]
    seen: set[str] = set()
    for breakdown in breakdowns:
        for line in breakdown.lines:
            if line.price_key in seen:
                continue
            seen.add(line.price_key)
            source = f"{line.source} (third-party)" if line.third_party else line.source
            price = f"{line.unit_price:.10g}"
            out.append(f"| {line.price_key} | {price} | {line.price_unit} | {source} | {line.source_date} |")
    return "\n".join(out) + "\n"
