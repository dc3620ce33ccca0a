"""``GET /health/platforms`` (IAM-authorised): each platform's webhook deliveries over the last 24 hours.

Read from the ingest function's ``Deliveries`` metric (by platform and outcome) with one CloudWatch
``GetMetricData`` call: how many deliveries were accepted, refused (401/403: a wrong secret or token, or
forgeries), malformed (400/413/415) and failed (5xx), and the last hour one was accepted — what an
operator looks at when a platform seems to have stopped sending. With them, each followed YouTube
channel's subscription at the WebSub hub: active until when, due for renewal when, waiting for the hub's
verification, or denied. No personal data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import AwareDatetime, BaseModel

from socialcrm.api.responses import JSON, documented_errors
from socialcrm.errors import SocialCrmError
from socialcrm.platforms import ROUTE_PLATFORMS

if TYPE_CHECKING:
    from socialcrm.subscriptions.store import Subscription

OUTCOMES = ("accepted", "refused", "malformed", "failed")
WINDOW = timedelta(hours=24)
INGEST_SERVICE = "socialcrm-ingest"


class HealthUnavailableError(SocialCrmError):
    status = 503
    code = "metrics_unavailable"


class PlatformHealth(BaseModel):
    accepted: int
    refused: int
    malformed: int
    failed: int
    last_accepted_hour: AwareDatetime | None


class SubscriptionHealth(BaseModel):
    """A followed YouTube channel's subscription at the hub."""

    channel_id: str
    status: str  # active, expired, denied, unsubscribed, or requested (not yet verified)
    lease_until: AwareDatetime | None
    renew_at: AwareDatetime | None
    waiting_for_hub: bool  # a subscribe or unsubscribe request the hub has not verified yet


class PlatformsHealth(BaseModel):
    """Each platform's webhook deliveries over the last 24 hours, by outcome, and the YouTube subscriptions."""

    since: AwareDatetime
    until: AwareDatetime
    platforms: dict[str, PlatformHealth]
    youtube_subscriptions: list[SubscriptionHealth]


@dataclass(frozen=True)
class HealthRuntime:
    cloudwatch: Any  # a boto3 CloudWatch client
    namespace: str
    now: Callable[[], datetime] = lambda: datetime.now(tz=UTC)
    # Every subscription the websub function keeps (socialcrm.subscriptions.store), when the table is named.
    subscriptions: Callable[[], list[Subscription]] | None = None


def platforms_health(runtime: HealthRuntime) -> dict[str, Any]:
    until = runtime.now().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    since = until - WINDOW
    pairs = [(platform, outcome) for platform in ROUTE_PLATFORMS for outcome in OUTCOMES]
    queries = [
        {
            "Id": f"q{n}",
            "MetricStat": {
                "Metric": {
                    "Namespace": runtime.namespace,
                    "MetricName": "Deliveries",
                    "Dimensions": [
                        {"Name": "platform", "Value": platform},
                        {"Name": "outcome", "Value": outcome},
                        {"Name": "service", "Value": INGEST_SERVICE},
                    ],
                },
                "Period": 3600,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
        for n, (platform, outcome) in enumerate(pairs)
    ]
    results: dict[str, tuple[list[datetime], list[float]]] = {}
    token: str | None = None
    try:
        while True:
            page = runtime.cloudwatch.get_metric_data(
                MetricDataQueries=queries,
                StartTime=since,
                EndTime=until,
                **({"NextToken": token} if token else {}),
            )
            for result in page.get("MetricDataResults", []):
                times, values = results.setdefault(result["Id"], ([], []))
                times += list(result.get("Timestamps", []))
                values += list(result.get("Values", []))
            token = page.get("NextToken")
            if not token:
                break
    except (BotoCoreError, ClientError) as exc:
        raise HealthUnavailableError("The delivery metrics could not be read; try again.") from exc
    platforms: dict[str, dict[str, Any]] = {
        platform: {**dict.fromkeys(OUTCOMES, 0), "last_accepted_hour": None} for platform in ROUTE_PLATFORMS
    }
    for n, (platform, outcome) in enumerate(pairs):
        times, values = results.get(f"q{n}", ([], []))
        platforms[platform][outcome] = int(sum(values))
        if outcome == "accepted":
            hours = [t for t, v in zip(times, values, strict=False) if v > 0]
            platforms[platform]["last_accepted_hour"] = max(hours).isoformat() if hours else None
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "platforms": platforms,
        "youtube_subscriptions": _subscriptions(runtime),
    }


def _subscriptions(runtime: HealthRuntime) -> list[dict[str, Any]]:
    if runtime.subscriptions is None:
        return []
    from socialcrm.subscriptions.websub import channel_of

    now = runtime.now()
    try:
        found = runtime.subscriptions()
    except SocialCrmError as exc:
        raise HealthUnavailableError("The subscriptions could not be read; try again.") from exc
    shown = []
    for item in sorted(found, key=lambda s: s.topic):
        status = item.status or "requested"
        if status == "active" and not item.active(now):
            status = "expired"
        shown.append(
            {
                "channel_id": channel_of(item.topic) or item.topic,
                "status": status,
                "lease_until": item.lease_until.isoformat() if item.lease_until else None,
                "renew_at": item.renew_at.isoformat() if item.renew_at else None,
                "waiting_for_hub": item.pending(now),
            }
        )
    return shown


def build_router(runtime: Callable[[], HealthRuntime]) -> Router:
    router = Router()

    @router.get(
        "/health/platforms",
        summary="Each platform's webhook deliveries over the last 24 hours",
        description=(
            "Accepted, refused (401/403: a wrong secret or token, or forgeries), malformed and failed "
            "deliveries per platform, the last hour one was accepted, and each followed YouTube channel's "
            "subscription at the WebSub hub."
        ),
        responses={
            200: {"description": "Per platform", "content": {JSON: {"model": PlatformsHealth}}},
            **documented_errors(503),
        },
    )
    def get_platforms_health() -> dict[str, Any]:
        return platforms_health(runtime())

    return router
