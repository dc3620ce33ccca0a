"""The summary: date-range validation and the figures read back from counter cells."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from socialcrm.errors import BadRequestError
from socialcrm.reporting.csv_export import COLUMNS, to_csv
from socialcrm.reporting.dimensions import Cell
from socialcrm.reporting.summary import parse_range, summarise

D1, D2, D3 = "2026-11-01", "2026-11-02", "2026-11-03"

CELLS = [
    Cell(D1, "interactions|x|NEGATIVE|en", {"n": 6}),
    Cell(D1, "interactions|facebook|POSITIVE|fr", {"n": 3}),
    Cell(D2, "interactions|x|NEUTRAL|en", {"n": 1}),
    Cell(D2, "interactions|x|PENDING|und", {"n": 1}),
    Cell(D1, "routed|support|x|NEGATIVE|en", {"n": 4}),
    Cell(D1, "routed|pr|x|NEGATIVE|en", {"n": 2}),
    Cell(D1, "routed|sales|facebook|POSITIVE|fr", {"n": 3}),
    Cell(D1, "teams|support|x", {"n": 4}),
    Cell(D1, "teams|pr|x", {"n": 2}),
    Cell(D1, "teams|sales|facebook", {"n": 3}),
    # Two cases answered by support (one also pr's): natively in 10 min, by PATCH in 3 h
    Cell(D2, "first_response|support|native|x", {"n": 1, "seconds": 600, "le_15m": 1}),
    Cell(D2, "first_response|support|patch|x", {"n": 1, "seconds": 10_800, "le_4h": 1}),
    Cell(D2, "first_response|pr|native|x", {"n": 1, "seconds": 600, "le_15m": 1}),
    Cell(D2, "first_response||native|x", {"n": 1, "seconds": 600, "le_15m": 1}),
    Cell(D2, "first_response||patch|x", {"n": 1, "seconds": 10_800, "le_4h": 1}),
    Cell(D2, "sla|support|P1|x", {"met": 1, "breached": 1}),
    Cell(D2, "sla|pr|P1|x", {"met": 1}),
    Cell(D2, "sla||P1|x", {"met": 1, "breached": 1}),
    # Support's next-response rounds (3 met, 1 breached) and two resolutions breached
    Cell(D2, "next_response|support|P1|x", {"met": 3, "breached": 1}),
    Cell(D2, "next_response||P1|x", {"met": 3, "breached": 1}),
    Cell(D3, "resolution|support|P1|x", {"breached": 2}),
    Cell(D3, "resolution||P1|x", {"breached": 2}),
    Cell(D2, "spikes|x|refund", {"n": 2}),
    Cell(D2, "spikes|facebook|outage", {"n": 1}),
    Cell(D1, "segments|vip|x", {"n": 2}),
    Cell("2026-10-31", "interactions|x|NEGATIVE|en", {"n": 100}),  # outside the range: ignored
]


def whole_range(**filters):
    return summarise(CELLS, date(2026, 11, 1), date(2026, 11, 3), **filters)


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        ("2026-11-01", "2026/11/30", "'to' must be a date written YYYY-MM-DD; got '2026/11/30'"),
        ("yesterday", "2026-11-30", "'from' must be a date written YYYY-MM-DD"),
        ("2026-02-30", "2026-03-01", "'from' is not a calendar date: '2026-02-30'"),
        ("2026-11-30", "2026-11-01", "'to' (2026-11-01) is before 'from' (2026-11-30)"),
        ("2025-01-01", "2026-01-02", "The range covers 367 days; a summary covers at most 366 days"),
    ],
)
def test_a_bad_date_or_range_is_refused_saying_why(start, end, says):
    with pytest.raises(BadRequestError) as refused:
        parse_range(start, end)
    assert says in refused.value.message and refused.value.status == 400


def test_a_range_of_exactly_366_days_is_accepted():
    assert parse_range("2024-01-01", "2024-12-31") == (date(2024, 1, 1), date(2024, 12, 31))


def test_totals_and_breakdowns_add_up_over_the_range_only():
    summary = whole_range()
    assert summary.totals.interactions == 11
    assert summary.by_platform == {"x": 8, "facebook": 3}
    assert summary.by_sentiment == {
        "POSITIVE": 3,
        "NEGATIVE": 6,
        "NEUTRAL": 1,
        "MIXED": 0,
        "PENDING": 1,
        "UNSCORED": 0,
    }
    assert summary.by_language == {"en": 7, "fr": 3, "und": 1}
    assert summary.by_team == {"support": 4, "sales": 3, "pr": 2}
    assert summary.spikes_by_topic == {"refund": 2, "outage": 1} and summary.totals.spikes == 3


def test_the_sentiment_trend_has_every_day_of_the_range_even_empty_ones():
    trend = {entry.day.isoformat(): entry.sentiment for entry in whole_range().sentiment_trend}
    assert list(trend) == [D1, D2, D3]
    assert trend[D1]["NEGATIVE"] == 6 and trend[D1]["POSITIVE"] == 3
    assert trend[D2]["NEUTRAL"] == 1 and trend[D2]["PENDING"] == 1
    assert sum(trend[D3].values()) == 0


def test_first_responses_are_reported_apart_by_source_each_case_once():
    summary = whole_range()
    # Two cases overall (the one shared by support and pr counts once): one native, one by PATCH
    native, patch = summary.first_response.native, summary.first_response.patch
    assert (native.count, native.avg_minutes) == (1, 10.0)
    assert (patch.count, patch.avg_minutes) == (1, 180.0)
    assert summary.totals.first_responses == 2
    # And the p90 is the bucket that holds it: over 5 min and at most 15; over 2 h and at most 4
    assert (native.p90_above_minutes, native.p90_minutes) == (5, 15)
    assert (patch.p90_above_minutes, patch.p90_minutes) == (120, 240)
    assert summary.first_response_by_team["pr"].native.count == 1
    assert summary.first_response_by_team["pr"].patch.count == 0
    assert summary.first_response_by_team["pr"].patch.avg_minutes is None


def test_a_p90_past_the_last_edge_says_over_7_days_not_a_number_it_cannot_know():
    cells = [Cell(D1, "first_response||native|x", {"n": 10, "seconds": 10 * 9 * 86_400, "over_7d": 10})]
    native = summarise(cells, date(2026, 11, 1), date(2026, 11, 1)).first_response.native
    assert native.p90_minutes is None and native.p90_above_minutes == 7 * 24 * 60
    assert native.avg_minutes == 9 * 24 * 60


def test_first_response_cells_counted_before_sources_read_as_patch():
    # Given a cell of the layout before sources (only PATCH set first responses then)
    cells = [Cell(D1, "first_response||x", {"n": 2, "seconds": 1200, "le_15m": 2})]
    summary = summarise(cells, date(2026, 11, 1), date(2026, 11, 1))
    assert summary.first_response.patch.count == 2 and summary.first_response.patch.avg_minutes == 10.0
    assert summary.first_response.native.count == 0


def test_service_levels_are_a_percentage_per_clock_per_team_and_priority_and_overall():
    summary = whole_range()
    rows = {
        (r.team, r.priority): {
            clock: (getattr(r, clock).met, getattr(r, clock).breached, getattr(r, clock).met_pct)
            for clock in ("first_response", "next_response", "resolution")
        }
        for r in summary.sla_by_team_priority
    }
    # Then each clock has its own met, breached and % met; nothing decided is null, never 0 %
    assert rows == {
        ("pr", "P1"): {
            "first_response": (1, 0, 100.0),
            "next_response": (0, 0, None),
            "resolution": (0, 0, None),
        },
        ("support", "P1"): {
            "first_response": (1, 1, 50.0),
            "next_response": (3, 1, 75.0),
            "resolution": (0, 2, 0.0),
        },
    }
    sla = summary.sla
    assert (sla.first_response.met_pct, sla.next_response.met_pct, sla.resolution.met_pct) == (
        50.0,
        75.0,
        0.0,
    )
    # And the total of breaches counts every clock
    assert summary.totals.sla_breaches == 1 + 1 + 2


def test_a_team_filter_reads_what_was_routed_to_that_team():
    summary = whole_range(team="support")
    assert summary.totals.interactions == 4 and summary.by_team == {"support": 4}
    assert summary.by_sentiment["NEGATIVE"] == 4 and summary.by_sentiment["POSITIVE"] == 0
    assert summary.first_response.native.count == 1 and summary.first_response.patch.count == 1
    assert summary.sla.first_response.met_pct == 50.0 and summary.sla.next_response.met_pct == 75.0
    assert summary.first_response_by_team.keys() == {"support"}


def test_a_platform_filter_applies_to_every_figure():
    summary = whole_range(platform="facebook")
    assert summary.totals.interactions == 3 and summary.by_platform == {"facebook": 3}
    assert summary.by_team == {"sales": 3}
    assert summary.first_response.native.count == 0 and summary.first_response.native.avg_minutes is None
    assert summary.first_response.native.p90_minutes is None
    assert summary.sla.first_response.met_pct is None and summary.sla.resolution.met_pct is None
    assert summary.sla_by_team_priority == []
    assert summary.spikes_by_topic == {"outage": 1}


def test_the_json_names_the_range_from_and_to():
    body = whole_range().as_json()
    assert body["from"] == D1 and body["to"] == D3 and "from_" not in body


def test_the_csv_has_one_figure_per_row_with_the_same_numbers_as_the_json():
    # Given the summary as JSON and as CSV
    summary = whole_range()
    text = to_csv(summary)
    rows = list(csv.DictReader(io.StringIO(text)))
    # Then the header is the documented one and every row has exactly its columns
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert all(len(cells) == len(COLUMNS) for cells in csv.reader(io.StringIO(text)))

    def value(section, metric, **where):
        (match,) = [
            r
            for r in rows
            if r["section"] == section and r["metric"] == metric and all(r[k] == v for k, v in where.items())
        ]
        return match["value"]

    # And the figures agree with the JSON
    assert value("period", "from") == D1 and value("period", "to") == D3
    assert value("totals", "interactions") == "11"
    assert value("by_platform", "interactions", key="facebook") == "3"
    assert value("by_team", "routed", team="pr") == "2"
    assert (
        value("by_segment", "cases", key="vip") == "2" and value("by_segment", "cases", key="advocate") == "0"
    )
    assert value("sentiment_trend", "interactions", day=D1, key="NEGATIVE") == "6"
    # And first responses have one row per team, source and figure
    assert value("first_response", "avg_minutes", team="", key="native") == "10.0"
    assert value("first_response", "avg_minutes", team="", key="patch") == "180.0"
    assert value("first_response", "p90_minutes", team="pr", key="native") == "15"
    assert value("first_response", "p90_above_minutes", team="pr", key="native") == "5"
    # And service levels one row per team, priority, clock and figure (overall: no team, no priority)
    assert value("sla", "met_pct", team="support", priority="P1", key="first_response") == "50.0"
    assert value("sla", "met_pct", team="support", priority="P1", key="next_response") == "75.0"
    assert value("sla", "breached", team="", priority="", key="resolution") == "2"
    # And a percentage with nothing decided is an empty cell, not 0
    assert value("sla", "met_pct", team="pr", priority="P1", key="next_response") == ""
    assert value("sla", "met_pct", team="support", priority="P1", key="resolution") == "0.0"
    assert value("first_response", "avg_minutes", team="pr", key="patch") == ""
    # And one row per day and sentiment in the trend
    assert len([r for r in rows if r["section"] == "sentiment_trend"]) == 3 * 6
    # And exactly the documented metrics per section
    metrics = {(r["section"], r["metric"]) for r in rows if r["section"] in ("first_response", "sla")}
    assert metrics == {
        ("first_response", "count"),
        ("first_response", "avg_minutes"),
        ("first_response", "p90_minutes"),
        ("first_response", "p90_above_minutes"),
        ("sla", "met"),
        ("sla", "breached"),
        ("sla", "met_pct"),
    }
    assert {r["key"] for r in rows if r["section"] == "sla"} == {
        "first_response",
        "next_response",
        "resolution",
    }
    assert {r["key"] for r in rows if r["section"] == "first_response"} == {"native", "patch"}


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_quoted_out():
    cells = [
        Cell(D1, "routed|=HYPERLINK(1)|x|NEGATIVE|en", {"n": 1}),
        Cell(D1, "teams|=HYPERLINK(1)|x", {"n": 1}),
    ]
    summary = summarise(cells, date(2026, 11, 1), date(2026, 11, 1), team="=HYPERLINK(1)")
    rows = list(csv.DictReader(io.StringIO(to_csv(summary))))
    assert {r["team"] for r in rows if r["section"] == "by_team"} == {"'=HYPERLINK(1)"}
    assert [r["value"] for r in rows if r["section"] == "filter" and r["metric"] == "team"] == [
        "'=HYPERLINK(1)"
    ]


def test_cases_are_counted_by_their_customers_segments_for_the_whole_range_and_per_platform():
    from socialcrm.reporting.facts import facts_of
    from tests.support.report_events import T0, routed

    # Given three cases opened: two for a vip at risk on X, one for an advocate on Facebook
    events = [
        routed("c1", teams=["support"]).model_copy(update={"segments": ["at-risk", "vip"]}),
        routed("c2", teams=["support", "pr"]).model_copy(update={"segments": ["at-risk", "vip"]}),
        routed("c3", teams=["sales"], platform="facebook").model_copy(update={"segments": ["advocate"]}),
        routed("c4", teams=["sales"]),  # no segment
    ]
    cells: dict[tuple[str, str], int] = {}
    for event in events:
        for fact in facts_of(event):
            for delta in fact.deltas:
                key = (delta.key.day, delta.key.dimension)
                cells[key] = cells.get(key, 0) + delta.amounts.get("n", 0)
    day = T0.date()
    counted = [Cell(d, dim, {"n": n}) for (d, dim), n in cells.items()]
    # Then each segment counts its cases once (a case for two teams is one case)
    summary = summarise(counted, day, day)
    assert summary.by_segment == {"at-risk": 2, "advocate": 1, "vip": 2, "repeat-complainer": 0}
    assert summarise(counted, day, day, platform="facebook").by_segment["advocate"] == 1
    assert summarise(counted, day, day, platform="x").by_segment == {
        "at-risk": 2,
        "advocate": 0,
        "vip": 2,
        "repeat-complainer": 0,
    }
