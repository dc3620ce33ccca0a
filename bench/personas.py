"""Persona figures, from the one table the policies are built from (``socialcrm.personas``).

* ``routes_per_persona``: how many API routes each persona's policy grants (the routes themselves are the
  README's table, generated from the same table).
* ``persona_route_matrix_violations``: of every IAM-authorised route sent as every persona through the
  handlers (the callers' tags read from IAM on moto, ``tests/support/matrix.py``), the answers a persona
  should not have had: an allowed persona refused or failing, or another persona not refused. Goal 0.

Run on its own: ``python bench/personas.py``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]


def measure() -> dict[str, Any]:
    from socialcrm.personas import routes_per_persona

    answers = _matrix()
    return {
        "routes_per_persona": {name: len(routes) for name, routes in routes_per_persona().items()},
        "persona_route_matrix_violations": sum(1 for answer in answers if answer.violation),
        "persona_route_matrix_requests": len(answers),
    }


def _matrix() -> list[Any]:
    import tempfile

    import pytest

    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        os.environ.setdefault(name, value)
    from socialcrm.secrets import load_secrets_file
    from tests.conftest import DEV_SECRETS
    from tests.support.matrix import iam_callers, run_matrix
    from tests.support.privacy import allow_sending, privacy_world

    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        tempfile.TemporaryDirectory() as folder,
        privacy_world(monkeypatch, load_secrets_file(DEV_SECRETS)) as world,
        iam_callers(monkeypatch),
    ):
        allow_sending(world, monkeypatch, Path(folder))
        try:
            return run_matrix(world)
        finally:
            world.handlers["api"].cases_runtime.cache_clear()


if __name__ == "__main__":
    print(json.dumps(measure()))
