"""`perflab bench` refuses bad input (flags, environment, config file) with exit 2 and a message naming
the field and what it allows, before anything is started or written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from perflab import cli, config


@dataclass(frozen=True)
class Bad:
    case: str
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    #: written to a file PERFLAB_CONFIG_FILE names (a str is written as is, anything else as JSON)
    config_file: Any = None
    #: every fragment must be in stderr: the field and what it allows
    says: tuple[str, ...] = ()


BAD = [
    # flags
    Bad(
        "unknown compute",
        ["--compute", "gpu"],
        says=("--compute", "invalid choice: 'gpu'", "lambda", "ecs", "all"),
    ),
    Bad("unknown storage", ["--storage", "ftp"], says=("--storage", "invalid choice: 'ftp'", "s3", "rds")),
    Bad(
        "zero invocations",
        ["--invocations", "0"],
        says=("--invocations", "must be a positive integer, got 0"),
    ),
    Bad(
        "negative invocations", ["--invocations", "-5"], says=("--invocations", "must be a positive integer")
    ),
    Bad(
        "fractional invocations",
        ["--invocations", "1.5"],
        says=("--invocations", "positive integer, got '1.5'"),
    ),
    Bad("invocations not a number", ["--invocations", "many"], says=("--invocations", "positive integer")),
    Bad(
        "invocations above the cap",
        ["--invocations", "5000"],
        says=("invocations: must be an integer from 1 to 1000 (got 5000)",),
    ),
    Bad(
        "zero artifact bytes",
        ["--artifact-bytes", "0"],
        says=("--artifact-bytes", "must be a positive integer"),
    ),
    Bad(
        "absurd artifact bytes",
        ["--artifact-bytes", str(10**15)],
        says=("artifact_bytes: must be an integer from 1 to 10737418240",),
    ),
    Bad(
        "too many range parts",
        ["--s3-range-parts", "99"],
        says=("s3_range_parts: must be an integer from 0 to 16",),
    ),
    Bad(
        "unknown rds layout",
        ["--rds-layout", "blob"],
        says=("--rds-layout", "invalid choice: 'blob'", "chunks", "large_object"),
    ),
    Bad("zero repeats", ["--repeat", "0"], says=("--repeat", "must be a positive integer")),
    Bad("long label", ["--label", "x" * 201], says=("label: must be a string of at most 200 characters",)),
    Bad("unknown flag", ["--colour", "red"], says=("unrecognized arguments: --colour red",)),
    Bad(
        "api url and endpoint",
        ["--api-url", "http://a", "--endpoint", "http://b"],
        says=("exclude each other",),
    ),
    Bad(
        "unknown fault",
        ["--inject", "meteor"],
        says=("inject: must be one of raise, timeout", "(got 'meteor')"),
    ),
    Bad("bad fault rate", ["--inject", "raise:0"], says=("inject: EVERY", "positive integer")),
    Bad(
        "fault of no requested configuration",
        ["--inject", "pg-stop", "--storage", "s3"],
        says=("inject: pg-stop applies to compute ecs|lambda with storage rds",),
    ),
    Bad(
        "fault needing the embedded cloud",
        ["--inject", "pg-max-connections", "--endpoint", "http://127.0.0.1:1"],
        says=("inject: pg-max-connections needs the embedded local cloud",),
    ),
    # environment
    Bad(
        "unknown rds layout setting",
        env={"PERFLAB_RDS_LAYOUT": "foo"},
        says=("invalid settings: rds_layout: must be one of chunks, large_object (got 'foo')",),
    ),
    Bad(
        "invocations setting 0",
        env={"PERFLAB_INVOCATIONS": "0"},
        says=("invocations: must be an integer from 1",),
    ),
    Bad(
        "bad model id setting",
        env={"PERFLAB_MODEL_ID": "../etc"},
        says=("model_id: must be a string matching",),
    ),
    Bad(
        "lower cap from the environment",
        ["--invocations", "6"],
        env={"PERFLAB_MAX_INVOCATIONS": "5", "PERFLAB_INVOCATIONS": "5"},
        says=("invocations: must be an integer from 1 to 5 (got 6)",),
    ),
    Bad(
        "bucket setting", env={"PERFLAB_BUCKET": "Not_A_Bucket"}, says=("bucket: must be a string matching",)
    ),
    # config file
    Bad(
        "config invocations 0",
        config_file={"invocations": 0},
        says=("invocations: must be an integer from 1",),
    ),
    Bad(
        "config artifact bytes absurd",
        config_file={"artifact_bytes": 10**15},
        says=("artifact_bytes: must be an integer from 1 to 10737418240",),
    ),
    Bad("config unknown option", config_file={"colour": "red"}, says=("colour: is not a known option",)),
    Bad("config not JSON", config_file="{not json", says=("config_file:", "not readable JSON")),
    Bad("config not an object", config_file="[1, 2]", says=("config_file:", "must hold a JSON object")),
    Bad(
        "config file missing",
        env={"PERFLAB_CONFIG_FILE": "missing.json"},
        says=("config_file:", "does not exist"),
    ),
]


@pytest.fixture
def nothing_may_start(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[str]]:
    """A clean environment in an empty directory; starting a cloud or a run fails the test."""
    started: list[str] = []
    for name in list(os.environ):
        if name.startswith("PERFLAB_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)

    def refuse(what: str) -> Any:
        def start(*args: Any, **kwargs: Any) -> Any:
            started.append(what)
            raise AssertionError(f"{what} started for bad input")

        return start

    monkeypatch.setattr("perflab.bench.run_bench", refuse("run_bench"))
    monkeypatch.setattr("perflab.fault_harness.run_fault_bench", refuse("run_fault_bench"))
    monkeypatch.setattr("perflab.local.process.local_cloud_process", refuse("local_cloud_process"))
    config.get_settings.cache_clear()
    yield started
    config.get_settings.cache_clear()


@pytest.mark.parametrize("bad", BAD, ids=[b.case for b in BAD])
def test_bad_input_exits_2_naming_the_field_and_starts_nothing(
    bad: Bad,
    nothing_may_start: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in bad.env.items():
        monkeypatch.setenv(name, value)
    if bad.config_file is not None:
        path = Path("perflab.json")
        path.write_text(bad.config_file if isinstance(bad.config_file, str) else json.dumps(bad.config_file))
        monkeypatch.setenv("PERFLAB_CONFIG_FILE", str(path))
    out = Path("results")
    try:
        code = cli.main(["bench", *bad.args, "--out", str(out)])
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    assert code == 2
    stderr = capsys.readouterr().err
    for fragment in bad.says:
        assert fragment in stderr, stderr
    assert nothing_may_start == []
    assert not out.exists()


def test_the_installed_command_exits_2(tmp_path: Path) -> None:
    """The same refusal through a real process (the exit code a script sees)."""
    result = subprocess.run(
        [sys.executable, "-m", "perflab.cli", "bench", "--invocations", "5000", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("PERFLAB_")},
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "invocations: must be an integer from 1 to 1000 (got 5000)" in result.stderr
    assert not (tmp_path / "r").exists()
