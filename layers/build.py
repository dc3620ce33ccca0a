"""Build the third-party dependency layers for Lambda (python3.13, arm64) without Docker.

The base layer holds what ``pyproject.toml`` lists in ``[project].dependencies`` and nothing else: pip
downloads the prebuilt manylinux aarch64 wheels for CPython 3.13 and unpacks them into
``layers/build/python`` (the ``python/`` folder Lambda puts on ``sys.path`` from ``/opt``). boto3,
botocore and s3transfer are removed afterwards: the Lambda runtime already provides them. Each group of
``LAYER_GROUPS`` (``[project.optional-dependencies]``) is a layer of its own in
``layers/build/<group>/python``, for the functions that need it (``topology.FunctionSpec.layers``): the
plotting libraries only the daily report uses are most of the size.

A stamp file records the dependency list and the build options; when they have not changed the
build is skipped, so ``make synth`` stays fast. ``--force`` rebuilds anyway.

Usage: ``.venv/bin/python layers/build.py [--force]`` (``make layer``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
BUILD_DIR = ROOT / "layers" / "build"
STAMP_NAME = "stamp.json"
# Optional-dependency groups built as layers of their own (inside BUILD_DIR, each in its own folder).
LAYER_GROUPS = ("language", "plotting")
# Groups installed without their packages' dependencies: the enrich function reads py3langid's model with
# the standard library (socialcrm.enrichment.langid_model) and never imports py3langid, so numpy, which
# py3langid requires and which would be 52 MB of the function's asset, stays out of its layer.
WITHOUT_DEPENDENCIES = ("language",)

# The Lambda runtime the layer is built for (infra/ deploys python3.13 on arm64; a test checks they agree).
PYTHON_VERSION = "3.13"
IMPLEMENTATION = "cp"
# The python3.13 runtime runs on Amazon Linux 2023 (glibc 2.34): wheels tagged manylinux2014
# (glibc 2.17) up to manylinux_2_34 all load there.
PLATFORMS = ("manylinux2014_aarch64", *(f"manylinux_2_{minor}_aarch64" for minor in range(17, 35)))
# Provided by the Lambda runtime itself; shipping them would only grow the layer.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")


class LayerBuildError(RuntimeError):
    """The layer could not be built; the message says why and what to do."""


def runtime_dependencies(pyproject: Path | None = None, group: str | None = None) -> list[str]:
    """The requirement strings of ``[project].dependencies`` (or of the optional group), in file order.

    >>> "pydantic>=2.7" in runtime_dependencies(), "py3langid>=0.4,<0.5" in runtime_dependencies(group="language")
    (True, True)
    """
    pyproject = pyproject or PYPROJECT
    with pyproject.open("rb") as handle:
        project = tomllib.load(handle).get("project", {})
    dependencies = (
        project.get("dependencies") if group is None else project.get("optional-dependencies", {}).get(group)
    )
    if not dependencies:
        raise LayerBuildError(f"{pyproject} has no [project].dependencies to build the layer from.")
    return [str(requirement) for requirement in dependencies]


def build_options(group: str | None = None) -> dict[str, object]:
    """Everything besides the dependency list that decides the layer's content (recorded in the stamp)."""
    return {
        "python_version": PYTHON_VERSION,
        "implementation": IMPLEMENTATION,
        "platforms": list(PLATFORMS),
        "removed": list(RUNTIME_PROVIDED),
        "no_deps": group in WITHOUT_DEPENDENCIES,
    }


def pip_command(dependencies: list[str], target: Path, *, no_deps: bool = False) -> list[str]:
    """The pip invocation that installs ``dependencies`` for Lambda's platform into ``target``."""
    platform_args = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        *platform_args,
        "--only-binary=:all:",
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        IMPLEMENTATION,
        "--target",
        str(target),
        *(["--no-deps"] if no_deps else []),
        *dependencies,
    ]


def prune(site_packages: Path) -> None:
    """Remove the runtime-provided packages (and their metadata) and every ``__pycache__``."""
    for name in RUNTIME_PROVIDED:
        shutil.rmtree(site_packages / name, ignore_errors=True)
        for metadata in site_packages.glob(f"{name}-*.dist-info"):
            shutil.rmtree(metadata, ignore_errors=True)
    for cache in sorted(site_packages.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache, ignore_errors=True)


def drop_shared(site_packages: Path, base: Path) -> None:
    """Remove from a group's layer what the base layer already holds (the function carries both: its
    ``/opt/python`` is their union), e.g. numpy, which language detection and the charts both need."""
    if not base.is_dir():
        return
    for entry in list(site_packages.iterdir()):
        if (base / entry.name).exists():
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink()


def _stamp(dependencies: list[str], group: str | None = None) -> dict[str, object]:
    return {"dependencies": dependencies, **build_options(group)}


def is_up_to_date(build_dir: Path, dependencies: list[str], group: str | None = None) -> bool:
    """True when ``build_dir`` holds a layer built from exactly these dependencies and options."""
    stamp_file = build_dir / STAMP_NAME
    if not (build_dir / "python").is_dir() or not stamp_file.is_file():
        return False
    try:
        return json.loads(stamp_file.read_text(encoding="utf-8")) == _stamp(dependencies, group)
    except ValueError:
        return False


def build_layer(
    build_dir: Path | None = None,
    *,
    force: bool = False,
    pyproject: Path | None = None,
    group: str | None = None,
) -> Path:
    """Build the layer into ``build_dir/python`` (default ``layers/build``) unless it is up to date.

    Returns ``build_dir``.

    The packages are installed into a staging folder first and moved into place only when pip
    succeeded, so a failed build never leaves a half-filled layer that ``cdk synth`` would ship.
    """
    build_dir = build_dir or (BUILD_DIR if group is None else BUILD_DIR / group)
    dependencies = runtime_dependencies(pyproject, group)
    if not force and is_up_to_date(build_dir, dependencies, group):
        print(f"layer: up to date ({build_dir / 'python'}); pass --force to rebuild")
        return build_dir

    staging = build_dir / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    print(f"layer: installing {len(dependencies)} dependencies for python{PYTHON_VERSION} arm64 …")
    command = pip_command(dependencies, staging, no_deps=group in WITHOUT_DEPENDENCIES)
    result = subprocess.run(command, check=False)  # noqa: S603 (fixed argv)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise LayerBuildError(
            f"pip exited with status {result.returncode} while building the layer. Check that PyPI is "
            "reachable and that every dependency in pyproject.toml publishes a wheel for "
            f"CPython {PYTHON_VERSION} on manylinux aarch64 (the layer is built without Docker, so "
            "source distributions cannot be compiled)."
        )
    prune(staging)
    if group is not None:
        drop_shared(staging, BUILD_DIR / "python")

    target = build_dir / "python"
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    (build_dir / STAMP_NAME).write_text(
        json.dumps(_stamp(dependencies, group), indent=2) + "\n", encoding="utf-8"
    )
    size_mb = sum(f.stat().st_size for f in target.rglob("*") if f.is_file()) / 1_000_000
    print(f"layer: built {target} ({size_mb:.1f} MB unzipped)")
    return build_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when the stamp matches")
    args = parser.parse_args(argv)
    try:
        build_layer(force=args.force)
        for group in LAYER_GROUPS:
            build_layer(force=args.force, group=group)
    except LayerBuildError as exc:
        print(f"layer: FAILED: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
