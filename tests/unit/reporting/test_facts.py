"""Facts: what each event adds to which counter cell, under a key that holds no id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from socialcrm.dal.report_models import ReportCounterItem
from socialcrm.reporting.dimensions import (
    BUCKETS,
    COUNT_ATTRIBUTES,
    bucket_for,
    decode,
    encode,
    percentile_upper_bound,
)
from socialcrm.reporting.facts import facts_of
from tests.support.report_events import SUBJECT, case_updated, enriched, routed, sla_breached, spike


def test_an_enriched_interaction_counts_once_in_its_day_platform_sentiment_and_language_cell():
    # Given an interaction that occurred late on 22 November (UTC)
    event = enriched(7, platform="instagram", sentiment="POSITIVE", language="fr")
    event = event.model_copy(update={"occurred_at": datetime(2026, 11, 22, 23, 59, tzinfo=UTC)})
    # When its facts are derived
    (fact,) = facts_of(event)
    # Then it adds one to the interactions cell of that day, and may replace a PENDING count
    assert [(d.key.day, d.key.dimension, dict(d.amounts)) for d in fact.deltas] == [
        ("2026-11-22", "interactions|instagram|POSITIVE|fr", {"n": 1})
    ]
    assert fact.kind == "interaction" and fact.completes_pending


def test_a_pending_or_unscored_interaction_is_counted_under_pending_or_unscored():
    (pending,) = facts_of(enriched(1, sentiment=None, status="PENDING"))
    (unscored,) = facts_of(enriched(2, sentiment=None, status="NO_TEXT", language=None))
    assert pending.deltas[0].key.dimension == "interactions|x|PENDING|en" and not pending.completes_pending
    assert unscored.deltas[0].key.dimension == "interactions|x|UNSCORED|und"


def test_a_routed_case_counts_once_per_team_and_an_unassigned_case_under_unassigned():
    (two_teams,) = facts_of(routed("c1", teams=["support", "pr", "support"]))
    (no_team,) = facts_of(routed("c2", teams=[]))
    # Then each team gets its cross-product cell (for a team's summary) and its per-platform total
    assert [d.key.dimension for d in two_teams.deltas] == [
        "routed|pr|x|NEGATIVE|en",
        "teams|pr|x",
        "routed|support|x|NEGATIVE|en",
        "teams|support|x",
    ]
    assert [d.key.dimension for d in no_team.deltas] == [
        "routed|unassigned|x|NEGATIVE|en",
        "teams|unassigned|x",
    ]


def test_a_first_response_counts_its_time_in_a_bucket_per_team_and_once_for_all_teams():
    # Given a case of two teams answered 20 minutes after it opened
    event = case_updated("c1", teams=["support", "pr"], answered_after=timedelta(minutes=20), sla_met=True)
    # When its facts are derived
    response, outcome = facts_of(event)
    # Then the response time lands in the 30-minute bucket of each team and of "all teams" (empty)
    assert response.kind == "first_response"
    assert {d.key.dimension: dict(d.amounts) for d in response.deltas} == {
        "first_response|pr|x": {"n": 1, "seconds": 1200, "le_30m": 1},
        "first_response|support|x": {"n": 1, "seconds": 1200, "le_30m": 1},
        "first_response||x": {"n": 1, "seconds": 1200, "le_30m": 1},
    }
    # And the SLA was met, counted on the day of the answer, per team and priority
    assert outcome.kind == "sla" and {d.key.dimension for d in outcome.deltas} == {
        "sla|pr|P2|x",
        "sla|support|P2|x",
        "sla||P2|x",
    }
    assert all(dict(d.amounts) == {"met": 1} for d in outcome.deltas)


def test_a_case_update_without_a_first_response_or_outcome_adds_nothing():
    assert facts_of(case_updated("c1", teams=["support"], answered_after=None, sla_met=None)) == []


def test_a_breach_told_by_sla_breached_and_by_a_late_answer_is_one_fact():
    # Given the breach event and the later update that answers the case too late
    (breach,) = facts_of(sla_breached("c9", teams=["support"]))
    late = case_updated("c9", teams=["support"], answered_after=timedelta(hours=3), sla_met=False)
    _response, outcome = facts_of(late)
    # Then both tell the same fact (same key, same cells): only the first to arrive counts
    assert breach.key == outcome.key
    assert [(d.key, dict(d.amounts)) for d in breach.deltas] == [
        (d.key, dict(d.amounts)) for d in outcome.deltas
    ]


def test_a_spike_is_keyed_by_its_platform_topic_and_window_whatever_the_time_zone_spelling():
    first = facts_of(spike("refund"))[0]
    paris = timezone(timedelta(hours=1))
    same_window = facts_of(spike("refund", at=datetime(2026, 11, 22, 11, 0, tzinfo=paris)))[0]
    next_window = facts_of(spike("refund", at=datetime(2026, 11, 22, 10, 15, tzinfo=UTC)))[0]
    assert first.key == same_window.key and first.key != next_window.key
    assert first.deltas[0].key.dimension == "spikes|x|refund"


def test_no_fact_key_or_cell_holds_an_interaction_case_or_subject_id():
    # Given one event of each counted type
    events = [
        enriched(123456789),
        routed("case-42", teams=["support"]),
        case_updated("case-42", teams=["support"], answered_after=timedelta(minutes=3), sla_met=True),
        sla_breached("case-43", teams=["support"]),
    ]
    for event in events:
        for fact in facts_of(event):
            # Then the key is a digest and no cell names an id
            kind, digest = fact.key.split(":")
            assert kind == fact.kind and len(digest) == 64
            text = fact.key + " ".join(d.key.dimension for d in fact.deltas)
            for identifier in ("123456789", "case-42", "case-43", SUBJECT):
                assert identifier not in text


def test_dimension_parts_round_trip_whatever_characters_a_team_name_has():
    dimension = encode("routed", "emea|support %", "x", "NEGATIVE", "pt-BR")
    assert dimension.count("|") == 4
    assert decode(dimension) == ("routed", ["emea|support %", "x", "NEGATIVE", "pt-BR"])
    with pytest.raises(ValueError):
        encode("nonsense", "x")


@pytest.mark.parametrize(
    ("seconds", "bucket"),
    [
        (0, "le_1m"),
        (60, "le_1m"),
        (61, "le_5m"),
        (3600, "le_1h"),
        (86_401, "le_48h"),
        (8 * 86_400, "over_7d"),
    ],
)
def test_response_times_fall_in_the_first_bucket_whose_edge_they_do_not_exceed(seconds, bucket):
    assert bucket_for(seconds) == bucket


def test_the_p90_is_the_upper_edge_of_the_bucket_holding_it_and_at_least_7_days_in_the_open_bucket():
    assert percentile_upper_bound({"le_1m": 9, "le_1h": 1}, 0.9) == 60
    assert percentile_upper_bound({"le_1m": 8, "le_1h": 2}, 0.9) == 3600
    assert percentile_upper_bound({"over_7d": 3}, 0.9) == 7 * 86_400
    assert percentile_upper_bound({}, 0.9) is None


def test_the_counter_model_has_an_attribute_for_every_bucket_and_count():
    declared = set(ReportCounterItem.get_attributes())
    assert set(COUNT_ATTRIBUTES) <= declared
    assert [name for name, _ in BUCKETS] == [
        name for name in COUNT_ATTRIBUTES if name.startswith(("le_", "over_"))
    ]
