"""The enrich function: inbound SQS batch → language and sentiment → DynamoDB → ``InteractionEnriched``."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes import SQSEvent

from socialcrm.enrichment.batch import QueuedRecord, process_batch
from socialcrm.enrichment.runtime import EnrichRuntime, build_runtime
from socialcrm.observability import MetricUnit, logger, metrics
from socialcrm.settings import EnrichSettings
from socialcrm.tracing import tracer


@lru_cache(maxsize=1)
def runtime() -> EnrichRuntime:
    return build_runtime(EnrichSettings.from_env())


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    env = runtime()
    records = [QueuedRecord(r.message_id, r.body) for r in SQSEvent(event).records]
    now = datetime.now(tz=UTC)
    outcome = process_batch(
        records,
        enrich=env.enrich,
        store=env.store,
        claims=env.claims,
        publisher=env.publisher,
        pending_queue=env.pending_queue,
        suppression=env.suppression,
        now=now,
        deadline=now + timedelta(milliseconds=context.get_remaining_time_in_millis()),
        trace_header=os.environ.get("_X_AMZN_TRACE_ID"),
    )
    metrics.add_metric(name="InteractionsStored", unit=MetricUnit.Count, value=outcome.stored)
    metrics.add_metric(name="SentimentPending", unit=MetricUnit.Count, value=outcome.pending)
    metrics.add_metric(name="DuplicatesDropped", unit=MetricUnit.Count, value=outcome.duplicates)
    metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=len(outcome.failed))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in outcome.failed]}
