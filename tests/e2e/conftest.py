"""The local stack, started once for the e2e tests on free loopback ports, and clients that drive it.

The fixture is package-scoped: it lives while the e2e tests run and is stopped (restoring the process
environment it set) before any other test in the same worker runs, so those never see its endpoints.
The batching window is shortened to keep the suite quick; everything else is the topology's.
"""

from __future__ import annotations

import pytest

from socialcrm.local.deliveries import Signer
from socialcrm.local.stack import LocalStack
from tests.e2e.pipeline import Pipeline

TEST_BATCHING_WINDOW_SECONDS = 0.2


@pytest.fixture(scope="package")
def stack():
    with LocalStack(
        port=0, batching_window_seconds=TEST_BATCHING_WINDOW_SECONDS, retry_delay_seconds=0
    ) as running:
        yield running


@pytest.fixture(scope="package")
def pipeline(stack):
    with Pipeline(stack.url, Signer(stack.secrets)) as driver:
        yield driver
