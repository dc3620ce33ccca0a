"""report_items_read_30d: DynamoDB items read to answer a 30-day summary after a million interactions.

How it is measured (moto's DynamoDB, tables from ``socialcrm.topology``):

1. The counters are written as the report consumer leaves them, without pushing a million events
   through it one by one: N interactions are spread evenly over 30 days and over every combination
   of a deployment's catalogue (9 platforms, 6 sentiment buckets, 6 languages, 4 teams, 4 priorities,
   3 spike topics), each routed to one team, answered once, its SLA decided once. The sums each cell
   would hold are computed and written as the same ``ReportCounterItem`` items the consumer's ``ADD``
   updates produce (PynamoDB batch writes, 25 a call). Every combination occurring every day is the
   worst case for reads: the most cells a month can hold with this catalogue.
2. The 30-day summary is then read exactly as ``GET /reports/summary`` reads it without a team filter
   (``CounterRepository.load(..., routed=False)``: two Queries per day), and the items read are the
   sum of the Queries' ``ScannedCount``. A sanity check asserts the summary counts N interactions.
3. The same is done at 10,000,000 interactions: the items read are the same, because a counter cell
   holds a sum, never an item per interaction. (moto answers each Query by sorting the whole table,
   so a run takes a few minutes; DynamoDB reads only the partition.)
"""

from __future__ import annotations

import itertools
import os
from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

from moto import mock_aws

from socialcrm.dal.report_models import ReportCounterItem
from socialcrm.local.resources import create_resources
from socialcrm.models import PLATFORMS
from socialcrm.reporting.counters import CounterRepository, counter_expiry
from socialcrm.reporting.dimensions import (
    ALL_TEAMS,
    FIRST_RESPONSE,
    INTERACTIONS,
    ROUTED,
    SENTIMENTS,
    SLA,
    SPIKES,
    TEAMS,
    bucket_for,
    encode,
)
from socialcrm.reporting.summary import summarise
from socialcrm.topology import TABLES

DAYS = 30
LAST_DAY = date(2026, 11, 30)
LANGUAGES = ("en", "es", "fr", "de", "pt", "und")
TEAM_NAMES = ("support", "sales", "pr", "social")
PRIORITIES = ("P1", "P2", "P3", "P4")
TOPICS = ("refund", "outage", "delivery")
RESPONSE_SECONDS = 1500  # every simulated first response: 25 minutes


def _spread(total: int, slots: int) -> list[int]:
    """``total`` split over ``slots`` as evenly as integers allow."""
    base, extra = divmod(total, slots)
    return [base + (1 if index < extra else 0) for index in range(slots)]


def day_cells(interactions: int) -> dict[str, dict[str, int]]:
    """The counter cells of one day on which ``interactions`` were counted (see the module docstring)."""
    cells: dict[str, Counter[str]] = defaultdict(Counter)
    combos = list(itertools.product(PLATFORMS, SENTIMENTS, LANGUAGES, TEAM_NAMES))
    for (platform, sentiment, language, team), n in zip(
        combos, _spread(interactions, len(combos)), strict=True
    ):
        if not n:
            continue
        cells[encode(INTERACTIONS, platform, sentiment, language)]["n"] += n
        cells[encode(ROUTED, team, platform, sentiment, language)]["n"] += n
        cells[encode(TEAMS, team, platform)]["n"] += n
    cases = list(itertools.product(PLATFORMS, TEAM_NAMES, PRIORITIES))
    for (platform, team, priority), n in zip(cases, _spread(interactions, len(cases)), strict=True):
        for name in (team, ALL_TEAMS):
            response = cells[encode(FIRST_RESPONSE, name, platform)]
            response.update({"n": n, "seconds": n * RESPONSE_SECONDS, bucket_for(RESPONSE_SECONDS): n})
            met = n * 9 // 10
            cells[encode(SLA, name, priority, platform)].update({"met": met, "breached": n - met})
    for platform, topic in itertools.product(PLATFORMS, TOPICS):
        cells[encode(SPIKES, platform, topic)]["n"] += 1
    return {dimension: dict(values) for dimension, values in cells.items()}


def _write(interactions: int) -> None:
    days = [LAST_DAY - timedelta(days=offset) for offset in range(DAYS)]
    with ReportCounterItem.batch_write() as batch:
        for day, count in zip(days, _spread(interactions, DAYS), strict=True):
            key = day.isoformat()
            for dimension, values in day_cells(count).items():
                attributes: dict[str, Any] = {"expires_at": counter_expiry(key), **values}
                batch.save(ReportCounterItem(key, dimension, **attributes))


def items_read_for(interactions: int) -> int:
    """Items read by an unfiltered 30-day summary after ``interactions`` were counted."""
    with mock_aws():
        create_resources()
        repository = CounterRepository.bound(
            {
                "report_counters": TABLES["report_counters"].local_name,
                "report_seen": TABLES["report_seen"].local_name,
            },
            region=os.environ["AWS_DEFAULT_REGION"],
        )
        _write(interactions)
        first = LAST_DAY - timedelta(days=DAYS - 1)
        snapshot = repository.load(first, LAST_DAY, routed=False)
        summary = summarise(snapshot.cells, first, LAST_DAY)
        assert summary.totals.interactions == interactions, "the simulated counters do not add up"
        return snapshot.items_read


def measure() -> dict[str, int]:
    figures = {
        "report_items_read_30d": items_read_for(1_000_000),
        "report_items_read_30d_at_10m": items_read_for(10_000_000),
    }
    assert len(set(figures.values())) == 1, f"items read depend on the volume: {figures}"
    return figures


if __name__ == "__main__":
    print(measure())
