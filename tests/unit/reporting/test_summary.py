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
    # Two cases answered by support (one also pr's): 10 min and 3 h
    Cell(D2, "first_response|support|x", {"n": 2, "seconds": 600 + 10_800, "le_15m": 1, "le_4h": 1}),
    Cell(D2, "first_response|pr|x", {"n": 1, "seconds": 600, "le_15m": 1}),
    Cell(D2, "first_response||x", {"n": 2, "seconds": 600 + 10_800, "le_15m": 1, "le_4h": 1}),
    Cell(D2, "sla|support|P1|x", {"met": 1, "breached": 1}),
    Cell(D2, "sla|pr|P1|x", {"met": 1}),
    Cell(D2, "sla||P1|x", {"met": 1, "breached": 1}),
    Cell(D2, "spikes|x|refund", {"n": 2}),
    Cell(D2, "spikes|facebook|outage", {"n": 1}),
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


def test_first_response_average_is_exact_and_p90_is_the_bucket_bound_counting_each_case_once():
    summary = whole_range()
    # Two cases overall (the one shared by support and pr counts once)
    assert summary.first_response.count == 2 and summary.totals.first_responses == 2
    assert summary.first_response.average_seconds == 5700.0
    assert summary.first_response.p90_seconds == 4 * 3600
    assert summary.first_response_by_team["pr"].count == 1
    assert summary.first_response_by_team["pr"].p90_seconds == 15 * 60


def test_sla_compliance_is_a_percentage_per_team_and_priority_and_overall():
    summary = whole_range()
    rows = {(r.team, r.priority): (r.met, r.breached, r.met_pct) for r in summary.sla_by_team_priority}
    assert rows == {("pr", "P1"): (1, 0, 100.0), ("support", "P1"): (1, 1, 50.0)}
    assert (summary.sla.met, summary.sla.breached, summary.sla.met_pct) == (1, 1, 50.0)


def test_a_team_filter_reads_what_was_routed_to_that_team():
    summary = whole_range(team="support")
    assert summary.totals.interactions == 4 and summary.by_team == {"support": 4}
    assert summary.by_sentiment["NEGATIVE"] == 4 and summary.by_sentiment["POSITIVE"] == 0
    assert summary.first_response.count == 2 and summary.sla.met_pct == 50.0
    assert summary.first_response_by_team.keys() == {"support"}


def test_a_platform_filter_applies_to_every_figure():
    summary = whole_range(platform="facebook")
    assert summary.totals.interactions == 3 and summary.by_platform == {"facebook": 3}
    assert summary.by_team == {"sales": 3}
    assert summary.first_response.count == 0 and summary.first_response.average_seconds is None
    assert summary.sla.met_pct is None and summary.sla_by_team_priority == []
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
    assert value("sentiment_trend", "interactions", day=D1, key="NEGATIVE") == "6"
    assert value("first_response", "average_seconds", team="") == "5700.0"
    assert value("first_response", "p90_seconds", team="pr") == "900"
    assert value("sla", "met_pct", team="support", priority="P1") == "50.0"
    assert value("spikes_by_topic", "spikes", key="refund") == "2"
    # And one row per day and sentiment in the trend
    assert len([r for r in rows if r["section"] == "sentiment_trend"]) == 3 * 6


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
