"""The local stack, started once for the e2e tests on free loopback ports, and clients that drive it.

The fixture is package-scoped: it lives while the e2e tests run and is stopped (restoring the process
environment it set) before any other test in the same worker runs, so those never see its endpoints.
The batching window is shortened to keep the suite quick; everything else is the topology's.
"""

from __future__ import annotations

import os

import pytest

from socialcrm.local.deliveries import Signer
from socialcrm.local.stack import LocalStack
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
def stack(reports_dir):
    with LocalStack(
        port=0, batching_window_seconds=TEST_BATCHING_WINDOW_SECONDS, retry_delay_seconds=0
    ) as running:
        yield running


@pytest.fixture(scope="package")
def pipeline(stack):
    with Pipeline(stack.url, Signer(stack.secrets)) as driver:
        yield driver
