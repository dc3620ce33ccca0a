"""TikTok adapter: what each refusal tells TikTok's developer, and the tolerant reading of events.

A refusal's message is the body of the 400/401/405 that is answered, so it is pinned here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from socialcrm.errors import MethodNotAllowedError, SignatureError, StaleTimestampError, UnparseableError
from socialcrm.platforms.base import Delivery
from socialcrm.platforms.tiktok import adapter, signed_headers
from tests.unit.platforms.hostile_inputs import refusal
from tests.unit.platforms.test_tiktok import (
    BUSINESS,
    SECRET,
    VECTOR_BODY,
    VECTOR_HEADER,
    VECTOR_S,
    VECTOR_T,
    delivery_of,
    fixture,
    verify_header,
)


def normalise(payload: dict[str, Any]) -> list:
    return adapter.normalise(delivery_of(payload))


def event(name: str, **content_changes: Any) -> dict[str, Any]:
    """A fixture event whose ``content`` has the given keys changed (``...`` deletes a key)."""
    payload = json.loads(fixture(name))
    content = json.loads(payload["content"])
    for key, value in content_changes.items():
        if value is ...:
            content.pop(key, None)
        else:
            content[key] = value
    payload["content"] = json.dumps(content)
    return payload


# --- handshake and signature -----------------------------------------------------------------------


def test_a_get_is_told_that_tiktok_only_posts():
    message = refusal(MethodNotAllowedError, adapter.handshake, {}, SECRET)
    assert message == "TikTok has no verification handshake: it only POSTs events to this route."


@pytest.mark.parametrize(
    ("header", "message"),
    [
        pytest.param(
            f"t{VECTOR_T},s={VECTOR_S}",
            "The TikTok-Signature header is malformed (expected t=<unix s>,s=<hex>).",
            id="part-without-equals",
        ),
        pytest.param(
            f"t={VECTOR_T},s={VECTOR_S},=extra",
            "The TikTok-Signature header is malformed (expected t=<unix s>,s=<hex>).",
            id="part-without-key",
        ),
        pytest.param(
            f"t={VECTOR_T},s={VECTOR_S},s={VECTOR_S}",
            "The TikTok-Signature header carries a part more than once.",
            id="duplicate-s",
        ),
        pytest.param(
            f"t={VECTOR_T}", "The TikTok-Signature header needs both t=<unix s> and s=<hex>.", id="missing-s"
        ),
        pytest.param(
            f"t=16331745a7,s={VECTOR_S}",
            "The TikTok-Signature timestamp is not a number of seconds.",
            id="non-digit-t",
        ),
        pytest.param(
            f"t={VECTOR_T},s={VECTOR_S[:-1]}",
            "The TikTok-Signature value is not a hex HMAC-SHA256.",
            id="short-s",
        ),
        pytest.param(
            f"t={VECTOR_T},s={VECTOR_S[:32]}={VECTOR_S[32:]}",
            "The TikTok-Signature value is not a hex HMAC-SHA256.",
            id="equals-inside-s",
        ),
        pytest.param(
            f"t={VECTOR_T},s={'0' * 64}",
            "The TikTok-Signature does not match the body.",
            id="wrong-digest",
        ),
    ],
)
def test_each_signature_refusal_says_what_is_wrong(header, message):
    assert refusal(SignatureError, verify_header, header) == message


def test_a_missing_header_is_named():
    message = refusal(SignatureError, adapter.verify, Delivery(VECTOR_BODY, {}), SECRET, VECTOR_T)
    assert message == "The TikTok-Signature header is missing."


def test_a_stale_signature_is_told_the_window():
    message = refusal(StaleTimestampError, verify_header, VECTOR_HEADER, VECTOR_BODY, VECTOR_T + 301)
    assert message == "The TikTok-Signature timestamp is more than 300 s away from now."


def test_the_sender_helper_refuses_an_unknown_argument_naming_it():
    with pytest.raises(TypeError) as raised:
        signed_headers(b"{}", SECRET, VECTOR_T, colour="red")
    assert str(raised.value) == "Unexpected arguments: ['colour']"


# --- body: refusals --------------------------------------------------------------------------------


def test_an_event_without_a_name_is_told_it_needs_one():
    message = refusal(UnparseableError, normalise, {"event": 7})
    assert message == "A TikTok event needs an 'event' name (a string)."


def test_content_that_is_not_a_string_is_refused_naming_the_event_cut_to_64_characters():
    # Given a comment event with a very long name, whose content is an object instead of a JSON string
    name = "comment.create." + "x" * 80
    payload = {"event": name, "create_time": 1, "content": {"comment_id": "1"}}
    # When normalised, Then the 400 names the event, cut to 64 characters
    message = refusal(UnparseableError, normalise, payload)
    assert message == f"A TikTok '{name[:64]}' event needs 'content' as a JSON string."


def test_content_that_is_not_json_is_refused_naming_the_event():
    payload = {**json.loads(fixture("im_receive_msg.json")), "content": "{not json"}
    message = refusal(UnparseableError, normalise, payload)
    assert message == "The 'content' of a TikTok 'im_receive_msg' event is not valid JSON."


def test_content_that_is_not_an_object_is_refused_naming_the_event():
    payload = {**json.loads(fixture("im_receive_msg.json")), "content": "[1, 2]"}
    message = refusal(UnparseableError, normalise, payload)
    assert message == "The 'content' of a TikTok 'im_receive_msg' event must be a JSON object."


@pytest.mark.parametrize(
    ("name", "drop", "field"),
    [
        ("im_receive_msg.json", "message_id", "content.message_id"),
        ("im_receive_msg.json", "from_user", "content.from_user.id"),
        ("comment_create.json", "comment_id", "content.comment_id"),
        ("comment_create.json", "user_id", "content.user_id"),
    ],
)
def test_an_event_lacking_an_id_or_an_author_is_refused_naming_the_field(name, drop, field):
    message = refusal(UnparseableError, normalise, event(name, **{drop: ...}))
    assert message == f"The TikTok event lacks '{field}'."


def test_an_event_with_no_time_anywhere_is_refused_saying_where_time_is_read():
    payload = event("im_receive_msg.json", timestamp=...)
    del payload["create_time"]
    message = refusal(UnparseableError, normalise, payload)
    assert message == "The TikTok event carries no time (content.timestamp or create_time)."


@pytest.mark.parametrize("timestamp", [True, "soon", [1767225599]], ids=["boolean", "words", "list"])
def test_a_time_that_is_not_an_epoch_number_is_refused_saying_so(timestamp):
    message = refusal(UnparseableError, normalise, event("im_receive_msg.json", timestamp=timestamp))
    assert message == "A TikTok time is not an epoch number."


# --- body: what is read ----------------------------------------------------------------------------


def test_a_message_without_a_recipient_is_an_inbound_message_and_kept():
    # Given a customer's message whose content names no to_user
    [draft] = normalise(event("im_receive_msg.json", to_user=...))
    # Then it is still the customer's message to the business
    assert draft.author.user_id == "-000buyerOpenId"
    assert draft.kind == "direct_message"


def test_a_message_addressed_to_the_business_account_is_kept_even_when_it_names_the_account_as_sender():
    # Given a message addressed to the business account that names the account as its sender too
    [draft] = normalise(event("im_receive_msg.json", from_user={"id": BUSINESS}))
    # Then it is inbound (addressed to the business), so it is kept
    assert draft.author.user_id == BUSINESS


def test_a_message_the_business_sends_to_a_customer_is_a_brand_reply_to_them():
    payload = event("im_receive_msg.json", from_user={"id": BUSINESS}, to_user={"id": "-000buyerOpenId"})
    [draft] = normalise(payload)
    assert (draft.kind, draft.customer_id) == ("brand_reply", "-000buyerOpenId")


def test_a_message_without_a_conversation_id_is_keyed_by_the_business_and_the_customer():
    [customer] = normalise(event("im_receive_msg.json", conversation_id=...))
    [answer] = normalise(event("im_send_msg.json", conversation_id=...))
    assert customer.conversation_key == answer.conversation_key == f"dm:{BUSINESS}:-000buyerOpenId"


def test_a_sent_message_that_names_no_customer_is_refused_alone():
    # TikTok sends one event per request: refusing it costs no other event
    message = refusal(UnparseableError, normalise, event("im_send_msg.json", to_user=...))
    assert message == "The TikTok event lacks 'content.to_user.id'."


def test_a_comment_author_given_as_user_openid_is_read():
    [draft] = normalise(event("comment_create.json", user_id=..., user_openid="-000fanOpenId"))
    assert draft.author.user_id == "-000fanOpenId"


def test_a_comment_with_a_parent_comment_id_is_a_reply_to_it():
    [draft] = normalise(event("comment_create.json", parent_comment_id="7457000000000000001"))
    assert draft.kind == "reply"
    assert draft.parent_id == "7457000000000000001"


def test_a_comment_without_its_own_time_takes_the_event_time():
    [draft] = normalise(event("comment_create.json", create_time=...))
    assert draft.occurred_at == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)  # the envelope's create_time


def test_a_comment_time_of_exactly_10_to_the_11_is_read_as_seconds():
    [draft] = normalise(event("comment_create.json", create_time=10**11))
    assert draft.occurred_at == datetime.fromtimestamp(10**11, tz=UTC)


def test_a_comment_text_under_content_is_read():
    [draft] = normalise(event("comment_create.json", text=..., content="Which size fits me?"))
    assert draft.text == "Which size fits me?"


def test_a_comment_without_text_is_kept_with_empty_text():
    [draft] = normalise(event("comment_create.json", text=...))
    assert draft.text == ""


def test_a_handle_that_is_not_text_is_left_out_and_the_comment_kept():
    [draft] = normalise(event("comment_create.json", username=42))
    assert draft.author.handle is None
    assert draft.native_id == "7457000000000000010"
