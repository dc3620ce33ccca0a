"""The daily report's charts, drawn with matplotlib (Agg, no display) as SVG to inline in the page.

matplotlib is imported inside :func:`draw_charts` only: the daily report is its one user, and the
api function and the consumers never pay for importing it.

Each SVG is made safe to inline next to the others: the XML prolog, DOCTYPE and metadata are
dropped, and every id (clip paths, glyphs, markers) gets the chart's prefix so the charts' internal
references cannot collide. Text stays text (``svg.fonttype: none``): no font is embedded or fetched.
"""

from __future__ import annotations

import io
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from socialcrm.reporting.summary import ReportSummary

SENTIMENT_COLOURS = {
    "POSITIVE": "#2e7d32",
    "NEGATIVE": "#c62828",
    "NEUTRAL": "#78909c",
    "MIXED": "#ef6c00",
    "PENDING": "#64b5f6",
    "UNSCORED": "#cfd8dc",
}
PRIORITY_COLOURS = {"P1": "#b71c1c", "P2": "#e65100", "P3": "#1565c0", "P4": "#546e7a"}
BAR_COLOUR = "#1565c0"
FIGSIZE = (7.5, 3.4)


@dataclass(frozen=True)
class Chart:
    """An inline SVG chart: ``element_id`` is the id of its root ``<svg>`` element."""

    element_id: str
    title: str
    svg: str


def _no_data(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])


def _volume_by_platform(ax: Any, summary: ReportSummary) -> None:
    counts = summary.by_platform
    if not counts:
        _no_data(ax, "No interactions in this period")
        return
    platforms = list(reversed(counts))  # largest at the top
    values = [counts[name] for name in platforms]
    ax.barh(platforms, values, color=BAR_COLOUR)
    for position, value in enumerate(values):
        ax.annotate(f"{value:,}", (value, position), xytext=(3, 0), textcoords="offset points", va="center")
    ax.set_xlabel("interactions")
    ax.margins(x=0.12)


def _sentiment_trend(ax: Any, summary: ReportSummary) -> None:
    from matplotlib import dates as mdates

    days = [entry.day for entry in summary.sentiment_trend]
    shown = [
        s for s in SENTIMENT_COLOURS if any(entry.sentiment.get(s, 0) for entry in summary.sentiment_trend)
    ]
    if not shown:
        _no_data(ax, "No interactions in this period")
        return
    series = [[entry.sentiment.get(s, 0) for entry in summary.sentiment_trend] for s in shown]
    ax.stackplot(days, series, labels=shown, colors=[SENTIMENT_COLOURS[s] for s in shown], alpha=0.9)
    locator = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_ylabel("interactions per day")
    ax.legend(loc="upper left", fontsize=8, ncols=min(len(shown), 3), frameon=False)
    ax.margins(x=0)


def _sla_by_team(ax: Any, summary: ReportSummary) -> None:
    by_team: dict[str, dict[str, float]] = defaultdict(dict)
    for entry in summary.sla_by_team_priority:
        if entry.met_pct is not None:
            by_team[entry.team][entry.priority] = entry.met_pct
    if not by_team:
        _no_data(ax, "No SLA outcomes in this period")
        return
    teams = sorted(by_team)
    priorities = sorted({priority for values in by_team.values() for priority in values})
    width = 0.8 / len(priorities)
    for index, priority in enumerate(priorities):
        positions = [t + (index - (len(priorities) - 1) / 2) * width for t in range(len(teams))]
        values = [by_team[team].get(priority, math.nan) for team in teams]  # NaN: no bar (no outcome)
        ax.bar(
            positions, values, width=width, label=priority, color=PRIORITY_COLOURS.get(priority, BAR_COLOUR)
        )
    ax.set_xticks(range(len(teams)), teams)
    ax.set_ylim(0, 105)
    ax.set_ylabel("% of SLAs met")
    ax.axhline(100, color="#999999", linewidth=0.6)
    ax.legend(title="priority", fontsize=8, title_fontsize=8, loc="lower right", frameon=False)


_CHARTS = (
    ("chart-volume-by-platform", "Volume by platform", _volume_by_platform),
    ("chart-sentiment-trend", "Sentiment trend", _sentiment_trend),
    ("chart-sla-by-team", "SLA compliance by team", _sla_by_team),
)

_ID = re.compile(r'\bid="([^"]+)"')


def inline_svg(svg: str, element_id: str, title: str) -> str:
    """matplotlib's SVG document as an element to inline in HTML (see the module docstring)."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
    prefix = f"{element_id}-"
    ids = set(_ID.findall(svg))
    svg = _ID.sub(lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(
        r"(url\(#|href=\"#)([^)\"]+)",
        lambda m: m.group(1) + (prefix + m.group(2) if m.group(2) in ids else m.group(2)),
        svg,
    )
    label = title.replace('"', "&quot;").replace("<", "&lt;")
    return svg.replace("<svg", f'<svg id="{element_id}" role="img" aria-label="{label}"', 1)


def draw_charts(summary: ReportSummary) -> list[Chart]:
    """Volume by platform, sentiment trend and SLA compliance by team, as inline SVG charts."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    charts = []
    for element_id, title, draw in _CHARTS:
        style: dict[str, Any] = {"svg.fonttype": "none", "svg.hashsalt": element_id, "font.size": 9}
        with matplotlib.rc_context(style):  # type: ignore[arg-type]
            figure = Figure(figsize=FIGSIZE, layout="constrained")
            ax = figure.subplots()
            draw(ax, summary)
            ax.set_title(title, loc="left", fontsize=11)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", metadata={"Date": None})
        charts.append(Chart(element_id, title, inline_svg(buffer.getvalue(), element_id, title)))
    return charts
