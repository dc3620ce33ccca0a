"""The daily report page: rendered with its three charts, self-contained, escaped."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

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
    Cell("2026-11-22", "first_response||x", {"n": 3, "seconds": 900, "le_5m": 2, "le_15m": 1}),
    Cell("2026-11-22", "spikes|x|refund", {"n": 1}),
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
    for title in ("Volume by platform", "Sentiment trend", "SLA compliance by team"):
        assert f'aria-label="{title}"' in html
    # And each chart draws the data: platforms, sentiments, teams and the axis it is measured on
    charts = dict(zip(parsed.svg_ids, re.findall(r"<svg id=.*?</svg>", html, flags=re.DOTALL), strict=True))
    assert all(p in charts["chart-volume-by-platform"] for p in ("x", "facebook", "youtube", "interactions"))
    assert all(s in charts["chart-sentiment-trend"] for s in ("NEGATIVE", "POSITIVE", "NEUTRAL"))
    assert "support" in charts["chart-sla-by-team"] and "% of SLAs met" in charts["chart-sla-by-team"]
    # (bars are drawn: one path per bar besides the axes)
    assert charts["chart-volume-by-platform"].count('id="chart-volume-by-platform-patch_') >= 4


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
