"""The ingest function: ``GET``/``POST /webhooks/{platform}`` behind API Gateway (HTTP API)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import EphemeralMetrics

from socialcrm.api.composition import Composition, RouterSource
from socialcrm.api.webhooks import build_router
from socialcrm.ingest.runtime import IngestRuntime
from socialcrm.ingest.service import IngestOutcome
from socialcrm.observability import MetricUnit, logger, metrics
from socialcrm.platforms import ROUTE_PLATFORMS
from socialcrm.queueing import InboundQueue
from socialcrm.settings import IngestSettings

if TYPE_CHECKING:
    from socialcrm.subscriptions.websub import IntentStore


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
        intents=_subscriptions(settings.subscriptions_table),
    )


def _subscriptions(table_name: str | None) -> Callable[[], IntentStore] | None:
    """The subscriptions table, opened on the first verification of intent (a rare GET)."""
    if table_name is None:
        return None

    @lru_cache(maxsize=1)
    def opened() -> IntentStore:
        from socialcrm.subscriptions.store import SubscriptionTable

        return SubscriptionTable(table_name)

    return opened


COMPOSITION = Composition(routers=(RouterSource(build_router, runtime),))
app = COMPOSITION.compose(APIGatewayHttpResolver(**COMPOSITION.options))


# What a delivery's answer says about the platform's health: refusals (a wall of them is an expired
# token or a changed secret) and malformed bodies, beside the deliveries accepted.
OUTCOMES = {
    200: "accepted",
    400: "malformed",
    401: "refused",
    403: "refused",
    413: "malformed",
    415: "malformed",
}


def record_delivery(event: dict[str, Any], status: int) -> None:
    """One ``Deliveries`` count per webhook POST, by platform and outcome (only the platforms socialcrm
    serves: a path an outsider makes up never becomes a metric dimension)."""
    parts = str(event.get("rawPath") or "").strip("/").split("/")
    platform = (event.get("pathParameters") or {}).get("platform") or (parts[-1] if len(parts) == 2 else None)
    method = ((event.get("requestContext") or {}).get("http") or {}).get("method")
    if method != "POST" or platform not in ROUTE_PLATFORMS:
        return
    outcome = OUTCOMES.get(status, "failed" if status >= 500 else "other")
    document = EphemeralMetrics(namespace=metrics.namespace)  # one document: its own dimensions
    document.add_dimension(name="platform", value=platform)
    document.add_dimension(name="outcome", value=outcome)
    document.add_metric(name="Deliveries", unit=MetricUnit.Count, value=1)
    document.flush_metrics()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = app.resolve(event, context)
    record_delivery(event, int(response.get("statusCode", 0)))
    return response
