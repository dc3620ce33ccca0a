"""Duplicates dropped by the enrich stage, before analysis: in one batch, already stored, in two batches
at once; claims that never outlive their batch; a failure at any position leaves nothing hidden."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from socialcrm.dal.models import bind
from socialcrm.dal.repository import InteractionRepository, StoreError, SubjectRepository
from socialcrm.dedupe import ClaimTable
from socialcrm.enrichment.batch import QueuedRecord, process_batch
from socialcrm.events.publisher import EventPublisher
from socialcrm.local.moto_patches import speed_up_transactions
from socialcrm.local.moto_tables import speed_up_and_serialise_tables
from socialcrm.local.resources import create_resources
from socialcrm.privacy import NoSuppression
from socialcrm.queueing import InboundQueue
from socialcrm.topology import BUS_NAME
from tests.support.pipeline import analysed, capture_bus_events, drain, interaction

NOW = datetime(2026, 11, 22, 10, 5, tzinfo=UTC)
CLAIMS = "socialcrm-claims"


@pytest.fixture
def aws():
    speed_up_transactions()
    # DynamoDB applies each conditional write atomically; in-process moto does so only when it serves one
    # request at a time (two threads' claims of one message could otherwise both succeed)
    speed_up_and_serialise_tables()
    with mock_aws():
        resources = create_resources()
        bind({"interactions": "socialcrm-interactions", "subjects": "socialcrm-subjects"}, region="eu-west-1")
        yield resources, capture_bus_events(["InteractionEnriched"])


class CountingAnalyser:
    """The analysis port, counting every interaction it is handed (Comprehend's documents)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, items):
        with self.lock:
            self.seen += [i.interaction_ref for i in items]
        return [analysed(i) for i in items]


def run(resources, records, *, analyser=None, store=None, claims=None, now=NOW, publisher=None):
    return process_batch(
        records,
        enrich=analyser or CountingAnalyser(),
        store=store or InteractionRepository(),
        claims=claims or ClaimTable(CLAIMS),
        publisher=publisher or EventPublisher(BUS_NAME, "socialcrm.enrich", backoff_seconds=0),
        pending_queue=InboundQueue(resources.queue_urls["inbound"]),
        suppression=NoSuppression(),
        now=now,
        deadline=now + timedelta(seconds=60),
    )


def record(item, message_id):
    return QueuedRecord(message_id, item.model_dump_json())


def claims_left() -> list[dict]:
    return boto3.client("dynamodb").scan(TableName=CLAIMS)["Items"]


def test_a_message_twice_in_one_batch_is_analysed_stored_and_announced_once(aws):
    resources, events_url = aws
    # Given a batch holding the same message three times (a platform retry and SQS's own redelivery)
    item, analyser = interaction(1), CountingAnalyser()
    batch = [record(item, "m-1"), record(item, "m-2"), record(interaction(2), "m-3"), record(item, "m-4")]
    # When it is enriched
    outcome = run(resources, batch, analyser=analyser)
    # Then each interaction is analysed, stored and announced once, and every message is acknowledged
    assert outcome.failed == [] and outcome.stored == 2 and outcome.duplicates == 2
    assert sorted(analyser.seen) == sorted({item.interaction_ref, interaction(2).interaction_ref})
    assert len(drain(events_url)) == 2
    assert SubjectRepository().get(item.subject_id)["interactions"] == 2
    assert claims_left() == []


def test_a_platform_retry_of_a_stored_message_is_neither_analysed_nor_announced_again(aws):
    resources, events_url = aws
    item = interaction(1)
    run(resources, [record(item, "m-1")])
    drain(events_url)
    # When the platform delivers it again later (a new delivery: received later)
    retry = item.model_copy(update={"received_at": item.received_at + timedelta(minutes=10)})
    analyser = CountingAnalyser()
    outcome = run(resources, [record(retry, "m-2")], analyser=analyser)
    # Then nothing reaches the analysis, the store, the profile or the bus
    assert outcome.duplicates == 1 and outcome.analysed == 0 and analyser.seen == []
    assert drain(events_url) == []
    assert SubjectRepository().get(item.subject_id)["interactions"] == 1


def test_the_same_queued_message_seen_again_after_it_was_stored_is_announced_again_not_analysed(aws):
    resources, events_url = aws
    # Given a message stored by an attempt whose announcement may have failed
    item = interaction(1)
    run(resources, [record(item, "m-1")])
    drain(events_url)
    # When SQS delivers the same message again
    analyser = CountingAnalyser()
    outcome = run(resources, [record(item, "m-1")], analyser=analyser)
    # Then it is announced again (consumers count by fact) from the stored copy, and not analysed
    assert analyser.seen == [] and outcome.announced_again == 1
    [event] = drain(events_url)
    assert event["detail"]["sentiment"] == "NEGATIVE"


def test_a_message_another_batch_is_working_on_is_acknowledged_without_analysis(aws):
    resources, _ = aws
    item = interaction(1)
    # Given another invocation holds a live claim on the message
    held = ClaimTable(CLAIMS).claim([item.interaction_ref], until=NOW + timedelta(seconds=50), now=NOW)
    assert held.claimed == [item.interaction_ref]
    # When this batch meets its copy
    analyser = CountingAnalyser()
    outcome = run(resources, [record(item, "m-2"), record(interaction(2), "m-3")], analyser=analyser)
    # Then this copy is acknowledged (the other batch's copy stays queued until it is done), not analysed
    assert outcome.failed == [] and outcome.duplicates == 1 and outcome.stored == 1
    assert analyser.seen == [interaction(2).interaction_ref]
    # And this batch released only its own claim
    assert [c["ref"]["S"] for c in claims_left()] == [item.interaction_ref]


def test_a_claim_left_by_an_invocation_that_died_does_not_hide_the_message(aws):
    resources, _ = aws
    item = interaction(1)
    # Given an invocation claimed the message until its deadline and then died (no release)
    ClaimTable(CLAIMS).claim([item.interaction_ref], until=NOW + timedelta(seconds=60), now=NOW)
    # When SQS makes the message visible again (the visibility timeout is six times the function's)
    later = NOW + timedelta(minutes=6)
    outcome = run(resources, [record(item, "m-1")], now=later)
    # Then the lease has run out and this batch analyses and stores it
    assert outcome.stored == 1 and outcome.failed == [] and claims_left() == []


def test_two_batches_at_once_analyse_and_store_a_shared_message_once(aws):
    resources, _ = aws
    # Given two batches that share ten messages, run at the same moment
    shared = [interaction(n) for n in range(1, 11)]
    analyser = CountingAnalyser()
    start = threading.Barrier(2)
    outcomes = []

    def batch(prefix: str) -> None:
        start.wait()
        outcomes.append(
            run(resources, [record(i, f"{prefix}-{i.native_id}") for i in shared], analyser=analyser)
        )

    threads = [threading.Thread(target=batch, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every message was analysed and stored exactly once between them, and nothing failed
    assert sorted(analyser.seen) == sorted(i.interaction_ref for i in shared)
    assert sum(o.stored for o in outcomes) == 10 and all(o.failed == [] for o in outcomes)
    assert SubjectRepository().get(shared[0].subject_id)["interactions"] == 10
    assert claims_left() == []


class FailingAt:
    """The interaction store, failing the write of the interaction at one position of the batch."""

    def __init__(self, position: int) -> None:
        self.real, self.position, self.writes = InteractionRepository(), position, 0

    def stored(self, refs):
        return self.real.stored(refs)

    def store_new(self, interaction, *, enriched_at):
        self.writes += 1
        if self.writes == self.position:
            raise StoreError("injected")
        return self.real.store_new(interaction, enriched_at=enriched_at)

    def complete_pending(self, interaction, *, enriched_at):
        return self.real.complete_pending(interaction, enriched_at=enriched_at)


@pytest.mark.parametrize("position", range(1, 11))
def test_a_failure_at_any_position_leaves_no_claim_and_the_retry_stores_every_message_once(aws, position):
    resources, events_url = aws
    items = [interaction(n) for n in range(1, 11)]
    batch = [record(i, f"m-{i.native_id}") for i in items]
    # When the store fails on one message of a ten-message batch
    first = run(resources, batch, store=FailingAt(position))
    # Then only that message is retried, and no claim outlives the batch
    assert first.failed == [f"m-{position}"] and claims_left() == []
    # And SQS's retry of it stores it: every message stored once, announced, counted once
    retry = run(resources, [batch[position - 1]])
    assert retry.stored == 1 and retry.failed == []
    stored = InteractionRepository().stored([i.interaction_ref for i in items])
    assert len(stored) == 10
    assert SubjectRepository().get(items[0].subject_id)["interactions"] == 10
    assert len({e["detail"]["interaction_ref"] for e in drain(events_url)}) == 10


def test_claims_are_released_even_when_the_batch_fails_as_a_whole(aws):
    resources, _ = aws

    class Broken:
        def publish(self, details, trace_header=None):
            raise RuntimeError("the bus client is broken")

    with pytest.raises(RuntimeError):
        run(resources, [record(interaction(1), "m-1")], publisher=Broken())
    assert claims_left() == []


def test_an_unreachable_claims_table_retries_the_records_and_analyses_nothing(aws):
    resources, _ = aws
    analyser = CountingAnalyser()
    outcome = run(
        resources, [record(interaction(1), "m-1")], analyser=analyser, claims=ClaimTable("no-such-table")
    )
    assert outcome.failed == ["m-1"] and analyser.seen == [] and outcome.stored == 0
