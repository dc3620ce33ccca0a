"""Spike detection: a burst on one topic against a quiet baseline is a spike, once per window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from socialcrm.routing.rules import SpikeSettings
from socialcrm.routing.spikes import SpikeDetector, bucket_start, counter_key

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SETTINGS = SpikeSettings(bucket_minutes=15, baseline_buckets=4, floor=5, factor=3)


class MemoryCounters:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.fired: set[str] = set()

    def increment(self, key, *, expires_at):
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key], key in self.fired

    def read(self, keys):
        return {k: (self.counts[k], k in self.fired) for k in keys if k in self.counts}

    def mark_fired(self, key):
        self.fired.add(key)


def burst(detector, count, *, topic="tag:complaint", platform="x", at=T0):
    found = []
    for n in range(count):
        found += detector.observe([topic], platform, at + timedelta(seconds=n))
    return found


def test_a_burst_on_one_topic_against_a_quiet_baseline_is_a_spike_once_the_floor_is_reached():
    # Given a quiet hour: one complaint per window
    counters = MemoryCounters()
    detector = SpikeDetector(SETTINGS, counters)
    for n in range(1, 5):
        burst(detector, 1, at=T0 - timedelta(minutes=15 * n))
    # When eight complaints arrive within one window
    spikes = burst(detector, 8)
    # Then the window becomes a spike when its count reaches the floor (5 > 3 x baseline 1), and until it
    # is announced each later message of the window reports it again (the 6th, 7th and 8th)
    assert [s.count for s in spikes] == [5, 6, 7, 8]
    spike = spikes[0]
    assert (spike.topic, spike.platform, spike.window_start, spike.baseline) == (
        "tag:complaint",
        "x",
        T0,
        1.0,
    )
    # And once it is announced, later messages of the window report nothing (the caller opened one case)
    counters.mark_fired(spike.counter_key)
    assert burst(detector, 3) == []


def test_a_busy_baseline_makes_the_same_count_no_spike():
    counters = MemoryCounters()
    detector = SpikeDetector(SETTINGS, counters)
    for n in range(1, 5):
        burst(detector, 4, at=T0 - timedelta(minutes=15 * n))  # baseline 4: a spike needs more than 12
    assert burst(detector, 8) == []


def test_below_the_floor_nothing_is_a_spike_however_quiet_the_baseline():
    assert burst(SpikeDetector(SETTINGS, MemoryCounters()), 4) == []


def test_topics_and_platforms_are_counted_apart():
    counters = MemoryCounters()
    detector = SpikeDetector(SETTINGS, counters)
    burst(detector, 3, topic="tag:complaint", platform="x")
    burst(detector, 3, topic="tag:complaint", platform="tiktok")
    burst(detector, 3, topic="phrase:refund", platform="x")
    assert counters.counts[counter_key("tag:complaint", "x", T0)] == 3
    assert len(counters.counts) == 3


def test_a_retried_message_looks_without_counting_again():
    counters = MemoryCounters()
    detector = SpikeDetector(SETTINGS, counters)
    burst(detector, 5)
    again = detector.observe(["tag:complaint"], "x", T0, count=False)
    assert counters.counts[counter_key("tag:complaint", "x", T0)] == 5 and len(again) == 1


def test_buckets_are_aligned_windows():
    assert bucket_start(datetime(2026, 11, 23, 10, 44, 59, tzinfo=UTC), 15) == datetime(
        2026, 11, 23, 10, 30, tzinfo=UTC
    )
