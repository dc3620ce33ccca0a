"""The daily report: the day's figures and the trailing 30 days, as JSON, CSV and an HTML page.

Run once a day by EventBridge Scheduler (``functions/daily_report``) for the day that just ended,
it reads the counters of 30 days once (30 queries) and writes ``report.json``, ``report.csv`` and
``report.html`` under ``reports/<day>/`` in the reports bucket, or, when ``REPORTS_DIR`` is set (the
local stack), into ``<REPORTS_DIR>/<day>/``. :func:`write_report` does the same from a plain
environment mapping (a backfill script; the tests).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from socialcrm.errors import SocialCrmError
from socialcrm.reporting.counters import CounterRepository, CounterSnapshot
from socialcrm.reporting.csv_export import to_csv
from socialcrm.reporting.summary import ReportSummary, parse_day, summarise
from socialcrm.settings import DailyReportSettings

WINDOW_DAYS = 30
S3_PREFIX = "reports"
CONTENT_TYPES = {
    "report.json": "application/json",
    "report.csv": "text/csv; charset=utf-8",
    "report.html": "text/html; charset=utf-8",
}


class ReportWriteError(SocialCrmError):
    """The report could not be written (the scheduler retries the invocation)."""

    status = 503
    code = "report_write_failed"


class CounterReader(Protocol):
    def load(self, first: date, last: date, *, routed: bool = True) -> CounterSnapshot: ...


class ReportDestination(Protocol):
    def write(self, day: date, files: Mapping[str, bytes]) -> str: ...


@dataclass(frozen=True)
class DailyReport:
    day: date
    day_summary: ReportSummary
    window: ReportSummary
    generated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "day_summary": self.day_summary.as_json(),
            "window_summary": self.window.as_json(),
        }


def build_report(counters: CounterReader, day: date, *, now: datetime) -> DailyReport:
    """The report of ``day``: its own summary and the summary of the 30 days ending on it."""
    first = day - timedelta(days=WINDOW_DAYS - 1)
    cells = counters.load(first, day, routed=False).cells
    return DailyReport(day, summarise(cells, day, day), summarise(cells, first, day), now)


def render_files(report: DailyReport) -> dict[str, bytes]:
    """``report.json`` (both summaries), ``report.csv`` (the 30 days) and ``report.html`` (with charts)."""
    from socialcrm.reporting.charts import draw_charts
    from socialcrm.reporting.page import render_page

    page = render_page(
        day=report.day,
        day_summary=report.day_summary,
        window=report.window,
        charts=draw_charts(report.window),
        generated_at=report.generated_at,
    )
    return {
        "report.json": (json.dumps(report.as_json(), indent=2) + "\n").encode(),
        "report.csv": to_csv(report.window).encode(),
        "report.html": page.encode(),
    }


class FolderDestination:
    """Writes ``<root>/<day>/<file>`` (the local stack); returns the folder's path."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, day: date, files: Mapping[str, bytes]) -> str:
        folder = self.root / day.isoformat()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for name, content in files.items():
                (folder / name).write_bytes(content)
        except OSError as exc:
            raise ReportWriteError(f"Could not write the report into {folder}.") from exc
        return str(folder)


class S3Destination:
    """Writes ``s3://<bucket>/reports/<day>/<file>``; returns the folder's S3 URI."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        self.bucket = bucket
        self._client = client

    @cached_property
    def client(self) -> Any:
        return self._client or boto3.client("s3")

    def write(self, day: date, files: Mapping[str, bytes]) -> str:
        prefix = f"{S3_PREFIX}/{day.isoformat()}/"
        try:
            for name, content in files.items():
                self.client.put_object(
                    Bucket=self.bucket, Key=prefix + name, Body=content, ContentType=CONTENT_TYPES[name]
                )
        except (BotoCoreError, ClientError) as exc:
            raise ReportWriteError("Could not write the report to its bucket.") from exc
        return f"s3://{self.bucket}/{prefix}"


@dataclass(frozen=True)
class DailyRuntime:
    counters: CounterReader
    destination: ReportDestination


def build_runtime(settings: DailyReportSettings) -> DailyRuntime:
    """The counters and the destination (a folder when ``REPORTS_DIR`` is set, else the bucket)."""
    counters = CounterRepository.bound(
        {"report_counters": settings.report_counters_table},
        region=settings.aws_region,
        host=settings.endpoint_url,
    )
    destination: ReportDestination
    if settings.reports_dir:
        destination = FolderDestination(Path(settings.reports_dir))
    else:
        assert settings.reports_bucket is not None  # the settings validate that one is set
        destination = S3Destination(settings.reports_bucket)
    return DailyRuntime(counters=counters, destination=destination)


def report_day(event: Mapping[str, Any], now: datetime) -> date:
    """The day to report on: ``{"day": "YYYY-MM-DD"}`` when given (a backfill), else the day before
    the schedule's ``scheduled_time`` (or before now): the last complete UTC day."""
    if event.get("day"):
        return parse_day(str(event["day"]), "day")
    scheduled = event.get("scheduled_time")
    moment = datetime.fromisoformat(str(scheduled).replace("Z", "+00:00")) if scheduled else now
    return moment.astimezone(UTC).date() - timedelta(days=1)


def produce(runtime: DailyRuntime, day: date, *, now: datetime) -> str:
    """Build, render and write the report of ``day``; returns where it was written."""
    return runtime.destination.write(day, render_files(build_report(runtime.counters, day, now=now)))


def write_report(
    environment: Mapping[str, str], *, day: date | None = None, reports_dir: str | Path | None = None
) -> str:
    """Write the report of ``day`` (default: today, UTC) and return the folder it is in.

    ``environment`` is the function's environment (table names, endpoint); ``reports_dir`` (or
    ``REPORTS_DIR`` in it) is where it goes, e.g. ``write_report(env, reports_dir="reports")`` returns
    ``'reports/2026-11-22'``.
    """
    env = dict(environment)
    if reports_dir is not None:
        env["REPORTS_DIR"] = str(reports_dir)
    now = datetime.now(tz=UTC)
    return produce(build_runtime(DailyReportSettings.from_env(env)), day or now.date(), now=now)
