"""No secret in the code or the config examples, none in a log line, nothing listening beyond loopback
by default."""

from __future__ import annotations

import inspect
import io
import logging
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from perflab import redaction
from perflab.cli import build_parser
from perflab.local.apigateway import ApiGateway
from perflab.local.endpoint import Endpoint
from perflab.local.stack import LocalCloudConfig

REPO = Path(__file__).resolve().parents[2]

# --- secrets in the repository -----------------------------------------------------------------------

#: Anywhere, tests included: real credential formats.
CREDENTIALS = {
    "AWS access key id": re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"),
    "AWS secret access key": re.compile(
        r"(?i)aws_secret_access_key\s*[:=]\s*['\"]?(?=[A-Za-z0-9/+]*[0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"
    ),
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY(?: BLOCK)?-----"),
    "GitHub token": re.compile(r"\b(?:ghp|gho|ghs|ghu|github_pat)_[A-Za-z0-9_]{20,}"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
}
#: Outside tests/: a password in a URL must be a placeholder.
URL_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@'\"`]+:([^@\s/'\"`]+)@")
#: In configuration (examples, Terraform, Docker, make, CI): a secret-named setting must be a
#: reference or placeholder, never a literal value.
CONFIG_FILE = re.compile(
    r"(\.(json|tf|tfvars|hcl|ya?ml|toml|ini|cfg|conf|env)$|\.example|Dockerfile|Makefile|^\.ci/)"
)
NAMED_SECRET = re.compile(
    r"(?i)(?<![^\s\"'{,(])[\"']?[A-Z0-9_]*(?:password|passwd|secret|token|api_?key)[\"']?"
    r"\s*(?::(?!:)|=)\s*[\"']([^\"'\n]*)[\"']"
)
PLACEHOLDER = re.compile(
    r"^(|\$.*|<.*>|\{.*|…|\*+|true|false|null|none|arn:.*|(module|var|local|data)\..*)$", re.IGNORECASE
)


def repository_files() -> Iterator[Path]:
    """Tracked files and the untracked ones about to be committed (not ignored); text only."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in listed:
        path = REPO / name.decode()
        if name and path.is_file() and path.stat().st_size < 5_000_000:
            head = path.read_bytes()[:4096]
            if b"\0" not in head:
                yield path


def secrets_in(relative: str, text: str) -> list[str]:
    found = [
        f"{relative}:{text.count(chr(10), 0, m.start()) + 1}: {kind}"
        for kind, pattern in CREDENTIALS.items()
        for m in pattern.finditer(text)
    ]
    if not relative.startswith("tests/"):
        for m in URL_PASSWORD.finditer(text):
            if not PLACEHOLDER.match(m.group(1)) and m.group(1) not in ("PASSWORD", "password", "pass"):
                found.append(f"{relative}:{text.count(chr(10), 0, m.start()) + 1}: password in a URL")
    if CONFIG_FILE.search(relative):
        for m in NAMED_SECRET.finditer(text):
            if not PLACEHOLDER.match(m.group(1)):
                found.append(
                    f"{relative}:{text.count(chr(10), 0, m.start()) + 1}: literal secret {m.group(0)!r}"
                )
    return found


def test_no_secret_in_the_repository() -> None:
    problems: list[str] = []
    scanned = 0
    for path in repository_files():
        relative = path.relative_to(REPO).as_posix()
        problems += secrets_in(relative, path.read_text(errors="replace"))
        scanned += 1
    assert scanned > 100  # the listing worked
    assert problems == []


@pytest.mark.parametrize(
    ("relative", "text"),
    [
        ("perflab/x.py", "key = '" + "AKIA" + "Z7X2Q4K9PLM3N8WB'"),
        ("tests/x.py", "aws_secret_access_key = '" + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY'"),
        ("infra/key.pem", "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIB"),
        ("README.md", "export DB=postgresql://perflab:" + "s3cr3t-pw@db.example.com/perflab"),
        ("config/perflab.example.json", '{"api_token": "' + 'abc123def"}'),
        ("infra/envs/dev/terraform.tfvars.example", 'db_password = "' + 'hunter22"'),
    ],
)
def test_the_scan_finds_what_it_looks_for(relative: str, text: str) -> None:
    assert secrets_in(relative, text), text


@pytest.mark.parametrize(
    ("relative", "text"),
    [
        ("README.md", "export PERFLAB_DATABASE_URL=postgresql://perflab:…@127.0.0.1:…/perflab"),
        ("perflab/local/postgres.py", "``postgresql://perflab:<password>@127.0.0.1:<port>/perflab``"),
        ("infra/envs/dev/main.tf", 'secrets = { PGPASSWORD = "${module.database.secret_arn}:password::" }'),
        ("Makefile", 'token="$${PERFLAB_API_TOKEN:-}"'),
        ("tests/unit/test_config.py", 'setenv("PERFLAB_DATABASE_URL", "postgresql://u:hunter2@h/db")'),
    ],
)
def test_placeholders_and_references_are_not_secrets(relative: str, text: str) -> None:
    assert secrets_in(relative, text) == []


# --- secrets in logs ---------------------------------------------------------------------------------


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(redaction.RedactingFilter())
    logger = logging.getLogger("perflab.test.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_registered_and_recognisable_secrets_are_masked(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    token, password = "tok-REGISTERED-123", "pw-Known/Secret+1"
    redaction.register(token)
    redaction.register_url(f"postgresql://perflab:{password.replace('/', '%2F')}@127.0.0.1:5432/perflab")
    # what botocore logs at DEBUG for CreateFunction / RegisterTaskDefinition
    body = (
        b'{"Environment": {"Variables": {"PERFLAB_API_TOKEN": "' + token.encode() + b'", '
        b'"PERFLAB_DATABASE_URL": "postgresql://perflab:' + password.encode() + b'@127.0.0.1:5432/perflab"}}}'
    )
    logger.debug("Making request for %s with params: %s", "CreateFunction", {"body": body})
    logger.info("container env: %s", [{"name": "PERFLAB_API_TOKEN", "value": token}])
    logger.info("header Authorization: Bearer abc.def-ghi and url https://u:other-pass@host/x")
    logger.info("PERFLAB_DB_PASSWORD=unregistered-pw AWS_SECRET_ACCESS_KEY: 'abcdEFGH1234'")
    try:
        raise RuntimeError(f"could not connect to postgresql://perflab:{password}@db/perflab")
    except RuntimeError:
        logger.exception("deploy failed")
    text = stream.getvalue()
    for secret in (token, password, "abc.def-ghi", "other-pass", "unregistered-pw", "abcdEFGH1234"):
        assert secret not in text, (secret, text)
    assert text.count("***") >= 7
    assert "Making request for CreateFunction" in text and "deploy failed" in text  # nothing dropped


def test_the_cli_filters_every_log_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFLAB_API_TOKEN", "tok-from-the-environment")
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    try:
        installed = redaction.install()
        assert installed in handler.filters
        assert redaction.install() is installed  # idempotent
        assert redaction.redact("x tok-from-the-environment y") == "x *** y"
    finally:
        root.removeHandler(handler)
    assert "redaction.install()" in inspect.getsource(__import__("perflab.cli").cli.main)


# --- listening ---------------------------------------------------------------------------------------


def test_everything_binds_loopback_by_default() -> None:
    assert LocalCloudConfig().host == "127.0.0.1"
    assert Endpoint.host == "127.0.0.1"
    assert inspect.signature(ApiGateway).parameters["host"].default == "127.0.0.1"
    args = build_parser().parse_args(["local", "up"])
    assert args.host == "127.0.0.1"
