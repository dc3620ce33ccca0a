"""The daily report: invoked by EventBridge Scheduler after midnight UTC, reports on the day before.

The schedule passes ``{"scheduled_time": "<aws.scheduler.scheduled-time>"}``, so a retried
invocation reports on the same day; ``{"day": "YYYY-MM-DD"}`` (a manual invocation) backfills a day.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from socialcrm.observability import MetricUnit, logger, metrics
from socialcrm.reporting.daily import DailyRuntime, build_runtime, produce, report_day
from socialcrm.settings import DailyReportSettings
from socialcrm.tracing import tracer


@lru_cache(maxsize=1)
def runtime() -> DailyRuntime:
    return build_runtime(DailyReportSettings.from_env())


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now = datetime.now(tz=UTC)
    day = report_day(event or {}, now)
    location = produce(runtime(), day, now=now)
    metrics.add_metric(name="DailyReportsWritten", unit=MetricUnit.Count, value=1)
    logger.info("daily report written", day=day.isoformat(), location=location)
    return {"day": day.isoformat(), "location": location}
