"""Segments from a customer's recent messages on every channel (socialcrm.routing.segments)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from socialcrm.routing.evaluator import HistoryEntry
from socialcrm.routing.rules import SegmentSettings
from socialcrm.routing.segments import segments_of

AT = datetime(2026, 11, 20, 12)
CUSTOMER = "cus_" + "a" * 24


def said(label: str | None, days_ago: float, platform: str = "x", n: int = 0) -> tuple[str, HistoryEntry]:
    return platform, HistoryEntry(f"i_{platform}_{days_ago}_{n}", AT - timedelta(days=days_ago), label, None)


def of(history, *, followers=None, customer=None, was_vip=False, **settings):
    return segments_of(
        SegmentSettings.model_validate(settings),
        history,
        at=AT,
        customer_id=customer,
        followers=followers,
        was_vip=was_vip,
    )


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        # three negatives within 14 days: at risk; the third 20 days ago does not count
        ([said("NEGATIVE", 1), said("NEGATIVE", 2), said("NEGATIVE", 13)], ("at-risk",)),
        ([said("NEGATIVE", 1), said("NEGATIVE", 2), said("NEGATIVE", 20)], ()),
        # three positives and no negative in 30 days: advocate; one negative spoils it
        ([said("POSITIVE", 1), said("POSITIVE", 5), said("POSITIVE", 25)], ("advocate",)),
        ([said("POSITIVE", 1), said("POSITIVE", 5), said("POSITIVE", 25), said("NEGATIVE", 29)], ()),
        # negatives on two channels within 30 days: repeat complainer; twice on one channel is not
        ([said("NEGATIVE", 1, "x"), said("NEGATIVE", 25, "whatsapp")], ("repeat-complainer",)),
        ([said("NEGATIVE", 1, "x"), said("NEGATIVE", 25, "x", 1)], ()),
        ([said("NEUTRAL", 1), said(None, 2)], ()),
    ],
)
def test_segments_follow_the_recent_messages(history, expected):
    assert of(history, followers=50) == expected


def test_vip_by_followers_by_the_list_and_kept_through_a_message_without_a_follower_count():
    assert of([], followers=10_000) == ("vip",)
    assert of([], followers=9_999) == ()
    assert of([], followers=3, customer=CUSTOMER, vip={"customers": [CUSTOMER]}) == ("vip",)
    assert of([], followers=None, was_vip=True) == ("vip",)  # a WhatsApp message carries no count
    assert of([], followers=12, was_vip=True) == ()  # a count below the threshold ends it
    assert of([], followers=10**6, vip={"min_followers": None}) == ()


def test_thresholds_are_configurable_and_segments_can_be_turned_off():
    two = [said("NEGATIVE", 1), said("NEGATIVE", 2)]
    assert of(two, at_risk={"negative_at_least": 2, "within_days": 7}) == ("at-risk",)
    assert of(two * 3, followers=10**6, enabled=False) == ()


def test_settings_refuse_what_cannot_be_meant():
    with pytest.raises(ValueError, match="greater than or equal to 2"):
        SegmentSettings.model_validate({"repeat_complainer": {"channels_at_least": 1}})
    with pytest.raises(ValueError, match="Extra inputs"):
        SegmentSettings.model_validate({"gold": {}})
