"""The local stack, started once for the e2e tests on free loopback ports, and clients that drive it.

The fixture is package-scoped: it lives while the e2e tests run and is stopped (restoring the process
environment it set) before any other test in the same worker runs, so those never see its endpoints.
The batching window is shortened to keep the suite quick; everything else is the topology's.
"""

from __future__ import annotations

import os

import pytest
import yaml

from socialcrm.local.deliveries import Signer
from socialcrm.local.stack import LocalStack
from socialcrm.routing.source import REPO_RULES_FILE
from tests.e2e.pipeline import Pipeline

TEST_BATCHING_WINDOW_SECONDS = 0.2


@pytest.fixture(scope="package")
def reports_dir(tmp_path_factory):
    """Where the stack's daily report goes in these tests, instead of the project's ``reports/``."""
    folder = tmp_path_factory.mktemp("reports")
    saved = os.environ.get("REPORTS_DIR")
    os.environ["REPORTS_DIR"] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop("REPORTS_DIR", None)
    else:
        os.environ["REPORTS_DIR"] = saved


@pytest.fixture(scope="package")
def rules_file(tmp_path_factory):
    """The repository's rules without the out-of-hours acknowledgement, which answers only at night: the
    tests' conversations are the same at any hour (the replies tests answer by keyword)."""
    document = yaml.safe_load(REPO_RULES_FILE.read_text(encoding="utf-8"))
    for rule in document["rules"]:
        if rule["id"] == "out-of-hours-ack":
            rule["enabled"] = False
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    saved = os.environ.get("RULES_FILE")
    os.environ["RULES_FILE"] = str(path)
    yield path
    if saved is None:
        os.environ.pop("RULES_FILE", None)
    else:
        os.environ["RULES_FILE"] = saved


@pytest.fixture(scope="package")
def stack(reports_dir, rules_file):
    with LocalStack(
        port=0, batching_window_seconds=TEST_BATCHING_WINDOW_SECONDS, retry_delay_seconds=0
    ) as running:
        yield running


@pytest.fixture(scope="package")
def pipeline(stack):
    with Pipeline(stack.url, Signer(stack.secrets)) as driver:
        yield driver
