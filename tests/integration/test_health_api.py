"""``GET /health/platforms``: each platform's webhook deliveries over 24 hours, from the ingest metric."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from socialcrm.api.health import HealthRuntime, platforms_health

NOW = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)


@pytest.fixture
def cloudwatch():
    with mock_aws():
        yield boto3.client("cloudwatch")


def put(client, platform: str, outcome: str, value: int, at: datetime) -> None:
    client.put_metric_data(
        Namespace="socialcrm/prod",
        MetricData=[
            {
                "MetricName": "Deliveries",
                "Dimensions": [
                    {"Name": "platform", "Value": platform},
                    {"Name": "outcome", "Value": outcome},
                    {"Name": "service", "Value": "socialcrm-ingest"},
                ],
                "Timestamp": at,
                "Value": value,
                "Unit": "Count",
            }
        ],
    )


def test_the_last_24_hours_per_platform_and_outcome(cloudwatch):
    # Given Meta's deliveries accepted and refused today, and X's accepted yesterday only
    put(cloudwatch, "meta", "accepted", 40, NOW - timedelta(hours=2))
    put(cloudwatch, "meta", "accepted", 10, NOW - timedelta(hours=1))
    put(cloudwatch, "meta", "refused", 7, NOW - timedelta(minutes=20))
    put(cloudwatch, "x", "accepted", 5, NOW - timedelta(hours=30))
    # When the operator reads the health summary
    body = platforms_health(HealthRuntime(cloudwatch=cloudwatch, namespace="socialcrm/prod", now=lambda: NOW))
    # Then Meta's counts are today's, and X has sent nothing in 24 hours
    meta, x = body["platforms"]["meta"], body["platforms"]["x"]
    assert (meta["accepted"], meta["refused"], meta["malformed"], meta["failed"]) == (50, 7, 0, 0)
    assert meta["last_accepted_hour"] is not None
    assert (x["accepted"], x["last_accepted_hour"]) == (0, None)
    assert set(body["platforms"]) == {"meta", "x", "linkedin", "tiktok", "youtube", "generic"}
    json.dumps(body)  # the route answers it as JSON


def test_the_route_answers_through_the_api_function(cloudwatch, monkeypatch):
    import api.handler as handler

    from tests.support.apigw import LambdaContext, http_event

    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "socialcrm/prod")
    handler.health_runtime.cache_clear()
    put(cloudwatch, "generic", "malformed", 3, datetime.now(tz=UTC) - timedelta(hours=1))
    response = handler.lambda_handler(http_event("GET", "/health/platforms"), LambdaContext())
    handler.health_runtime.cache_clear()
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["platforms"]["generic"]["malformed"] == 3


def test_each_followed_youtube_channel_shows_its_lease_or_what_it_waits_for(cloudwatch):
    from socialcrm.local.resources import create_resources
    from socialcrm.platforms.base import Intent
    from socialcrm.subscriptions.hub import HubAnswer
    from socialcrm.subscriptions.store import SubscriptionTable
    from socialcrm.subscriptions.websub import callback_key, confirm_intent, renew, topic_of

    table = SubscriptionTable(create_resources().environment["SUBSCRIPTIONS_TABLE"])
    tokens = iter(["first", "second"])
    accepted = type("Hub", (), {"ask": lambda self, request: HubAnswer(202)})()
    # Given two channels asked for an hour ago, the first verified by the hub, the second not yet
    asked = NOW - timedelta(hours=1)
    channels = ("UC0123456789abcdefghijkl", "UCupvZG-5ko_eiXAupbDfxWw")  # asked in this order
    renew(
        channels,
        store=table,
        hub=accepted,
        callback="https://api/webhooks/youtube",
        secret="s",
        now=asked,
        token=lambda: next(tokens),
    )
    key = callback_key("s", topic_of(channels[0]))
    intent = Intent("subscribe", topic_of(channels[0]), 432000, "first", callback_key=key)
    assert confirm_intent(intent, table, asked, hub_secret="s")
    # When the operator reads the health summary
    runtime = HealthRuntime(
        cloudwatch=cloudwatch, namespace="socialcrm/prod", now=lambda: NOW, subscriptions=table.all
    )
    shown = {s["channel_id"]: s for s in platforms_health(runtime)["youtube_subscriptions"]}
    # Then the first is active with its lease and renewal time, the second waits for the hub
    assert shown[channels[0]]["status"] == "active" and shown[channels[0]]["waiting_for_hub"] is False
    assert shown[channels[0]]["lease_until"] == (asked + timedelta(seconds=432000)).isoformat()
    assert shown[channels[1]]["status"] == "requested" and shown[channels[1]]["waiting_for_hub"] is True
    # And a lease that ran out unrenewed shows as expired
    later = HealthRuntime(
        cloudwatch=cloudwatch,
        namespace="socialcrm/prod",
        now=lambda: NOW + timedelta(days=6),
        subscriptions=table.all,
    )
    assert platforms_health(later)["youtube_subscriptions"][0]["status"] == "expired"
