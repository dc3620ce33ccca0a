"""GET /reports/summary through the api function under moto: JSON, CSV, filters, 400s that say why."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from socialcrm.local.resources import create_resources
from socialcrm.reporting.consumer import QueuedRecord, process_batch
from socialcrm.reporting.counters import CounterRepository
from socialcrm.topology import TABLES
from tests.conftest import DEV_SECRETS
from tests.support.apigw import LambdaContext, http_event
from tests.support.report_events import body, case_updated, enriched, routed, sla_breached

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


@pytest.fixture
def api(monkeypatch):
    with mock_aws():
        resources = create_resources()
        for name, value in resources.environment.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SOCIALCRM_SECRETS_FILE", str(DEV_SECRETS))
        import api.handler as handler

        handler.reports_runtime.cache_clear()
        recorder = CounterRepository.bound(
            {
                "report_counters": TABLES["report_counters"].local_name,
                "report_seen": TABLES["report_seen"].local_name,
            },
            region="eu-west-1",
        )
        events = [
            body(enriched(1, platform="x", sentiment="NEGATIVE")),
            body(enriched(2, platform="x", sentiment="NEGATIVE", at=NOW + timedelta(days=1))),
            body(enriched(3, platform="facebook", sentiment="POSITIVE")),
            body(routed("c1", teams=["support"])),
            body(
                case_updated(
                    "c1",
                    teams=["support"],
                    answered_after=timedelta(minutes=12),
                    sla_met=True,
                    source="native",
                )
            ),
            body(routed("c2", teams=["support"])),
            body(case_updated("c2", teams=["support"], answered_after=timedelta(minutes=50), sla_met=True)),
            body(sla_breached("c2", teams=["support"], clock="next_response", round=0)),
        ]
        process_batch(
            [QueuedRecord(f"m-{i}", e) for i, e in enumerate(events)],
            counters=recorder,
            now=NOW,
            erased_at=lambda _subject: None,
        )
        yield handler
        handler.reports_runtime.cache_clear()


def get(handler, query: dict[str, str], headers: dict[str, str] | None = None) -> dict:
    return handler.lambda_handler(
        http_event("GET", "/reports/summary", query=query, headers=headers), LambdaContext()
    )


def test_the_summary_is_json_by_default(api):
    response = get(api, {"from": "2026-11-22", "to": "2026-11-23"})
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"
    summary = json.loads(response["body"])
    assert summary["from"] == "2026-11-22" and summary["to"] == "2026-11-23"
    assert summary["totals"]["interactions"] == 3 and summary["by_platform"] == {"x": 2, "facebook": 1}
    assert [day["sentiment"]["NEGATIVE"] for day in summary["sentiment_trend"]] == [1, 1]
    # First responses apart by source: native 12 minutes, PATCH 50 (p90: the bucket each lies in)
    assert summary["first_response"] == {
        "native": {"count": 1, "avg_minutes": 12.0, "p90_minutes": 15, "p90_above_minutes": 5},
        "patch": {"count": 1, "avg_minutes": 50.0, "p90_minutes": 60, "p90_above_minutes": 30},
    }
    # Service levels per clock; a clock with nothing decided has a null percentage, not 0
    assert summary["sla_by_team_priority"] == [
        {
            "team": "support",
            "priority": "P2",
            "first_response": {"met": 2, "breached": 0, "met_pct": 100.0},
            "next_response": {"met": 0, "breached": 1, "met_pct": 0.0},
            "resolution": {"met": 0, "breached": 0, "met_pct": None},
        }
    ]
    assert summary["sla"]["resolution"]["met_pct"] is None
    assert summary["totals"]["first_responses"] == 2 and summary["totals"]["sla_breaches"] == 1


def test_accept_text_csv_gives_the_same_figures_as_csv(api):
    response = get(api, {"from": "2026-11-22", "to": "2026-11-23"}, headers={"Accept": "text/csv"})
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["headers"]["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response["body"])))
    totals = {r["metric"]: r["value"] for r in rows if r["section"] == "totals"}
    assert totals["interactions"] == "3" and totals["first_responses"] == "2"
    # And the documented columns, service levels keyed by clock, first responses by source
    assert list(rows[0]) == ["section", "day", "team", "priority", "key", "metric", "value"]
    sla = {
        (r["team"], r["priority"], r["key"], r["metric"]): r["value"] for r in rows if r["section"] == "sla"
    }
    assert sla[("support", "P2", "next_response", "met_pct")] == "0.0"
    assert sla[("support", "P2", "resolution", "met_pct")] == ""  # nothing decided: empty, not 0
    responses = {
        (r["team"], r["key"], r["metric"]): r["value"] for r in rows if r["section"] == "first_response"
    }
    assert (
        responses[("", "native", "avg_minutes")] == "12.0"
        and responses[("", "patch", "avg_minutes")] == "50.0"
    )
    assert {r["key"]: r["value"] for r in rows if r["section"] == "by_platform"} == {
        "x": "2",
        "facebook": "1",
    }


def test_filters_narrow_every_figure(api):
    by_team = json.loads(get(api, {"from": "2026-11-22", "to": "2026-11-23", "team": "support"})["body"])
    assert by_team["team"] == "support" and by_team["totals"]["interactions"] == 2  # c1 and c2
    by_platform = json.loads(
        get(api, {"from": "2026-11-22", "to": "2026-11-23", "platform": "facebook"})["body"]
    )
    assert by_platform["totals"]["interactions"] == 1
    assert by_platform["first_response"]["native"] == {
        "count": 0,
        "avg_minutes": None,
        "p90_minutes": None,
        "p90_above_minutes": None,
    }
    assert by_platform["sla"]["first_response"]["met_pct"] is None


@pytest.mark.parametrize(
    ("query", "error", "says"),
    [
        ({"from": "22/11/2026", "to": "2026-11-23"}, "bad_request", "YYYY-MM-DD"),
        ({"from": "2026-11-31", "to": "2026-12-01"}, "bad_request", "not a calendar date"),
        ({"from": "2026-11-23", "to": "2026-11-22"}, "bad_request", "before"),
        ({"from": "2025-01-01", "to": "2026-11-22"}, "bad_request", "at most 366 days"),
        ({"from": "2026-11-22", "to": "2026-11-23", "platform": "myspace"}, "bad_request", "not a platform"),
        ({"to": "2026-11-23"}, "invalid_request", "from"),
    ],
)
def test_a_bad_request_is_a_400_that_says_why(api, query, error, says):
    response = get(api, query)
    assert response["statusCode"] == 400
    problem = json.loads(response["body"])
    assert problem["error"] == error and says in problem["message"]
