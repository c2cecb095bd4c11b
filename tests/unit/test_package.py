"""`perflab package`: reproducible zips (same inputs, same sha256), their contents, the 250 MB check, the
manifest and tfvars Terraform reads, the ECS image context, and the runtime requirements each function
needs. A fake installer stands in for pip (one test in test_package_pip.py runs the real one)."""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import marshal
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from perflab import package as pkg
from perflab.deploy import package_lambda

REPO = pkg.REPO_ROOT
TF_NAMES = {
    "download_zip_path",
    "aggregate_zip_path",
    "api_zip_path",
    "download_zip_sha256",
    "aggregate_zip_sha256",
    "api_zip_sha256",
    "lambda_architecture",
    "task_cpu_architecture",
    "task_image_tag",
}


def fake_installer(
    requirements: Sequence[str], constraints: Sequence[str], target: Path, arch: pkg.Architecture
) -> dict[str, str]:
    """A tiny 'wheel install': a library, its dist-info, a console script and an executable .so."""
    (target / "fakelib").mkdir(parents=True)
    (target / "fakelib" / "__init__.py").write_text(
        f"ARCH = {arch!r}\nREQUIREMENTS = {list(requirements)!r}\n"
    )
    (target / "fakelib-1.0.dist-info").mkdir()
    (target / "fakelib-1.0.dist-info" / "METADATA").write_text("Name: fakelib\nVersion: 1.0\n")
    native = target / "fakelib" / "_speedups.cpython-311-x86_64-linux-gnu.so"
    native.write_bytes(b"\x7fELF fake")
    native.chmod(0o755)
    (target / "bin").mkdir()
    (target / "bin" / "fake").write_text(f"#!{sys.executable}\n")
    return {"fakelib": "1.0"}


def build(out: Path, **kwargs: object) -> pkg.Package:
    options: dict[str, object] = {"installer": fake_installer, "constraints": [], "functions": ("download",)}
    options.update(kwargs)
    return pkg.build_package(out, **options)  # type: ignore[arg-type]


def copy_repo(target: Path) -> Path:
    """The parts of the repository a package is built from, frozen (files can change while tests run)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("lambdas", "perflab", "ecs_task"):
        shutil.copytree(REPO / name, target / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(REPO / name, target / name)
    return target


def test_same_inputs_give_the_same_digest_in_any_directory(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    first = build(tmp_path / "one", repo_root=repo)
    second = build(tmp_path / "elsewhere" / "two", repo_root=repo)
    a, b = first.artifacts["download"], second.artifacts["download"]
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.sha256 == b.sha256 == hashlib.sha256(a.path.read_bytes()).hexdigest()
    assert first.image.digest == second.image.digest
    # A rebuild in place (deps from the cache) gives the same bytes too.
    again = build(tmp_path / "one", repo_root=repo)
    assert again.artifacts["download"].sha256 == a.sha256


def test_a_changed_source_changes_the_digest(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    before = build(tmp_path / "a", repo_root=repo)
    with (repo / "lambdas" / "download" / "handler.py").open("a") as f:
        f.write("\n# changed\n")
    after = build(tmp_path / "b", repo_root=repo)
    assert before.artifacts["download"].sha256 != after.artifacts["download"].sha256
    assert before.image.digest == after.image.digest  # the image does not hold lambdas/


def test_zip_holds_the_handler_at_the_root_perflab_and_the_libraries(tmp_path: Path) -> None:
    artifact = build(tmp_path / "out").artifacts["download"]
    with zipfile.ZipFile(artifact.path) as archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert "handler.py" in names and "__pycache__/handler.cpython-311.pyc" in names
        assert "perflab/__init__.py" in names and "perflab/invocation.py" in names
        assert "fakelib/__init__.py" in names and "fakelib-1.0.dist-info/METADATA" in names
        assert not [n for n in names if n.startswith(("perflab/local/", "bin/"))]
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in infos}
        assert modes["handler.py"] == 0o644
        assert modes["fakelib/_speedups.cpython-311-x86_64-linux-gnu.so"] == 0o755
        # Hash-based bytecode (flags 0b01: unchecked), compiled for where Lambda extracts the code.
        pyc = archive.read("perflab/__pycache__/invocation.cpython-311.pyc")
        assert int.from_bytes(pyc[4:8], "little") == 0b01
        assert marshal.loads(pyc[16:]).co_filename == "/var/task/perflab/invocation.py"
        assert sum(i.file_size for i in infos) == artifact.unzipped_bytes
    # perflab is importable from the extracted zip, with the handler module at the root.
    extracted = tmp_path / "extracted"
    zipfile.ZipFile(artifact.path).extractall(extracted)
    code = "import handler, fakelib, perflab.stats; print(perflab.stats.__file__)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=extracted, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(extracted / "perflab" / "stats.py")


def test_the_local_deployer_uses_the_same_builder_without_libraries() -> None:
    local = package_lambda("api")
    assert local == pkg.zip_bytes(pkg.lambda_sources("api"))
    names = zipfile.ZipFile(__import__("io").BytesIO(local)).namelist()
    assert "handler.py" in names and "perflab/api.py" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith("perflab/local/")]


def test_unzipped_size_over_the_limit_fails_naming_the_largest_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * 5000)
    small = tmp_path / "small.py"
    small.write_bytes(b"x = 1\n")
    entries = [("botocore/data.bin", big), ("handler.py", small)]
    assert pkg.check_unzipped_size("download", entries, limit=5006) == 5006
    with pytest.raises(
        pkg.PackageTooLarge, match=r"download: 5,006 bytes unzipped, over .* 5,005 bytes"
    ) as info:
        pkg.check_unzipped_size("download", entries, limit=5005)
    assert "botocore 0.0 MB" in str(info.value)
    # The whole build stops before writing the zip, and the CLI's error names the limit.
    monkeypatch.setattr(pkg, "UNZIPPED_LIMIT_BYTES", 1000)
    with pytest.raises(pkg.PackageTooLarge, match="over Lambda's limit of 1,000 bytes"):
        build(tmp_path / "out")
    assert not (tmp_path / "out" / "download.zip").exists()
    monkeypatch.undo()
    assert pkg.UNZIPPED_LIMIT_BYTES == 262_144_000 == 250 * 1024 * 1024


def test_manifest_and_tfvars_carry_paths_and_digests(tmp_path: Path) -> None:
    built = build(
        tmp_path / "out",
        functions=pkg.FUNCTIONS,
        image_repository="123456789012.dkr.ecr.us-east-1.amazonaws.com/perflab-download-task",
    )
    tfvars = json.loads(built.tfvars_path.read_text())
    assert set(tfvars) == TF_NAMES | {"task_image"}
    manifest = json.loads(built.manifest_path.read_text())
    assert manifest["schema"] == "perflab.package/1" and manifest["architecture"] == "x86_64"
    for name in pkg.FUNCTIONS:
        path = Path(tfvars[f"{name}_zip_path"])
        assert path.is_absolute() and path == (tmp_path / "out" / f"{name}.zip").resolve()
        digest = hashlib.sha256(path.read_bytes()).digest()
        assert tfvars[f"{name}_zip_sha256"] == base64.b64encode(digest).decode()
        entry = manifest["functions"][name]
        assert entry["sha256"] == digest.hex()
        assert entry["sha256_base64"] == tfvars[f"{name}_zip_sha256"]
        assert entry["size_bytes"] == path.stat().st_size
        assert entry["unzipped_limit_bytes"] == 262_144_000 and entry["unzipped_within_limit"] is True
        assert entry["distributions"] == {"fakelib": "1.0"}
        assert entry["handler"] == "handler.handler" and entry["runtime"] == "python3.11"
    image = manifest["ecs_task"]
    assert image["digest"] == built.image.digest and image["tag"] == "ctx-" + built.image.digest[7:19]
    assert tfvars["task_image_tag"] == image["tag"] and tfvars["lambda_architecture"] == "x86_64"
    assert tfvars["task_cpu_architecture"] == "X86_64" and image["docker_platform"] == "linux/amd64"
    assert (
        tfvars["task_image"]
        == image["image"]
        == (f"123456789012.dkr.ecr.us-east-1.amazonaws.com/perflab-download-task:{image['tag']}")
    )
    assert "task_image" not in json.loads(build(tmp_path / "plain").tfvars_path.read_text())


def test_image_context_holds_the_dockerfile_and_what_it_copies(tmp_path: Path) -> None:
    context = build(tmp_path / "out").image
    assert context.copied == ("pyproject.toml", "README.md", "perflab", "ecs_task")
    files = {p.relative_to(context.path).as_posix() for p in context.path.rglob("*") if p.is_file()}
    assert {"Dockerfile", "pyproject.toml", "README.md", "ecs_task/__main__.py", "perflab/cli.py"} <= files
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc")]
    assert (context.path / "Dockerfile").read_bytes() == (REPO / "ecs_task" / "Dockerfile").read_bytes()
    if shutil.which("sha256sum") and shutil.which("find"):
        shell = "find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum"
        listing = subprocess.run(
            ["sh", "-c", shell], cwd=context.path, capture_output=True, text=True, check=True
        ).stdout
        assert context.digest == "sha256:" + listing.split()[0]


def test_dockerfile_sources_reads_copy_and_add_but_not_other_stages(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM python:3.11-slim AS base\n"
        "COPY --chown=1000 a.txt b/ ./\n"
        "COPY --from=base /x /y\n"
        "ADD c.tar \\\n    /opt/\n"
        "# COPY commented.txt /\n"
    )
    assert pkg.dockerfile_sources(dockerfile) == ["a.txt", "b/", "c.tar"]


def test_requirements_are_the_pyproject_pins(tmp_path: Path) -> None:
    pins = pkg.pinned_requirements(pkg.RUNTIME_REQUIREMENTS["download"])
    assert "boto3==1.44.8" in pins and "aws-lambda-powertools[tracer]==3.37.0" in pins
    assert not [p for p in pins if p.split("==")[0].split("[")[0] in ("moto", "numpy", "matplotlib")]
    with pytest.raises(pkg.PackageError, match=r"no exact pin .* for no-such-lib"):
        pkg.pinned_requirements(["no-such-lib"])
    with pytest.raises(pkg.PackageError, match="unknown architecture 'sparc'"):
        pkg.build_package(tmp_path, "sparc")  # type: ignore[arg-type]


# --- every library a function imports is packaged -----------------------------------------------------


def _imports(path: Path) -> set[str]:
    """Absolute module names ``path`` imports anywhere (module level and inside functions)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _module_file(name: str) -> Path | None:
    base = REPO / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _reachable(handler: Path) -> tuple[set[str], set[str]]:
    """(perflab modules reachable from ``handler``, third-party top-level modules they import)."""
    seen: set[str] = set()
    third_party: set[str] = set()
    todo = [handler]
    while todo:
        for name in _imports(todo.pop()):
            top = name.split(".")[0]
            if top == "perflab":
                path = _module_file(name)
                if path is not None and name not in seen:
                    seen.add(name)
                    todo.append(path)
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    return seen, third_party


def _closure(requirements: Sequence[str]) -> set[str]:
    """Distributions the pinned requirements install here (Requires-Dist, markers evaluated)."""
    todo = [Requirement(r) for r in requirements]
    seen: set[str] = set()
    while todo:
        requirement = todo.pop()
        name = pkg.normalise(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        for spec in metadata.requires(name) or []:
            dep = Requirement(spec)
            wanted = dep.marker is None or any(
                dep.marker.evaluate({"extra": extra}) for extra in (requirement.extras or {""})
            )
            if wanted:
                todo.append(dep)
    return seen


@pytest.mark.parametrize("function", pkg.FUNCTIONS)
def test_every_library_a_function_imports_is_in_its_package(function: str) -> None:
    modules, third_party = _reachable(REPO / "lambdas" / function / "handler.py")
    assert not [m for m in modules if m.startswith("perflab.local")], "perflab/local is not in the zip"
    packaged = _closure(pkg.pinned_requirements(pkg.RUNTIME_REQUIREMENTS[function]))
    distributions = metadata.packages_distributions()
    owners = {top: {pkg.normalise(d) for d in distributions.get(top, [top])} for top in third_party}
    missing = {top: sorted(dists) for top, dists in sorted(owners.items()) if not dists & packaged}
    assert not missing, f"add to RUNTIME_REQUIREMENTS[{function!r}] (perflab/package.py): {missing}"


def test_the_api_package_holds_the_dashboard_page_and_the_report_data(tmp_path: Path) -> None:
    """``GET /`` reads ``perflab/dashboard/static/*`` and the report reads its JSON data files at run
    time: the zip must carry them, and the page must build from the extracted zip alone."""
    names = {name for name, _path in pkg.lambda_sources("api")}
    assert {
        "perflab/dashboard/static/index.html",
        "perflab/dashboard/static/dashboard.js",
        "perflab/dashboard/static/dashboard.css",
        "perflab/report/prices-us-east-1.json",
    } <= names
    zipfile.ZipFile(__import__("io").BytesIO(package_lambda("api"))).extractall(tmp_path)
    code = (
        "import sys; sys.path.insert(0, '.'); from perflab.dashboard import page; "
        "print(page.__file__); print(len(page.dashboard_html()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    module_file, size = result.stdout.split()
    assert Path(module_file).resolve().is_relative_to(tmp_path.resolve())  # the zip's copy, not the repo's
    assert int(size) > 10_000
