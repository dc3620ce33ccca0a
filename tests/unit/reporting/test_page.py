"""The daily report page: rendered with its three charts, self-contained, escaped."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from socialcrm.reporting.charts import BREACHED_COLOUR, MET_COLOUR
from socialcrm.reporting.daily import DailyReport, render_files
from socialcrm.reporting.dimensions import Cell
from socialcrm.reporting.summary import summarise

ROOT = Path(__file__).resolve().parents[3]
DAY = date(2026, 11, 22)
FIRST = date(2026, 10, 24)
CELLS = [
    Cell("2026-11-20", "interactions|x|NEGATIVE|en", {"n": 40}),
    Cell("2026-11-21", "interactions|facebook|POSITIVE|en", {"n": 25}),
    Cell("2026-11-22", "interactions|youtube|NEUTRAL|de", {"n": 7}),
    Cell("2026-11-22", "interactions|x|NEGATIVE|en", {"n": 12}),
    Cell("2026-11-22", "routed|<b>vip</b>|x|NEGATIVE|en", {"n": 3}),
    Cell("2026-11-22", "sla|support|P1|x", {"met": 9, "breached": 1}),
    Cell("2026-11-22", "sla|<b>vip</b>|P2|x", {"met": 1, "breached": 1}),
    Cell("2026-11-22", "sla||P1|x", {"met": 10, "breached": 2}),
    Cell("2026-11-22", "next_response|support|P1|x", {"met": 4}),
    Cell("2026-11-22", "next_response||P1|x", {"met": 4}),
    Cell("2026-11-22", "resolution|support|P1|x", {"breached": 3}),
    Cell("2026-11-22", "resolution||P1|x", {"breached": 3}),
    Cell("2026-11-22", "first_response||native|x", {"n": 2, "seconds": 1200, "le_15m": 2}),
    Cell("2026-11-22", "first_response||patch|x", {"n": 1, "seconds": 3000, "le_1h": 1}),
    Cell("2026-11-22", "spikes|x|refund", {"n": 1}),
    Cell("2026-11-22", "segments|at-risk|x", {"n": 4}),
]


class _Page(HTMLParser):
    """Collects the elements of a page: tags, the ids, every attribute that could load something."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: list[str] = []
        self.svg_ids: list[str] = []
        self.loading: list[tuple[str, str, str]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name == "id":
                self.ids.append(value)
                if tag == "svg":
                    self.svg_ids.append(value)
            if (
                name in ("src", "href", "xlink:href", "srcset", "action", "data")
                and value
                and not value.startswith("#")
            ):
                self.loading.append((tag, name, value))

    def handle_data(self, data):
        self.text.append(data)


def report(cells=CELLS) -> DailyReport:
    now = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)
    return DailyReport(DAY, summarise(cells, DAY, DAY), summarise(cells, FIRST, DAY), now)


@pytest.fixture(scope="module")
def page() -> tuple[str, _Page]:
    html = render_files(report())["report.html"].decode()
    parsed = _Page()
    parsed.feed(html)
    return html, parsed


def test_the_page_holds_its_three_charts_as_inline_svg(page):
    html, parsed = page
    # Then the three charts are there, each an <svg> with its id and an accessible name
    assert parsed.svg_ids == ["chart-volume-by-platform", "chart-sentiment-trend", "chart-sla-by-team"]
    for title in ("Volume by platform", "Sentiment trend", "Service levels by team and priority"):
        assert f'aria-label="{title}"' in html
    # And each chart draws the data: platforms, sentiments, teams and the axis it is measured on
    charts = dict(zip(parsed.svg_ids, re.findall(r"<svg id=.*?</svg>", html, flags=re.DOTALL), strict=True))
    assert all(p in charts["chart-volume-by-platform"] for p in ("x", "facebook", "youtube", "interactions"))
    assert all(s in charts["chart-sentiment-trend"] for s in ("NEGATIVE", "POSITIVE", "NEUTRAL"))
    sla_chart = charts["chart-sla-by-team"]
    assert "support · P1" in sla_chart and "% of SLAs met" in sla_chart
    assert all(clock in sla_chart for clock in ("First response", "Next response", "Resolution"))
    # (bars are drawn: one path per bar besides the axes)
    assert charts["chart-volume-by-platform"].count('id="chart-volume-by-platform-patch_') >= 4


def fills(svg: str) -> list[str]:
    """The fill colours of the chart's bars (patches), in drawing order."""
    bars = re.findall(r'<g id="[^"]*patch_\d+">\s*<path [^>]*style="([^"]*)"', svg)
    return [m.group(1) for style in bars if (m := re.search(r"fill: (#[0-9a-f]{6})", style))]


def test_service_level_colours_follow_meaning_and_the_legend_stays_clear_of_the_bars(page):
    html, _parsed = page
    sla_chart = re.search(r'<svg id="chart-sla-by-team".*?</svg>', html, flags=re.DOTALL).group(0)
    colours = set(fills(sla_chart))
    # Then met is drawn green and breached red, and no other colour (a priority's) paints a bar
    assert {MET_COLOUR, BREACHED_COLOUR} <= colours
    assert colours - {"#ffffff"} <= {MET_COLOUR, BREACHED_COLOUR}
    # And the legend names them
    assert ">met<" in sla_chart and ">breached<" in sla_chart


def test_no_charts_legend_covers_its_bars_or_areas():
    # Given the charts drawn (as the page draws them) from a month where every day and row is busy
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from socialcrm.reporting.charts import figures

    busy = [Cell(f"2026-11-{day:02d}", "interactions|x|NEGATIVE|en", {"n": 50}) for day in range(1, 23)]
    with_legends = []
    for element_id, _title, figure in figures(summarise([*CELLS, *busy], FIRST, DAY)):
        renderer = FigureCanvasAgg(figure).get_renderer()
        figure.draw_without_rendering()
        legends = [*figure.legends, *(ax.get_legend() for ax in figure.axes if ax.get_legend())]
        # Then each legend's box lies outside every axis: it can cover no bar and no area
        for legend in legends:
            box = legend.get_window_extent(renderer)
            for ax in figure.axes:
                assert not box.overlaps(ax.get_window_extent(renderer)), element_id
        with_legends += [element_id] * len(legends)
    assert with_legends == ["chart-sentiment-trend", "chart-sla-by-team"]


def test_the_page_shows_service_levels_per_clock_and_first_responses_by_source(page):
    html, parsed = page
    text = " ".join(parsed.text)
    # Then each clock's % met is shown overall, and the first-response averages apart by source
    assert '<b>83.3 %</b><span class="muted">first responses met</span>' in html
    assert '<b>100.0 %</b><span class="muted">next responses met</span>' in html
    assert '<b>0.0 %</b><span class="muted">resolutions met</span>' in html
    assert '<b>10 min</b><span class="muted">avg first response, native</span>' in html
    assert '<b>50 min</b><span class="muted">avg first response, PATCH</span>' in html
    # And a target never met is on red, one always met green, and nothing decided a dash, not 0 %
    assert '<td class="never">0.0 % (0 of 3)</td>' in html
    assert '<td class="met">100.0 % (4 of 4)</td>' in html
    assert '<td class="none">—</td>' in html
    # And the p90 says the bucket it is read from
    assert "≤ 15 min" in text and "≤ 1 h" in text
    # And the cases opened for customers in each segment are counted
    assert "Cases opened by customer segment" in text
    assert "<td>at-risk</td><td>4</td>" in html.replace("\n", "")


def test_the_page_loads_nothing_from_the_internet(page):
    html, parsed = page
    # No script at all, no attribute that fetches anything, no CSS import or remote url()
    assert "script" not in parsed.tags
    assert parsed.loading == []
    assert "@import" not in html and not re.search(r"url\(\s*['\"]?(https?:)?//", html)
    # And the browser is told to refuse any load that could slip in
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_ids_are_unique_across_the_page_so_the_charts_do_not_steal_each_others_clip_paths(page):
    html, parsed = page
    assert len(parsed.ids) == len(set(parsed.ids))
    referenced = set(re.findall(r"url\(#([^)]+)\)", html)) | set(re.findall(r'href="#([^"]+)"', html))
    assert referenced and referenced <= set(parsed.ids)


def test_the_page_shows_the_days_figures_and_escapes_names(page):
    html, parsed = page
    text = " ".join(parsed.text)
    assert "socialcrm daily report — 2026-11-22" in text
    assert '<b>19</b><span class="muted">interactions</span>' in html  # on the day: 12 + 7
    assert "&lt;b&gt;vip&lt;/b&gt;" in html and "<b>vip</b>" not in html


def test_a_period_without_data_still_renders_every_chart_with_a_note():
    html = render_files(report(cells=[]))["report.html"].decode()
    assert html.count("<svg id=") == 3
    assert "No interactions in this period" in html and "No SLA outcomes in this period" in html


def test_the_report_files_are_json_csv_and_html():
    files = render_files(report())
    assert set(files) == {"report.json", "report.csv", "report.html"}
    assert files["report.csv"].decode().startswith("section,day,team,priority,key,metric,value")
    assert b'"day": "2026-11-22"' in files["report.json"]


def test_matplotlib_is_not_imported_by_the_api_the_report_consumer_or_the_daily_report_module():
    # Given fresh interpreters importing the api function and the report consumer
    code = (
        "import sys; import api.handler, report.handler, socialcrm.reporting.daily; "
        "print('matplotlib' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT / 'functions'}:{ROOT}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    # Then neither (nor loading the daily report module) imports matplotlib
    assert result.stdout.strip() == "False"
