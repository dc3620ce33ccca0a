"""One logger and metrics pair for every function (service name from POWERTOOLS_SERVICE_NAME), and the
tracer for the functions that use the X-Ray SDK.

Log ids and the pseudonymous ``subject_id`` only: never names, handles or message text.

The tracer lives in :mod:`socialcrm.tracing`, imported only by the functions that trace with the
X-Ray SDK: importing the SDK creates an X-Ray client at cold start, which the ingest function (the
platforms are waiting on it) does without; Lambda's active tracing still records its invocations.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
# The stage's namespace in AWS (POWERTOOLS_METRICS_NAMESPACE, set by the CDK app), "socialcrm" locally.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "socialcrm")

__all__ = ["MetricUnit", "logger", "metrics"]
