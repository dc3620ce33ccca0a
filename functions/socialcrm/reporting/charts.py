"""The daily report's charts, drawn with matplotlib (Agg, no display) as SVG to inline in the page.

matplotlib is imported inside :func:`draw_charts` only: the daily report is its one user, and the
api function and the consumers never pay for importing it.

Each SVG is made safe to inline next to the others: the XML prolog, DOCTYPE and metadata are
dropped, and every id (clip paths, glyphs, markers) gets the chart's prefix so the charts' internal
references cannot collide. Text stays text (``svg.fonttype: none``): no font is embedded or fetched.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
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
# Service levels: colour says the outcome, never the priority. Met is green, breached red (lighter,
# so the two differ in lightness too, and a team that never met its target is a bar all red); a row
# with no outcome has no bar, only a dash.
MET_COLOUR = "#2e7d32"
BREACHED_COLOUR = "#e05d5d"
NO_OUTCOME_COLOUR = "#9aa5b1"
BAR_COLOUR = "#1565c0"
FIGSIZE = (7.5, 3.4)
CLOCK_TITLES = {
    "first_response": "First response",
    "next_response": "Next response",
    "resolution": "Resolution",
}


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
    # Above the plot, outside it: a legend inside would cover the busiest days.
    ax.figure.legend(loc="outside upper right", fontsize=8, ncols=min(len(shown), 6), frameon=False)
    ax.margins(x=0)


def _service_level_rows(summary: ReportSummary) -> list[tuple[str, Any]]:
    """(label, levels) rows: all teams first, then each team and priority."""
    rows: list[tuple[str, Any]] = [("all teams", summary.sla)]
    rows += [(f"{entry.team} · {entry.priority}", entry) for entry in summary.sla_by_team_priority]
    return rows


def _service_levels(figure: Any, summary: ReportSummary) -> None:
    """One panel per clock; a row per team and priority: the share met (green) and breached (red) of
    the outcomes decided, labelled with the % met and how many were decided."""
    rows = _service_level_rows(summary)
    decided = any(
        getattr(levels, clock).met + getattr(levels, clock).breached
        for _, levels in rows
        for clock in CLOCK_TITLES
    )
    if not decided:
        ax = figure.subplots()
        _no_data(ax, "No SLA outcomes in this period")
        _tidy(ax)
        return
    axes = figure.subplots(1, len(CLOCK_TITLES), sharey=True)
    labels = [label for label, _ in rows]
    positions = list(range(len(rows)))
    for ax, (clock, title) in zip(axes, CLOCK_TITLES.items(), strict=True):
        for position, (_, levels) in zip(positions, rows, strict=True):
            outcome = getattr(levels, clock)
            total = outcome.met + outcome.breached
            if not total:
                ax.text(2, position, "—  no outcome", va="center", color=NO_OUTCOME_COLOUR, fontsize=8)
                continue
            met_share = 100 * outcome.met / total
            ax.barh(position, met_share, color=MET_COLOUR, height=0.6)
            ax.barh(position, 100 - met_share, left=met_share, color=BREACHED_COLOUR, height=0.6)
            ax.text(102, position, f"{outcome.met_pct:.0f} % of {total:,}", va="center", fontsize=8)
        ax.set_xlim(0, 145)
        ax.set_xticks([0, 50, 100], ["0", "50", "100 %"])
        ax.set_title(title, loc="left", fontsize=10)
        _tidy(ax)
    axes[0].set_yticks(positions, labels)
    axes[0].invert_yaxis()  # all teams at the top
    axes[1].set_xlabel("% of SLAs met (of the outcomes decided)")
    # The legend sits above the panels, outside them: it can never cover a bar.
    from matplotlib.patches import Patch

    figure.legend(
        handles=[Patch(color=MET_COLOUR, label="met"), Patch(color=BREACHED_COLOUR, label="breached")],
        loc="outside upper right",
        ncols=2,
        fontsize=8,
        frameon=False,
    )


def _tidy(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _one_axis(draw: Callable[[Any, ReportSummary], None]) -> Callable[[Any, ReportSummary], None]:
    """A chart drawn on one axis of the figure."""

    def on_figure(figure: Any, summary: ReportSummary) -> None:
        ax = figure.subplots()
        draw(ax, summary)
        _tidy(ax)

    return on_figure


def _sla_height(summary: ReportSummary) -> float:
    return max(FIGSIZE[1], 1.3 + 0.3 * len(_service_level_rows(summary)))


_CHARTS: tuple[
    tuple[str, str, Callable[[Any, ReportSummary], None], Callable[[ReportSummary], float]], ...
] = (
    ("chart-volume-by-platform", "Volume by platform", _one_axis(_volume_by_platform), lambda _: FIGSIZE[1]),
    ("chart-sentiment-trend", "Sentiment trend", _one_axis(_sentiment_trend), lambda _: FIGSIZE[1]),
    ("chart-sla-by-team", "Service levels by team and priority", _service_levels, _sla_height),
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


def figures(summary: ReportSummary) -> Iterator[tuple[str, str, Any]]:
    """Each chart as ``(element_id, title, matplotlib Figure)``, drawn in the page's style, which holds
    while the caller handles the figure (saves it; a test measures it)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    for element_id, title, draw, height in _CHARTS:
        style: dict[str, Any] = {"svg.fonttype": "none", "svg.hashsalt": element_id, "font.size": 9}
        with matplotlib.rc_context(style):  # type: ignore[arg-type]
            figure = Figure(figsize=(FIGSIZE[0], height(summary)), layout="constrained")
            draw(figure, summary)
            figure.suptitle(title, x=0.01, ha="left", fontsize=11)
            yield element_id, title, figure


def draw_charts(summary: ReportSummary) -> list[Chart]:
    """Volume by platform, sentiment trend and service levels by team and priority, as inline SVG charts."""
    charts = []
    for element_id, title, figure in figures(summary):
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
        charts.append(Chart(element_id, title, inline_svg(buffer.getvalue(), element_id, title)))
    return charts
