"""The report consumer: bus events from its SQS queue → idempotent counters for the reports."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes import SQSEvent

from socialcrm.observability import logger, metrics
from socialcrm.privacy.suppression import DynamoSuppressionCheck, SuppressionTable
from socialcrm.reporting import business_metrics
from socialcrm.reporting.consumer import QueuedRecord, process_batch
from socialcrm.reporting.counters import CounterRepository
from socialcrm.settings import ReportSettings
from socialcrm.tracing import tracer


@lru_cache(maxsize=1)
def runtime() -> tuple[CounterRepository, DynamoSuppressionCheck]:
    settings = ReportSettings.from_env()
    counters = CounterRepository.bound(
        {"report_counters": settings.report_counters_table, "report_seen": settings.report_seen_table},
        region=settings.aws_region,
        host=settings.endpoint_url,
    )
    return counters, DynamoSuppressionCheck(SuppressionTable(settings.suppressions_table))


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = [QueuedRecord(r.message_id, r.body) for r in SQSEvent(event).records]
    counters, suppressions = runtime()
    outcome = process_batch(
        records,
        counters=counters,
        now=datetime.now(tz=UTC),
        erased_at=suppressions.erased_at,
        objects=suppressions.objects,
    )
    business_metrics.publish(outcome, metrics)
    logger.info(
        "counted",
        facts=outcome.counted,
        duplicates=outcome.duplicates,
        erased=outcome.erased,
        objected=outcome.objected,
        failed=len(outcome.failed),
    )
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in outcome.failed]}
