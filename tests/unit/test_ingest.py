"""The ingest domain with an in-memory queue: what a platform's delivery gets queued, refused or answered.

The clock is the delivery's ``received_at``: signatures with a replay window are checked against it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from socialcrm.errors import (
    PayloadTooLargeError,
    PlatformNotConfiguredError,
    QueueUnavailableError,
    SignatureError,
    StaleTimestampError,
)
from socialcrm.ingest.service import IngestOutcome, admit, answer_handshake, ingest_delivery
from socialcrm.models import InteractionDraft, interaction_ref
from socialcrm.platforms import Delivery, generic, meta, tiktok, x
from socialcrm.queueing import SQS_BATCH_BYTES, SendReport
from socialcrm.topology import MAX_WEBHOOK_BYTES

RECEIVED_AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # a past instant: the wall clock is elsewhere


class MemoryQueue:
    """The inbound queue in memory; ``failing`` interaction ids are refused as SQS would refuse entries."""

    def __init__(self, failing: set[str] | None = None) -> None:
        self.failing = failing or set()
        self.queued: list = []
        self.calls = 0

    def send(self, interactions: list) -> SendReport:
        self.calls += 1
        report = SendReport()
        for interaction in interactions:
            if interaction.interaction_id in self.failing:
                report.failed.append(interaction.interaction_ref)
            else:
                self.queued.append(interaction)
                report.sent.append(interaction.interaction_ref)
        return report


def meta_comments(*comments: tuple[str, str]) -> bytes:
    """A Meta Page delivery with one feed comment per (comment id, text)."""
    changes = [
        {
            "field": "feed",
            "value": {
                "from": {"id": f"user-{n}", "name": "A Person"},
                "message": text,
                "post_id": "1029_1",
                "comment_id": comment_id,
                "parent_id": "1029_1",
                "created_time": 1763805000,
                "item": "comment",
                "verb": "add",
            },
        }
        for n, (comment_id, text) in enumerate(comments)
    ]
    payload = {"object": "page", "entry": [{"id": "1029", "time": 1763805001, "changes": changes}]}
    return json.dumps(payload).encode()


def deliver_meta(body: bytes, secrets, queue: MemoryQueue, **headers: str) -> IngestOutcome:
    signed = {**meta.signed_headers(body, secrets.meta), **headers}
    return ingest_delivery(
        "meta", Delivery(body, signed), secrets=secrets, queue=queue, received_at=RECEIVED_AT
    )


def draft(text: str = "hello", native_id: str = "c-1") -> InteractionDraft:
    return InteractionDraft(
        platform="generic",
        kind="comment",
        native_id=native_id,
        author={"user_id": "u-1"},
        text=text,
        occurred_at=RECEIVED_AT - timedelta(minutes=1),
    )


def admitted(item: InteractionDraft, secrets) -> Any:
    pepper = secrets.subject_pepper.get_secret_value()
    return admit(item, pepper=pepper, received_at=RECEIVED_AT, platform="generic")


# --- the clock ---------------------------------------------------------------------------------------


def test_a_generic_delivery_is_verified_against_the_time_it_was_received(dev_secrets):
    # Given a Standard Webhooks delivery signed when it was received, a while ago
    payload = {
        "type": "interaction.created",
        "data": {"native_id": "m-1", "kind": "comment", "text": "Hi", "author": {"user_id": "u-1"}},
    }
    body = json.dumps(payload).encode()
    headers = generic.signed_headers(body, dev_secrets.generic, RECEIVED_AT.timestamp())
    queue = MemoryQueue()
    # When it is ingested with that received_at
    outcome = ingest_delivery(
        "generic", Delivery(body, headers), secrets=dev_secrets, queue=queue, received_at=RECEIVED_AT
    )
    # Then it is inside the ±5 minute window (of received_at, not of the machine's clock) and queued
    assert outcome == IngestOutcome(received=1, queued=1)
    assert queue.queued[0].received_at == RECEIVED_AT


def test_a_tiktok_delivery_signed_six_minutes_before_it_was_received_is_stale(dev_secrets):
    body = json.dumps({"event": "authorization.removed", "create_time": 1, "content": "{}"}).encode()
    headers = tiktok.signed_headers(
        body, dev_secrets.tiktok, (RECEIVED_AT - timedelta(minutes=6)).timestamp()
    )
    with pytest.raises(StaleTimestampError):
        ingest_delivery(
            "tiktok",
            Delivery(body, headers),
            secrets=dev_secrets,
            queue=MemoryQueue(),
            received_at=RECEIVED_AT,
        )


# --- what is queued ------------------------------------------------------------------------------------


def test_every_comment_of_a_delivery_is_queued_keyed_and_timed(dev_secrets):
    queue = MemoryQueue()
    outcome = deliver_meta(meta_comments(("1029_1", "first"), ("1029_2", "second")), dev_secrets, queue)
    assert outcome == IngestOutcome(received=2, queued=2, refused=0, repaired=0)
    pepper = dev_secrets.subject_pepper.get_secret_value()
    assert [i.interaction_ref for i in queue.queued] == [
        interaction_ref(pepper, "facebook:1029_1"),
        interaction_ref(pepper, "facebook:1029_2"),
    ]
    assert {i.received_at for i in queue.queued} == {RECEIVED_AT}


def test_an_item_repeated_within_a_delivery_is_counted_and_queued_once_keeping_the_first(dev_secrets):
    queue = MemoryQueue()
    comments = meta_comments(("1029_1", "first"), ("1029_1", "again"), ("1029_2", "second"))
    outcome = deliver_meta(comments, dev_secrets, queue)
    assert outcome == IngestOutcome(received=2, queued=2)
    assert [i.text for i in queue.queued] == ["first", "second"]


def test_a_delivery_with_nothing_for_the_crm_queues_nothing_and_calls_no_queue(dev_secrets):
    queue = MemoryQueue()
    body = json.dumps(
        {"object": "page", "entry": [{"id": "1029", "time": 1763805001, "changes": []}]}
    ).encode()
    assert deliver_meta(body, dev_secrets, queue) == IngestOutcome(received=0, queued=0)
    assert queue.calls == 0


def test_a_text_no_encoder_can_write_is_repaired_and_counted(dev_secrets):
    # Given a sender's interaction whose text holds half an emoji (a lone surrogate escape)
    payload = {
        "type": "interaction.created",
        "data": {
            "native_id": "m-1",
            "kind": "comment",
            "text": "half \ud83d an emoji",
            "author": {"user_id": "u-1"},
        },
    }
    body = json.dumps(payload).encode()
    headers = generic.signed_headers(body, dev_secrets.generic, RECEIVED_AT.timestamp())
    queue = MemoryQueue()
    # When it is ingested, Then it is queued with the replacement character and counted as repaired
    outcome = ingest_delivery(
        "generic", Delivery(body, headers), secrets=dev_secrets, queue=queue, received_at=RECEIVED_AT
    )
    assert outcome == IngestOutcome(received=1, queued=1, refused=0, repaired=1)
    assert queue.queued[0].text == "half \ufffd an emoji"


def test_items_refused_alone_are_counted_and_the_rest_queued(dev_secrets):
    queue = MemoryQueue()
    comments = [("1029_ok", "fine"), ("1029_" + "9" * 300, "id too long"), ("1029_big", "x" * (300 * 1024))]
    outcome = deliver_meta(meta_comments(*comments), dev_secrets, queue)
    assert outcome == IngestOutcome(received=3, queued=1, refused=2)
    assert [i.native_id for i in queue.queued] == ["1029_ok"]


def test_a_queueing_failure_is_a_503_so_the_platform_retries(dev_secrets):
    queue = MemoryQueue(failing={"facebook:1029_2"})
    with pytest.raises(QueueUnavailableError) as raised:
        deliver_meta(meta_comments(("1029_1", "a"), ("1029_2", "b")), dev_secrets, queue)
    assert raised.value.status == 503
    assert raised.value.message == "The delivery could not be queued; retry it."


# --- 256 KiB -------------------------------------------------------------------------------------------


def padded_to(size: int, secrets) -> InteractionDraft:
    """A draft whose queued interaction is exactly ``size`` bytes of JSON."""
    base = len(admitted(draft(text=""), secrets).model_dump_json().encode())
    return draft(text="x" * (size - base))


def test_an_interaction_of_exactly_256_kib_is_admitted(dev_secrets):
    item = padded_to(SQS_BATCH_BYTES, dev_secrets)
    interaction = admitted(item, dev_secrets)
    assert interaction is not None
    assert len(interaction.model_dump_json().encode()) == SQS_BATCH_BYTES


def test_an_interaction_one_byte_over_256_kib_is_refused(dev_secrets):
    assert admitted(padded_to(SQS_BATCH_BYTES + 1, dev_secrets), dev_secrets) is None


@pytest.mark.parametrize("native_id", ["   ", "x" * 257, "new\nline"], ids=["spaces", "too-long", "newline"])
def test_an_item_whose_id_breaks_the_id_rules_is_refused(dev_secrets, native_id):
    assert admitted(draft(native_id=native_id), dev_secrets) is None


@pytest.mark.parametrize(
    "key",
    ["conversation:\ud83d", "dm:1:\n2", " ", "c" * 601],
    ids=["lone-surrogate", "newline", "blank", "too-long"],
)
def test_an_item_whose_conversation_key_breaks_the_id_rules_is_refused_alone(dev_secrets, key):
    # A key is built from ids a platform sent (the post a reply answers): half an emoji there must cost
    # that item, never the delivery (a 500 that the platform retries for ever)
    assert admitted(draft().model_copy(update={"conversation_key": key}), dev_secrets) is None
    assert admitted(draft(), dev_secrets) is not None


# --- refusals of the whole delivery --------------------------------------------------------------------


def test_a_body_over_6_mb_is_a_413_before_anything_else(dev_secrets):
    body = b" " * (MAX_WEBHOOK_BYTES + 1)
    with pytest.raises(PayloadTooLargeError) as raised:
        ingest_delivery(
            "meta", Delivery(body, {}), secrets=dev_secrets, queue=MemoryQueue(), received_at=RECEIVED_AT
        )
    assert raised.value.message == f"The body is over {MAX_WEBHOOK_BYTES} bytes."


def test_a_body_of_exactly_6_mb_is_checked_for_its_signature(dev_secrets):
    body = b" " * MAX_WEBHOOK_BYTES
    with pytest.raises(SignatureError):
        ingest_delivery(
            "meta", Delivery(body, {}), secrets=dev_secrets, queue=MemoryQueue(), received_at=RECEIVED_AT
        )


def test_a_platform_without_a_secret_is_not_served_here(dev_secrets):
    secrets = dev_secrets.model_copy(update={"tiktok": None})
    with pytest.raises(PlatformNotConfiguredError) as raised:
        answer_handshake("tiktok", {}, secrets)
    assert raised.value.status == 404
    assert raised.value.message == "The platform 'tiktok' is not configured on this deployment."


def test_a_handshake_is_answered_by_the_platform_with_its_secret(dev_secrets):
    token = dev_secrets.meta.verify_token.get_secret_value()
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": token}
    assert answer_handshake("meta", query, dev_secrets).body == "1158201444"


def test_every_repaired_item_of_a_delivery_is_counted(dev_secrets):
    # Given an X delivery of two posts whose texts hold half an emoji, then a clean one
    tweets = [
        {"id_str": str(n), "user": {"id_str": "3001969357"}, "timestamp_ms": "1763805000000", "text": text}
        for n, text in enumerate(["half \ud83d one", "half \ud83d two", "clean"], start=1)
    ]
    body = json.dumps({"for_user_id": "2244994945", "tweet_create_events": tweets}).encode()
    headers = x.signed_headers(body, dev_secrets.x, RECEIVED_AT.timestamp())
    # When it is ingested, Then both repairs are counted
    outcome = ingest_delivery(
        "x", Delivery(body, headers), secrets=dev_secrets, queue=MemoryQueue(), received_at=RECEIVED_AT
    )
    assert outcome == IngestOutcome(received=3, queued=3, refused=0, repaired=2)


def test_a_refused_item_is_logged_with_the_platform_and_the_fields_never_the_value(dev_secrets, caplog):
    # Given a Meta comment whose id holds a newline
    deliver_meta(meta_comments(("1029_secret\nvalue", "hello")), dev_secrets, MemoryQueue())
    # Then the refusal is logged for the operator: which platform, why, which fields; never the id itself
    [refusal] = [record for record in caplog.records if record.getMessage() == "item refused"]
    assert (refusal.platform, refusal.reason, refusal.fields) == (
        "meta",
        "invalid_id",
        ["conversation_key", "native_id"],  # the comment's id is its thread's key too
    )
    assert all("1029_secret" not in str(vars(record)) for record in caplog.records)
