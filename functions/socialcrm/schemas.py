"""Contracts generated from the code (``make schemas``): the JSON Schemas in ``schemas/``, from the
pydantic models, and the API's OpenAPI document in ``docs/openapi.json``, from the Powertools routes.

``python -m socialcrm.schemas --check`` (run by the tests) fails when a checked-in file drifts from
the code, so the contracts other teams read are always the ones the code enforces.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _schema(model: type[BaseModel], title: str, description: str) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation")
    return {
        "$schema": DIALECT,
        "$id": f"https://socialcrm.dev/schemas/{title}",
        "description": description,
        **schema,
    }


def _generic_envelope() -> type[BaseModel]:
    from socialcrm.platforms.generic import ENVELOPE_MODEL

    return ENVELOPE_MODEL  # type: ignore[no-any-return]


def _routing_rules() -> type[BaseModel]:
    from socialcrm.routing.rules import rules_json_schema

    return rules_json_schema()


def _registry() -> dict[str, Callable[[], dict[str, Any]]]:
    from socialcrm.events.models import EVENT_MODELS
    from socialcrm.models import Interaction
    from socialcrm.secrets import PlatformSecrets

    schemas: dict[str, Callable[[], dict[str, Any]]] = {
        "schemas/interaction.schema.json": lambda: _schema(
            Interaction,
            "interaction.schema.json",
            "A normalised, enriched interaction: one message, comment, mention, post or review of a customer.",
        ),
        "schemas/platform-secrets.schema.json": lambda: _schema(
            PlatformSecrets,
            "platform-secrets.schema.json",
            "The platform-secrets document (Secrets Manager or file).",
        ),
        "schemas/generic-webhook.schema.json": lambda: _schema(
            _generic_envelope(),
            "generic-webhook.schema.json",
            "Body of a delivery to POST /webhooks/generic.",
        ),
        "schemas/routing-rules.schema.json": lambda: _schema(
            _routing_rules(),
            "routing-rules.schema.json",
            "The routing rules document (config/rules.yaml; AppConfig in AWS).",
        ),
    }
    for model in EVENT_MODELS:
        name = f"schemas/events/{model.detail_type}.schema.json"
        schemas[name] = lambda model=model, name=name: _schema(  # type: ignore[misc]
            model, name, f"The detail of a {model.detail_type} event on the socialcrm bus."
        )
    schemas["docs/openapi.json"] = _openapi
    return schemas


def _openapi() -> dict[str, Any]:
    from socialcrm.api.openapi import openapi_document

    return openapi_document()


def render(name: str) -> str:
    return json.dumps(_registry()[name](), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def drifted() -> list[str]:
    """Paths of the contracts whose checked-in file differs from what the code generates."""
    return [
        name
        for name in _registry()
        if not (ROOT / name).exists() or (ROOT / name).read_text(encoding="utf-8") != render(name)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="write the generated files")
    parser.add_argument("--check", action="store_true", help="fail when a checked-in file drifted (default)")
    args = parser.parse_args(argv)
    if args.write:
        for name in _registry():
            path = ROOT / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(name), encoding="utf-8")
            print(f"wrote {name}")
        return 0
    stale = drifted()
    for name in stale:
        print(f"{name} is out of date: run `make schemas`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
