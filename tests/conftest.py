"""Test-wide settings: an AWS region and fake credentials (nothing here reaches AWS), the dev secrets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEV_SECRETS = ROOT / "config" / "dev-secrets.json"

for name, value in {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}.items():
    os.environ[name] = value
for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(name, None)


@pytest.fixture(scope="session")
def dev_secrets():
    from socialcrm.secrets import load_secrets_file

    return load_secrets_file(DEV_SECRETS)


@pytest.fixture(autouse=True)
def _tagged_principals(monkeypatch):
    """The API's callers resolve from the tests' tagged roles (``tests.support.principals``), not IAM."""
    from socialcrm.api import callers
    from socialcrm.settings import CallerSettings
    from tests.support.principals import StaticTags

    def directory() -> callers.Callers:
        return callers.Callers(StaticTags(), dev_principals=CallerSettings.from_env().dev_principals)

    monkeypatch.setattr(callers, "directory", directory)
