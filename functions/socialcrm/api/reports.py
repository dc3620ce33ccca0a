"""``GET /reports/summary`` (IAM-authorised in AWS): the report summary as JSON, or CSV on ``Accept: text/csv``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Protocol

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from socialcrm.api.responses import JSON, documented_errors
from socialcrm.errors import BadRequestError
from socialcrm.models import PLATFORMS
from socialcrm.observability import logger
from socialcrm.reporting.counters import CounterRepository, CounterSnapshot
from socialcrm.reporting.csv_export import to_csv
from socialcrm.reporting.dimensions import bucket_edges
from socialcrm.reporting.summary import MAX_RANGE_DAYS, ReportSummary, parse_range, summarise
from socialcrm.settings import ReportsApiSettings

CSV = "text/csv"


class CounterReader(Protocol):
    def load(self, first: date, last: date, *, routed: bool = True) -> CounterSnapshot: ...


@dataclass(frozen=True)
class ReportsRuntime:
    counters: CounterReader


def build_runtime(settings: ReportsApiSettings) -> ReportsRuntime:
    """The reports routes' runtime: the counters table, read-only."""
    return ReportsRuntime(
        counters=CounterRepository.bound(
            {"report_counters": settings.report_counters_table},
            region=settings.aws_region,
            host=settings.endpoint_url,
        )
    )


def wants_csv(accept: str | None) -> bool:
    """True when the Accept header asks for ``text/csv`` (and does not refuse it with ``q=0``).

    >>> wants_csv("text/csv"), wants_csv("application/json"), wants_csv("text/csv;q=0, */*"), wants_csv(None)
    (True, False, False, False)
    """
    for media_range in (accept or "").split(","):
        media_type, *params = (part.strip().lower() for part in media_range.split(";"))
        if media_type == CSV:
            return not any(
                param.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for param in params
            )
    return False


def build_router(runtime: Callable[[], ReportsRuntime]) -> Router:
    router = Router()

    @router.get(
        "/reports/summary",
        summary="Volume, sentiment, first responses, service levels and spikes over a range of days",
        description=(
            f"Days are UTC and inclusive; at most {MAX_RANGE_DAYS} days. With `team`, volume figures are the "
            "interactions routed to that team. `Accept: text/csv` returns the same figures as CSV "
            "(columns section,day,team,priority,key,metric,value; an unknown value is an empty cell).\n\n"
            "**Service levels** (`sla`, `sla_by_team_priority`): met, breached and % met of three clocks, per "
            "team and priority and overall: `first_response` once per case, `next_response` once per round (a "
            "customer message after a brand reply starts a wait; the brand's next reply ends it) and "
            "`resolution` once per case and once more per reopening. An outcome counts on the day it was "
            "decided: the answer's (or resolution's) day when met, the due day when breached. `met_pct` is "
            "null when nothing was decided, never 0.\n\n"
            "**First response** times are reported apart by source: `native` (a brand reply the platform sent "
            "us: measured) and `patch` (set by an agent through `PATCH /cases/{id}`: declared). The average is "
            "exact. The p90 is read from a histogram whose bucket edges are "
            f"{bucket_edges()}: the true p90 is more than `p90_above_minutes` and at most `p90_minutes` "
            "(null when it is over 7 days)."
        ),
        responses={
            200: {
                "description": "The summary",
                "content": {JSON: {"model": ReportSummary}, CSV: {"schema": {"type": "string"}}},
            },
            **documented_errors(400, 503),
        },
    )
    def get_summary(
        from_: Annotated[str, Query(alias="from", max_length=40, description="First day, YYYY-MM-DD (UTC)")],
        to: Annotated[str, Query(max_length=40, description="Last day, YYYY-MM-DD (UTC), inclusive")],
        platform: Annotated[str | None, Query(max_length=20, description="Only this platform")] = None,
        team: Annotated[str | None, Query(min_length=1, max_length=100, description="Only this team")] = None,
    ) -> Response[str]:
        first, last = parse_range(from_, to)
        if platform is not None and platform not in PLATFORMS:
            raise BadRequestError(f"'{platform}' is not a platform; use one of {', '.join(PLATFORMS)}.")
        snapshot = runtime().counters.load(first, last, routed=team is not None)
        summary = summarise(snapshot.cells, first, last, platform=platform, team=team)
        as_csv = wants_csv(router.current_event.headers.get("accept"))
        logger.info(
            "report summary",
            days=(last - first).days + 1,
            items_read=snapshot.items_read,
            format="csv" if as_csv else "json",
        )
        if as_csv:
            return Response(
                status_code=200,
                content_type=f"{CSV}; charset=utf-8",
                body=to_csv(summary),
                headers={
                    "Content-Disposition": f'attachment; filename="socialcrm-summary-{first}-{last}.csv"'
                },
            )
        return Response(status_code=200, content_type=JSON, body=json.dumps(summary.as_json()))

    return router
