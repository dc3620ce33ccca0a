"""Erasure reaches every report seen-marker of a subject's cases, those of next-response rounds and of
reopenings too, computed from the case rows' bodies, and verifies none is left (moto)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from socialcrm.events.models import ResponseRound
from socialcrm.local.resources import create_resources
from socialcrm.privacy.stores import PERSONAL_DATA_QUEUES, PERSONAL_DATA_TABLES, SubjectScope, build_stores
from socialcrm.reporting.counters import CounterRepository
from socialcrm.reporting.facts import fact_key, facts_of
from socialcrm.routing.case import Case, routed_event, updated_event
from socialcrm.routing.store import CaseRepository
from socialcrm.routing.store import bind as bind_routing
from socialcrm.topology import TABLES
from tests.support.pipeline import ref

T0 = datetime.now(tz=UTC).replace(microsecond=0) - timedelta(days=3)
ANA, BOB = "a" * 64, "b" * 64
SEEN = TABLES["report_seen"].local_name


@pytest.fixture
def stores():
    with mock_aws():
        create_resources()
        bind_routing({"cases": TABLES["cases"].local_name}, region="eu-west-1")
        counters = CounterRepository.bound(
            {"report_counters": TABLES["report_counters"].local_name, "report_seen": SEEN}, region="eu-west-1"
        )
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        registry = build_stores(
            {key: TABLES[key].local_name for key in PERSONAL_DATA_TABLES},
            dynamodb,
            dlq_urls={key: f"https://sqs.local/{key}" for key in PERSONAL_DATA_QUEUES},
        )
        yield counters, {store.name: store for store in registry.stores}, dynamodb


def answered_case(case_id: str, subject: str) -> Case:
    """A case answered natively, with two decided next-response rounds, resolved in time, reopened once
    and resolved late."""
    rounds = [
        ResponseRound(
            started_at=T0 + timedelta(hours=1),
            due_at=T0 + timedelta(hours=2),
            responded_at=T0 + timedelta(hours=1, minutes=20),
            met=True,
        ),
        ResponseRound(started_at=T0 + timedelta(hours=5), due_at=T0 + timedelta(hours=6), met=False),
    ]
    return Case(
        case_id=case_id,
        interaction_ref=ref(f"x:{case_id}"),
        interaction_id=f"x:{case_id}",
        subject_id=subject,
        platform="x",
        kind="mention",
        teams=["support"],
        priority="P2",
        sla_minutes=60,
        opened_at=T0,
        sla_due_at=T0 + timedelta(hours=1),
        sla_warning_at=T0 + timedelta(minutes=48),
        first_response_at=T0 + timedelta(minutes=10),
        first_response_source="native",
        sla_met=True,
        next_responses=rounds,
        status="resolved",
        resolved_at=T0 + timedelta(days=2),
        resolution_due_at=T0 + timedelta(days=1, hours=12),
        resolution_met=False,
        reopened_count=1,
        updated_at=T0 + timedelta(days=2),
    )


def count(counters: CounterRepository, case: Case) -> None:
    """What the report consumer counts from the events routing publishes about the case: its routing, an
    update before the reopening (the first resolution, met) and the last update."""
    first_resolution = case.model_copy(
        update={
            "next_responses": case.next_responses[:1],
            "resolved_at": T0 + timedelta(hours=3),
            "resolution_due_at": T0 + timedelta(hours=24),
            "resolution_met": True,
            "reopened_count": 0,
        }
    )
    for detail in (routed_event(case), updated_event(first_resolution), updated_event(case)):
        for fact in facts_of(detail):
            counters.record(fact, now=T0 + timedelta(days=2))


def markers(dynamodb) -> set[str]:
    return {item["fact"]["S"] for item in dynamodb.scan(TableName=SEEN)["Items"]}


def test_erasure_removes_the_markers_of_a_cases_next_response_rounds_and_reopenings(stores):
    counters, by_name, dynamodb = stores
    # Given Ana's case and Bob's, stored as routing stores them, and their facts counted
    ana, bob = answered_case("c_" + "1" * 32, ANA), answered_case("c_" + "2" * 32, BOB)
    for case in (ana, bob):
        assert CaseRepository().open(case)
        count(counters, case)
    rounds = {fact_key("next_response", ana.case_id, str(index)) for index in range(2)}
    resolutions = {fact_key("resolution", ana.case_id, str(count)) for count in range(2)}
    before = markers(dynamodb)
    assert rounds | resolutions <= before
    # When her report markers are erased, then her case rows (the erasure's order), and it verifies
    scope = SubjectScope(ANA)
    erased = by_name["report_seen"].erase(scope)
    by_name["cases"].erase(scope)
    # Then all seven markers of her case went: routed, first response, its SLA, two rounds, two resolutions
    assert erased == 7
    assert not (rounds | resolutions) & markers(dynamodb)
    # And the verification, after her case rows are gone, still computes those keys and finds none
    assert by_name["report_seen"].remaining(scope) == 0
    # And Bob's markers are all still there
    assert markers(dynamodb) == before - {key for key in before if key not in markers(dynamodb)}
    assert len(markers(dynamodb)) == len(before) - 7
    assert fact_key("next_response", bob.case_id, "1") in markers(dynamodb)


def test_a_marker_counted_after_the_first_pass_is_found_by_the_verification(stores):
    counters, by_name, dynamodb = stores
    # Given Ana's case and its facts, and a first erasure pass of her markers
    ana = answered_case("c_" + "3" * 32, ANA)
    assert CaseRepository().open(ana)
    count(counters, ana)
    scope = SubjectScope(ANA)
    by_name["report_seen"].erase(scope)
    # When a round's marker appears again (a consumer that raced the erasure)
    late = fact_key("next_response", ana.case_id, "1")
    dynamodb.put_item(TableName=SEEN, Item={"fact": {"S": late}})
    # Then the verification counts it: the erasure is not reported verified while it is there
    assert by_name["report_seen"].remaining(scope) == 1
