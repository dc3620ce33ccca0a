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
