"""The report consumer against moto: a known stream of events (with duplicates) gives exact counters."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest
from moto import mock_aws
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from socialcrm.local.resources import create_resources
from socialcrm.privacy.suppression import SuppressionTable
from socialcrm.reporting.consumer import QueuedRecord, process_batch
from socialcrm.reporting.counters import CounterRepository, CounterStoreError, Recorded
from socialcrm.reporting.facts import facts_of
from socialcrm.reporting.summary import summarise
from socialcrm.topology import TABLES
from tests.support.apigw import LambdaContext
from tests.support.report_events import (
    SUBJECT,
    T0,
    answered,
    body,
    case_updated,
    enriched,
    routed,
    sla_breached,
    spike,
    sqs_event,
    wait,
)

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
DAY = date(2026, 11, 22)
COUNTERS, SEEN = TABLES["report_counters"].local_name, TABLES["report_seen"].local_name


@pytest.fixture
def counters():
    with mock_aws():
        create_resources()
        yield CounterRepository.bound(
            {"report_counters": COUNTERS, "report_seen": SEEN}, region="eu-west-1", host=None
        )


@pytest.fixture
def report_handler(monkeypatch):
    """The report function's module, in its environment, with a runtime built for this test only."""
    for name, value in {
        "REPORT_COUNTERS_TABLE": COUNTERS,
        "REPORT_SEEN_TABLE": SEEN,
        "SUPPRESSIONS_TABLE": TABLES["suppressions"].local_name,
        "AWS_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    import report.handler as handler

    handler.runtime.cache_clear()
    yield handler
    handler.runtime.cache_clear()


def run(repository, *bodies):
    batch = [QueuedRecord(f"m-{i}", text) for i, text in enumerate(bodies)]
    return process_batch(batch, counters=repository, now=NOW, erased_at=lambda _subject: None)


def summary(repository, **filters):
    return summarise(repository.load(DAY, DAY).cells, DAY, DAY, **filters)


def test_a_known_stream_with_duplicates_gives_exact_counters(counters):
    # Given a stream where facts arrive twice: redelivered (same event id) or re-announced (new id)
    first = body(enriched(1, platform="x", sentiment="NEGATIVE"), event_id="e-1")
    stream = [
        first,
        first,  # SQS redelivery
        body(enriched(1, platform="x", sentiment="NEGATIVE")),  # the enrich stage re-announces
        body(enriched(2, platform="facebook", sentiment="POSITIVE", language="fr")),
        body(enriched(3, sentiment=None, status="PENDING")),  # sentiment comes later...
        body(enriched(3, sentiment="NEGATIVE")),  # ...here
        body(enriched(3, sentiment="NEGATIVE")),  # and is re-announced
        body(enriched(4, platform="youtube", sentiment="MIXED", language="de")),  # completion first...
        body(
            enriched(4, platform="youtube", sentiment=None, status="PENDING", language="de")
        ),  # ...then PENDING
        body(enriched(5, platform="instagram", sentiment=None, status="NO_TEXT", language=None)),
        body(routed("c1", teams=["support", "pr"])),
        body(routed("c1", teams=["support", "pr"])),
        body(routed("c2", teams=["support"])),
        body(case_updated("c1", teams=["support", "pr"], answered_after=timedelta(minutes=20), sla_met=True)),
        body(
            case_updated(
                "c1",
                teams=["support", "pr"],
                answered_after=timedelta(minutes=20),
                sla_met=True,
                status="resolved",
                updated_after=timedelta(hours=5),
            )
        ),
        body(sla_breached("c2", teams=["support"])),
        body(case_updated("c2", teams=["support"], answered_after=timedelta(minutes=90), sla_met=False)),
        body(spike("refund")),
        body(spike("refund")),
    ]
    # When the consumer processes it in two batches
    outcome_a = run(counters, *stream[:9])
    outcome_b = run(counters, *stream[9:])
    assert outcome_a.failed == [] and outcome_b.failed == []

    # Then every interaction counts once, PENDING moved to its sentiment, out-of-order kept the final one
    figures = summary(counters)
    assert figures.totals.interactions == 5
    assert figures.by_platform == {"x": 2, "facebook": 1, "instagram": 1, "youtube": 1}
    assert figures.by_sentiment == {
        "POSITIVE": 1,
        "NEGATIVE": 2,
        "NEUTRAL": 0,
        "MIXED": 1,
        "PENDING": 0,
        "UNSCORED": 1,
    }
    assert figures.by_language == {"en": 2, "de": 1, "fr": 1, "und": 1}
    # And each case counts once per team
    assert figures.by_team == {"support": 2, "pr": 1}
    # And first responses (20 and 90 minutes, set by PATCH) count once per case overall
    patch = figures.first_response.patch
    assert patch.count == 2 and patch.avg_minutes == 55.0 and patch.p90_minutes == 120
    assert figures.first_response.native.count == 0
    assert figures.first_response_by_team["pr"].patch.count == 1
    # And the breach told twice counts once; c1's met SLA counts once overall though it has two teams
    first = figures.sla.first_response
    assert (first.met, first.breached, first.met_pct) == (1, 1, 50.0)
    assert {
        (r.team, r.first_response.met, r.first_response.breached) for r in figures.sla_by_team_priority
    } == {
        ("pr", 1, 0),
        ("support", 1, 1),
    }
    assert figures.totals.spikes == 1
    # And the duplicates were seen as such: 2 of interaction 1, 1 of 3, the late PENDING of 4, c1 routed,
    # c1's resolution (its response and its SLA), c2's late answer (its breach), the second spike
    assert outcome_a.duplicates + outcome_b.duplicates == 9


def test_first_response_times_are_reported_apart_native_10_minutes_and_patch_50(counters):
    # Given a case answered natively (a brand reply) in 10 minutes and one set by PATCH in 50 minutes,
    # each told by several case updates (routing publishes one on every change)
    native = case_updated(
        "c1", teams=["support"], answered_after=timedelta(minutes=10), sla_met=True, source="native"
    )
    patched = case_updated(
        "c2", teams=["support"], answered_after=timedelta(minutes=50), sla_met=True, source="patch"
    )
    resolved = native.model_copy(update={"status": "resolved", "updated_at": T0 + timedelta(hours=2)})
    run(counters, body(native), body(patched), body(resolved), body(patched))
    # Then the manager reads native 10 minutes and PATCH 50 minutes, one case each, never blended
    figures = summary(counters)
    assert figures.first_response.native.count == 1 and figures.first_response.native.avg_minutes == 10.0
    assert figures.first_response.patch.count == 1 and figures.first_response.patch.avg_minutes == 50.0
    # And the p90 is the bucket each lies in: over 5 and at most 15 minutes; over 30 and at most 60
    assert (figures.first_response.native.p90_above_minutes, figures.first_response.native.p90_minutes) == (
        5,
        15,
    )
    assert (figures.first_response.patch.p90_above_minutes, figures.first_response.patch.p90_minutes) == (
        30,
        60,
    )
    assert figures.totals.first_responses == 2


def test_a_next_response_round_breached_then_reported_again_by_case_updates_counts_once(counters):
    # Given round 0 of a case breached (SlaBreached), then told again by every later case update,
    # the last of which also answers round 1 in time
    breached = wait(timedelta(hours=1), met=False)
    answered_late = wait(timedelta(hours=1), answered_in=timedelta(hours=2))
    in_time = wait(timedelta(hours=4), answered_in=timedelta(minutes=20))

    def update(*rounds, status="pending"):
        return answered("c1", source="native", rounds=list(rounds), status=status)

    stream = [
        body(sla_breached("c1", teams=["support"], clock="next_response", round=0, due=breached.due_at)),
        body(update(breached)),
        body(update(answered_late)),
        body(update(answered_late, in_time)),
        body(update(answered_late, in_time, status="resolved")),
    ]
    outcome = run(counters, *stream)
    assert outcome.failed == []
    # Then the manager sees two rounds: one breached, one met (50 %), not three breaches
    levels = summary(counters).sla.next_response
    assert (levels.met, levels.breached, levels.met_pct) == (1, 1, 50.0)
    assert outcome.breaches_by_clock == {"next_response": 1} and outcome.met_by_clock["next_response"] == 1


def test_resolution_is_met_or_breached_once_per_reopening(counters):
    # Given a case resolved in time, told twice; reopened and resolved late; reopened again, still open
    def update(**changes):
        return answered("c1", **changes)

    first = update(
        status="resolved",
        resolved_after=timedelta(hours=3),
        resolution_due_after=timedelta(hours=8),
        resolution_met=True,
    )
    second = update(
        status="resolved",
        resolved_after=timedelta(hours=11),
        resolution_due_after=timedelta(hours=10),
        resolution_met=False,
        reopened=1,
    )
    third = update(status="open", resolution_due_after=timedelta(hours=20), reopened=2)
    run(counters, body(first), body(first), body(second), body(second), body(third))
    # Then the case counts one resolution met and one breached; the open reopening is not decided yet
    levels = summary(counters).sla.resolution
    assert (levels.met, levels.breached, levels.met_pct) == (1, 1, 50.0)
    # And its first response counts once whatever the reopenings
    assert summary(counters).sla.first_response.met == 1


def test_no_outcome_yet_is_a_null_percentage_not_zero(counters):
    # Given a case answered, with no next-response round and no resolution decided
    run(counters, body(answered("c1")))
    figures = summary(counters)
    # Then next response and resolution show no percentage (null), and first response its 100 %
    assert figures.sla.next_response.met_pct is None and figures.sla.resolution.met_pct is None
    assert figures.sla.first_response.met_pct == 100.0
    (row,) = figures.sla_by_team_priority
    assert row.next_response.met_pct is None and row.resolution.met_pct is None


def test_the_counters_hold_aggregates_only_and_the_markers_digests_only(counters):
    # Given a few counted events
    run(
        counters,
        body(enriched(987654321)),
        body(routed("case-77", teams=["support"])),
        body(case_updated("case-77", teams=["support"], answered_after=timedelta(minutes=3), sla_met=True)),
    )
    # Then neither table holds an interaction, case or subject id anywhere
    dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
    for table in (COUNTERS, SEEN):
        dump = json.dumps(dynamodb.scan(TableName=table)["Items"])
        for identifier in ("987654321", "case-77", SUBJECT):
            assert identifier not in dump, table
    # And every record expires (TTL attribute set)
    for table in (COUNTERS, SEEN):
        assert all("expires_at" in item for item in dynamodb.scan(TableName=table)["Items"])


def test_a_failed_transaction_counts_nothing_so_the_retry_counts_once(counters):
    # Given the counters table is unavailable while the seen-markers table works
    dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
    dynamodb.delete_table(TableName=COUNTERS)
    fact = facts_of(enriched(1))[0]
    # When the fact is recorded, it fails as a whole: no seen marker is left behind
    with pytest.raises(CounterStoreError):
        counters.record(fact, now=NOW)
    assert dynamodb.scan(TableName=SEEN)["Items"] == []
    # When the table is back and SQS retries the record
    create_resources()
    # Then it counts, once
    assert counters.record(fact, now=NOW) is Recorded.COUNTED
    assert counters.record(fact, now=NOW) is Recorded.DUPLICATE
    assert summary(counters).totals.interactions == 1


def test_a_transaction_conflict_on_a_hot_cell_is_retried_with_backoff(counters, monkeypatch):
    # Given DynamoDB reports a conflicting transaction on the first attempt
    from pynamodb.exceptions import CancellationReason, VerboseClientError

    attempts = []
    real_commit = TransactWrite._commit

    def conflicting_once(self):
        attempts.append(1)
        if len(attempts) == 1:
            cause = VerboseClientError(
                {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}},
                "TransactWriteItems",
                cancellation_reasons=[None, CancellationReason(code="TransactionConflict")],
            )
            raise TransactWriteError("conflict", cause=cause)
        return real_commit(self)

    monkeypatch.setattr(TransactWrite, "_commit", conflicting_once)
    slept = []
    repository = CounterRepository(sleep=slept.append)
    # When a fact is recorded
    recorded = repository.record(facts_of(enriched(1))[0], now=NOW)
    # Then it is counted on the second attempt, after a short pause
    assert recorded is Recorded.COUNTED and len(attempts) == 2 and len(slept) == 1 and 0 < slept[0] < 1
    assert summary(repository).totals.interactions == 1


def test_conflicts_that_never_clear_fail_the_record_for_sqs_to_retry(counters, monkeypatch):
    from pynamodb.exceptions import CancellationReason, VerboseClientError

    def always_conflicting(self):
        cause = VerboseClientError(
            {"Error": {"Code": "TransactionCanceledException", "Message": "conflict"}},
            "TransactWriteItems",
            cancellation_reasons=[CancellationReason(code="TransactionConflict")],
        )
        raise TransactWriteError("conflict", cause=cause)

    monkeypatch.setattr(TransactWrite, "_commit", always_conflicting)
    repository = CounterRepository(attempts=3, sleep=lambda _s: None)
    with pytest.raises(CounterStoreError):
        repository.record(facts_of(enriched(1))[0], now=NOW)


def test_the_handler_reports_unreadable_records_and_counts_the_rest(counters, report_handler):
    # Given the report function's environment
    # When an SQS batch with one unreadable record arrives
    event = sqs_event([body(enriched(1)), "not an event", body(spike())])
    response = report_handler.lambda_handler(event, LambdaContext())
    # Then only that record is reported for retry, and the rest is counted
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    figures = summary(counters)
    assert figures.totals.interactions == 1 and figures.totals.spikes == 1


def test_a_range_is_read_day_by_day_counting_the_items_read_and_skipping_the_team_cross_product(counters):
    # Given interactions on two days, one routed to support
    run(
        counters,
        body(enriched(1)),
        body(enriched(2, at=datetime(2026, 11, 23, 9, tzinfo=UTC), platform="tiktok")),
        body(routed("c1", teams=["support"])),
    )
    # When a three-day range is loaded for every team
    snapshot = counters.load(date(2026, 11, 21), date(2026, 11, 23), routed=False)
    # Then the cells are read, the routed cross product is not, and the items read say so
    assert sorted((c.day, c.dimension) for c in snapshot.cells) == [
        ("2026-11-22", "interactions|x|NEGATIVE|en"),
        ("2026-11-22", "teams|support|x"),
        ("2026-11-23", "interactions|tiktok|NEGATIVE|en"),
    ]
    assert snapshot.items_read == 3
    # And a team's summary reads its routed cells too
    with_routed = counters.load(date(2026, 11, 21), date(2026, 11, 23))
    assert ("2026-11-22", "routed|support|x|NEGATIVE|en") in {(c.day, c.dimension) for c in with_routed.cells}
    assert with_routed.items_read == 4


def test_the_handler_drops_the_in_flight_facts_of_an_erased_subject(counters, report_handler):
    # Given the report function's environment, and a subject erased after their message occurred
    SuppressionTable(TABLES["suppressions"].local_name).tombstone(SUBJECT, T0 + timedelta(minutes=1))
    # When the event about that message, still queued when the erasure ran, arrives afterwards
    event = sqs_event([body(enriched(1)), body(routed("c1", teams=["support"]))])
    response = report_handler.lambda_handler(event, LambdaContext())
    # Then it is acknowledged and nothing is written: no seen-marker, no counter
    assert response == {"batchItemFailures": []}
    dynamodb = boto3.client("dynamodb")
    assert dynamodb.scan(TableName=SEEN)["Items"] == []
    assert dynamodb.scan(TableName=COUNTERS)["Items"] == []
