"""Deployment figures: what each function carries, and what two stages share.

* ``lambda_asset_mb``: unzipped megabytes per function, its code asset (``functions/`` without the local
  stack and the command line, as ``infra.lambdas.ASSET_EXCLUDES`` says) plus its layers (the base
  dependency layer, and the plotting layer for the daily report), as ``make layer`` builds them;
* ``synth_stages_shared_names``: physical names the synthesised templates of two stages (dev, prod) share
  (goal 0).
"""

from __future__ import annotations

import fnmatch
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")


def _size(folder: Path, excludes: tuple[str, ...] = ()) -> int:
    total = 0
    for path in folder.rglob("*"):
        relative = path.relative_to(folder).as_posix()
        if any(
            fnmatch.fnmatch(relative, pattern) or relative.startswith(pattern + "/") for pattern in excludes
        ):
            continue
        if any(fnmatch.fnmatch(part, pattern) for part in relative.split("/") for pattern in excludes):
            continue
        if path.is_file():
            total += path.stat().st_size
    return total


def asset_sizes() -> dict[str, float]:
    import importlib.util

    from infra.lambdas import ASSET_EXCLUDES
    from socialcrm.topology import FUNCTIONS

    spec = importlib.util.spec_from_file_location("layers_build", ROOT / "layers" / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    base = build.build_layer()
    layers = {name: _size(base / name / "python") for name in build.LAYER_GROUPS}
    code = _size(ROOT / "functions", ASSET_EXCLUDES)
    base_size = _size(base / "python")
    return {
        key: round((code + base_size + sum(layers[name] for name in fn.layers)) / 1_000_000, 1)
        for key, fn in sorted(FUNCTIONS.items())
    }


def shared_names() -> int:
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from infra.app import build_app
    from infra.layer import LAYER_DIR_CONTEXT
    from infra.stage import physical_names
    from tests.infra.conftest import cdk_context

    names = []
    with tempfile.TemporaryDirectory() as folder:
        stub = Path(folder) / "layer"
        for sub in ("python", "language/python", "plotting/python"):
            (stub / sub).mkdir(parents=True)
            (stub / sub / "stub.py").write_text("# stub\n")
        for stage in ("dev", "prod"):
            app = App(
                context={**cdk_context(), LAYER_DIR_CONTEXT: str(stub), "stage": stage},
                outdir=str(Path(folder) / stage),
            )
            data, service = build_app(app)
            names.append(
                physical_names(dict(Template.from_stack(data).to_json()))
                | physical_names(dict(Template.from_stack(service).to_json()))
            )
    return len(names[0] & names[1])


def measure() -> dict[str, Any]:
    return {"lambda_asset_mb": asset_sizes(), "synth_stages_shared_names": shared_names()}


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
