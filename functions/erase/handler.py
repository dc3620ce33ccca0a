"""The erase function: ``ErasureRequested`` (from its own queue) → erase, verify, prove, announce."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes import SQSEvent

from socialcrm.observability import MetricUnit, logger, metrics
from socialcrm.privacy.consumer import ErasureQueue, QueuedMessage, process_messages
from socialcrm.privacy.erasure import ErasureOutcome, ErasurePorts
from socialcrm.privacy.runtime import erase_ports
from socialcrm.settings import EraseSettings
from socialcrm.tracing import tracer


@lru_cache(maxsize=1)
def runtime() -> tuple[ErasurePorts, ErasureQueue]:
    settings = EraseSettings.from_env()
    return erase_ports(settings), ErasureQueue(settings.erasure_queue_url)


def _count(outcome: ErasureOutcome) -> None:
    """ErasureCompleted, ErasureFailed, ErasureContinue (resumed in a new run), ErasureSkipped."""
    metrics.add_metric(name=f"Erasure{outcome.result.title()}", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ports, queue = runtime()
    messages = [QueuedMessage(r.message_id, r.body) for r in SQSEvent(event).records]
    failed = process_messages(
        messages,
        ports=ports,
        queue=queue,
        time_left_ms=context.get_remaining_time_in_millis,
        on_outcome=_count,
    )
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
