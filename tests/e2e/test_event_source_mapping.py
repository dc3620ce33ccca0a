"""The local stack feeds each queue to its function as Lambda's SQS event source mapping does.

On the stack's embedded AWS: the real inbound queue and its DLQ, and scratch queues read by a
:class:`QueuePoller` with a recording handler, to observe batches, partial failures and redrive.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from typing import Any

import boto3
import pytest

from socialcrm.local import deliveries as d
from socialcrm.local.poller import QueuePoller
from socialcrm.topology import QUEUES, FunctionSpec, QueueSpec
from tests.e2e.pipeline import now, unique_number, wait_until

pytestmark = pytest.mark.e2e


class RecordingHandler:
    """A function that records every event and fails the records whose body is in ``failing``."""

    def __init__(self, failing: frozenset[str] = frozenset(), raise_first: bool = False) -> None:
        self.failing, self.raise_first = failing, raise_first
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self.lock:
            self.events.append(event)
            if self.raise_first and len(self.events) == 1:
                raise RuntimeError("the first invocation crashes")
        failures = [r["messageId"] for r in event["Records"] if r["body"] in self.failing]
        return {"batchItemFailures": [{"itemIdentifier": m} for m in failures]}

    def bodies(self) -> Counter[str]:
        with self.lock:
            return Counter(r["body"] for e in self.events for r in e["Records"])


@pytest.fixture
def scratch_queue(stack):
    """A queue with a DLQ after two receives, and a function spec reading it in batches of four."""
    sqs = boto3.client("sqs")
    name = f"e2e-scratch-{unique_number()}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName=name,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})},
    )["QueueUrl"]
    queue = QueueSpec(
        key=name,
        env_var="SCRATCH_QUEUE_URL",
        visibility_timeout_seconds=30,
        max_receive_count=2,
        batch_size=4,
        batching_window_seconds=0,
    )
    function = FunctionSpec(
        key="scratch", handler="tests.e2e.scratch", memory_mb=128, timeout_seconds=5, queue=name
    )
    yield sqs, url, dlq_url, queue, function
    sqs.delete_queue(QueueUrl=url)
    sqs.delete_queue(QueueUrl=dlq_url)


def start_poller(scratch_queue, handler: RecordingHandler, window: float = 0.3) -> QueuePoller:
    sqs, url, _dlq, queue, function = scratch_queue
    poller = QueuePoller(
        queue,
        function,
        handler,
        sqs=sqs,
        queue_url=url,
        region="eu-west-1",
        retry_delay_seconds=0,
        batching_window_seconds=window,
    )
    poller.start()
    return poller


def dlq_bodies(sqs: Any, dlq_url: str) -> list[dict[str, Any]]:
    got = sqs.receive_message(
        QueueUrl=dlq_url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0
    )
    return got.get("Messages", [])


def test_a_record_the_enrich_function_cannot_read_ends_in_the_dlq_and_the_rest_of_its_batch_is_stored(
    stack, pipeline
):
    # Given an unreadable message on the inbound queue, next to a genuine delivery
    sqs = boto3.client("sqs")
    poison = f"not an interaction {unique_number()}"
    sqs.send_message(QueueUrl=stack.resources.queue_urls["inbound"], MessageBody=poison)
    genuine = d.tiktok_message(
        str(unique_number()), "-000buyerOpenId", "buyer", "Is the black jacket in stock?", now()
    )

    # When the pipeline runs
    assert pipeline.deliver(genuine).status_code == 200

    # Then the genuine one is stored, and the unreadable one reaches the DLQ after the receive limit
    pipeline.interaction(genuine.interaction_ids[0])
    dead: list[dict[str, Any]] = []
    wait_until(
        lambda: (
            dead.extend(
                m for m in dlq_bodies(sqs, stack.resources.dlq_urls["inbound"]) if m["Body"] == poison
            )
            or bool(dead)
        ),
        what="poison message in the DLQ",
    )
    assert int(dead[0]["Attributes"]["ApproximateReceiveCount"]) >= QUEUES["inbound"].max_receive_count


def test_successes_are_deleted_and_a_failing_record_is_retried_then_dead_lettered(scratch_queue):
    # Given nine good messages and one the function always fails
    sqs, url, dlq_url, _queue, _function = scratch_queue
    handler = RecordingHandler(failing=frozenset({"bad"}))
    bodies = [f"good-{n}" for n in range(9)] + ["bad"]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)

    # When the poller feeds them to the function
    poller = start_poller(scratch_queue, handler)
    try:
        wait_until(
            lambda: any(m["Body"] == "bad" for m in dlq_bodies(sqs, dlq_url)), what="bad message in the DLQ"
        )
    finally:
        poller.stop()

    # Then each good one was handled once, the bad one as often as the receive limit allows, in batches of four at most
    seen = handler.bodies()
    assert {body: seen[body] for body in bodies[:-1]} == dict.fromkeys(bodies[:-1], 1)
    assert seen["bad"] == 2
    assert max(len(e["Records"]) for e in handler.events) <= 4
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (
        attributes["ApproximateNumberOfMessages"]
        == attributes["ApproximateNumberOfMessagesNotVisible"]
        == "0"
    )


def test_a_function_that_raises_gets_the_whole_batch_again(scratch_queue):
    # Given three messages and a function whose first invocation crashes
    sqs, url, _dlq, _queue, _function = scratch_queue
    handler = RecordingHandler(raise_first=True)
    for body in ("one", "two", "three"):
        sqs.send_message(QueueUrl=url, MessageBody=body)

    # When the poller feeds them to it
    poller = start_poller(scratch_queue, handler, window=0.5)
    try:
        wait_until(lambda: sum(handler.bodies().values()) >= 6, what="the batch retried")
    finally:
        poller.stop()

    # Then the crashed batch came back whole and nothing was lost
    assert handler.bodies() == Counter({"one": 2, "two": 2, "three": 2})
    retried = handler.events[1]["Records"]
    assert {r["attributes"]["ApproximateReceiveCount"] for r in retried} == {"2"}


def test_the_event_has_the_shape_lambda_gives_an_sqs_consumer(scratch_queue):
    # Given one message with an attribute
    sqs, url, _dlq, queue, _function = scratch_queue
    sqs.send_message(
        QueueUrl=url,
        MessageBody="hello",
        MessageAttributes={"origin": {"DataType": "String", "StringValue": "e2e"}},
    )
    handler = RecordingHandler()

    # When the poller hands it to the function
    poller = start_poller(scratch_queue, handler, window=0)
    try:
        wait_until(lambda: bool(handler.events), what="an invocation")
    finally:
        poller.stop()

    # Then the record carries what Lambda's SQS event carries
    (record,) = handler.events[0]["Records"]
    assert record["body"] == "hello"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(f":{queue.key}")
    assert record["awsRegion"] == "eu-west-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["origin"]["stringValue"] == "e2e"
    assert record["messageId"] and record["receiptHandle"] and record["md5OfBody"]
