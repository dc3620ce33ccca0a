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
from socialcrm.reporting.facts import case_fact_keys, facts_of
from tests.support.report_events import (
    SUBJECT,
    T0,
    answered,
    case_updated,
    enriched,
    routed,
    sla_breached,
    spike,
    wait,
)


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
    # Given a case of two teams answered natively 20 minutes after it opened
    event = case_updated(
        "c1", teams=["support", "pr"], answered_after=timedelta(minutes=20), sla_met=True, source="native"
    )
    # When its facts are derived
    response, outcome = facts_of(event)
    # Then the response time lands in the 30-minute bucket of each team and of "all teams" (empty)
    assert response.kind == "first_response"
    assert {d.key.dimension: dict(d.amounts) for d in response.deltas} == {
        "first_response|pr|native|x": {"n": 1, "seconds": 1200, "le_30m": 1},
        "first_response|support|native|x": {"n": 1, "seconds": 1200, "le_30m": 1},
        "first_response||native|x": {"n": 1, "seconds": 1200, "le_30m": 1},
    }
    # And the SLA was met, counted on the day of the answer, per team and priority
    assert outcome.kind == "sla" and {d.key.dimension for d in outcome.deltas} == {
        "sla|pr|P2|x",
        "sla|support|P2|x",
        "sla||P2|x",
    }
    assert all(dict(d.amounts) == {"met": 1} for d in outcome.deltas)


def test_a_first_response_set_by_patch_or_told_without_a_source_counts_under_patch():
    # Given a first response an agent set through PATCH, and one told by an event from before sources
    by_patch = answered("c1", source="patch")
    sourceless = answered("c2")
    # Then both count under "patch" (only PATCH could set a first response before native replies)
    for event in (by_patch, sourceless):
        response = facts_of(event)[0]
        assert {d.key.dimension for d in response.deltas} == {
            "first_response|support|patch|x",
            "first_response||patch|x",
        }


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


def counted(*events):
    """The cells the events add up to when each fact counts once by its key (as the seen-markers do)."""
    seen, cells = set(), {}
    for event in events:
        for fact in facts_of(event):
            if fact.key in seen:
                continue
            seen.add(fact.key)
            for delta in fact.deltas:
                cell = cells.setdefault((delta.key.day, delta.key.dimension), {})
                for name, amount in delta.amounts.items():
                    cell[name] = cell.get(name, 0) + amount
    return cells


def outcomes(event, kind):
    """{dimension: amounts} of the event's facts of ``kind``, and their keys."""
    facts = [fact for fact in facts_of(event) if fact.kind == kind]
    return [
        (fact.key, {(d.key.day, d.key.dimension): dict(d.amounts) for d in fact.deltas}) for fact in facts
    ]


def test_a_next_response_round_breached_then_told_again_by_every_case_update_is_one_fact():
    # Given round 0 of a case: started 2 h after opening, due an hour later, unanswered at its due time
    late = wait(timedelta(hours=2), answered_in=timedelta(hours=3))  # answered 2 h late: breached
    breach = sla_breached("c9", teams=["support"], clock="next_response", round=0, due=late.due_at)
    # And the case updates routing publishes afterwards: the breach, the late answer, a later change
    updates = [
        answered("c9", rounds=[wait(timedelta(hours=2), met=False)]),
        answered("c9", rounds=[late]),
        answered(
            "c9",
            rounds=[late],
            status="resolved",
            resolved_after=timedelta(hours=6),
        ),
    ]
    # When all of them are counted, each fact once by its key (as the seen-markers do)
    cells = counted(breach, *updates)
    # Then the round is one breach, on its due day, for its team and for all teams
    assert {
        dimension: amounts for (_day, dimension), amounts in cells.items() if "next_response" in dimension
    } == {
        "next_response|support|P2|x": {"breached": 1},
        "next_response||P2|x": {"breached": 1},
    }
    assert {day for day, dimension in cells if "next_response" in dimension} == {"2026-11-22"}


def test_each_next_response_round_is_its_own_fact_counted_on_its_answer_day_once_decided():
    # Given a case with three rounds: met (answered the next day), breached, and one still running
    met = wait(timedelta(hours=20), due_in=timedelta(hours=8), answered_in=timedelta(hours=5))  # 23-11 01:00
    breached = wait(timedelta(days=2), met=False)
    running = wait(timedelta(days=3))
    event = answered("c1", rounds=[met, breached, running])
    # Then the two decided rounds are two facts, keyed by their index; the running one is not counted yet
    (first_key, first), (second_key, second) = outcomes(event, "next_response")
    assert first_key != second_key
    assert first[("2026-11-23", "next_response||P2|x")] == {"met": 1}
    assert second[("2026-11-24", "next_response||P2|x")] == {"breached": 1}


def test_a_resolution_counts_once_per_reopening_met_on_its_day_breached_on_its_due_day():
    # Given a case resolved in time, then reopened and resolved again too late
    first = answered(
        "c1",
        status="resolved",
        resolved_after=timedelta(hours=10),
        resolution_due_after=timedelta(hours=24),
        resolution_met=True,
    )
    reopened_late = answered(
        "c1",
        status="resolved",
        resolved_after=timedelta(days=5),
        reopened=1,
        resolution_due_after=timedelta(days=3),
        resolution_met=False,
    )
    # And the same first resolution told again (routing publishes on every change)
    again = first.model_copy(update={"updated_at": T0 + timedelta(hours=11)})
    # Then the first resolution is one fact however often it is told, met on the day it was resolved
    ((key_0, cells_0),) = outcomes(first, "resolution")
    assert outcomes(again, "resolution") == [(key_0, cells_0)]
    assert cells_0[("2026-11-22", "resolution||P2|x")] == {"met": 1}
    # And the reopening's resolution is another fact, breached on its due day
    ((key_1, cells_1),) = outcomes(reopened_late, "resolution")
    assert key_1 != key_0
    assert cells_1 == {
        ("2026-11-25", "resolution|support|P2|x"): {"breached": 1},
        ("2026-11-25", "resolution||P2|x"): {"breached": 1},
    }


def test_a_resolution_breach_event_is_left_to_the_case_update_that_names_its_reopening():
    # SlaBreached carries no reopened_count: counting it could not be matched with the case update's fact
    assert facts_of(sla_breached("c1", teams=["support"], clock="resolution")) == []
    assert facts_of(sla_breached("c1", teams=["support"], clock="next_response", round=None)) == []


def test_case_fact_keys_lists_every_key_a_cases_facts_can_have_from_its_row_body():
    # Given a case with a first response, its outcome, two decided rounds and a reopening
    event = answered(
        "c1",
        rounds=[
            wait(timedelta(hours=2), answered_in=timedelta(minutes=9)),
            wait(timedelta(hours=5), met=False),
        ],
        status="resolved",
        resolved_after=timedelta(days=4),
        reopened=1,
        resolution_due_after=timedelta(days=3),
        resolution_met=False,
    )
    told = {fact.key for fact in facts_of(event)}
    told |= {fact.key for fact in facts_of(routed("c1", teams=["support"]))}
    earlier = answered(
        "c1",
        resolved_after=timedelta(hours=3),
        resolution_due_after=timedelta(days=1),
        resolution_met=True,
    )
    told |= {fact.key for fact in facts_of(earlier)}
    # When the keys are listed from the case row's body (as stored: rounds, reopenings)
    body = {"next_responses": [r.model_dump(mode="json") for r in event.next_responses], "reopened_count": 1}
    keys = case_fact_keys("c1", body)
    # Then every fact counted for the case is among them (routed, first response, its SLA, 2 rounds, 2 resolutions)
    assert told <= set(keys) and len(told) == 7
    # And without a body, the keys by case id and the first resolution are still listed
    assert set(case_fact_keys("c1")) <= set(keys) and len(case_fact_keys("c1")) == 4


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
        case_updated(
            "case-42",
            teams=["support"],
            answered_after=timedelta(minutes=3),
            sla_met=True,
            rounds=[wait(timedelta(hours=1), answered_in=timedelta(minutes=4))],
            resolved_after=timedelta(hours=2),
            resolution_due_after=timedelta(days=1),
            resolution_met=True,
        ),
        sla_breached("case-43", teams=["support"]),
        sla_breached("case-43", teams=["support"], clock="next_response", round=0),
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


def test_a_brand_reply_is_not_counted_as_a_customers_interaction():
    from datetime import UTC, datetime

    from socialcrm.events.models import InteractionEnriched
    from socialcrm.reporting.facts import facts_of

    common = dict(
        interaction_ref="i_" + "a" * 32,
        subject_id="b" * 64,
        platform="messenger",
        language=None,
        sentiment=None,
        sentiment_scores=None,
        sentiment_status=None,
        follower_count=None,
        occurred_at=datetime(2026, 11, 25, 10, tzinfo=UTC),
    )
    assert facts_of(InteractionEnriched(kind="brand_reply", **common)) == []
    assert [f.kind for f in facts_of(InteractionEnriched(kind="direct_message", **common))] == ["interaction"]
