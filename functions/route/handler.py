"""The route function: ``InteractionEnriched`` (bus → route queue) → its conversation's case, clocks, events."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes import SQSEvent

from socialcrm.observability import MetricUnit, logger, metrics
from socialcrm.routing.runtime import build_route_runtime
from socialcrm.routing.service import QueuedRecord, RoutePorts, route_batch
from socialcrm.settings import RouteSettings
from socialcrm.tracing import tracer


@lru_cache(maxsize=1)
def runtime() -> RoutePorts:
    return build_route_runtime(RouteSettings.from_env())


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = [QueuedRecord(r.message_id, r.body) for r in SQSEvent(event).records]
    outcome = route_batch(
        records, ports=runtime(), now=datetime.now(tz=UTC), trace_header=os.environ.get("_X_AMZN_TRACE_ID")
    )
    metrics.add_metric(name="CasesOpened", unit=MetricUnit.Count, value=outcome.opened)
    metrics.add_metric(name="CasesJoined", unit=MetricUnit.Count, value=outcome.joined)
    metrics.add_metric(name="CasesReopened", unit=MetricUnit.Count, value=outcome.reopened)
    metrics.add_metric(name="InteractionsRecorded", unit=MetricUnit.Count, value=outcome.recorded)
    metrics.add_metric(name="BrandReplies", unit=MetricUnit.Count, value=outcome.replies)
    metrics.add_metric(
        name="BrandRepliesWithoutCase", unit=MetricUnit.Count, value=outcome.replies_without_case
    )
    metrics.add_metric(name="SpikesDetected", unit=MetricUnit.Count, value=outcome.spikes)
    metrics.add_metric(name="ReplayedSuppressed", unit=MetricUnit.Count, value=outcome.suppressed)
    metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=len(outcome.failed))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in outcome.failed]}
