"""Meta adapter: what each refusal tells Meta's developer, and the less common shapes Meta sends.

A refusal's message is the body of the 400/401/403 that is answered, so it is pinned here.
"""

from __future__ import annotations

from typing import Any

import pytest

from socialcrm.errors import BadRequestError, SignatureError, UnparseableError, VerifyTokenError
from socialcrm.platforms.base import Delivery
from socialcrm.platforms.meta import adapter
from tests.unit.platforms.hostile_inputs import refusal
from tests.unit.platforms.test_meta import SECRET, VECTOR_4_BODY, VECTOR_4_LEGACY_SHA1, at, normalise_json

PAGE = "102938475610293"
IG_ACCOUNT = "17841400000000001"
CUSTOMER = "7234567890123456"


def verify(headers: dict[str, Any]) -> None:
    adapter.verify(Delivery(VECTOR_4_BODY, headers), SECRET, 0.0)


def delivery(product: str, entry: dict[str, Any]) -> dict[str, Any]:
    return {"object": product, "entry": [entry]}


def dm(sender: str = CUSTOMER, recipient: str = PAGE, **message: Any) -> dict[str, Any]:
    """A Messenger/Instagram messaging event without a timestamp of its own."""
    return {
        "sender": {"id": sender},
        "recipient": {"id": recipient},
        "message": {"mid": "m_1", "text": "Hi", **message},
    }


def whatsapp(*messages: dict[str, Any], contacts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    value = {"messaging_product": "whatsapp", "contacts": contacts or [], "messages": list(messages)}
    return delivery(
        "whatsapp_business_account", {"id": "WABA", "changes": [{"field": "messages", "value": value}]}
    )


def wa_message(**fields: Any) -> dict[str, Any]:
    return {"from": "919800000001", "id": "wamid.1", "timestamp": "1755600000", **fields}


# --- handshake -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "error", "message"),
    [
        pytest.param(
            {"hub.mode": "unsubscribe"}, BadRequestError, "The handshake needs hub.mode=subscribe.", id="mode"
        ),
        pytest.param(
            {"hub.mode": "subscribe", "hub.verify_token": "meatyhamhock"},
            BadRequestError,
            "The handshake needs the query parameter 'hub.challenge'.",
            id="no-challenge",
        ),
        pytest.param(
            {"hub.mode": "subscribe", "hub.challenge": "42", "hub.verify_token": "wrong"},
            VerifyTokenError,
            "The hub.verify_token does not match the configured verify token.",
            id="wrong-token",
        ),
    ],
)
def test_each_handshake_refusal_says_what_is_wrong(query, error, message):
    assert refusal(error, adapter.handshake, query, SECRET) == message


# --- signature -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        pytest.param({}, "The X-Hub-Signature-256 header is missing.", id="missing"),
        pytest.param(
            {"x-hub-signature": VECTOR_4_LEGACY_SHA1},
            "Only X-Hub-Signature-256 is accepted; the legacy sha1 X-Hub-Signature is not.",
            id="legacy-sha1-only",
        ),
        pytest.param(
            {"x-hub-signature-256": 42}, "The X-Hub-Signature-256 header is malformed.", id="not-text"
        ),
        pytest.param(
            {"x-hub-signature-256": "sha1=" + "0" * 40},
            "The X-Hub-Signature-256 header must start with 'sha256='.",
            id="other-method",
        ),
        pytest.param(
            {"x-hub-signature-256": "sha256=" + "0" * 63},
            "The X-Hub-Signature-256 header must be 'sha256=' and 64 hex digits.",
            id="short",
        ),
        pytest.param(
            {"x-hub-signature-256": "sha256=" + "0" * 64},
            "The X-Hub-Signature-256 signature does not match the body.",
            id="wrong-digest",
        ),
    ],
)
def test_each_signature_refusal_says_what_is_wrong(headers, message):
    assert refusal(SignatureError, verify, headers) == message


# --- body ------------------------------------------------------------------------------------------


def test_a_body_without_an_entry_list_is_told_what_a_meta_delivery_is():
    message = refusal(UnparseableError, normalise_json, {"object": "page"})
    assert message == "A Meta delivery is a JSON object with an 'object' name and an 'entry' list."


def test_a_photo_without_a_post_id_is_kept_under_its_photo_id():
    value = {
        "item": "photo",
        "verb": "add",
        "photo_id": "555",
        "from": {"id": CUSTOMER},
        "created_time": 1755600000,
    }
    [draft] = normalise_json(
        delivery("page", {"id": PAGE, "time": 1755600001, "changes": [{"field": "feed", "value": value}]})
    )
    assert draft.kind == "post"
    assert draft.native_id == "555"


def test_an_instagram_comment_naming_its_media_by_media_id_is_threaded_on_it():
    value = {"id": "c_1", "text": "Nice", "from": {"id": CUSTOMER, "username": "asha"}, "media_id": "m_9"}
    entry = {"id": IG_ACCOUNT, "time": 1755600000, "changes": [{"field": "comments", "value": value}]}
    [draft] = normalise_json(delivery("instagram", entry))
    assert draft.thread_id == "m_9"
    assert draft.kind == "comment"


@pytest.mark.parametrize(("product", "account"), [("page", PAGE), ("instagram", IG_ACCOUNT)])
def test_the_dashboard_test_shape_is_read_as_a_direct_message_at_the_entry_time(product, account):
    # Given the App Dashboard's "send to server" shape: a messaging event as a "messages" change value
    entry = {"id": account, "time": 1755600000, "changes": [{"field": "messages", "value": dm()}]}
    # When normalised, Then it is the customer's direct message, timed by the entry
    [draft] = normalise_json(delivery(product, entry))
    assert draft.platform == ("messenger" if product == "page" else "instagram")
    assert draft.kind == "direct_message"
    assert draft.author.user_id == CUSTOMER
    assert draft.occurred_at == at(2025, 8, 19, 10, 40)


@pytest.mark.parametrize(("product", "account"), [("page", PAGE), ("instagram", IG_ACCOUNT)])
def test_the_dashboard_test_shape_sent_by_the_account_itself_is_a_brand_reply(product, account):
    # Given the dashboard shape of a message the account sent to a customer
    entry = {
        "id": account,
        "time": 1755600000,
        "changes": [{"field": "messages", "value": dm(sender=account, recipient=CUSTOMER)}],
    }
    # When normalised, Then it is the account's reply, filed with that customer's conversation
    [draft] = normalise_json(delivery(product, entry))
    assert (draft.kind, draft.author.user_id, draft.customer_id) == ("brand_reply", account, CUSTOMER)
    assert draft.conversation_key == f"dm:{account}:{CUSTOMER}"


@pytest.mark.parametrize(("product", "account"), [("page", PAGE), ("instagram", IG_ACCOUNT)])
def test_a_message_event_sent_by_the_account_itself_is_a_brand_reply_to_its_recipient(product, account):
    # Given the account's own message to a customer, without the is_echo flag
    entry = {"id": account, "time": 1755600000, "messaging": [dm(sender=account, recipient=CUSTOMER)]}
    # When normalised, Then it is a brand reply in the conversation of the customer's own messages
    [draft] = normalise_json(delivery(product, entry))
    [customer] = normalise_json(
        delivery(product, {"id": account, "time": 1, "messaging": [dm(recipient=account)]})
    )
    assert (draft.kind, draft.customer_id) == ("brand_reply", CUSTOMER)
    assert draft.conversation_key == customer.conversation_key == f"dm:{account}:{CUSTOMER}"


@pytest.mark.parametrize(("product", "account"), [("page", PAGE), ("instagram", IG_ACCOUNT)])
def test_a_message_of_the_account_to_itself_is_skipped(product, account):
    entry = {"id": account, "time": 1755600000, "messaging": [dm(sender=account, recipient=account)]}
    assert normalise_json(delivery(product, entry)) == []


def test_an_instagram_message_without_its_own_time_takes_the_entry_time():
    entry = {"id": IG_ACCOUNT, "time": 1755600000, "messaging": [dm()]}
    [draft] = normalise_json(delivery("instagram", entry))
    assert draft.occurred_at == at(2025, 8, 19, 10, 40)


@pytest.mark.parametrize("flag", ["is_deleted", "is_unsupported"])
def test_deleted_and_unsupported_messages_are_skipped(flag):
    entry = {"id": PAGE, "time": 1755600000, "messaging": [dm(**{flag: True})]}
    assert normalise_json(delivery("page", entry)) == []


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(dm(is_echo=True), id="sender-is-the-customer"),
        pytest.param(dm(sender=PAGE, recipient=PAGE, is_echo=True), id="recipient-is-the-page"),
        pytest.param({"sender": {"id": PAGE}, "message": {"mid": "m_1", "is_echo": True}}, id="no-recipient"),
        pytest.param(dm(sender=PAGE, recipient=CUSTOMER, is_echo=True, mid=" "), id="blank-mid"),
    ],
)
def test_an_echo_that_does_not_say_who_answered_whom_costs_only_itself(event):
    # Given a malformed echo next to a well-formed one
    good = dm(sender=PAGE, recipient=CUSTOMER, is_echo=True, mid="m_good")
    entry = {"id": PAGE, "time": 1755600000, "messaging": [event, good]}
    # When normalised, Then the malformed one is skipped and the other kept
    assert [d.native_id for d in normalise_json(delivery("page", entry))] == ["m_good"]


def test_a_boolean_time_is_no_time_and_the_entry_time_is_used():
    value = {
        "item": "comment",
        "verb": "add",
        "comment_id": "1_2",
        "post_id": "1_1",
        "from": {"id": CUSTOMER},
    }
    entry = {
        "id": PAGE,
        "time": 1755600000,
        "changes": [{"field": "feed", "value": {**value, "created_time": True}}],
    }
    [draft] = normalise_json(delivery("page", entry))
    assert draft.occurred_at == at(2025, 8, 19, 10, 40)


def test_an_epoch_of_exactly_10_to_the_11_is_read_as_milliseconds():
    entry = {"id": IG_ACCOUNT, "time": 100_000_000_000, "messaging": [dm()]}
    [draft] = normalise_json(delivery("instagram", entry))
    assert draft.occurred_at == at(1973, 3, 3, 9, 46, 40)


def test_a_whatsapp_username_user_among_several_contacts_is_keyed_by_from_user_id():
    # Given a username user (empty "from") writing while two contacts are listed
    contacts = [
        {"wa_id": "919800000002", "profile": {"name": "Ravi"}},
        {"user_id": "IN.123", "profile": {"name": "Asha"}},
    ]
    message = wa_message(**{"from": "", "from_user_id": "IN.123", "type": "text", "text": {"body": "Hello"}})
    # When normalised, Then the author is the business-scoped user id, with that contact's name
    [draft] = normalise_json(whatsapp(message, contacts=contacts))
    assert draft.author.user_id == "IN.123"
    assert draft.author.display_name == "Asha"


def test_whatsapp_messages_after_another_kind_of_change_are_still_read():
    value = {
        "messaging_product": "whatsapp",
        "contacts": [],
        "messages": [wa_message(type="text", text={"body": "Hi"})],
    }
    changes = [
        {"field": "account_update", "value": {"event": "VERIFIED"}},
        {"field": "messages", "value": value},
    ]
    [draft] = normalise_json(delivery("whatsapp_business_account", {"id": "WABA", "changes": changes}))
    assert draft.text == "Hi"


@pytest.mark.parametrize(
    ("message", "text"),
    [
        pytest.param(
            wa_message(type="order", order={"catalog_id": "1", "text": "Two please"}),
            "Two please",
            id="order",
        ),
        pytest.param(wa_message(type="order", order={"catalog_id": "1"}), "", id="order-without-text"),
        pytest.param(wa_message(type="button", button={"payload": "P"}), "", id="button-without-text"),
        pytest.param(wa_message(type="text", text={}), "", id="text-without-body"),
        pytest.param(wa_message(text={"body": "No type given"}), "No type given", id="no-type"),
    ],
)
def test_whatsapp_text_is_read_from_the_field_of_its_type(message, text):
    [draft] = normalise_json(whatsapp(message))
    assert draft.text == text


@pytest.mark.parametrize("field", [["comments"], {"name": "comments"}, 42], ids=["list", "object", "number"])
def test_a_change_whose_field_is_not_text_is_skipped(field):
    value = {"id": "c_1", "text": "Nice", "from": {"id": CUSTOMER}, "media_id": "m_9"}
    entry = {"id": IG_ACCOUNT, "time": 1755600000, "changes": [{"field": field, "value": value}]}
    assert normalise_json(delivery("instagram", entry)) == []
