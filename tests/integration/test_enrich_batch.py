"""The enrich stage against moto: storage, profile counts, events, partial failures, PENDING."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import jsonschema
import pytest
from moto import mock_aws

from socialcrm.dal.models import InteractionItem, SubjectItem, bind
from socialcrm.dal.repository import InteractionRepository, SubjectRepository
from socialcrm.dedupe import ClaimTable
from socialcrm.enrichment.batch import QueuedRecord, process_batch
from socialcrm.events.publisher import EventPublisher
from socialcrm.local.resources import create_resources
from socialcrm.privacy import NoSuppression
from socialcrm.queueing import InboundQueue
from socialcrm.schemas import SCHEMA_DIR
from socialcrm.topology import BUS_NAME
from tests.support.pipeline import analysed, capture_bus_events, drain, interaction, ref

NOW = datetime(2026, 11, 22, 10, 5, tzinfo=UTC)
EVENT_SCHEMA = json.loads((SCHEMA_DIR / "events" / "InteractionEnriched.schema.json").read_text())


@pytest.fixture
def aws():
    with mock_aws():
        resources = create_resources()
        bind({"interactions": "socialcrm-interactions", "subjects": "socialcrm-subjects"}, region="eu-west-1")
        events_url = capture_bus_events(["InteractionEnriched"])
        yield resources, events_url


def run(
    records,
    *,
    enrich=lambda items: [analysed(i) for i in items],
    publisher=None,
    resources=None,
    store=None,
    claims=None,
    now=NOW,
):
    return process_batch(
        records,
        enrich=enrich,
        store=store or InteractionRepository(),
        claims=claims or ClaimTable("socialcrm-claims"),
        publisher=publisher or EventPublisher(BUS_NAME, "socialcrm.enrich", backoff_seconds=0),
        pending_queue=InboundQueue(resources.queue_urls["inbound"]),
        suppression=NoSuppression(),
        now=now,
        deadline=now + timedelta(seconds=60),
    )


def record(item, message_id=None):
    return QueuedRecord(message_id or f"m-{item.interaction_id}", item.model_dump_json())


def claims_left() -> list[dict]:
    return boto3.client("dynamodb").scan(TableName="socialcrm-claims")["Items"]


def test_a_batch_is_stored_counted_and_announced_without_personal_data(aws):
    resources, events_url = aws
    # Given two messages of one customer and one of another
    items = [
        interaction(1, text="terrible service"),
        interaction(2, text="still broken", minutes=5),
        interaction(3, user="99", text="love it"),
    ]
    # When the batch is enriched
    outcome = run([record(i) for i in items], resources=resources)
    # Then all are stored with their sentiment
    assert outcome.failed == [] and outcome.stored == 3
    stored = InteractionRepository().get(ref("x:1"))
    assert (
        stored.sentiment.label == "NEGATIVE"
        and stored.sentiment_status == "ANALYSED"
        and stored.text == "terrible service"
    )
    # And the first customer's profile counts two negative interactions
    profile = SubjectRepository().get(items[0].subject_id)
    assert profile["interactions"] == 2 and profile["negative"] == 2
    assert profile["platforms"] == ["x"] and profile["handles"] == ["x:shopper"]
    assert profile["first_seen"] == "2026-11-22T10:00:00Z" and profile["last_seen"] == "2026-11-22T10:05:00Z"
    # And one InteractionEnriched per interaction is on the bus, valid and free of text, names and handles
    events = drain(events_url)
    assert sorted(e["detail"]["interaction_ref"] for e in events) == sorted(ref(f"x:{n}") for n in (1, 2, 3))
    for event in events:
        assert event["source"] == "socialcrm.enrich"
        jsonschema.validate(event["detail"], EVENT_SCHEMA)
        flat = json.dumps(event)
        assert "terrible" not in flat and "shopper" not in flat and "A Person" not in flat
        assert "x:1" not in flat  # the platform's id is not on the bus: the keyed ref is


def test_a_replayed_message_is_never_counted_twice(aws):
    resources, _ = aws
    item = interaction(1)
    run([record(item)], resources=resources)
    # When the same interaction arrives again (a redelivery)
    outcome = run([record(item, "m-again")], resources=resources)
    # Then nothing new is stored or analysed and the profile still counts one
    assert outcome.stored == 0 and outcome.duplicates == 1 and outcome.failed == []
    assert outcome.analysed == 0
    assert SubjectRepository().get(item.subject_id)["interactions"] == 1


def test_an_unreadable_record_fails_alone(aws):
    resources, _ = aws
    good = interaction(1)
    outcome = run([QueuedRecord("poison", '{"not": "an interaction"}'), record(good)], resources=resources)
    # Then only the poison record goes back to SQS (and, after the retry budget, to the DLQ)
    assert outcome.failed == ["poison"]
    assert InteractionRepository().get(ref("x:1")) is not None


def test_a_pending_sentiment_is_stored_requeued_and_completed_later(aws):
    resources, _ = aws
    item = interaction(1)
    # Given Comprehend is unavailable: the enrichment marks the interaction PENDING
    pending = item.model_copy(update={"language": "en", "sentiment_status": "PENDING"})
    outcome = run([record(item)], enrich=lambda items: [pending], resources=resources)
    # Then it is stored without sentiment and queued again for later
    assert outcome.stored == 1 and outcome.pending == 1 and outcome.failed == []
    assert InteractionRepository().get(ref("x:1")).sentiment_status == "PENDING"
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=resources.queue_urls["inbound"], AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    # When it comes back and Comprehend answers
    outcome = run([record(item, "m-later")], resources=resources)
    # Then the stored interaction gets its sentiment and the profile counts it once
    assert outcome.completed == 1
    assert InteractionRepository().get(ref("x:1")).sentiment.label == "NEGATIVE"
    profile = SubjectRepository().get(item.subject_id)
    assert profile["interactions"] == 1 and profile["negative"] == 1


class RejectingFirstEntries:
    """EventBridge answering with per-entry failures for the first n entries, once."""

    def __init__(self, client, failures: int) -> None:
        self.client, self.failures, self.calls = client, failures, []

    def put_events(self, Entries):
        self.calls.append([json.loads(e["Detail"])["interaction_ref"] for e in Entries])
        if self.failures:
            failing, self.failures = self.failures, 0
            rest = self.client.put_events(Entries=Entries[failing:])["Entries"]
            return {
                "FailedEntryCount": failing,
                "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "x"}] * failing + rest,
            }
        return self.client.put_events(Entries=Entries)


def test_only_rejected_events_are_retried(aws):
    resources, events_url = aws
    client = RejectingFirstEntries(boto3.client("events"), failures=2)
    publisher = EventPublisher(BUS_NAME, "socialcrm.enrich", client=client, backoff_seconds=0)
    items = [interaction(n) for n in range(1, 13)]
    outcome = run([record(i) for i in items], publisher=publisher, resources=resources)
    # Then 12 events in calls of at most 10, and only the two rejected ones are sent again
    assert outcome.failed == []
    assert [len(call) for call in client.calls] == [10, 2, 2]
    assert client.calls[1] == [ref("x:1"), ref("x:2")]
    assert len(drain(events_url)) == 12


def test_events_still_rejected_after_retries_fail_their_records(aws):
    resources, _ = aws

    class AlwaysRejecting:
        def put_events(self, Entries):
            return {
                "FailedEntryCount": len(Entries),
                "Entries": [{"ErrorCode": "ThrottlingException"}] * len(Entries),
            }

    publisher = EventPublisher(BUS_NAME, "socialcrm.enrich", client=AlwaysRejecting(), backoff_seconds=0)
    item = interaction(1)
    outcome = run([record(item)], publisher=publisher, resources=resources)
    # Then the record is retried by SQS; the interaction is stored once and the retry does not recount it
    assert outcome.failed == ["m-x:1"]
    retry = run([record(item)], resources=resources)
    assert retry.failed == [] and SubjectRepository().get(item.subject_id)["interactions"] == 1


def test_the_stored_tables_match_the_topology():
    from socialcrm.topology import TABLES

    for key, model in {"interactions": InteractionItem, "subjects": SubjectItem}.items():
        spec = TABLES[key]
        assert model._hash_keyname == spec.partition_key.name
        assert model._range_keyname == (spec.sort_key.name if spec.sort_key else None)
        indexes = (
            {name: index for name, index in model._indexes.items()} if hasattr(model, "_indexes") else {}
        )
        assert {i.name for i in spec.indexes} == {idx.Meta.index_name for idx in indexes.values()}
