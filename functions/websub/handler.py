"""The websub function: invoked hourly by EventBridge Scheduler; subscribes the configured YouTube channels at
the WebSub hub, renews each lease at 80% of its length, unsubscribes channels no longer configured."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from socialcrm.observability import MetricUnit, logger, metrics
from socialcrm.settings import WebSubSettings
from socialcrm.subscriptions.hub import HttpHub
from socialcrm.subscriptions.store import SubscriptionTable
from socialcrm.subscriptions.websub import RenewOutcome, parse_channels, renew
from socialcrm.tracing import tracer


class HubRefusedError(Exception):
    """The hub refused a request: the invocation fails so that the function's errors alarm fires."""


def run(settings: WebSubSettings, now: datetime) -> RenewOutcome:
    """One renewal run (the local stack calls it too)."""
    channels = parse_channels(settings.youtube_channels)
    youtube = settings.secrets_source().get().for_platform("youtube")
    if youtube is None:
        logger.warning("YouTube is not configured: no subscription to make", channels=len(channels))
        return RenewOutcome()
    return renew(
        channels,
        store=SubscriptionTable(settings.subscriptions_table),
        hub=HttpHub(settings.hub_url),
        callback=settings.callback_url,
        secret=youtube.hub_secret.get_secret_value(),
        now=now,
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcome = run(WebSubSettings.from_env(), datetime.now(tz=UTC))
    metrics.add_metric(name="SubscriptionsRequested", unit=MetricUnit.Count, value=len(outcome.asked))
    metrics.add_metric(name="SubscriptionsRefused", unit=MetricUnit.Count, value=len(outcome.failed))
    # Channel ids are the brand's own channels (configuration): they may be logged.
    logger.info("subscriptions renewed", asked=outcome.asked, current=outcome.current)
    if outcome.failed:
        logger.error("the hub refused subscription requests", failed=outcome.failed)
        raise HubRefusedError(f"The hub refused {len(outcome.failed)} subscription request(s); see the log.")
    return {"asked": len(outcome.asked), "current": outcome.current}
