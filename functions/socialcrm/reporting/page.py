"""The daily report's HTML page: self-contained, so it opens from S3, a mail attachment or a laptop.

Inline CSS, charts as inline SVG, no script, and a Content-Security-Policy that forbids loading
anything: the page fetches nothing from the internet. Every text from the data is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape

from socialcrm.reporting.charts import Chart
from socialcrm.reporting.dimensions import CLOCK_FAMILIES, bucket_edges
from socialcrm.reporting.summary import Compliance, FirstResponse, ReportSummary, ResponseTimes

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 60rem; padding: 0 1rem; color: #1f2933; }
h1 { font-size: 1.5rem; margin-bottom: 0.2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.muted { color: #616e7c; } .tiles { display: flex; flex-wrap: wrap; gap: 0.8rem; margin: 1rem 0; }
.tile { border: 1px solid #d9e2ec; border-radius: 6px; padding: 0.6rem 0.9rem; min-width: 8rem; }
.tile b { display: block; font-size: 1.4rem; } figure { margin: 1rem 0; } figure svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 0.5rem 0; } th, td { padding: 0.25rem 0.7rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } thead th { border-bottom: 1px solid #9aa5b1; }
td.met { color: #2e7d32; font-weight: 600; } td.none { color: #9aa5b1; }
td.never { color: #ffffff; background: #c62828; font-weight: 600; }
"""


def _duration(seconds: float | None) -> str:
    """``1 h 05 min``-style text for a number of seconds (— when unknown)."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min" if minutes else f"{round(seconds)} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours < 48 else f"{hours / 24:.1f} days"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


def _edge(minutes: int) -> str:
    """A histogram edge in words: ``30 min``, ``4 h``, ``2 days``."""
    if minutes < 60:
        return f"{minutes} min"
    if minutes <= 24 * 60 or minutes % (24 * 60):
        return f"{minutes / 60:g} h"
    return f"{minutes // (24 * 60)} days"


def _p90(times: ResponseTimes) -> str:
    """``≤ 30 min`` (the bucket's upper edge), ``> 7 days`` past the last edge, ``—`` with none."""
    if times.p90_minutes is not None:
        return "≤ " + _edge(times.p90_minutes)
    if times.p90_above_minutes is not None:
        return "> " + _edge(times.p90_above_minutes)
    return "—"


def _tile(label: str, value: str) -> str:
    return f'<div class="tile"><b>{escape(value)}</b><span class="muted">{escape(label)}</span></div>'


@dataclass(frozen=True)
class Marked:
    """A table cell's text and the CSS class that colours it by meaning (``met``, ``never``, ``none``)."""

    text: str
    css: str

    def __str__(self) -> str:
        return self.text


def _cell(value: object) -> str:
    css = f' class="{value.css}"' if isinstance(value, Marked) and value.css else ""
    return f"<td{css}>{escape(str(value))}</td>"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], caption: str) -> str:
    if not rows:
        return f'<p class="muted">{escape(caption)}: nothing in this period.</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(cell) for cell in row) + "</tr>" for row in rows)
    return f"<table><caption class='muted'>{escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _counts(counts: Mapping[str, int], caption: str, label: str, unit: str = "interactions") -> str:
    return _table((label, unit), [(key, f"{value:,}") for key, value in counts.items()], caption)


def _responses(summary: ReportSummary) -> str:
    def lines(team: str, figures: FirstResponse) -> list[tuple[str, ...]]:
        return [
            (team, source, f"{times.count:,}", _duration(_seconds(times.avg_minutes)), _p90(times))
            for source, times in (("native", figures.native), ("PATCH", figures.patch))
            if times.count
        ]

    rows = lines("all teams", summary.first_response)
    for team, figures in summary.first_response_by_team.items():
        rows += lines(team, figures)
    return _table(
        ("team", "source", "first responses", "average", "p90"), rows, "First response time, by source"
    )


def _seconds(minutes: float | None) -> float | None:
    return None if minutes is None else minutes * 60


def _outcome(outcome: Compliance) -> Marked:
    """``93.5 % (29 of 31)``: green when every one was met, on red when none was, plain between them;
    ``—`` (not 0 %) when nothing was decided."""
    decided = outcome.met + outcome.breached
    if not decided:
        return Marked("—", "none")
    css = "met" if not outcome.breached else "never" if not outcome.met else ""
    return Marked(f"{_pct(outcome.met_pct)} ({outcome.met:,} of {decided:,})", css)


def _service_levels(summary: ReportSummary) -> str:
    """All teams first, then each team and priority: each clock's outcome (no table with no team's)."""
    by_row = [
        ("all teams", "", summary.sla),
        *((entry.team, entry.priority, entry) for entry in summary.sla_by_team_priority),
    ]
    rows = [
        (team, priority, *(_outcome(getattr(levels, clock)) for clock in CLOCK_FAMILIES))
        for team, priority, levels in by_row
    ]
    return _table(
        ("team", "priority", "first response met", "next response met", "resolution met"),
        rows if summary.sla_by_team_priority else [],
        "Service levels by team and priority (% met, of the outcomes decided)",
    )


def _level_tiles(summary: ReportSummary) -> list[str]:
    sla = summary.sla
    return [
        _tile("first responses met", _pct(sla.first_response.met_pct)),
        _tile("next responses met", _pct(sla.next_response.met_pct)),
        _tile("resolutions met", _pct(sla.resolution.met_pct)),
    ]


def render_page(
    *,
    day: date,
    day_summary: ReportSummary,
    window: ReportSummary,
    charts: Sequence[Chart],
    generated_at: datetime,
) -> str:
    """The report page of ``day``: the day's headline figures, then the window's charts and tables."""
    totals = day_summary.totals
    responses = day_summary.first_response
    tiles = "".join(
        [
            _tile("interactions", f"{totals.interactions:,}"),
            _tile("negative", f"{day_summary.by_sentiment.get('NEGATIVE', 0):,}"),
            _tile("first responses", f"{totals.first_responses:,}"),
            _tile("avg first response, native", _duration(_seconds(responses.native.avg_minutes))),
            _tile("avg first response, PATCH", _duration(_seconds(responses.patch.avg_minutes))),
            *_level_tiles(day_summary),
            _tile("SLA breaches, all clocks", f"{totals.sla_breaches:,}"),
            _tile("spikes", f"{totals.spikes:,}"),
        ]
    )
    figures = "".join(f'<figure aria-label="{escape(chart.title)}">{chart.svg}</figure>' for chart in charts)
    spikes = _table(
        ("topic", "spikes"), [(topic, n) for topic, n in window.spikes_by_topic.items()], "Spikes by topic"
    )
    period = f"{window.from_.isoformat()} to {window.to.isoformat()}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>socialcrm daily report {day.isoformat()}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>socialcrm daily report — {day.isoformat()}</h1>
<p class="muted">Days are UTC. Generated {escape(generated_at.isoformat(timespec="seconds"))}.</p>
<section id="day"><h2>{day.isoformat()}</h2><div class="tiles">{tiles}</div></section>
<section id="window"><h2>The last {len(window.sentiment_trend)} days ({period})</h2>
<div class="tiles">{_tile("interactions", f"{window.totals.interactions:,}")}{"".join(_level_tiles(window))}{_tile("spikes", f"{window.totals.spikes:,}")}</div>
{figures}
{_service_levels(window)}
{_responses(window)}
{_counts(window.by_team, "Interactions routed by team", "team")}
{_counts(window.by_segment, "Cases opened by customer segment", "segment", "cases")}
{_counts(window.by_language, "Interactions by language", "language")}
{spikes}
</section>
<p class="muted">First responses: native ones are brand replies the platform sent us; PATCH ones were set by an agent. The p90 is read from a histogram (bucket edges {bucket_edges()}): "≤ 30 min" means the true p90 is in the bucket ending at 30 minutes. Service levels count each case once (first response), each wait for a next response once, and each resolution once per reopening, on the day the outcome was decided; "—" means no outcome was decided.</p>
</body>
</html>
"""
