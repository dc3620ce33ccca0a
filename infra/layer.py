"""The third-party dependency layer, from the folder ``layers/build.py`` fills (``make layer``)."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LAYER_DIR = REPO_ROOT / "layers" / "build"
# Context key that points the app at another layer folder (tests use a small stub: fast synth).
LAYER_DIR_CONTEXT = "socialcrm:layerDir"
# Build bookkeeping of layers/build.py that must not end up in the layer, and the other layers' folders.
_BUILD_FILES = ("stamp.json", ".staging", "language", "plotting")
# The layers besides the base one (layers/build.py LAYER_GROUPS): each in <layer_dir>/<name>.
EXTRA_LAYERS = ("language", "plotting")


class LayerNotBuiltError(RuntimeError):
    """The layer folder is missing or empty; the message tells the operator to run ``make layer``."""


def layer_dir_from_context(scope: Construct) -> Path:
    """The layer folder (the one that contains ``python/``): context value or ``layers/build``."""
    configured = scope.node.try_get_context(LAYER_DIR_CONTEXT)
    if not configured:
        return DEFAULT_LAYER_DIR
    path = Path(str(configured))
    return path if path.is_absolute() else REPO_ROOT / path


class DependencyLayer(Construct):
    """A Lambda layer version for python3.13 on arm64 from ``<layer_dir>/python``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        layer_dir: Path,
        runtime: lambda_.Runtime,
        architecture: lambda_.Architecture,
    ) -> None:
        super().__init__(scope, construct_id)
        site_packages = layer_dir / "python"
        if not site_packages.is_dir() or not any(site_packages.iterdir()):
            raise LayerNotBuiltError(
                f"The dependency layer is not built: {site_packages} is missing or empty. "
                "Run `make layer` (or `make synth`, which builds it first)."
            )
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            code=lambda_.Code.from_asset(str(layer_dir), exclude=list(_BUILD_FILES)),
            compatible_runtimes=[runtime],
            compatible_architectures=[architecture],
            description="socialcrm third-party dependencies (pyproject.toml [project].dependencies)",
        )
