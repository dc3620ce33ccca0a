"""The ingest function: ``GET``/``POST /webhooks/{platform}`` behind API Gateway (HTTP API)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths

from socialcrm.api.responses import register_error_handlers
from socialcrm.api.webhooks import IngestRuntime, build_router
from socialcrm.ingest import IngestOutcome
from socialcrm.observability import MetricUnit, logger, metrics
from socialcrm.queueing import InboundQueue
from socialcrm.settings import IngestSettings


def record_metrics(platform: str, outcome: IngestOutcome) -> None:
    metrics.add_metric(name="InteractionsQueued", unit=MetricUnit.Count, value=outcome.queued)
    metrics.add_metric(name="InteractionsRefused", unit=MetricUnit.Count, value=outcome.refused)
    metrics.add_metric(name="TextRepaired", unit=MetricUnit.Count, value=outcome.repaired)


@lru_cache(maxsize=1)
def runtime() -> IngestRuntime:
    settings = IngestSettings.from_env()
    return IngestRuntime(
        secrets=settings.secrets_source(),
        queue=InboundQueue(settings.inbound_queue_url),
        on_outcome=record_metrics,
    )


app = APIGatewayHttpResolver()
app.include_router(build_router(runtime))
register_error_handlers(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
