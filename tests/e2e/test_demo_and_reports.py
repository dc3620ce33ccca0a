"""``make demo``'s story on the local stack, and the daily report written by its schedule."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from socialcrm.local import deliveries as d
from socialcrm.local.demo import Demo
from socialcrm.local.principals import DevPrincipal
from socialcrm.local.stack import REGION, DailyReportSchedule
from tests.e2e.pipeline import now, unique_number, wait_until

pytestmark = pytest.mark.e2e


def test_the_demo_shows_every_platform_routing_the_report_and_an_erasure(stack, pipeline, reports_dir):
    # Given the demo played against the running stack (other tests' interactions are counted there too)
    today = datetime.now(tz=UTC).date()
    # (from yesterday: the demo's messages are dated up to 30 minutes back, so after midnight some count
    # on the day before; and up to the day it is now: a demo run across midnight counts its last answers
    # on the next day)
    yesterday = today - timedelta(days=1)
    before = _summary(pipeline, yesterday, today)
    printed: list[str] = []
    with httpx.Client(base_url=stack.url, timeout=30.0, auth=DevPrincipal()) as http:
        complete = Demo(stack, http, out=printed.append).run()
    output = "\n".join(printed)

    # Then everything it sent arrived, was enriched and routed, and the summary says so per platform
    assert complete, output
    for platform in ("meta", "x", "linkedin", "tiktok", "youtube", "generic"):
        assert f"  {platform} (" in output
    assert "nothing arrived" not in output and "missing:" not in output
    assert "acknowledged; the copy is dropped before analysis, stored once" in output
    assert "401 invalid_signature" in output
    # the angry large account reached PR at P1, and answering it met its SLA
    assert "P1 support+product+pr" in output
    assert "influencer-negative" in output and "sla_met=True" in output
    # the report counted its interactions, the P1 routed to PR, and that first response
    after = _summary(pipeline, yesterday, datetime.now(tz=UTC).date())
    assert after["totals"]["interactions"] - before["totals"]["interactions"] >= 10
    # (the Page's echo in the Messenger conversation, and the agent's reply to the WhatsApp question)
    assert after["totals"]["first_responses"] - before["totals"]["first_responses"] == 2
    assert after["by_team"].get("pr", 0) - before["by_team"].get("pr", 0) >= 1
    assert "report for " in output and "by_platform" in output
    # an agent's reply went out through the fake platform and set its case's first response
    assert "an agent answers the WhatsApp question" in output and "set by the send, sla_met=True" in output
    assert "whatsapp  POST /meta/106540352242922/messages" in output
    # the daily report's three files were written where the stack writes reports
    day = datetime.now(tz=UTC).date().isoformat()
    assert sorted(p.name for p in (reports_dir / day).iterdir()) == [
        "report.csv",
        "report.html",
        "report.json",
    ]
    # the erasure was verified and the erased subject's retried message was not stored again
    # who may do what: a team's own cases, and each persona refused outside its routes, naming who may
    assert "each of a PR case" in output and "of support → 404: another team's case" in output
    assert "→ 403 compliance-officer only: POST /erasure-requests." in output
    assert "→ 403 team-lead only: changing a case's priority." in output
    assert "COMPLETED, verified=True" in output
    assert "not stored again: the subject is erased" in output


def test_the_daily_report_schedule_reports_on_the_day_before_with_charts(stack, pipeline, reports_dir):
    # Given an interaction stored, routed and counted today
    today = datetime.now(tz=UTC).date()
    before = _total(pipeline, today)
    payload = d.x_mention(
        str(unique_number()),
        str(unique_number()),
        "report_user",
        "@acme the app is broken again",
        "en",
        now(),
    )
    assert pipeline.deliver(payload).status_code == 200
    wait_until(lambda: bool(pipeline.interaction(payload.interaction_ids[0]).get("routing")), what="routed")
    wait_until(lambda: _total(pipeline, today) > before, what="counted in the report")
    assert stack.daily_report is not None

    # When the schedule fires just after the next midnight, as EventBridge Scheduler invokes it
    midnight = datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    folder = stack.daily_report.run(scheduled_time=midnight + timedelta(minutes=30))

    # Then it reported on today: JSON with the count, CSV, and an HTML page with its charts inline
    assert folder.endswith(today.isoformat())
    report = json.loads((reports_dir / today.isoformat() / "report.json").read_text())
    assert report["day_summary"]["totals"]["interactions"] == _total(pipeline, today) > before
    page = (reports_dir / today.isoformat() / "report.html").read_text()
    assert page.count("<svg") >= 3 and "<script" not in page


def _summary(pipeline, day: date, until: date | None = None) -> dict:
    """The report from ``day`` to ``until`` (default: that day alone)."""
    params = {"from": day.isoformat(), "to": (until or day).isoformat()}
    summary = pipeline.http.get("/reports/summary", params=params)
    assert summary.status_code == 200, summary.text
    return summary.json()


def _total(pipeline, day: date) -> int:
    return int(_summary(pipeline, day)["totals"]["interactions"])


@pytest.mark.parametrize(
    ("now_utc", "expected"),
    [
        (datetime(2026, 11, 23, 0, 29, tzinfo=UTC), datetime(2026, 11, 23, 0, 30, tzinfo=UTC)),
        (datetime(2026, 11, 23, 0, 30, tzinfo=UTC), datetime(2026, 11, 24, 0, 30, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, 59, tzinfo=UTC), datetime(2027, 1, 1, 0, 30, tzinfo=UTC)),
    ],
)
def test_the_schedule_runs_at_half_past_midnight_utc_as_in_aws(stack, now_utc, expected):
    assert stack.daily_report is not None
    assert stack.daily_report.next_run(now_utc) == expected


def test_the_schedule_fires_at_its_time_and_stops_at_once(stack, reports_dir):
    # Given a schedule due a moment from now (the stack's own is due at 00:30 UTC)
    soon = datetime.now(tz=UTC) + timedelta(seconds=1.5)
    schedule = DailyReportSchedule(REGION, at=soon.time())
    due = schedule.next_run(datetime.now(tz=UTC))
    reported = reports_dir / (due.date() - timedelta(days=1)).isoformat() / "report.html"
    reported.unlink(missing_ok=True)

    # When it runs
    schedule.start()
    try:
        # Then at its time it writes the report of the day before, as the EventBridge schedule does
        wait_until(reported.exists, deadline=30, what="the scheduled report written")
    finally:
        started = time.monotonic()
        schedule.stop()
    # And it stops at once, not at its next time
    assert time.monotonic() - started < 5
