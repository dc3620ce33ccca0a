"""layers/build.py: the dependency layer is built from pyproject.toml for Lambda's platform, no Docker."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest
from aws_cdk import App

from infra.app import build_app
from infra.lambdas import ARCHITECTURE, RUNTIME
from infra.layer import LAYER_DIR_CONTEXT, LayerNotBuiltError

ROOT = Path(__file__).resolve().parents[2]


def _load_build_module():
    spec = importlib.util.spec_from_file_location("layers_build", ROOT / "layers" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build_module()

PYPROJECT = """\
[project]
name = "demo"
dependencies = ["pydantic>=2.7", "boto3>=1.35", "py3langid>=0.3"]
"""


@pytest.fixture
def pyproject(tmp_path: Path) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(PYPROJECT, encoding="utf-8")
    return path


def _fake_pip(returncode: int, calls: list[list[str]]):
    """A stand-in for subprocess.run that records the pip argv and 'installs' a few packages."""

    def run(argv: list[str], check: bool) -> subprocess.CompletedProcess:
        calls.append(argv)
        target = Path(argv[argv.index("--target") + 1])
        if returncode == 0:
            for package in ("pydantic", "boto3", "botocore", "s3transfer", "py3langid"):
                (target / package / "__pycache__").mkdir(parents=True)
                (target / package / "__init__.py").write_text("")
                (target / f"{package}-1.0.dist-info").mkdir()
        return subprocess.CompletedProcess(argv, returncode)

    return run


def test_runtime_dependencies_are_read_from_pyproject_in_order(pyproject):
    assert build.runtime_dependencies(pyproject) == ["pydantic>=2.7", "boto3>=1.35", "py3langid>=0.3"]


def test_the_repository_layer_is_built_from_the_real_project_dependencies():
    dependencies = build.runtime_dependencies()
    assert any(d.startswith("aws-lambda-powertools") for d in dependencies)
    assert any(d.startswith("pydantic") for d in dependencies)


def test_a_pyproject_without_dependencies_is_a_clear_error(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "demo"\n', encoding="utf-8")
    with pytest.raises(build.LayerBuildError, match=r"no \[project\]\.dependencies"):
        build.runtime_dependencies(path)


def test_pip_installs_only_binary_wheels_for_cpython_313_on_arm64():
    argv = build.pip_command(["pydantic>=2.7"], Path("/tmp/target"))
    assert argv[1:4] == ["-m", "pip", "install"]
    assert "--only-binary=:all:" in argv
    assert argv[argv.index("--python-version") + 1] == "3.13"
    assert argv[argv.index("--implementation") + 1] == "cp"
    assert argv[argv.index("--target") + 1] == "/tmp/target"
    platforms = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--platform"]
    assert "manylinux2014_aarch64" in platforms
    assert all(p.endswith("_aarch64") for p in platforms)
    assert argv[-1] == "pydantic>=2.7"


def test_the_language_layer_carries_py3langids_model_without_numpy(tmp_path, monkeypatch):
    # Given pip, as the build calls it for each layer
    calls: list[list[str]] = []

    def pip(argv, check):
        calls.append(argv)
        target = Path(argv[argv.index("--target") + 1])
        (target / "py3langid" / "data").mkdir(parents=True)
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(build.subprocess, "run", pip)
    build.build_layer(tmp_path / "language", group="language", force=True)
    build.build_layer(tmp_path / "plotting", group="plotting", force=True)
    # Then the language group is installed without its dependencies (numpy), the plotting one with them
    assert "--no-deps" in calls[0] and "--no-deps" not in calls[1]
    assert any(arg.startswith("py3langid") for arg in calls[0])


def test_layer_python_version_matches_the_lambda_runtime_infra_deploys():
    assert RUNTIME.name == f"python{build.PYTHON_VERSION}"
    assert ARCHITECTURE.name == "arm64"


def test_build_removes_runtime_provided_sdks_and_bytecode_and_writes_the_stamp(
    tmp_path, pyproject, monkeypatch
):
    # Given pip that installs our dependencies plus boto3 and its companions
    calls: list[list[str]] = []
    monkeypatch.setattr(build.subprocess, "run", _fake_pip(0, calls))
    # When the layer is built
    build.build_layer(tmp_path / "build", pyproject=pyproject)
    # Then the layer keeps our packages but not what the Lambda runtime already has, nor caches
    site = tmp_path / "build" / "python"
    assert sorted(p.name for p in site.iterdir()) == [
        "py3langid",
        "py3langid-1.0.dist-info",
        "pydantic",
        "pydantic-1.0.dist-info",
    ]
    assert not list(site.rglob("__pycache__"))
    # And the stamp records what it was built from
    stamp = json.loads((tmp_path / "build" / build.STAMP_NAME).read_text())
    assert stamp["dependencies"] == build.runtime_dependencies(pyproject)
    assert len(calls) == 1


def test_build_is_skipped_when_the_dependency_list_is_unchanged(tmp_path, pyproject, monkeypatch):
    # Given a layer built once
    calls: list[list[str]] = []
    monkeypatch.setattr(build.subprocess, "run", _fake_pip(0, calls))
    build.build_layer(tmp_path / "build", pyproject=pyproject)
    # When it is built again with the same dependencies
    build.build_layer(tmp_path / "build", pyproject=pyproject)
    # Then pip is not run a second time
    assert len(calls) == 1
    # But a changed dependency list rebuilds it
    pyproject.write_text(PYPROJECT.replace("pydantic>=2.7", "pydantic>=2.8"), encoding="utf-8")
    build.build_layer(tmp_path / "build", pyproject=pyproject)
    assert len(calls) == 2


def test_failed_pip_leaves_no_half_built_layer_and_says_why(tmp_path, pyproject, monkeypatch, capsys):
    # Given pip failing (no network, or a dependency without an aarch64 wheel)
    monkeypatch.setattr(build.subprocess, "run", _fake_pip(1, []))
    monkeypatch.setattr(build, "BUILD_DIR", tmp_path / "build")
    monkeypatch.setattr(build, "PYPROJECT", pyproject)
    # When the build script runs
    status = build.main([])
    # Then it fails with a message that names the cause, and leaves nothing synth could ship
    assert status == 1
    assert "pip exited with status 1" in capsys.readouterr().err
    assert not (tmp_path / "build" / "python").exists()
    assert not (tmp_path / "build" / build.STAMP_NAME).exists()


def test_synth_fails_with_run_make_layer_when_the_layer_is_missing(tmp_path):
    # Given a layer folder that was never built
    app = App(context={LAYER_DIR_CONTEXT: str(tmp_path / "never-built")}, outdir=str(tmp_path / "cdk.out"))
    # When the app is built
    with pytest.raises(LayerNotBuiltError, match="make layer"):
        build_app(app)
