"""The report summary: date-range validation, and the figures computed from counter cells.

Pure: :func:`summarise` takes the cells of a range (``CounterRepository.load``) and returns a
:class:`ReportSummary`; the API serves it as JSON or CSV and the daily report draws it.

Service levels: three clocks per priority, each reported as met, breached and % met, per team and
priority and overall: ``first_response`` (once per case), ``next_response`` (once per round: a
customer message after a brand reply starts a wait, the brand's next reply ends it) and
``resolution`` (once per case and per reopening). An outcome counts on the day it was decided (the
answer's day when met, the due day when breached). ``met_pct`` is null, never 0, when nothing was
decided.

First responses are reported by source, apart: ``native`` (a brand reply the platform sent us:
measured) and ``patch`` (set by an agent through ``PATCH /cases/{id}``: declared).

Precision: counts and the first-response average are exact. The p90 is read from a histogram
(``dimensions.BUCKETS``, edges 1, 5, 15, 30 min, 1, 2, 4, 8, 24, 48 h, 7 days): the summary gives the
bucket that holds the 90th percentile, ``p90_above_minutes`` < p90 <= ``p90_minutes`` (for example
"over 15 minutes, at most 30"); in the open last bucket ``p90_minutes`` is null ("over 7 days").
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from socialcrm.errors import BadRequestError
from socialcrm.models import SEGMENTS as SEGMENT_NAMES
from socialcrm.reporting.dimensions import (
    ALL_TEAMS,
    BUCKETS,
    CLOCK_FAMILIES,
    FIRST_RESPONSE,
    INTERACTIONS,
    NATIVE,
    PATCH,
    ROUTED,
    SEGMENTS,
    SENTIMENTS,
    SPIKES,
    TEAMS,
    Cell,
    bucket_edges,
    days_between,
    percentile_bucket,
    response_source,
)

MAX_RANGE_DAYS = 366
P90 = 0.9
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class Totals(_Model):
    interactions: int = Field(description="Interactions counted (routed to the team, with a team filter).")
    first_responses: int = Field(description="Cases first answered, native and by PATCH.")
    sla_breaches: int = Field(
        description="Service-level targets missed, every clock: first responses, next-response rounds and "
        "resolutions breached."
    )
    spikes: int


class ResponseTimes(_Model):
    count: int = Field(description="First responses counted.")
    avg_minutes: float | None = Field(
        description="Exact mean time from case opened to first response, in minutes (one decimal); null with none."
    )
    p90_minutes: int | None = Field(
        description="The 90th percentile is at most this many minutes: the upper edge of the histogram bucket "
        f"that holds it (edges {bucket_edges()}). Null with none, or when it lies beyond the last edge "
        "(over 7 days)."
    )
    p90_above_minutes: int | None = Field(
        description="... and more than this many: the lower edge of that bucket (0 in the first; 10080 when "
        "over 7 days). Null with none."
    )


class FirstResponse(_Model):
    native: ResponseTimes = Field(description="Brand replies the platform sent us (measured).")
    patch: ResponseTimes = Field(
        description="First responses an agent set through PATCH /cases/{id} (declared)."
    )


class Compliance(_Model):
    met: int
    breached: int
    met_pct: float | None = Field(
        description="100 * met / (met + breached), one decimal; null (never 0) with no outcome."
    )


class ServiceLevels(_Model):
    first_response: Compliance = Field(description="Cases, by their first-response target (once per case).")
    next_response: Compliance = Field(
        description="Rounds: each wait that a customer message after a brand reply starts and the brand's next "
        "reply ends, by its target (once per round)."
    )
    resolution: Compliance = Field(
        description="Resolutions by their target, once per case and once more per reopening."
    )


class ServiceLevelsByTeamPriority(_Model):
    team: str
    priority: str
    first_response: Compliance
    next_response: Compliance
    resolution: Compliance


class SentimentDay(_Model):
    day: date
    sentiment: dict[str, int]


class ReportSummary(_Model):
    """Volume, sentiment, first responses, service levels and spikes over a range of UTC days (inclusive)."""

    from_: date = Field(validation_alias="from", serialization_alias="from")
    to: date
    platform: str | None
    team: str | None
    totals: Totals
    by_platform: dict[str, int]
    by_sentiment: dict[str, int]
    by_language: dict[str, int]
    by_team: dict[str, int] = Field(description="Interactions routed to each team.")
    sentiment_trend: list[SentimentDay]
    first_response: FirstResponse
    first_response_by_team: dict[str, FirstResponse]
    sla: ServiceLevels = Field(description="% met of the three clocks, each case, round or reopening once.")
    sla_by_team_priority: list[ServiceLevelsByTeamPriority]
    spikes_by_platform: dict[str, int]
    spikes_by_topic: dict[str, int]
    by_segment: dict[str, int] = Field(
        default_factory=dict,
        description="Cases opened for customers in each segment (a case counts in each of its segments).",
    )

    def as_json(self) -> dict[str, Any]:
        """The summary as the API returns it (``from``/``to`` as YYYY-MM-DD)."""
        return self.model_dump(mode="json", by_alias=True)


def parse_day(value: str, name: str) -> date:
    """A YYYY-MM-DD query value as a date, or a 400 saying what is wrong with it."""
    shown = value if len(value) <= 40 else value[:40] + "…"
    if not _DAY.fullmatch(value):
        raise BadRequestError(f"'{name}' must be a date written YYYY-MM-DD; got '{shown}'.")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise BadRequestError(f"'{name}' is not a calendar date: '{shown}'.") from exc


def parse_range(from_: str, to: str) -> tuple[date, date]:
    """The first and last day of a summary range, validated: in order and at most 366 days.

    >>> parse_range("2026-11-01", "2026-11-30")
    (datetime.date(2026, 11, 1), datetime.date(2026, 11, 30))
    """
    first, last = parse_day(from_, "from"), parse_day(to, "to")
    if last < first:
        raise BadRequestError(f"'to' ({last}) is before 'from' ({first}).")
    days = (last - first).days + 1
    if days > MAX_RANGE_DAYS:
        raise BadRequestError(
            f"The range covers {days} days; a summary covers at most {MAX_RANGE_DAYS} days. Ask for a shorter range."
        )
    return first, last


def _ranked(counts: Mapping[str, int]) -> dict[str, int]:
    """Non-zero counts, largest first (ties by name)."""
    return {key: value for key, value in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if value}


def _minutes(seconds: float) -> int:
    return int(seconds // 60)


def _response_times(totals: Counter[str]) -> ResponseTimes:
    count = totals["n"]
    bucket = percentile_bucket({name: totals[name] for name, _ in BUCKETS}, P90)
    return ResponseTimes(
        count=count,
        avg_minutes=round(totals["seconds"] / count / 60, 1) if count else None,
        p90_minutes=_minutes(bucket[1]) if bucket and bucket[1] is not None else None,
        p90_above_minutes=_minutes(bucket[0]) if bucket else None,
    )


def _first_response(cells: Iterable[tuple[Cell, list[str]]]) -> FirstResponse:
    totals: dict[str, Counter[str]] = {NATIVE: Counter(), PATCH: Counter()}
    for cell, parts in cells:
        totals[response_source(parts)].update(cell.values)
    return FirstResponse(native=_response_times(totals[NATIVE]), patch=_response_times(totals[PATCH]))


def _compliance(counts: Mapping[str, int]) -> Compliance:
    met, breached = counts.get("met", 0), counts.get("breached", 0)
    decided = met + breached
    return Compliance(met=met, breached=breached, met_pct=round(100 * met / decided, 1) if decided else None)


def summarise(
    cells: Iterable[Cell], first: date, last: date, *, platform: str | None = None, team: str | None = None
) -> ReportSummary:
    """The summary of the cells of ``first``..``last``, optionally for one platform and/or one team.

    With a team, volume figures are the interactions routed to that team (its ``routed`` cells, which
    only a team's summary needs to load); without, every interaction. Spikes belong to no team: a team
    filter leaves them as they are.
    """
    days = days_between(first, last)
    in_range = set(days)
    families: dict[str, list[tuple[Cell, list[str]]]] = defaultdict(list)
    for cell in cells:
        if cell.day in in_range:
            families[cell.family].append((cell, cell.parts))

    # Volume: (day, platform, sentiment, language, n) from the interactions or the team's routed cells.
    volume: list[tuple[str, str, str, str, int]] = []
    if team is None:
        volume = [(c.day, p[0], p[1], p[2], c.get("n")) for c, p in families[INTERACTIONS]]
    else:
        volume = [(c.day, p[1], p[2], p[3], c.get("n")) for c, p in families[ROUTED] if p[0] == team]
    volume = [row for row in volume if platform is None or row[1] == platform]

    by_platform: Counter[str] = Counter()
    by_sentiment: Counter[str] = Counter()
    by_language: Counter[str] = Counter()
    trend: dict[str, Counter[str]] = {day: Counter() for day in days}
    for day, cell_platform, sentiment, language, n in volume:
        by_platform[cell_platform] += n
        by_sentiment[sentiment] += n
        by_language[language] += n
        trend[day][sentiment] += n

    by_team: Counter[str] = Counter()
    for cell, (cell_team, cell_platform) in families[TEAMS]:
        if (team is None or cell_team == team) and (platform is None or cell_platform == platform):
            by_team[cell_team] += cell.get("n")

    def case_cells(family: str) -> list[tuple[Cell, list[str]]]:
        """A case family's cells under the filters; without a team, each team and the all-teams cells."""
        return [
            (cell, parts)
            for cell, parts in families[family]
            if (platform is None or parts[-1] == platform) and (team is None or parts[0] in (team, ALL_TEAMS))
        ]

    responses = case_cells(FIRST_RESPONSE)
    overall_team = ALL_TEAMS if team is None else team
    per_team: dict[str, list[tuple[Cell, list[str]]]] = defaultdict(list)
    for cell, parts in responses:
        if parts[0] != ALL_TEAMS:
            per_team[parts[0]].append((cell, parts))
    first_response = _first_response((cell, parts) for cell, parts in responses if parts[0] == overall_team)

    # Outcomes per clock: overall (the all-teams cells, or the team's) and per team and priority.
    overall: dict[str, Counter[str]] = {clock: Counter() for clock in CLOCK_FAMILIES}
    outcomes: dict[tuple[str, str], dict[str, Counter[str]]] = defaultdict(
        lambda: {clock: Counter() for clock in CLOCK_FAMILIES}
    )
    for clock, family in CLOCK_FAMILIES.items():
        for cell, (cell_team, priority, _platform) in case_cells(family):
            if cell_team == overall_team:
                overall[clock].update(cell.values)
            if cell_team != ALL_TEAMS:
                outcomes[(cell_team, priority)][clock].update(cell.values)

    by_segment: Counter[str] = Counter({segment: 0 for segment in SEGMENT_NAMES})
    if team is None:  # segment cells count cases, not teams: a team's summary leaves them out
        for cell, (segment, cell_platform) in families[SEGMENTS]:
            if (platform is None or cell_platform == platform) and segment in SEGMENT_NAMES:
                by_segment[segment] += cell.get("n")

    spikes_by_platform: Counter[str] = Counter()
    spikes_by_topic: Counter[str] = Counter()
    for cell, (cell_platform, topic) in families[SPIKES]:
        if platform is None or cell_platform == platform:
            spikes_by_platform[cell_platform] += cell.get("n")
            spikes_by_topic[topic] += cell.get("n")

    return ReportSummary(
        from_=first,
        to=last,
        platform=platform,
        team=team,
        totals=Totals(
            interactions=sum(by_platform.values()),
            first_responses=first_response.native.count + first_response.patch.count,
            sla_breaches=sum(counts["breached"] for counts in overall.values()),
            spikes=sum(spikes_by_platform.values()),
        ),
        by_platform=_ranked(by_platform),
        by_sentiment={sentiment: by_sentiment[sentiment] for sentiment in SENTIMENTS},
        by_language=_ranked(by_language),
        by_team=_ranked(by_team),
        sentiment_trend=[
            SentimentDay(day=date.fromisoformat(day), sentiment={s: trend[day][s] for s in SENTIMENTS})
            for day in days
        ],
        first_response=first_response,
        first_response_by_team={name: _first_response(per_team[name]) for name in sorted(per_team)},
        sla=ServiceLevels(**{clock: _compliance(counts) for clock, counts in overall.items()}),
        sla_by_team_priority=[
            ServiceLevelsByTeamPriority(
                team=name, priority=priority, **{clock: _compliance(c) for clock, c in clocks.items()}
            )
            for (name, priority), clocks in sorted(outcomes.items())
        ],
        spikes_by_platform=_ranked(spikes_by_platform),
        spikes_by_topic=_ranked(spikes_by_topic),
        by_segment=dict(by_segment),
    )
