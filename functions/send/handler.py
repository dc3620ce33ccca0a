"""The send function: reply ids from the outbound queue → one platform call per reply (socialcrm.replies.sender).

Each record is its own: a record whose reply could not be moved on (a store or queue failure) is a
partial-batch failure, retried by SQS and then dead-lettered; a reply whose next step is later (a
backoff, a reconciliation) is queued again with a delay, and its record succeeds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes import SQSEvent

from socialcrm.observability import MetricUnit, logger, metrics
from socialcrm.replies.queue import message_of
from socialcrm.replies.runtime import build_send_runtime
from socialcrm.replies.sender import SendPorts, deliver
from socialcrm.settings import SendSettings
from socialcrm.tracing import tracer


@lru_cache(maxsize=1)
def runtime() -> SendPorts:
    return build_send_runtime(SendSettings.from_env())


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ports = runtime()
    failed: list[str] = []
    later = 0
    for record in SQSEvent(event).records:
        message = message_of(record.body)
        if message is None:
            logger.warning("not an outbound message: dropped", message_id=record.message_id)
            continue
        reply_id, version = message
        try:
            if deliver(reply_id, ports=ports, now=datetime.now(tz=UTC), version=version) == "later":
                later += 1
        except Exception as exc:  # this record only: retried by SQS (the reply's state says where it stands)
            logger.warning("reply not moved on: retried", reply_id=reply_id, error=type(exc).__name__)
            failed.append(record.message_id)
    metrics.add_metric(name="RepliesDeferred", unit=MetricUnit.Count, value=later)
    metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=len(failed))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
