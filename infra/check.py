"""``make infra-check``: every offline check of the Terraform in ``infra/`` (no AWS account, no network).

Steps, each reported as PASS / FAIL / SKIPPED with its time (logs in ``build/infra/logs/``):

1. ``terraform fmt -check`` on ``infra/``.
2. ``terraform init`` (providers from the filesystem mirror named in ``infra/terraform.rc``; envs/dev
   with its committed lock file, read-only) and ``terraform validate`` of every module, ``envs/dev``
   and ``compliance/workflow_plan``.
3. ``terraform test`` in every module (``tests/*.tftest.hcl`` with ``mock_provider``).
4. ``terraform plan`` of ``envs/dev`` against ``tools/offline_aws.py`` (a local stand-in for the two
   AWS calls a plan makes; fake credentials, every skip_* set): the plan must hold every resource
   type of the deployment; its ``terraform show -json`` is ``build/infra/plan.json``. Then a plan of
   ``compliance/workflow_plan`` (the workflow module with known inputs), during which the provider
   sends the rendered definition to ValidateStateMachineDefinition, and a plan of a broken copy of the
   ASL, which must fail on that validation.
5. terraform-compliance (``--no-ansi``) with ``compliance/*.feature`` on both plans (must pass), on
   each feature's good fixture (must pass) and its bad fixture (every scenario must fail).
6. checkov on the HCL, offline (``--skip-download``, ``CKV_SKIP_PACKAGE_UPDATE_CHECK=true``), with
   ``infra/.checkov.yaml``; it runs from its own venv (it overwrites python-hcl2's files).
7. The rendered definition (from the plan) through asl-validator (npm), statelint (PyPI) and the
   stub's own validation.

Tools are installed on first use under ``build/infra/`` at pinned versions. Without terraform or the
provider mirror the Terraform steps print SKIPPED with the reason and the check exits 0, unless
``REQUIRE_TERRAFORM=1`` (then a missing terraform, mirror or tool is a failure).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

INFRA = Path(__file__).resolve().parent
REPO = INFRA.parent
BUILD = REPO / "build" / "infra"
LOGS = BUILD / "logs"
CLI_CONFIG = INFRA / "terraform.rc"
PROVIDER = "registry.terraform.io/hashicorp/aws"
PROVIDER_VERSION = "5.100.0"
MODULES = ("network", "artifact_store", "database", "metrics", "functions", "tasks", "workflow", "api")
ROOTS = ("envs/dev", "compliance/workflow_plan")
CHECKOV = "checkov==3.3.30"
TERRAFORM_COMPLIANCE = "terraform-compliance==1.16.0"
STATELINT = "statelint==3.1.0"
ASL_VALIDATOR = "asl-validator@4.0.0"
AVAILABILITY_ZONES = ("us-east-1a", "us-east-1b")

#: Every resource type the deployment must plan (the issue's list): a plan without one fails.
REQUIRED_TYPES = (
    "aws_vpc",
    "aws_subnet",
    "aws_vpc_endpoint",
    "aws_s3_bucket",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_public_access_block",
    "aws_db_instance",
    "aws_db_proxy",
    "aws_dynamodb_table",
    "aws_lambda_function",
    "aws_ecs_cluster",
    "aws_ecs_task_definition",
    "aws_ecr_repository",
    "aws_cloudwatch_log_group",
    "aws_sfn_state_machine",
    "aws_iam_role",
    "aws_iam_role_policy",
    "aws_apigatewayv2_api",
    "aws_apigatewayv2_route",
    "aws_apigatewayv2_integration",
    "aws_apigatewayv2_stage",
    "aws_lambda_permission",
)
#: statelint 3.1.0 findings that are wrong for valid ASL, each with its reason.
STATELINT_FALSE_POSITIVES = {
    r'Field "Label" not allowed in State Machine\.States\.\w+': "Label is a documented field of a Map"
    " state in Distributed mode (it names the map run); statelint 3.1.0 predates it",
}


class Skip(Exception):
    """A step that cannot run here; the message says why."""


class Failed(Exception):
    """A step whose check failed; the message says what failed."""


@dataclass
class Report:
    strict: bool
    results: list[tuple[str, str, float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, name: str, step: Callable[[], str | None]) -> bool:
        started = time.monotonic()
        try:
            detail = step() or ""
            status = "PASS"
        except Skip as reason:
            detail = str(reason)
            status = "FAIL" if self.strict else "SKIPPED"
        except Failed as reason:
            detail = str(reason)
            status = "FAIL"
        elapsed = time.monotonic() - started
        line = f"{status:7} {name} ({elapsed:.1f}s)"
        if detail:
            line += f": {detail}" if status != "FAIL" else f"\n{_indent(detail)}"
        with self.lock:
            self.results.append((name, status, elapsed, detail))
            print(line, flush=True)
        return status == "PASS"

    def summary(self) -> int:
        counts = {
            status: sum(1 for r in self.results if r[1] == status) for status in ("PASS", "FAIL", "SKIPPED")
        }
        print(f"infra-check: {counts['PASS']} passed, {counts['FAIL']} failed, {counts['SKIPPED']} skipped")
        return 1 if counts["FAIL"] else 0


def _indent(text: str) -> str:
    return "\n".join(f"        {line}" for line in text.strip().splitlines())


def _tail(path: Path, lines: int = 40) -> str:
    text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return "\n".join(text[-lines:]) + f"\n(full log: {path.relative_to(REPO)})"


def run(args: list[str], log: str, *, cwd: Path = REPO, env: dict[str, str] | None = None) -> int:
    """Run ``args`` with output to ``build/infra/logs/<log>.log``; return the exit code."""
    path = LOGS / f"{log}.log"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(args)}  (in {cwd})\n")
        handle.flush()
        return subprocess.call(args, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT)


def must(args: list[str], log: str, *, cwd: Path = REPO, env: dict[str, str] | None = None) -> None:
    if run(args, log, cwd=cwd, env=env) != 0:
        raise Failed(_tail(LOGS / f"{log}.log"))


# --- tools ---------------------------------------------------------------------------------------------


def venv_tool(name: str, requirement: str, executable: str) -> Path:
    """``executable`` from its own venv ``build/infra/venv-<name>`` (created and installed once)."""
    venv = BUILD / f"venv-{name}"
    tool = venv / "bin" / executable
    stamp = venv / f".installed-{requirement}"
    if tool.exists() and stamp.exists():
        return tool
    # The venv module of the interpreter running this script (Python 3.11 via make).
    created = (venv / "bin" / "python").exists()
    if not created and run([sys.executable, "-m", "venv", str(venv)], f"install-{name}") != 0:
        raise Skip(f"cannot create a venv for {requirement}: {_tail(LOGS / f'install-{name}.log', 5)}")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", requirement]
    if run(pip, f"install-{name}") != 0 or not tool.exists():
        raise Skip(f"{requirement} is not installable here: {_tail(LOGS / f'install-{name}.log', 5)}")
    stamp.touch()
    return tool


def npm_tool(package: str, executable: str) -> Path:
    prefix = BUILD / "node"
    tool = prefix / "node_modules" / ".bin" / executable
    stamp = prefix / f".installed-{package}"
    if tool.exists() and stamp.exists():
        return tool
    if shutil.which("npm") is None:
        raise Skip(f"npm is not installed: cannot install {package}")
    prefix.mkdir(parents=True, exist_ok=True)
    args = ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--no-save", package]
    if run(args, f"install-{executable}") != 0 or not tool.exists():
        raise Skip(f"{package} is not installable here: {_tail(LOGS / f'install-{executable}.log', 5)}")
    stamp.touch()
    return tool


# --- terraform -------------------------------------------------------------------------------------------


def _platform() -> str:
    machine = os.uname().machine.lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{sys.platform}_{arch}"


def _mirror_holds_provider(mirror: Path) -> bool:
    return (mirror / PROVIDER / PROVIDER_VERSION / _platform()).is_dir()


def cli_config() -> Path:
    """The CLI config to use: ``infra/terraform.rc`` when its mirror holds the provider, else one in
    ``build/infra`` pointing at the mirror found on this machine. Raises :class:`Skip` without one."""
    match = re.search(r'path\s*=\s*"([^"]+)"', CLI_CONFIG.read_text(encoding="utf-8"))
    committed = Path(match.group(1)) if match else None
    if committed is not None and _mirror_holds_provider(committed):
        return CLI_CONFIG
    candidates = [Path(p) for p in os.environ.get("PERFLAB_TF_MIRROR", "").split(os.pathsep) if p]
    candidates += [
        Path("/opt/tf-plugins"),
        Path("/usr/share/terraform/plugins"),
        Path("/usr/local/share/terraform/plugins"),
        Path.home() / ".terraform.d" / "plugins",
        Path.home() / ".local" / "share" / "terraform" / "plugins",
    ]
    for mirror in candidates:
        if _mirror_holds_provider(mirror):
            generated = BUILD / "terraform.rc"
            generated.write_text(
                CLI_CONFIG.read_text(encoding="utf-8").replace(str(committed), str(mirror)), encoding="utf-8"
            )
            return generated
    raise Skip(
        f"no filesystem mirror with {PROVIDER} {PROVIDER_VERSION} for {_platform()} "
        f"(looked in {committed} and {', '.join(str(c) for c in candidates)}; set PERFLAB_TF_MIRROR)"
    )


@dataclass
class Terraform:
    binary: str
    config: Path

    def env(self, data_dir: str, **extra: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "TF_")) and key != "CHECKPOINT_DISABLE"
        }
        env.update(
            TF_CLI_CONFIG_FILE=str(self.config),
            TF_PLUGIN_CACHE_DIR=str(BUILD / "plugin-cache"),
            TF_DATA_DIR=str(BUILD / "tf" / data_dir.replace("/", "-")),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",  # no version check against checkpoint-api.hashicorp.com
            # Fake credentials: the plans only talk to the local stub.
            AWS_ACCESS_KEY_ID="AKIAPERFLABINFRACHECK",
            AWS_SECRET_ACCESS_KEY="perflab-infra-check-not-a-secret",
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        )
        env.update(extra)
        return env

    def __call__(self, directory: str, *args: str, log: str, check: bool = True) -> int:
        code = run([self.binary, *args, "-no-color"], log, cwd=INFRA / directory, env=self.env(directory))
        if check and code != 0:
            raise Failed(_tail(LOGS / f"{log}.log"))
        return code


def find_terraform() -> Terraform:
    binary = shutil.which("terraform")
    if binary is None:
        raise Skip("terraform is not installed (the CI image carries terraform 1.11.4)")
    return Terraform(binary, cli_config())


# --- the offline AWS stub ------------------------------------------------------------------------------


@contextmanager
def offline_aws() -> Iterator[tuple[str, Path]]:
    """Start ``tools/offline_aws.py`` on a free port; yield its URL and request log."""
    log = BUILD / "offline-aws.jsonl"
    port_file = BUILD / "offline-aws.port"
    for path in (log, port_file):
        path.unlink(missing_ok=True)
    with (LOGS / "offline-aws.log").open("w", encoding="utf-8") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                str(INFRA / "tools" / "offline_aws.py"),
                "--log",
                str(log),
                "--port-file",
                str(port_file),
            ],
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise Failed("the offline AWS stub did not start:\n" + _tail(LOGS / "offline-aws.log"))
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port_file.read_text(encoding='utf-8').strip()}", log
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def stub_requests(log: Path) -> list[dict[str, object]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]


# --- steps ---------------------------------------------------------------------------------------------


def step_fmt(tf: Terraform) -> str:
    if tf("", "fmt", "-check", "-recursive", "-diff", log="fmt", check=False) != 0:
        raise Failed(
            "terraform fmt would change these files (run make infra-fmt):\n" + _tail(LOGS / "fmt.log")
        )
    return "infra/ is formatted"


def step_init_all(tf: Terraform) -> str:
    # One at a time: parallel inits race on the shared plugin cache.
    for module in MODULES:
        tf(f"modules/{module}", "init", "-backend=false", "-input=false", log=f"init-{module}")
    for root in ROOTS:
        lock = ["-lockfile=readonly"] if root == "envs/dev" else []
        tf(root, "init", "-backend=false", "-input=false", *lock, log=f"init-{root.replace('/', '-')}")
    return f"{len(MODULES)} modules and {len(ROOTS)} root configurations"


def step_validate(tf: Terraform, directory: str) -> str:
    tf(directory, "validate", log=f"validate-{directory.replace('/', '-')}")
    return ""


def step_test(tf: Terraform, module: str) -> str:
    tf(f"modules/{module}", "test", log=f"test-{module}")
    last = (LOGS / f"test-{module}.log").read_text(encoding="utf-8").strip().splitlines()[-1]
    return last


def fake_packages() -> dict[str, str]:
    """Placeholder Lambda zips for the plan (make package builds the real ones): ``<name>_zip_path``."""
    directory = BUILD / "packages"
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in ("download", "aggregate", "api"):
        path = directory / f"{name}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            info = zipfile.ZipInfo("handler.py", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, "def handler(event, context):\n    return {}\n")
        paths[f"{name}_zip_path"] = str(path)
    return paths


COMMON_PLAN_ARGS = ("-input=false", "-lock=false", "-refresh=false")


def show_json(tf: Terraform, directory: str, plan: Path, out: Path) -> None:
    """``terraform show -json`` (one line) of ``plan`` into ``out``."""
    with out.open("w", encoding="utf-8") as handle:
        code = subprocess.call(
            [tf.binary, "show", "-json", str(plan)],
            cwd=INFRA / directory,
            env=tf.env(directory),
            stdout=handle,
        )
    if code != 0:
        raise Failed(f"terraform show -json {plan.name} failed")


def plan_dev(tf: Terraform, endpoint: str) -> str:
    variables = BUILD / "offline.tfvars.json"
    values = {"aws_endpoint_url": endpoint, "availability_zones": list(AVAILABILITY_ZONES), **fake_packages()}
    variables.write_text(json.dumps(values), encoding="utf-8")
    out = BUILD / "plan.tfplan"
    tf("envs/dev", "plan", *COMMON_PLAN_ARGS, f"-var-file={variables}", f"-out={out}", log="plan-dev")
    show_json(tf, "envs/dev", out, BUILD / "plan.json")
    plan = json.loads((BUILD / "plan.json").read_text(encoding="utf-8"))
    planned = {
        change["type"] for change in plan["resource_changes"] if "create" in change["change"]["actions"]
    }
    missing = sorted(set(REQUIRED_TYPES) - planned)
    if missing:
        raise Failed(f"the plan of envs/dev lacks {', '.join(missing)}")
    resources = sum(1 for change in plan["resource_changes"] if change["mode"] == "managed")
    return f"envs/dev: {resources} resources, every required type -> build/infra/plan.json"


def plan_workflow(tf: Terraform, endpoint: str, requests_log: Path) -> str:
    directory = "compliance/workflow_plan"
    out = BUILD / "plan-workflow.tfplan"
    tf(
        directory,
        "plan",
        *COMMON_PLAN_ARGS,
        f"-var=aws_endpoint_url={endpoint}",
        f"-out={out}",
        log="plan-workflow",
    )
    validations = [
        r for r in stub_requests(requests_log) if r["operation"] == "ValidateStateMachineDefinition"
    ]
    if not validations or any(r["result"] != "OK" for r in validations):
        raise Failed(f"the provider's ValidateStateMachineDefinition calls: {validations or 'none'}")
    show_json(tf, directory, out, BUILD / "plan-workflow.json")
    plan = json.loads((BUILD / "plan-workflow.json").read_text(encoding="utf-8"))
    (BUILD / "definition.asl.json").write_text(
        plan["output_changes"]["definition"]["after"], encoding="utf-8"
    )

    # The same plan with a broken copy of the ASL (a Choice's Default names no state) must fail on it.
    broken = json.loads((REPO / "state_machines" / "download_fanout.asl.json").read_text(encoding="utf-8"))
    broken["States"][broken["StartAt"]]["Default"] = "NoSuchState"
    broken_file = BUILD / "broken.asl.json"
    broken_file.write_text(json.dumps(broken, indent=2), encoding="utf-8")
    code = tf(
        directory,
        "plan",
        *COMMON_PLAN_ARGS,
        f"-var=aws_endpoint_url={endpoint}",
        f"-var=definition_file={broken_file}",
        log="plan-workflow-broken",
        check=False,
    )
    text = (LOGS / "plan-workflow-broken.log").read_text(encoding="utf-8")
    if (
        code == 0
        or "invalid Step Functions State Machine definition" not in text
        or "NoSuchState" not in text
    ):
        raise Failed("a definition with a transition to a missing state was not rejected at plan time")
    return "ValidateStateMachineDefinition during plan: OK for the rendered ASL, FAIL for a broken copy"


def step_plans(tf: Terraform) -> str:
    with offline_aws() as (endpoint, requests_log), concurrent.futures.ThreadPoolExecutor(2) as workers:
        dev = workers.submit(plan_dev, tf, endpoint)
        workflow = workers.submit(plan_workflow, tf, endpoint, requests_log)
        details = [dev.result(), workflow.result()]
        unexpected = sorted({str(r["operation"]) for r in stub_requests(requests_log) if r.get("unexpected")})
        if unexpected:
            raise Failed(f"the plans called AWS operations the stub does not serve: {', '.join(unexpected)}")
    return "; ".join(details)


def _scenario_counts(log: Path) -> dict[str, int]:
    text = log.read_text(encoding="utf-8")
    match = re.search(r"^(\d+) scenarios \(([^)]*)\)", text, re.MULTILINE)
    counts = {"total": int(match.group(1))} if match else {"total": 0}
    for number, word in re.findall(r"(\d+) (passed|failed|skipped)", match.group(2) if match else ""):
        counts[word] = int(number)
    return counts


def compliance(tool: Path, features: Path, plan: Path, log: str) -> tuple[int, dict[str, int]]:
    """terraform-compliance on a copy of ``plan`` (it rewrites plan files it considers wrapped)."""
    with tempfile.TemporaryDirectory(dir=BUILD) as scratch:
        copy = Path(scratch) / "plan.json"
        shutil.copyfile(plan, copy)
        code = run([str(tool), "--no-ansi", "-f", str(features), "-p", str(copy)], log)
    return code, _scenario_counts(LOGS / f"{log}.log")


def step_compliance_plans(tool: Path) -> str:
    details = []
    for plan in ("plan.json", "plan-workflow.json"):
        code, counts = compliance(tool, INFRA / "compliance", BUILD / plan, f"compliance-{plan[:-5]}")
        if code != 0:
            raise Failed(
                f"build/infra/{plan} breaks a feature:\n" + _tail(LOGS / f"compliance-{plan[:-5]}.log", 60)
            )
        details.append(
            f"{plan}: {counts.get('passed', 0)} scenarios passed, {counts.get('skipped', 0)} not applicable"
        )
    return "; ".join(details)


def check_feature(tool: Path, feature: Path) -> list[str]:
    """The feature passes on its good fixture and every one of its scenarios fails on its bad one."""
    name = feature.stem
    fixtures = INFRA / "compliance" / "fixtures"
    problems = []
    with tempfile.TemporaryDirectory(dir=BUILD) as only:
        shutil.copyfile(feature, Path(only) / feature.name)
        code, _ = compliance(tool, Path(only), fixtures / f"{name}.good.json", f"fixture-{name}-good")
        if code != 0:
            problems.append(f"{name}: fails on its good fixture (log: fixture-{name}-good.log)")
        code, counts = compliance(tool, Path(only), fixtures / f"{name}.bad.json", f"fixture-{name}-bad")
        if code == 0 or counts["total"] == 0 or counts.get("failed", 0) != counts["total"]:
            problems.append(
                f"{name}: its bad fixture fails {counts.get('failed', 0)} of {counts['total']} scenarios "
                f"(all must fail; log: fixture-{name}-bad.log)"
            )
    return problems


def step_compliance_fixtures(tool: Path) -> str:
    features = sorted((INFRA / "compliance").glob("*.feature"))
    with concurrent.futures.ThreadPoolExecutor(2) as workers:
        problems = [p for found in workers.map(lambda f: check_feature(tool, f), features) for p in found]
    if problems:
        raise Failed("\n".join(problems))
    return f"{len(features)} features: good fixtures pass, every scenario fails on its bad fixture"


def step_checkov(tool: Path) -> str:
    env = dict(os.environ, CKV_SKIP_PACKAGE_UPDATE_CHECK="true", BC_SKIP_MAPPING="TRUE")
    args = [str(tool), "-d", str(INFRA), "--config-file", str(INFRA / ".checkov.yaml"), "-o", "cli"]
    if run(args, "checkov", env=env) != 0:
        raise Failed(_tail(LOGS / "checkov.log", 80))
    text = (LOGS / "checkov.log").read_text(encoding="utf-8")
    match = re.search(r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)", text)
    return match.group(0) if match else "no findings"


def rendered_definition() -> Path:
    path = BUILD / "definition.asl.json"
    if not path.exists():
        raise Skip("no rendered definition (the workflow plan did not run)")
    return path


def step_asl_validator(tool: Path) -> str:
    must([str(tool), "--json-path", str(rendered_definition())], "asl-validator")
    return "the rendered definition is valid"


def step_statelint(tool: Path) -> str:
    # --ignore=FLOAT: AWS accepts an integer BackoffRate; statelint's schema wants a float.
    code = run([str(tool), "--ignore=FLOAT", str(rendered_definition())], "statelint")
    if code == 0:
        return "the rendered definition is valid"
    text = (LOGS / "statelint.log").read_text(encoding="utf-8")
    findings = [line.strip() for line in text.splitlines()[2:] if line.strip()]
    real = [f for f in findings if not any(re.fullmatch(p, f) for p in STATELINT_FALSE_POSITIVES)]
    if real or not findings:
        raise Failed(_tail(LOGS / "statelint.log"))
    reasons = "; ".join(STATELINT_FALSE_POSITIVES.values())
    return f"valid apart from {len(findings)} known false positive(s): {reasons}"


def step_stub_validation() -> str:
    must(
        [sys.executable, str(INFRA / "tools" / "offline_aws.py"), "--validate", str(rendered_definition())],
        "asl-structure",
    )
    return (
        (LOGS / "asl-structure.log").read_text(encoding="utf-8").strip().splitlines()[-1].split(": ", 1)[-1]
    )


# --- main ----------------------------------------------------------------------------------------------


def main() -> int:
    strict = os.environ.get("REQUIRE_TERRAFORM") == "1"
    LOGS.mkdir(parents=True, exist_ok=True)
    report = Report(strict=strict)
    started = time.monotonic()

    # Tools install while terraform works (each into its own place under build/infra).
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
    tools = {
        "terraform-compliance": pool.submit(
            venv_tool, "compliance", TERRAFORM_COMPLIANCE, "terraform-compliance"
        ),
        "checkov": pool.submit(venv_tool, "checkov", CHECKOV, "checkov"),
        "statelint": pool.submit(venv_tool, "statelint", STATELINT, "statelint"),
        "asl-validator": pool.submit(npm_tool, ASL_VALIDATOR, "asl-validator"),
    }

    def tool(name: str) -> Path:
        return tools[name].result()

    # checkov needs no terraform: it runs beside the terraform steps.
    checkov = pool.submit(report.run, "checkov (offline)", lambda: step_checkov(tool("checkov")))

    terraform: list[Terraform] = []

    def locate() -> str:
        terraform.append(find_terraform())
        version = subprocess.run([terraform[0].binary, "version"], capture_output=True, text=True).stdout
        return f"{version.splitlines()[0]}, {PROVIDER} {PROVIDER_VERSION} from {terraform[0].config}"

    if report.run("terraform and provider mirror", locate):
        tf = terraform[0]
        report.run("terraform fmt -check", lambda: step_fmt(tf))
        if report.run("terraform init", lambda: step_init_all(tf)):
            directories = [f"modules/{m}" for m in MODULES] + list(ROOTS)
            with concurrent.futures.ThreadPoolExecutor(max_workers=2) as workers:
                validated = {d: workers.submit(step_validate, tf, d) for d in directories}
                tested = {m: workers.submit(step_test, tf, m) for m in MODULES}
                for directory, future in validated.items():
                    report.run(f"terraform validate {directory}", future.result)
                for module, future in tested.items():
                    report.run(f"terraform test modules/{module}", future.result)
            if report.run("terraform plan (offline)", lambda: step_plans(tf)):
                report.run(
                    "terraform-compliance on the plans",
                    lambda: step_compliance_plans(tool("terraform-compliance")),
                )
                report.run(
                    "terraform-compliance on the fixtures",
                    lambda: step_compliance_fixtures(tool("terraform-compliance")),
                )
                report.run("asl-validator (npm)", lambda: step_asl_validator(tool("asl-validator")))
                report.run("statelint (PyPI)", lambda: step_statelint(tool("statelint")))
                report.run("ValidateStateMachineDefinition stand-in", step_stub_validation)
    checkov.result()
    pool.shutdown(wait=True)
    print(f"infra-check took {time.monotonic() - started:.0f}s")
    return report.summary()


if __name__ == "__main__":
    sys.exit(main())
