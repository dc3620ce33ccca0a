"""The webhook path under faults and poison: a 200 means every interaction is queued; a failure at any
position leaves nothing behind that turns the retry into a "duplicate"; one bad item costs only itself."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from socialcrm.dal.models import bind
from socialcrm.dal.repository import InteractionRepository
from socialcrm.dedupe import ClaimTable
from socialcrm.enrichment.batch import QueuedRecord, process_batch
from socialcrm.errors import QueueUnavailableError
from socialcrm.events.publisher import EventPublisher
from socialcrm.ingest.service import ingest_delivery
from socialcrm.local.moto_patches import speed_up_transactions
from socialcrm.local.resources import create_resources
from socialcrm.models import subject_id
from socialcrm.platforms import Delivery
from socialcrm.platforms.meta import signed_headers
from socialcrm.privacy import NoSuppression
from socialcrm.queueing import InboundQueue
from socialcrm.topology import BUS_NAME
from tests.support.pipeline import analysed


def comments(*ids: str, texts: dict[str, str] | None = None) -> bytes:
    """A Meta Page delivery with one feed comment per id (json.dumps escapes as Meta does)."""
    changes = [
        {
            "field": "feed",
            "value": {
                "from": {"id": f"user-{n}", "name": "A Person"},
                "message": (texts or {}).get(comment_id, f"comment {n}"),
                "post_id": "1029_1",
                "comment_id": comment_id,
                "parent_id": "1029_1",
                "created_time": 1755599999,
                "item": "comment",
                "verb": "add",
            },
        }
        for n, comment_id in enumerate(ids)
    ]
    return json.dumps(
        {"object": "page", "entry": [{"id": "1029", "time": 1755600001, "changes": changes}]}
    ).encode()


class FailingMessage:
    """An SQS client that refuses the entry of one comment (by id) in every SendMessageBatch, ``times``
    times, and passes everything else through; it counts the batch calls."""

    def __init__(self, real, comment_id: str | None = None, times: int = 0) -> None:
        self.real, self.comment_id, self.times, self.sent = real, comment_id, times, 0

    def send_message_batch(self, QueueUrl, Entries):
        self.sent += 1
        failing = [e for e in Entries if f'"native_id":"{self.comment_id}"' in e["MessageBody"]]
        if self.times <= 0 or not failing:
            return self.real.send_message_batch(QueueUrl=QueueUrl, Entries=Entries)
        self.times -= 1
        kept = [e for e in Entries if e not in failing]
        response = self.real.send_message_batch(QueueUrl=QueueUrl, Entries=kept) if kept else {}
        return {
            "Successful": response.get("Successful", []),
            "Failed": [{"Id": e["Id"], "Code": "InternalError", "SenderFault": False} for e in failing],
        }


@pytest.fixture
def aws(dev_secrets):
    speed_up_transactions()
    with mock_aws():
        resources = create_resources()
        bind({"interactions": "socialcrm-interactions", "subjects": "socialcrm-subjects"}, region="eu-west-1")
        yield resources


def deliver(body: bytes, secrets, queue) -> dict:
    delivery = Delivery(body=body, headers=signed_headers(body, secrets.meta, time.time()))
    outcome = ingest_delivery(
        "meta", delivery, secrets=secrets, queue=queue, received_at=datetime.now(tz=UTC)
    )
    return {"received": outcome.received, "queued": outcome.queued, "refused": outcome.refused}


def drain_and_enrich(resources) -> int:
    """Every queued message through the enrich stage; returns how many interactions are stored."""
    sqs = boto3.client("sqs")
    records = []
    while True:
        got = sqs.receive_message(QueueUrl=resources.queue_urls["inbound"], MaxNumberOfMessages=10)
        if not got.get("Messages"):
            break
        for message in got["Messages"]:
            records.append(QueuedRecord(message["MessageId"], message["Body"]))
            sqs.delete_message(
                QueueUrl=resources.queue_urls["inbound"], ReceiptHandle=message["ReceiptHandle"]
            )
    now = datetime.now(tz=UTC)
    outcome = process_batch(
        records,
        enrich=lambda items: [analysed(i) for i in items],
        store=InteractionRepository(),
        claims=ClaimTable("socialcrm-claims"),
        publisher=EventPublisher(BUS_NAME, "socialcrm.enrich", backoff_seconds=0),
        pending_queue=InboundQueue(resources.queue_urls["inbound"]),
        suppression=NoSuppression(),
        now=now,
        deadline=now + timedelta(seconds=60),
    )
    assert outcome.failed == []
    return outcome.stored


@pytest.mark.parametrize("position", range(10))
def test_a_queueing_failure_at_any_position_loses_nothing_after_one_retry(aws, dev_secrets, position):
    resources = aws
    body = comments(*(f"1029_{n}" for n in range(10)))
    url = resources.queue_urls["inbound"]
    # Given SQS refuses the comment at one position of the delivery (the call and its retry)
    flaky = InboundQueue(url, client=FailingMessage(boto3.client("sqs"), f"1029_{position}", times=2))
    # When the platform delivers: the answer is a 503, so the platform retries
    with pytest.raises(QueueUnavailableError):
        deliver(body, dev_secrets, flaky)
    # And the retry, with SQS healthy again, is a 200 with every item queued: nothing was "claimed"
    assert deliver(body, dev_secrets, InboundQueue(url)) == {"received": 10, "queued": 10, "refused": 0}
    # Then the enrich stage stores each of the ten comments once (the copies from the first try dropped)
    assert drain_and_enrich(resources) == 10


def test_one_poison_item_costs_only_itself(aws, dev_secrets):
    resources = aws
    # Given a delivery with a good comment and four bad ones
    ids = ["1029_good", "1029_half_emoji", "1029_" + "9" * 5000, "1029_new\nline", "1029_huge"]
    body = comments(*ids, texts={"1029_half_emoji": "broken \ud83d emoji", "1029_huge": "x" * (300 * 1024)})
    # When it is delivered
    answer = deliver(body, dev_secrets, InboundQueue(resources.queue_urls["inbound"]))
    # Then the good comment and the one with half an emoji (repaired) are queued; the 5,000-digit id,
    # the id with a newline and the 300 KiB comment are refused alone, and the answer is a 200
    assert answer == {"received": 5, "queued": 2, "refused": 3}
    assert drain_and_enrich(resources) == 2


def test_a_repaired_text_is_stored_with_the_replacement_character(aws, dev_secrets):
    resources = aws
    body = comments("1029_1", texts={"1029_1": "half \ud83d an emoji"})
    deliver(body, dev_secrets, InboundQueue(resources.queue_urls["inbound"]))
    drain_and_enrich(resources)
    subject = subject_id(dev_secrets.subject_pepper.get_secret_value(), "facebook", "user-0")
    [message] = InteractionRepository().all_for_subject(subject)
    assert message.text == "half \ufffd an emoji"


def test_a_delivery_of_3000_comments_takes_one_send_per_ten(dev_secrets):
    # Given an SQS that accepts everything and counts its calls (the webhook's only AWS call)
    class CountingSqs:
        def __init__(self) -> None:
            self.calls, self.entries = 0, 0

        def send_message_batch(self, QueueUrl, Entries):
            self.calls, self.entries = self.calls + 1, self.entries + len(Entries)
            return {"Successful": [{"Id": e["Id"], "MessageId": e["Id"]} for e in Entries], "Failed": []}

    sqs = CountingSqs()
    # When Meta delivers 3,000 comments in one request
    answer = deliver(
        comments(*(f"1029_{n}" for n in range(3000))), dev_secrets, InboundQueue("q", client=sqs)
    )
    # Then every one is queued in 300 batch calls of ten, and nothing else is called before the 200
    assert answer == {"received": 3000, "queued": 3000, "refused": 0}
    assert (sqs.calls, sqs.entries) == (300, 3000)
