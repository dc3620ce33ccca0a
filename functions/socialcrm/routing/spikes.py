"""Spike detection: negative interactions counted per topic and platform in time buckets.

Each negative interaction adds one to an atomic counter per topic (a rule tag or a matched phrase),
platform and bucket. A bucket whose count reaches the floor *and* exceeds ``factor`` times the mean of
the buckets before it (its baseline) is a spike: it opens one case for the spike teams and is
announced once (``SpikeDetected``); the counter is then marked so later messages skip the check.
Counters expire with DynamoDB TTL once no baseline needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from socialcrm.events.models import SpikeDetected
from socialcrm.routing.case import Case, sla_times, spike_case_id, spike_subject_id
from socialcrm.routing.rules import RulesDocument, SpikeSettings
from socialcrm.topology import RETENTION_DAYS

SPIKE_RULE = "spikes"  # what a spike case lists as its rule: the document's spikes section


@dataclass(frozen=True)
class Spike:
    topic: str
    platform: str
    window_start: datetime
    window_minutes: int
    count: int
    baseline: float
    counter_key: str


class CounterStore(Protocol):
    def increment(self, key: str, *, expires_at: datetime) -> tuple[int, bool]:
        """Add one; return (the new count, whether the window was already announced)."""
        ...

    def read(self, keys: Sequence[str]) -> dict[str, tuple[int, bool]]:
        """Counts (and announced flags) of the keys that exist."""
        ...

    def mark_fired(self, key: str) -> None:
        """Record that the window's spike was announced."""
        ...


def bucket_start(at: datetime, minutes: int) -> datetime:
    """The start of the ``minutes``-long bucket holding ``at`` (buckets aligned on the epoch, UTC)."""
    seconds = minutes * 60
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def counter_key(topic: str, platform: str, start: datetime) -> str:
    return f"spike|{platform}|{topic}|{start.isoformat()}"


class SpikeDetector:
    def __init__(self, settings: SpikeSettings, counters: CounterStore) -> None:
        self.settings = settings
        self.counters = counters

    def observe(
        self, topics: Sequence[str], platform: str, at: datetime, *, count: bool = True
    ) -> list[Spike]:
        """Count one negative interaction at ``at`` into each topic (``count=False``: only look, as a
        retried message does) and return the windows that are spikes not yet announced."""
        settings = self.settings
        if not settings.enabled or not topics:
            return []
        bucket = timedelta(minutes=settings.bucket_minutes)
        start = bucket_start(at, settings.bucket_minutes)
        expires_at = (
            start + bucket * (settings.baseline_buckets + 1) + timedelta(days=RETENTION_DAYS["counters"])
        )
        keys = {topic: counter_key(topic, platform, start) for topic in topics}
        if count:
            current = {key: self.counters.increment(key, expires_at=expires_at) for key in keys.values()}
        else:
            current = self.counters.read(list(keys.values()))
        spikes = []
        for topic, key in keys.items():
            value, fired = current.get(key, (0, False))
            if fired or value < settings.floor:
                continue
            earlier = [
                counter_key(topic, platform, start - bucket * n)
                for n in range(1, settings.baseline_buckets + 1)
            ]
            history = self.counters.read(earlier)
            baseline = sum(history.get(k, (0, False))[0] for k in earlier) / settings.baseline_buckets
            if value > settings.factor * baseline:
                spikes.append(Spike(topic, platform, start, settings.bucket_minutes, value, baseline, key))
        return spikes


def open_spike_case(
    spike: Spike, document: RulesDocument, *, now: datetime, claimed_by: str | None = None
) -> Case:
    """The one case of a spike window, for the spike teams at the spike priority."""
    settings = document.spikes
    minutes = document.sla_minutes.minutes(settings.priority)
    due, warning = sla_times(now, minutes, document.sla_warning_ratio)
    return Case(
        case_id=spike_case_id(spike.topic, spike.platform, spike.window_start),
        origin="spike",
        subject_id=spike_subject_id(spike.topic, spike.platform, spike.window_start),
        platform=spike.platform,  # type: ignore[arg-type]
        sentiment="NEGATIVE",
        teams=list(settings.teams),
        priority=settings.priority,
        sla_minutes=minutes,
        tags=["spike"],
        rules=[SPIKE_RULE],
        notify=list(settings.teams),
        topics=[spike.topic],
        opened_at=now,
        sla_due_at=due,
        sla_warning_at=warning,
        updated_at=now,
        claimed_by=claimed_by,
    )


def spike_event(case: Case, spike: Spike) -> SpikeDetected:
    return SpikeDetected(
        topic=spike.topic,
        platform=spike.platform,  # type: ignore[arg-type]
        window_start=spike.window_start,
        window_minutes=spike.window_minutes,
        count=spike.count,
        baseline=spike.baseline,
        case_id=case.case_id,
    )
