"""The daily report's HTML page: self-contained, so it opens from S3, a mail attachment or a laptop.

Inline CSS, charts as inline SVG, no script, and a Content-Security-Policy that forbids loading
anything: the page fetches nothing from the internet. Every text from the data is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from html import escape

from socialcrm.reporting.charts import Chart
from socialcrm.reporting.summary import FirstResponse, ReportSummary

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


def _tile(label: str, value: str) -> str:
    return f'<div class="tile"><b>{escape(value)}</b><span class="muted">{escape(label)}</span></div>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], caption: str) -> str:
    if not rows:
        return f'<p class="muted">{escape(caption)}: nothing in this period.</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><caption class='muted'>{escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _counts(counts: Mapping[str, int], caption: str, label: str) -> str:
    return _table((label, "interactions"), [(key, f"{value:,}") for key, value in counts.items()], caption)


def _responses(summary: ReportSummary) -> str:
    def line(team: str, figures: FirstResponse) -> tuple[str, ...]:
        return (
            team,
            f"{figures.count:,}",
            _duration(figures.average_seconds),
            _duration(figures.p90_seconds),
        )

    rows = [line("all teams", summary.first_response)] if summary.first_response.count else []
    rows += [line(team, figures) for team, figures in summary.first_response_by_team.items()]
    return _table(("team", "first responses", "average", "p90 (at most)"), rows, "First response")


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
    tiles = "".join(
        [
            _tile("interactions", f"{totals.interactions:,}"),
            _tile("negative", f"{day_summary.by_sentiment.get('NEGATIVE', 0):,}"),
            _tile("first responses", f"{totals.first_responses:,}"),
            _tile("avg first response", _duration(day_summary.first_response.average_seconds)),
            _tile("SLAs met", _pct(day_summary.sla.met_pct)),
            _tile("SLA breaches", f"{totals.sla_breached:,}"),
            _tile("spikes", f"{totals.spikes:,}"),
        ]
    )
    figures = "".join(f'<figure aria-label="{escape(chart.title)}">{chart.svg}</figure>' for chart in charts)
    sla_rows = [
        (entry.team, entry.priority, f"{entry.met:,}", f"{entry.breached:,}", _pct(entry.met_pct))
        for entry in window.sla_by_team_priority
    ]
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
<div class="tiles">{_tile("interactions", f"{window.totals.interactions:,}")}{_tile("SLAs met", _pct(window.sla.met_pct))}{_tile("spikes", f"{window.totals.spikes:,}")}</div>
{figures}
{_table(("team", "priority", "met", "breached", "% met"), sla_rows, "SLA compliance by team and priority")}
{_responses(window)}
{_counts(window.by_team, "Interactions routed by team", "team")}
{_counts(window.by_language, "Interactions by language", "language")}
{spikes}
</section>
<p class="muted">First-response p90 is an upper bound read from a histogram (buckets 1, 5, 15, 30 min, 1, 2, 4, 8, 24, 48 h, 7 days).</p>
</body>
</html>
"""
