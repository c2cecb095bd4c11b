"""Deployment artifacts: the Lambda zips, the ECS image's build context, and their manifest.

One zip builder serves both deployers. :func:`lambda_sources` lists what every function package
holds (``lambdas/<name>/`` at the zip root, so the handler is ``handler.handler``, plus the
``perflab`` package without ``perflab/local``); :func:`write_zip` writes entries deterministically
(sorted names, fixed 1980-01-01 timestamps, fixed permissions, deflate at zlib's default level), so the same
inputs give the same bytes and the same sha256. The local deployer (:mod:`perflab.deploy`) zips the
sources alone, because the local runtime's workers import third-party libraries from the project's
venv; :func:`build_package` (``perflab package``, ``make package``) adds them for AWS.

What :func:`build_package` writes under ``build/package/``:

- ``download.zip``, ``aggregate.zip``, ``api.zip``: the sources above plus the runtime libraries
  each function imports (:data:`RUNTIME_REQUIREMENTS`), installed by pip as wheels for Lambda's
  ``python3.11`` (Amazon Linux 2, glibc 2.26, hence ``manylinux2014``) and the chosen architecture
  (``x86_64`` default, or ``arm64``): ``pip install --platform manylinux2014_<machine>
  --implementation cp --python-version 3.11 --abi cp311 --only-binary=:all: --target ...``. Versions
  are the exact pins in ``pyproject.toml`` (the one place versions live), and the libraries they pull
  in are constrained to the versions installed in the running environment, so AWS runs what the tests
  ran. Everything is byte-compiled with hash-based ``.pyc`` files (``unchecked-hash``, paths under
  ``/var/task``): Lambda's ``/var/task`` is read-only, so without them every cold start would compile
  botocore and pydantic again, and timestamp-based ones would never match the zip's 1980 dates.
  ``bin/`` (console scripts with this machine's interpreter path) is left out.
- **boto3 is packaged, not taken from the runtime.** The runtime's bundled SDK is older than ours and
  AWS updates it on its own schedule; perflab pins ``boto3``/``botocore`` because behaviour that the
  benchmark measures depends on the version (for example botocore >= 1.36 validates S3 response
  checksums by default, which costs CPU per downloaded byte). The cost is about 30 MB unzipped per
  function, well under the limit below.
- Each zip's unzipped size is checked against Lambda's limit of 262,144,000 bytes (250 MB, function and
  layers together; :data:`UNZIPPED_LIMIT_BYTES`): a package over it fails the build with
  :class:`PackageTooLarge` naming the largest parts. Above 50 MB zipped
  (:data:`DIRECT_UPLOAD_LIMIT_BYTES`) a zip cannot be uploaded directly and must go through S3: the
  manifest says so (``direct_upload_ok``).
- ``ecs_task/``: the download task image's build context: ``ecs_task/Dockerfile`` and exactly the
  paths its ``COPY`` instructions name (no caches), so ``docker build build/package/ecs_task`` works
  anywhere. Its digest is the sha256 of the sorted ``sha256sum`` listing of its files, the same as
  ``cd build/package/ecs_task && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum |
  sha256sum``; the image tag ``ctx-<first 12 hex>`` is derived from it. The image is built by the
  user (``make deploy`` does it when Docker is present), never here.
- ``manifest.json``: every artifact's path (relative to the repository), sha256 in hex and in base64
  (Terraform's ``source_code_hash``), size, unzipped size against the limit, and the distributions
  each zip holds. No timestamps: the same inputs give the same manifest.
- ``package.auto.tfvars.json``: the Terraform inputs of ``infra/envs/dev`` (:data:`TFVARS_FILE`):
  ``<function>_zip_path`` (absolute), ``<function>_zip_sha256`` (base64), ``lambda_architecture``,
  ``task_cpu_architecture``, ``task_image_tag`` (``ctx-<digest>``, pushed to the ECR repository
  Terraform creates) and, when an image repository is given, ``task_image`` (``<repository>:<tag>``).
  Pass it with ``-var-file`` (Terraform only warns about a value it does not declare).

Installed libraries are cached under ``build/package/.deps/<key>/``, keyed by the requirements,
constraints, platform and Python, so a second ``make package`` does not download them again.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from itertools import pairwise
from pathlib import Path
from typing import Any, BinaryIO, Literal

#: What of ``perflab/`` goes into a Lambda package: the code, the dashboard's static files (``GET /``)
#: and the report's data files.
PACKAGE_SUFFIXES = (".py", ".typed", ".html", ".js", ".css", ".json")
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "build" / "package"
FUNCTIONS = ("download", "aggregate", "api")
#: Lambda's runtime for the zips (and the Python whose wheels and bytecode they hold).
LAMBDA_RUNTIME = "python3.11"
PYTHON_VERSION = "3.11"
Architecture = Literal["x86_64", "arm64"]
ARCHITECTURES: tuple[Architecture, ...] = ("x86_64", "arm64")
#: pip ``--platform`` per Lambda architecture: python3.11 runs on Amazon Linux 2 (glibc 2.26).
PLATFORMS: Mapping[Architecture, str] = {
    "x86_64": "manylinux2014_x86_64",
    "arm64": "manylinux2014_aarch64",
}
#: Third-party distributions each function imports, directly or through ``perflab`` (a unit test walks
#: the imports). Names as in ``pyproject.toml``, whose pins (and extras) are used.
RUNTIME_REQUIREMENTS: Mapping[str, tuple[str, ...]] = {
    name: ("aws-lambda-powertools", "boto3", "botocore", "psycopg", "pydantic", "pydantic-settings")
    for name in FUNCTIONS
}
#: Lambda's limit on a function's unzipped code and layers ("Unzipped size must be smaller than
#: 262144000 bytes"; 250 MB in https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
UNZIPPED_LIMIT_BYTES = 262_144_000
#: Largest zip Lambda accepts uploaded directly (``CodeSizeZipped``, 50 MB); larger ones go through S3.
DIRECT_UPLOAD_LIMIT_BYTES = 52_428_800
#: Where Lambda extracts a function's code: the path compiled into the ``.pyc`` files.
LAMBDA_TASK_ROOT = "/var/task"
#: Fargate's ``runtimePlatform.cpuArchitecture`` of an image built for the same architecture.
TASK_CPU_ARCHITECTURES: Mapping[Architecture, str] = {"x86_64": "X86_64", "arm64": "ARM64"}
#: ``docker build --platform`` of the task image for each architecture.
DOCKER_PLATFORMS: Mapping[Architecture, str] = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
ECS_CONTEXT = "ecs_task"
DOCKERFILE = REPO_ROOT / "ecs_task" / "Dockerfile"
MANIFEST_FILE = "manifest.json"
TFVARS_FILE = "package.auto.tfvars.json"
MANIFEST_SCHEMA = "perflab.package/1"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
#: Top-level directories of an installed tree that are never packaged.
EXCLUDED_TOP = frozenset({"bin"})
EXCLUDED_PARTS = frozenset({"__pycache__"})

#: (name inside the zip, file on disk)
ZipEntry = tuple[str, Path]
#: ``installer(requirements, constraints, target, arch)`` fills ``target`` with the installed libraries
#: and returns the installed distributions (name → version).
Installer = Callable[[Sequence[str], Sequence[str], Path, Architecture], dict[str, str]]


class PackageError(Exception):
    """The package cannot be built (the message says why and what to do)."""


class PackageTooLarge(PackageError):
    """A function's unzipped size exceeds Lambda's limit."""


# --- sources -----------------------------------------------------------------------------------------


def _skipped(relative: Path) -> bool:
    return bool(EXCLUDED_PARTS.intersection(relative.parts)) or relative.suffix == ".pyc"


def lambda_sources(function: str, repo_root: Path = REPO_ROOT) -> list[ZipEntry]:
    """The function's own files: ``lambdas/<function>/*.py`` at the root, ``perflab`` without ``local``."""
    source = repo_root / "lambdas" / function
    if not (source / "handler.py").is_file():
        raise FileNotFoundError(f"no Lambda function {function!r}: {source / 'handler.py'} does not exist")
    entries = [
        (path.relative_to(source).as_posix(), path)
        for path in sorted(source.rglob("*.py"))
        if not _skipped(path.relative_to(source))
    ]
    for path in sorted((repo_root / "perflab").rglob("*")):
        relative = path.relative_to(repo_root)
        if (
            path.is_file()
            and path.suffix in PACKAGE_SUFFIXES
            and not _skipped(relative)
            and relative.parts[:2] != ("perflab", "local")
        ):
            entries.append((relative.as_posix(), path))
    return entries


def tree_entries(root: Path) -> list[ZipEntry]:
    """Every file under ``root`` (an installed tree), named relative to it; ``bin/`` left out."""
    entries: list[ZipEntry] = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and relative.parts[0] not in EXCLUDED_TOP:
            entries.append((relative.as_posix(), path))
    return entries


# --- the zip builder ---------------------------------------------------------------------------------


def write_zip(entries: Iterable[ZipEntry], out: BinaryIO) -> None:
    """Write a deterministic zip: names sorted, fixed timestamps, 0644 (0755 for executables)."""
    ordered = sorted(entries, key=lambda entry: entry[0])
    duplicates = sorted({a for (a, _), (b, _) in pairwise(ordered) if a == b})
    if duplicates:
        raise PackageError(f"two files want the same place in the zip: {', '.join(duplicates[:5])}")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in ordered:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.create_system = 3  # Unix, so the permission bits below are honoured
            mode = 0o755 if os.stat(path).st_mode & 0o111 else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with path.open("rb") as src, archive.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def zip_bytes(entries: Iterable[ZipEntry]) -> bytes:
    """:func:`write_zip` into memory."""
    buffer = io.BytesIO()
    write_zip(entries, buffer)
    return buffer.getvalue()


def code_sha256(package: bytes) -> str:
    """Lambda's ``CodeSha256`` (and Terraform's ``source_code_hash``): base64 of the sha256 digest."""
    return base64.b64encode(hashlib.sha256(package).digest()).decode()


def file_sha256(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


# --- requirements ------------------------------------------------------------------------------------

_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?P<extras>\[[^\]]*\])?\s*==\s*(?P<version>[^\s;,]+)$"
)


def normalise(name: str) -> str:
    """PEP 503 name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_requirements(names: Iterable[str], pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """``name[extras]==version`` for each name, exactly as pinned in ``pyproject.toml``'s dependencies."""
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    pins: dict[str, str] = {}
    for spec in dependencies:
        match = _PIN.match(spec.strip())
        if match:
            pins[normalise(match["name"])] = spec.strip()
    missing = [name for name in names if normalise(name) not in pins]
    if missing:
        raise PackageError(f"{pyproject}: no exact pin (name==version) for {', '.join(missing)}")
    return sorted(pins[normalise(name)] for name in names)


def environment_constraints() -> list[str]:
    """``name==version`` of every distribution in the running environment (pins what pip pulls in)."""
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(normalise(name), f"{normalise(name)}=={dist.version}")
    found.pop("perflab", None)
    return sorted(found.values())


def pip_install(
    requirements: Sequence[str], constraints: Sequence[str], target: Path, arch: Architecture
) -> dict[str, str]:
    """Install manylinux wheels for Lambda's Python and ``arch`` into ``target`` (pip, no compile)."""
    with tempfile.TemporaryDirectory(prefix="perflab-pip-") as tmp:
        constraint_file = Path(tmp) / "constraints.txt"
        constraint_file.write_text("\n".join(constraints) + "\n")
        report = Path(tmp) / "report.json"
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--no-input",
            "--platform",
            PLATFORMS[arch],
            "--implementation",
            "cp",
            "--python-version",
            PYTHON_VERSION,
            "--abi",
            "cp" + PYTHON_VERSION.replace(".", ""),
            "--only-binary=:all:",
            "--target",
            str(target),
            "--constraint",
            str(constraint_file),
            "--report",
            str(report),
            *requirements,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PackageError(
                f"pip could not install {PLATFORMS[arch]} wheels for Python {PYTHON_VERSION}:\n"
                f"$ {shlex.join(command)}\n{result.stderr.strip()[-4000:]}\n"
                f"Lambda's {LAMBDA_RUNTIME} runs on Amazon Linux 2 (glibc 2.26), so only manylinux2014 "
                "(glibc 2.17) wheels load there: a library without one for this architecture cannot run on "
                "it (e.g. psycopg-binary 3.3 ships aarch64 wheels for glibc 2.27+ only)."
            )
        installed = json.loads(report.read_text()).get("install", [])
    return {normalise(str(item["metadata"]["name"])): str(item["metadata"]["version"]) for item in installed}


def compile_tree(root: Path) -> None:
    """Byte-compile ``root`` in place: hash-based ``.pyc`` (``unchecked-hash``) named under /var/task."""
    # A child process with a fixed hash seed: the bytecode must not depend on this process's state.
    command = [
        sys.executable,
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        str(root),
        "-p",
        LAMBDA_TASK_ROOT,
        str(root),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    # compileall exits 1 when some file does not compile (e.g. Python-2-only test data in a wheel):
    # those stay source-only, as they would be on any install; anything else is an error.
    if result.returncode not in (0, 1):
        raise PackageError(f"compileall failed on {root}:\n{result.stderr.strip()[-2000:]}")


# --- Lambda artifacts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Artifact:
    """One built zip, as the manifest records it."""

    function: str
    path: Path
    sha256: str
    sha256_base64: str
    size_bytes: int
    unzipped_bytes: int
    files: int
    distributions: Mapping[str, str]
    requirements: tuple[str, ...]

    @property
    def direct_upload_ok(self) -> bool:
        return self.size_bytes <= DIRECT_UPLOAD_LIMIT_BYTES

    def to_json(self, repo_root: Path) -> dict[str, Any]:
        return {
            "path": _relative(self.path, repo_root),
            "sha256": self.sha256,
            "sha256_base64": self.sha256_base64,
            "size_bytes": self.size_bytes,
            "unzipped_bytes": self.unzipped_bytes,
            "unzipped_limit_bytes": UNZIPPED_LIMIT_BYTES,
            "unzipped_within_limit": self.unzipped_bytes <= UNZIPPED_LIMIT_BYTES,
            "direct_upload_limit_bytes": DIRECT_UPLOAD_LIMIT_BYTES,
            "direct_upload_ok": self.direct_upload_ok,
            "files": self.files,
            "handler": "handler.handler",
            "runtime": LAMBDA_RUNTIME,
            "requirements": list(self.requirements),
            "distributions": dict(sorted(self.distributions.items())),
        }


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def check_unzipped_size(function: str, entries: Sequence[ZipEntry], limit: int | None = None) -> int:
    """The entries' total size; :class:`PackageTooLarge` (naming the largest parts) above ``limit``
    (default :data:`UNZIPPED_LIMIT_BYTES`)."""
    limit = UNZIPPED_LIMIT_BYTES if limit is None else limit
    sizes: dict[str, int] = {}
    for name, path in entries:
        top = name.split("/", 1)[0]
        sizes[top] = sizes.get(top, 0) + path.stat().st_size
    total = sum(sizes.values())
    if total > limit:
        largest = sorted(sizes.items(), key=lambda item: -item[1])[:5]
        parts = ", ".join(f"{top} {size / 1e6:.1f} MB" for top, size in largest)
        raise PackageTooLarge(
            f"{function}: {total:,} bytes unzipped, over Lambda's limit of {limit:,} bytes "
            f"(function and layers together). Largest parts: {parts}. Drop a dependency from "
            f"RUNTIME_REQUIREMENTS[{function!r}] in perflab/package.py or move it to a layer."
        )
    return total


def build_zip(function: str, entries: Sequence[ZipEntry], out: Path) -> tuple[Path, int]:
    """Check the size limit, then write ``out`` atomically; returns (path, unzipped bytes)."""
    unzipped = check_unzipped_size(function, entries)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(out.suffix + ".partial")
    with partial.open("wb") as f:
        write_zip(entries, f)
    partial.replace(out)
    return out, unzipped


def _deps_dir(
    cache: Path,
    requirements: Sequence[str],
    constraints: Sequence[str],
    arch: Architecture,
    installer: Installer,
) -> tuple[Path, dict[str, str]]:
    """The compiled library tree for ``requirements`` (from the cache when it was built before)."""
    key_source = json.dumps(
        {
            "requirements": list(requirements),
            "constraints": list(constraints),
            "platform": PLATFORMS[arch],
            "python": PYTHON_VERSION,
            "compiler": sys.version_info[:2],
        },
        sort_keys=True,
    )
    key = hashlib.sha256(key_source.encode()).hexdigest()[:16]
    root = cache / key
    done = root / "installed.json"
    if done.is_file():
        return root / "site", dict(json.loads(done.read_text()))
    if root.exists():
        shutil.rmtree(root)
    site = root / "site"
    site.mkdir(parents=True)
    installed = installer(requirements, constraints, site, arch)
    compile_tree(site)
    done.write_text(json.dumps(installed, sort_keys=True, indent=1) + "\n")
    return site, installed


def _compiled_sources(function: str, staging: Path, repo_root: Path) -> list[ZipEntry]:
    """The function's sources copied to ``staging`` and byte-compiled there."""
    if staging.exists():
        shutil.rmtree(staging)
    for name, path in lambda_sources(function, repo_root):
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    compile_tree(staging)
    return tree_entries(staging)


def build_lambda(
    function: str,
    out_dir: Path,
    arch: Architecture,
    *,
    installer: Installer = pip_install,
    constraints: Sequence[str] | None = None,
    repo_root: Path = REPO_ROOT,
) -> Artifact:
    """``out_dir/<function>.zip``: sources + runtime libraries for Lambda, checked against the limit."""
    requirements = tuple(pinned_requirements(RUNTIME_REQUIREMENTS[function], repo_root / "pyproject.toml"))
    site, installed = _deps_dir(
        out_dir / ".deps",
        requirements,
        environment_constraints() if constraints is None else constraints,
        arch,
        installer,
    )
    sources = _compiled_sources(function, out_dir / ".staging" / function, repo_root)
    entries = sources + tree_entries(site)
    path, unzipped = build_zip(function, entries, out_dir / f"{function}.zip")
    digest = file_sha256(path)
    return Artifact(
        function=function,
        path=path,
        sha256=digest.hex(),
        sha256_base64=base64.b64encode(digest).decode(),
        size_bytes=path.stat().st_size,
        unzipped_bytes=unzipped,
        files=len(entries),
        distributions=installed,
        requirements=requirements,
    )


# --- the ECS image context ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageContext:
    """The download task image's build context, as the manifest records it."""

    path: Path
    digest: str
    files: int
    size_bytes: int
    copied: tuple[str, ...] = ()

    @property
    def tag(self) -> str:
        return "ctx-" + self.digest.removeprefix("sha256:")[:12]

    def to_json(self, repo_root: Path) -> dict[str, Any]:
        return {
            "path": _relative(self.path, repo_root),
            "dockerfile": _relative(self.path / "Dockerfile", repo_root),
            "digest": self.digest,
            "tag": self.tag,
            "files": self.files,
            "size_bytes": self.size_bytes,
            "copied": list(self.copied),
        }


def dockerfile_sources(dockerfile: Path) -> list[str]:
    """The build-context paths the Dockerfile's ``COPY``/``ADD`` instructions read (not ``--from``)."""
    sources: list[str] = []
    logical = re.sub(r"\\\n", " ", dockerfile.read_text())
    for line in logical.splitlines():
        words = shlex.split(line, comments=True) if line.strip() else []
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if any(w.startswith("--from") for w in words[1:]):
            continue
        if len(args) < 2:
            raise PackageError(f"{dockerfile}: cannot read the sources of {line.strip()!r}")
        for source in args[:-1]:
            if source not in sources:
                sources.append(source)
    return sources


def context_digest(root: Path) -> str:
    """``sha256:`` of the ``sha256sum`` listing (``<hex>  ./<path>``) of every file, sorted bytewise."""
    lines = sorted(
        (("./" + path.relative_to(root).as_posix()).encode(), file_sha256(path).hex().encode())
        for path in root.rglob("*")
        if path.is_file()
    )
    listing = b"".join(hexdigest + b"  " + name + b"\n" for name, hexdigest in lines)
    return "sha256:" + hashlib.sha256(listing).hexdigest()


def build_image_context(
    out: Path, dockerfile: Path = DOCKERFILE, repo_root: Path = REPO_ROOT
) -> ImageContext:
    """Copy the Dockerfile and what it COPYs (without caches) into ``out``; return its digest."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.copyfile(dockerfile, out / "Dockerfile")
    copied = dockerfile_sources(dockerfile)
    for source in copied:
        path = repo_root / source
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                relative = file.relative_to(repo_root)
                if file.is_file() and not _skipped(relative):
                    (out / relative).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(file, out / relative)
        elif path.is_file():
            (out / source).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, out / source)
        else:
            raise PackageError(f"{dockerfile}: COPY {source}: no such file or directory in {repo_root}")
    files = [p for p in out.rglob("*") if p.is_file()]
    return ImageContext(
        path=out,
        digest=context_digest(out),
        files=len(files),
        size_bytes=sum(p.stat().st_size for p in files),
        copied=tuple(copied),
    )


# --- the package -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Package:
    """Everything :func:`build_package` wrote."""

    out_dir: Path
    arch: Architecture
    artifacts: Mapping[str, Artifact]
    image: ImageContext
    task_image: str | None
    manifest_path: Path
    tfvars_path: Path


def manifest(package: Package, repo_root: Path = REPO_ROOT) -> dict[str, Any]:
    return {
        "schema": MANIFEST_SCHEMA,
        "runtime": LAMBDA_RUNTIME,
        "architecture": package.arch,
        "platform": PLATFORMS[package.arch],
        "functions": {name: a.to_json(repo_root) for name, a in sorted(package.artifacts.items())},
        "ecs_task": {
            **package.image.to_json(repo_root),
            "docker_platform": DOCKER_PLATFORMS[package.arch],
            "image": package.task_image,
        },
        "tfvars": _relative(package.tfvars_path, repo_root),
    }


def tfvars(package: Package) -> dict[str, Any]:
    """The Terraform inputs (``-var-file``): zip paths (absolute), base64 sha256s, architectures, tag."""
    values: dict[str, Any] = {}
    for name, artifact in sorted(package.artifacts.items()):
        values[f"{name}_zip_path"] = str(artifact.path.resolve())
        values[f"{name}_zip_sha256"] = artifact.sha256_base64
    values["lambda_architecture"] = package.arch
    values["task_cpu_architecture"] = TASK_CPU_ARCHITECTURES[package.arch]
    values["task_image_tag"] = package.image.tag
    if package.task_image:
        values["task_image"] = package.task_image
    return values


def build_package(
    out_dir: Path = DEFAULT_OUT,
    arch: Architecture = "x86_64",
    *,
    functions: Sequence[str] = FUNCTIONS,
    image_repository: str | None = None,
    installer: Installer = pip_install,
    constraints: Sequence[str] | None = None,
    repo_root: Path = REPO_ROOT,
    dockerfile: Path | None = None,
    log: Callable[[str], None] = lambda _line: None,
) -> Package:
    """Build every artifact into ``out_dir`` and write the manifest and tfvars (module docstring)."""
    if arch not in ARCHITECTURES:
        raise PackageError(f"unknown architecture {arch!r}: use one of {', '.join(ARCHITECTURES)}")
    unknown = [f for f in functions if f not in RUNTIME_REQUIREMENTS]
    if unknown:
        raise PackageError(f"unknown function(s) {', '.join(unknown)}: choose from {', '.join(FUNCTIONS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    if constraints is None:
        constraints = environment_constraints()
    artifacts: dict[str, Artifact] = {}
    for function in functions:
        artifact = build_lambda(
            function, out_dir, arch, installer=installer, constraints=constraints, repo_root=repo_root
        )
        artifacts[function] = artifact
        log(
            f"{_relative(artifact.path, repo_root)}: {artifact.size_bytes / 1e6:.1f} MB zipped, "
            f"{artifact.unzipped_bytes / 1e6:.1f} MB unzipped (limit {UNZIPPED_LIMIT_BYTES / 1e6:.1f} MB), "
            f"sha256 {artifact.sha256_base64}"
        )
        if not artifact.direct_upload_ok:
            log(f"  note: over {DIRECT_UPLOAD_LIMIT_BYTES:,} bytes zipped: upload it through S3")
    shutil.rmtree(out_dir / ".staging", ignore_errors=True)
    image = build_image_context(
        out_dir / ECS_CONTEXT, dockerfile or repo_root / "ecs_task" / "Dockerfile", repo_root
    )
    log(f"{_relative(image.path, repo_root)}/: {image.files} files, {image.digest}")
    task_image = f"{image_repository}:{image.tag}" if image_repository else None
    package = Package(
        out_dir=out_dir,
        arch=arch,
        artifacts=artifacts,
        image=image,
        task_image=task_image,
        manifest_path=out_dir / MANIFEST_FILE,
        tfvars_path=out_dir / TFVARS_FILE,
    )
    package.manifest_path.write_text(json.dumps(manifest(package, repo_root), indent=2) + "\n")
    package.tfvars_path.write_text(json.dumps(tfvars(package), indent=2) + "\n")
    log(f"{_relative(package.manifest_path, repo_root)}, {_relative(package.tfvars_path, repo_root)}")
    return package
