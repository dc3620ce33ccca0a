"""One synthesis of the CDK app per test session, shared by every infra test.

Speed: the app is built with the context of cdk.json (the same feature flags as ``cdk synth``) and
with the dependency layer pointed, through the ``socialcrm:layerDir`` context value, at a tiny stub
folder instead of ``layers/build`` (70 MB that would be hashed and copied). The function code
asset is the real ``functions/`` folder. One synthesis with cdk-nag takes a few seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.layer import LAYER_DIR_CONTEXT
from infra.stateful_stack import StatefulStack
from infra.stateless_stack import StatelessStack

ROOT = Path(__file__).resolve().parents[2]


def cdk_context() -> dict[str, Any]:
    """The context (feature flags) of cdk.json, as the CDK CLI passes it to the app."""
    return json.loads((ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]


@dataclass(frozen=True)
class Synthesis:
    app: App
    data: StatefulStack
    service: StatelessStack
    data_template: Template
    service_template: Template

    def data_id(self, construct: Any) -> str:
        """The logical id of an L2 construct's CloudFormation resource in the stateful template."""
        return self.data.get_logical_id(construct.node.default_child)

    def service_id(self, construct: Any) -> str:
        """The logical id of an L2 construct's CloudFormation resource in the stateless template."""
        return self.service.get_logical_id(construct.node.default_child)

    def in_service(self, token: Any) -> Any:
        """A token (ARN, name…) as the stateless template spells it (cross-stack references included)."""
        return self.service.resolve(token)


@pytest.fixture(scope="session")
def stub_layer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layer")
    (root / "python").mkdir()
    (root / "python" / "stub_dependency.py").write_text("# stands in for the built layer in infra tests\n")
    for name in ("language", "plotting"):
        (root / name / "python").mkdir(parents=True)
        (root / name / "python" / f"stub_{name}.py").write_text("# stands in for an extra layer\n")
    return root


@pytest.fixture(scope="session")
def synthesis(stub_layer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesis]:
    app = App(
        context={**cdk_context(), LAYER_DIR_CONTEXT: str(stub_layer_dir)},
        outdir=str(tmp_path_factory.mktemp("cdk.out")),
    )
    data, service = build_app(app)
    yield Synthesis(app, data, service, Template.from_stack(data), Template.from_stack(service))
