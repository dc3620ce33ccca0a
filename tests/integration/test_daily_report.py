"""The daily report under moto: to a local folder (the local stack) and to the S3 bucket (the scheduler)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from socialcrm.errors import BadRequestError
from socialcrm.local.resources import create_resources
from socialcrm.reporting.consumer import QueuedRecord, process_batch
from socialcrm.reporting.counters import CounterRepository
from socialcrm.reporting.daily import report_day, write_report
from socialcrm.topology import TABLES
from tests.support.apigw import LambdaContext
from tests.support.report_events import T0, body, case_updated, enriched, routed, spike

BUCKET = "socialcrm-reports-test"


@pytest.fixture
def stack():
    """The embedded AWS with a week of counted events ending on 22 November."""
    with mock_aws():
        resources = create_resources()
        recorder = CounterRepository.bound(
            {
                "report_counters": TABLES["report_counters"].local_name,
                "report_seen": TABLES["report_seen"].local_name,
            },
            region="eu-west-1",
        )
        events = [
            body(enriched(n, platform=("x", "facebook")[n % 2], at=T0 - timedelta(days=n % 7)))
            for n in range(20)
        ]
        events += [
            body(routed("c1", teams=["support"])),
            body(case_updated("c1", teams=["support"], answered_after=timedelta(minutes=7), sla_met=True)),
            body(spike("outage")),
        ]
        outcome = process_batch(
            [QueuedRecord(f"m-{i}", e) for i, e in enumerate(events)],
            counters=recorder,
            now=T0,
            erased_at=lambda _subject: None,
        )
        assert outcome.failed == []
        yield resources.environment


def test_the_local_stack_writes_todays_report_into_a_folder(stack, tmp_path):
    # When the demo asks for the report of 22 November into reports/
    location = write_report(stack, day=date(2026, 11, 22), reports_dir=tmp_path / "reports")
    # Then reports/2026-11-22 holds the JSON, the CSV and the page
    folder = tmp_path / "reports" / "2026-11-22"
    assert location == str(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["report.csv", "report.html", "report.json"]
    report = json.loads((folder / "report.json").read_text())
    assert report["day"] == "2026-11-22"
    assert report["day_summary"]["totals"]["interactions"] == 3  # n = 0, 7, 14
    assert report["window_summary"]["totals"]["interactions"] == 20
    assert (
        report["window_summary"]["from"] == "2026-10-24"
        and len(report["window_summary"]["sentiment_trend"]) == 30
    )
    rows = list(csv.DictReader(io.StringIO((folder / "report.csv").read_text())))
    assert {r["metric"]: r["value"] for r in rows if r["section"] == "totals"}["interactions"] == "20"
    html = (folder / "report.html").read_text()
    assert html.count("<svg id=") == 3 and "outage" in html


def test_the_scheduled_run_writes_yesterdays_report_to_the_bucket(stack, monkeypatch):
    # Given the function's environment in AWS (a bucket, no folder)
    s3 = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for name, value in {**stack, "REPORTS_BUCKET": BUCKET, "AWS_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REPORTS_DIR", raising=False)
    import daily_report.handler as handler

    handler.runtime.cache_clear()
    try:
        # When EventBridge Scheduler invokes it just after midnight
        result = handler.lambda_handler({"scheduled_time": "2026-11-23T00:30:00Z"}, LambdaContext())
    finally:
        handler.runtime.cache_clear()
    # Then the report of the day that ended is in the bucket, each file with its content type
    assert result == {"day": "2026-11-22", "location": f"s3://{BUCKET}/reports/2026-11-22/"}
    types = {}
    for name in ("report.json", "report.csv", "report.html"):
        head = s3.head_object(Bucket=BUCKET, Key=f"reports/2026-11-22/{name}")
        types[name] = head["ContentType"]
    assert types == {
        "report.json": "application/json",
        "report.csv": "text/csv; charset=utf-8",
        "report.html": "text/html; charset=utf-8",
    }
    page = s3.get_object(Bucket=BUCKET, Key="reports/2026-11-22/report.html")["Body"].read().decode()
    assert "chart-sla-by-team" in page and "support" in page


def test_the_report_day_is_the_day_before_the_schedule_or_the_day_asked_for():
    now = datetime(2026, 11, 23, 0, 31, tzinfo=UTC)
    assert report_day({"scheduled_time": "2026-11-23T00:30:00Z"}, now) == date(2026, 11, 22)
    assert report_day({}, now) == date(2026, 11, 22)
    assert report_day({"day": "2026-11-01"}, now) == date(2026, 11, 1)
    with pytest.raises(BadRequestError, match="'day' must be a date"):
        report_day({"day": "last tuesday"}, now)
