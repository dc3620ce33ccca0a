"""The report summary as CSV: one figure per row, so any spreadsheet can filter and pivot it.

Columns: ``section,day,team,priority,key,metric,value`` (empty where they do not apply)::

    section,day,team,priority,key,metric,value
    period,,,,,from,2026-11-01
    totals,,,,,interactions,1200
    by_platform,,,,x,interactions,700
    sentiment_trend,2026-11-01,,,NEGATIVE,interactions,12
    first_response,,support,,native,avg_minutes,12.5
    first_response,,support,,patch,p90_minutes,30
    sla,,support,P1,next_response,met_pct,93.5
    sla,,,,resolution,met_pct,

``first_response`` rows have the source in ``key`` (``native``, ``patch``) and the team (empty: all
teams); ``sla`` rows have the clock in ``key`` (``first_response``, ``next_response``, ``resolution``)
and the team and priority (empty: overall). An unknown value is an empty cell, never 0: a ``met_pct``
with no outcome, an average or p90 with no response, a p90 over the last bucket's edge (7 days).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from socialcrm.reporting.dimensions import CLOCK_FAMILIES
from socialcrm.reporting.summary import (
    FirstResponse,
    ReportSummary,
    ServiceLevels,
    ServiceLevelsByTeamPriority,
)

COLUMNS = ("section", "day", "team", "priority", "key", "metric", "value")


# A cell starting with one of these is a formula to a spreadsheet (CSV injection): names get a quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _value(value: Any) -> str:
    if value is None:
        return ""
    return _text(value) if isinstance(value, str) else str(value)


def summary_rows(summary: ReportSummary) -> list[tuple[str, ...]]:
    """The rows of the CSV (without the header), in the order of the JSON summary."""
    rows: list[tuple[str, ...]] = []

    def row(
        section: str,
        metric: str,
        value: Any,
        *,
        day: str = "",
        team: str = "",
        priority: str = "",
        key: str = "",
    ) -> None:
        rows.append((section, day, _text(team), priority, _text(key), metric, _value(value)))

    row("period", "from", summary.from_.isoformat())
    row("period", "to", summary.to.isoformat())
    row("filter", "platform", summary.platform)
    row("filter", "team", summary.team)
    for metric, value in summary.totals.model_dump().items():
        row("totals", metric, value)
    for section in ("by_platform", "by_sentiment", "by_language"):
        for key, value in getattr(summary, section).items():
            row(section, "interactions", value, key=key)
    for team, value in summary.by_team.items():
        row("by_team", "routed", value, team=team)
    for day in summary.sentiment_trend:
        for sentiment, value in day.sentiment.items():
            row("sentiment_trend", "interactions", value, day=day.day.isoformat(), key=sentiment)

    def response_rows(team: str, figures: FirstResponse) -> None:
        for source, times in figures.model_dump().items():
            for metric, value in times.items():
                row("first_response", metric, value, team=team, key=source)

    def level_rows(
        levels: ServiceLevels | ServiceLevelsByTeamPriority, team: str = "", priority: str = ""
    ) -> None:
        for clock in CLOCK_FAMILIES:
            for metric, value in getattr(levels, clock).model_dump().items():
                row("sla", metric, value, team=team, priority=priority, key=clock)

    response_rows("", summary.first_response)
    for team, figures in summary.first_response_by_team.items():
        response_rows(team, figures)
    level_rows(summary.sla)
    for entry in summary.sla_by_team_priority:
        level_rows(entry, entry.team, entry.priority)
    for key, value in summary.spikes_by_platform.items():
        row("spikes_by_platform", "spikes", value, key=key)
    for key, value in summary.spikes_by_topic.items():
        row("spikes_by_topic", "spikes", value, key=key)
    for key, value in summary.by_segment.items():
        row("by_segment", "cases", value, key=key)
    return rows


def to_csv(summary: ReportSummary) -> str:
    """The summary as CSV text (RFC 4180: CRLF line ends, quoted where needed)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows(summary_rows(summary))
    return buffer.getvalue()
