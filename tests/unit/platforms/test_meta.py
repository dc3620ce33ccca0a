"""The Meta adapter (route ``meta``): handshake, X-Hub-Signature-256 and normalisation of Page feed,
Messenger, Instagram and WhatsApp deliveries (docs/webhook-protocols.md §2 and the §9 vectors 4 and 5)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from socialcrm.errors import (
    BadRequestError,
    SignatureError,
    SocialCrmError,
    UnparseableError,
    VerifyTokenError,
)
from socialcrm.models import Author, InteractionDraft
from socialcrm.platforms import adapter_for
from socialcrm.platforms.base import Delivery
from socialcrm.platforms.meta import adapter, signed_headers
from socialcrm.secrets import MetaSecret
from tests.unit.platforms.hostile_inputs import (
    BLANK_IDS,
    LONG_BODIES,
    NESTING_DEPTHS,
    last_hex_digit_changed,
    nested_arrays,
    reshaped,
)

EVENTS = Path(__file__).resolve().parents[2] / "events" / "meta"
SECRET = MetaSecret(app_secret=SecretStr("test_app_secret"), verify_token=SecretStr("meatyhamhock"))
NOW = 1_760_000_000.0

# docs/webhook-protocols.md §9, vector 4
VECTOR_4_BODY = b'{"object":"page","entry":[{"id":"PAGE","time":1,"changes":[]}]}'
VECTOR_4_SIGNATURE = "sha256=14c8f35886969202ce8fb44d7e919f2b43a836340b7c816017240be4c658966d"
VECTOR_4_LEGACY_SHA1 = "sha1=530159bfa6ffab6ba6a0ec0d5dc46c62c46af016"
# §9, vector 5: Meta's wire body is ASCII with \uXXXX escapes; the UTF-8 re-serialisation is another message.
VECTOR_5_WIRE = rb'{"message":"\u00e4\u00f6\u00e5 \u0928\u092e\u0938\u094d\u0924\u0947"}'
VECTOR_5_WIRE_HEX = "93b3238d67f29984221bcb53aa63a04cc8b8864c66fcbd1d51612af54689e325"
VECTOR_5_UTF8 = '{"message":"äöå नमस्ते"}'.encode()
VECTOR_5_UTF8_HEX = "1934785fb191f38aa3ba8566f7e3dbc1039491b99dac0028db394ea563238eb0"


def fixture(name: str) -> bytes:
    return (EVENTS / f"{name}.json").read_bytes()


def normalise(body: bytes) -> list[InteractionDraft]:
    return adapter.normalise(Delivery(body=body))


def normalise_json(payload: Any) -> list[InteractionDraft]:
    return normalise(json.dumps(payload).encode())


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def signed(body: bytes, signature: str | None) -> Delivery:
    return Delivery(body=body, headers={} if signature is None else {"x-hub-signature-256": signature})


# --- the adapter object --------------------------------------------------------------------------------


def test_the_meta_route_serves_this_adapter_with_the_meta_secret_model():
    # Given the route segment "meta"
    # When the platform registry resolves it
    resolved = adapter_for("meta")
    # Then it is this module's adapter, reading the "meta" entry of the secrets document
    assert resolved is adapter
    assert adapter.name == "meta"
    assert adapter.secret_model is MetaSecret


# --- handshake -----------------------------------------------------------------------------------------


def test_handshake_with_the_right_token_echoes_the_challenge_verbatim_as_plain_text():
    # Given Meta's documented verification request
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "meatyhamhock"}
    # When the adapter answers it
    reply = adapter.handshake(query, SECRET)
    # Then the body is the challenge itself, not JSON, as text/plain with 200
    assert reply.body == "1158201444"
    assert reply.content_type == "text/plain"
    assert reply.status == 200


@pytest.mark.parametrize("token", ["wrong-token", "meatyhamhoc", "meatyhamhock ", "MEATYHAMHOCK", ""])
def test_handshake_with_a_wrong_verify_token_is_refused_with_403(token):
    # Given a handshake presenting a token that is not the configured one
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": token}
    # When / Then it is refused as a wrong verify token (403)
    with pytest.raises(VerifyTokenError) as raised:
        adapter.handshake(query, SECRET)
    assert raised.value.status == 403


def test_handshake_without_a_verify_token_is_refused_with_403():
    # Given a handshake with no hub.verify_token at all
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    # When / Then it is refused like a wrong token
    with pytest.raises(VerifyTokenError):
        adapter.handshake(query, SECRET)


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "meatyhamhock"},
        {"hub.mode": "subscribe", "hub.challenge": "", "hub.verify_token": "meatyhamhock"},
    ],
    ids=["absent", "empty"],
)
def test_handshake_without_a_challenge_is_a_bad_request(query):
    # Given a handshake with the right token but no challenge to echo
    # When / Then it is a 400, not a 403
    with pytest.raises(BadRequestError) as raised:
        adapter.handshake(query, SECRET)
    assert raised.value.status == 400
    assert not isinstance(raised.value, VerifyTokenError)


@pytest.mark.parametrize("mode", [None, "unsubscribe", "SUBSCRIBE", ""])
def test_handshake_whose_mode_is_not_subscribe_is_a_bad_request(mode):
    # Given a handshake with the right token and challenge but another hub.mode (or none)
    query = {"hub.challenge": "1158201444", "hub.verify_token": "meatyhamhock"}
    if mode is not None:
        query["hub.mode"] = mode
    # When / Then it is a 400
    with pytest.raises(BadRequestError) as raised:
        adapter.handshake(query, SECRET)
    assert raised.value.status == 400


# --- signature -----------------------------------------------------------------------------------------


def test_signed_headers_reproduce_reference_vector_4():
    # Given the §9 vector 4 body and app secret "test_app_secret"
    # When the sender-side helper signs it
    headers = signed_headers(VECTOR_4_BODY, SECRET, NOW)
    # Then the header is exactly the reference's precomputed value
    assert headers == {"x-hub-signature-256": VECTOR_4_SIGNATURE}


def test_reference_vector_4_signature_verifies():
    # Given the §9 vector 4 body with its precomputed signature
    delivery = signed(VECTOR_4_BODY, VECTOR_4_SIGNATURE)
    # When / Then verification accepts it (no exception)
    adapter.verify(delivery, SECRET, NOW)


def test_escaped_unicode_wire_bytes_verify_with_reference_vector_5():
    # Given Meta's ASCII-escaped wire body and the §9 vector 5 digest
    # When the helper signs it and the adapter verifies the fixed digest
    headers = signed_headers(VECTOR_5_WIRE, SECRET, NOW)
    adapter.verify(signed(VECTOR_5_WIRE, "sha256=" + VECTOR_5_WIRE_HEX), SECRET, NOW)
    # Then both agree with the reference
    assert headers["x-hub-signature-256"] == "sha256=" + VECTOR_5_WIRE_HEX


def test_utf8_reserialisation_of_an_escaped_body_does_not_verify():
    # Given the same JSON re-serialised as raw UTF-8 (what a proxy decoding and re-encoding would send)
    assert json.loads(VECTOR_5_UTF8) == json.loads(VECTOR_5_WIRE)
    assert signed_headers(VECTOR_5_UTF8, SECRET, NOW)["x-hub-signature-256"] == "sha256=" + VECTOR_5_UTF8_HEX
    # When it arrives with the signature Meta computed over the escaped bytes
    delivery = signed(VECTOR_5_UTF8, "sha256=" + VECTOR_5_WIRE_HEX)
    # Then it is refused with 401
    with pytest.raises(SignatureError) as raised:
        adapter.verify(delivery, SECRET, NOW)
    assert raised.value.status == 401


def test_uppercase_hex_digest_is_accepted():
    # Given the vector 4 signature written in uppercase hex (Meta sends lowercase)
    delivery = signed(VECTOR_4_BODY, "sha256=" + VECTOR_4_SIGNATURE.removeprefix("sha256=").upper())
    # When / Then it verifies: the digest is compared case-insensitively
    adapter.verify(delivery, SECRET, NOW)


def test_signature_header_with_surrounding_whitespace_is_accepted():
    # Given a header value a proxy padded with spaces
    delivery = signed(VECTOR_4_BODY, f"  {VECTOR_4_SIGNATURE} ")
    # When / Then it verifies
    adapter.verify(delivery, SECRET, NOW)


def test_missing_signature_header_is_refused():
    # Given a delivery without any signature header
    # When / Then it is refused with 401
    with pytest.raises(SignatureError) as raised:
        adapter.verify(signed(VECTOR_4_BODY, None), SECRET, NOW)
    assert raised.value.status == 401
    assert raised.value.code == "invalid_signature"


def test_legacy_sha1_header_alone_is_refused():
    # Given a delivery carrying only the legacy X-Hub-Signature with the correct §9 sha1 value
    delivery = Delivery(body=VECTOR_4_BODY, headers={"x-hub-signature": VECTOR_4_LEGACY_SHA1})
    # When / Then it is refused: only X-Hub-Signature-256 counts
    with pytest.raises(SignatureError, match="X-Hub-Signature-256"):
        adapter.verify(delivery, SECRET, NOW)


@pytest.mark.parametrize(
    "header",
    [
        "sha1=" + VECTOR_4_SIGNATURE.removeprefix("sha256="),
        VECTOR_4_SIGNATURE.removeprefix("sha256="),
        "SHA256=" + VECTOR_4_SIGNATURE.removeprefix("sha256="),
        "sha512=" + VECTOR_4_SIGNATURE.removeprefix("sha256="),
    ],
    ids=["sha1-prefix", "no-prefix", "uppercase-prefix", "sha512-prefix"],
)
def test_signature_with_a_wrong_prefix_is_refused(header):
    # Given the right digest behind a prefix other than "sha256="
    # When / Then it is refused with 401
    with pytest.raises(SignatureError):
        adapter.verify(signed(VECTOR_4_BODY, header), SECRET, NOW)


@pytest.mark.parametrize(
    "header",
    [
        "sha256=",
        "sha256=14c8f358",
        VECTOR_4_SIGNATURE + "00",
        "sha256=" + "g" * 64,
        VECTOR_4_SIGNATURE + "," + VECTOR_4_SIGNATURE,
        "sha256=" + "१" * 64,
        "sha256 = 14c8f35886969202ce8fb44d7e919f2b43a836340b7c816017240be4c658966d",
    ],
    ids=["empty-digest", "short", "long", "not-hex", "comma-joined-duplicate", "devanagari-digits", "spaces"],
)
def test_malformed_signature_header_is_refused(header):
    # Given a header that is not "sha256=" followed by 64 hex digits
    # When / Then it is refused with 401
    with pytest.raises(SignatureError):
        adapter.verify(signed(VECTOR_4_BODY, header), SECRET, NOW)


@pytest.mark.parametrize(
    "body",
    [
        VECTOR_4_BODY + b" ",
        VECTOR_4_BODY.replace(b'"PAGE"', b'"PAGF"'),
        json.dumps(json.loads(VECTOR_4_BODY), indent=2).encode(),
        json.dumps(json.loads(VECTOR_4_BODY)).encode(),
        b"",
    ],
    ids=["trailing-space", "one-byte-changed", "pretty-printed", "reserialised-with-spaces", "empty"],
)
def test_body_that_is_not_the_signed_bytes_is_refused(body):
    # Given vector 4's signature on a body that differs from the signed bytes
    # When / Then it is refused with 401
    with pytest.raises(SignatureError):
        adapter.verify(signed(body, VECTOR_4_SIGNATURE), SECRET, NOW)


def test_signature_made_with_another_app_secret_is_refused():
    # Given a delivery signed with some other app's secret
    headers = signed_headers(VECTOR_4_BODY, "another_app_secret", NOW)
    # When / Then it is refused with 401
    with pytest.raises(SignatureError):
        adapter.verify(Delivery(body=VECTOR_4_BODY, headers=headers), SECRET, NOW)


def test_signed_headers_carry_extra_headers_for_the_sender():
    # Given a sender that also wants a content type
    # When it signs a body with an extra header
    headers = signed_headers(VECTOR_4_BODY, SECRET, NOW, content_type="application/json")
    # Then the extra header is there, named as HTTP names it, next to the signature
    assert headers == {"content-type": "application/json", "x-hub-signature-256": VECTOR_4_SIGNATURE}


# --- Facebook Page feed ----------------------------------------------------------------------------------


def test_page_comment_in_hindi_is_normalised_field_by_field():
    # Given the reference's Page feed comment (Hindi and English text)
    # When it is normalised
    drafts = normalise(fixture("page_feed_comment"))
    # Then it is one Facebook comment on the post, its time read as epoch seconds
    assert drafts == [
        InteractionDraft(
            platform="facebook",
            kind="comment",
            native_id="12345_98765",
            thread_id="102938475610293_12345",
            parent_id="102938475610293_12345",
            author=Author(user_id="7234567890123456", display_name="Aisyah Rahman"),
            text="कितने का है? How much?",
            language=None,
            occurred_at=at(2025, 8, 19, 10, 39, 59),
            conversation_key="comments:12345_98765",  # a top-level comment roots its own thread
        )
    ]
    assert drafts[0].interaction_id == "facebook:12345_98765"


def test_page_comment_sent_as_escaped_unicode_gives_the_same_text():
    # Given the Hindi comment as Meta puts it on the wire: ASCII with \uXXXX escapes
    wire = json.dumps(json.loads(fixture("page_feed_comment")), ensure_ascii=True).encode("ascii")
    assert b"\\u0915" in wire
    # When it is normalised
    drafts = normalise(wire)
    # Then the text is the decoded Hindi
    assert drafts[0].text == "कितने का है? How much?"


def test_comment_with_a_broken_emoji_escape_is_kept_with_a_replacement_character():
    # Given a comment whose text ends in half of a surrogate pair (an emoji cut in two)
    body = fixture("page_feed_comment").replace(b"How much?", b"How much? \\ud83d")
    # When it is normalised
    drafts = normalise(body)
    # Then the comment is kept, the broken half replaced so the text stays valid Unicode
    assert drafts[0].text == "कितने का है? How much? \ufffd"
    drafts[0].model_dump_json()


def test_visitor_post_on_the_page_is_a_post():
    # Given Meta's sample of a visitor posting on the Page
    # When it is normalised
    drafts = normalise(fixture("page_feed_post"))
    # Then it is a Facebook post keyed by its post id
    assert drafts == [
        InteractionDraft(
            platform="facebook",
            kind="post",
            native_id="102938475610293_20001",
            thread_id="102938475610293_20001",
            parent_id=None,
            author=Author(user_id="5501234567890123", display_name="Cinderella Hoover"),
            text="It's Thursday and I want to eat cake.",
            occurred_at=at(2018, 3, 8, 21, 33, 34),
            conversation_key="post:102938475610293_20001",
        )
    ]


def test_page_feed_batch_keeps_new_comments_replies_the_pages_reply_and_posts_and_skips_the_rest():
    # Given two Pages' entries with comments, a reply, the Page's own reply, an edit, a removal,
    # a reaction, a like, a comment without author, a photo and a status post
    # When the batch is normalised
    drafts = normalise(fixture("page_feed_batch"))
    # Then the customers' new items and the Page's reply remain, in delivery order
    assert [(d.kind, d.native_id, d.parent_id, d.author.user_id) for d in drafts] == [
        ("comment", "12345_98801", "102938475610293_12345", "7234567890123456"),
        ("reply", "12345_98802", "12345_98801", "6612345678901234"),
        ("brand_reply", "12345_98803", "12345_98801", "102938475610293"),
        ("post", "204857193846271_777", None, "8890123456789012"),
        ("post", "204857193846271_778", None, "8890123456789012"),
    ]
    assert drafts[1].thread_id == "102938475610293_12345"
    assert drafts[1].text == "Same question here"
    assert drafts[1].occurred_at == at(2025, 8, 19, 10, 41, 0)
    assert drafts[2].text == "Yes! Restocked this morning."
    assert drafts[2].author.display_name == "Acme Store"
    assert drafts[2].customer_id is None  # a comment reply does not say whom it answers
    assert drafts[3].text == "¡Me encantó el pedido!"
    assert drafts[3].author.display_name == "Lucía Fernández"
    assert drafts[3].occurred_at == at(2025, 8, 19, 10, 43, 10)
    assert drafts[4].text == "Where is my parcel?"
    # and the comment, the reply under it and the Page's answer are one conversation
    assert {d.conversation_key for d in drafts[:3]} == {"comments:12345_98801"}
    assert [d.conversation_key for d in drafts[3:]] == [
        "post:204857193846271_777",
        "post:204857193846271_778",
    ]


def test_page_comment_without_its_own_time_takes_the_entry_time():
    # Given a feed comment with no created_time
    payload = json.loads(fixture("page_feed_comment"))
    del payload["entry"][0]["changes"][0]["value"]["created_time"]
    # When it is normalised
    drafts = normalise_json(payload)
    # Then the entry's time (seconds) is used
    assert drafts[0].occurred_at == at(2025, 8, 19, 10, 40, 1)


def test_page_comment_with_an_iso_created_time_is_read():
    # Given a feed comment whose created_time is an ISO-8601 string, as some API versions send
    payload = json.loads(fixture("page_feed_comment"))
    payload["entry"][0]["changes"][0]["value"]["created_time"] = "2025-08-19T10:00:00+0000"
    # When / Then it is read as that instant
    assert normalise_json(payload)[0].occurred_at == at(2025, 8, 19, 10, 0, 0)


# --- Messenger -----------------------------------------------------------------------------------------------


def test_messenger_message_is_a_direct_message_with_its_reply_to():
    # Given Meta's Messenger sample (timestamps in milliseconds)
    # When it is normalised
    drafts = normalise(fixture("messenger_message"))
    # Then it is a Messenger direct message keyed by its mid, replying to reply_to.mid
    assert drafts == [
        InteractionDraft(
            platform="messenger",
            kind="direct_message",
            native_id="m_1457764197618:41d102a3e1ae206a38",
            thread_id=None,
            parent_id="m_1fTq8oLumEyIp3Q2MR-aY7IfLZDamVrALniheU",
            author=Author(user_id="6543210987654321"),
            text="hello, world!",
            occurred_at=datetime(2016, 3, 23, 0, 25, 52, 478000, tzinfo=UTC),
            conversation_key="dm:102938475610293:6543210987654321",
        )
    ]
    assert drafts[0].interaction_id == "messenger:m_1457764197618:41d102a3e1ae206a38"


def test_messenger_echo_is_a_brand_reply_and_read_delivery_reaction_and_postback_give_no_drafts():
    # Given the Page's own echo, a read receipt, a delivery receipt, a reaction and a postback
    # When they are normalised
    drafts = normalise(fixture("messenger_non_messages"))
    # Then the echo alone is kept: the Page's reply to the recipient, in the customer's conversation
    assert drafts == [
        InteractionDraft(
            platform="messenger",
            kind="brand_reply",
            native_id="m_echo_1755600299000",
            author=Author(user_id="102938475610293"),
            text="Thanks, we are on it!",
            occurred_at=datetime(2025, 8, 19, 10, 44, 59, tzinfo=UTC),
            conversation_key="dm:102938475610293:6543210987654321",
            customer_id="6543210987654321",
        )
    ]
    # and its key is the one of that customer's own messages
    assert drafts[0].conversation_key == normalise(fixture("messenger_message"))[0].conversation_key


def test_messenger_message_in_standby_is_kept():
    # Given a message delivered on the handover protocol's standby channel
    payload = json.loads(fixture("messenger_message"))
    entry = payload["entry"][0]
    entry["standby"] = entry.pop("messaging")
    # When it is normalised
    drafts = normalise_json(payload)
    # Then it is the same interaction as on the primary channel
    assert [d.interaction_id for d in drafts] == ["messenger:m_1457764197618:41d102a3e1ae206a38"]


def test_messenger_attachment_without_text_is_kept_with_empty_text():
    # Given a customer sending only a photo
    payload = json.loads(fixture("messenger_message"))
    message = payload["entry"][0]["messaging"][0]["message"]
    del message["text"], message["reply_to"]
    message["attachments"] = [{"type": "image", "payload": {"url": "https://scontent.xx.fbcdn.net/x.jpg"}}]
    # When it is normalised
    drafts = normalise_json(payload)
    # Then the message is kept with empty text and no parent
    assert [(d.native_id, d.text, d.parent_id) for d in drafts] == [
        ("m_1457764197618:41d102a3e1ae206a38", "", None)
    ]


def test_numeric_sender_id_above_2_pow_53_survives_exactly():
    # Given a sender id sent as a bare JSON number larger than 2^53
    big = 2**64 + 12345
    payload = json.loads(fixture("messenger_message"))
    payload["entry"][0]["messaging"][0]["sender"]["id"] = big
    # When it is normalised
    drafts = normalise_json(payload)
    # Then the user id is the exact decimal string
    assert drafts[0].author.user_id == "18446744073709563961"


def test_message_without_its_own_timestamp_takes_the_entry_time_in_milliseconds():
    # Given a message with no timestamp, in an entry whose time is in milliseconds
    payload = json.loads(fixture("messenger_message"))
    del payload["entry"][0]["messaging"][0]["timestamp"]
    # When it is normalised
    drafts = normalise_json(payload)
    # Then the entry time is read as milliseconds, not as a date thousands of years ahead
    assert drafts[0].occurred_at == datetime(2016, 3, 23, 0, 25, 52, 478000, tzinfo=UTC)


def test_message_with_no_readable_time_anywhere_is_skipped_and_the_others_kept():
    # Given two messages: one with an unreadable timestamp and no entry time, one well-formed
    payload = json.loads(fixture("messenger_message"))
    good = payload["entry"][0]
    bad = json.loads(json.dumps(good))
    del bad["time"]
    bad["messaging"][0]["timestamp"] = "soon"
    bad["messaging"][0]["message"]["mid"] = "m_unreadable_time"
    payload["entry"] = [bad, good]
    # When the delivery is normalised
    drafts = normalise_json(payload)
    # Then the unreadable one is skipped and the good one kept
    assert [d.native_id for d in drafts] == ["m_1457764197618:41d102a3e1ae206a38"]


# --- Instagram -------------------------------------------------------------------------------------------


def test_instagram_comment_sample_is_a_reply_timed_by_the_entry():
    # Given Meta's dashboard sample: a comment whose parent differs from the media
    # When it is normalised
    drafts = normalise(fixture("instagram_comment"))
    # Then it is an Instagram reply, handle from the username, time from entry.time in seconds
    assert drafts == [
        InteractionDraft(
            platform="instagram",
            kind="reply",
            native_id="17865799348089039",
            thread_id="123123123",
            parent_id="1231231234",
            author=Author(user_id="232323232", handle="test"),
            text="This is an example.",
            occurred_at=at(2023, 9, 18, 18, 28, 25),
            conversation_key="comments:1231231234",  # a reply is in its parent's thread
        )
    ]


def test_instagram_comments_batch_keeps_comments_live_comments_and_the_accounts_reply_and_skips_mentions():
    # Given a comment keyed by comment_id (Hindi and emoji), a live comment, the account's own reply
    # and two mentions without author or text
    # When the batch is normalised
    drafts = normalise(fixture("instagram_comments_batch"))
    # Then the two customer comments remain, as top-level comments on their media, and the account's
    # reply to the first is a brand reply in that comment's conversation
    assert drafts == [
        InteractionDraft(
            platform="instagram",
            kind="comment",
            native_id="18023456789012345",
            thread_id="18012345678901234",
            parent_id="18012345678901234",
            author=Author(user_id="17841499999999991", handle="priya.shops"),
            text="Love this 😍 कब आएगा?",
            occurred_at=at(2025, 8, 19, 10, 56, 40),
            conversation_key="comments:18023456789012345",
        ),
        InteractionDraft(
            platform="instagram",
            kind="comment",
            native_id="18034567890123456",
            thread_id="18098765432109876",
            parent_id="18098765432109876",
            author=Author(user_id="17841499999999992", handle="live.viewer"),
            text="Can you show the back?",
            occurred_at=at(2025, 8, 19, 10, 56, 40),
            conversation_key="comments:18034567890123456",
        ),
        InteractionDraft(
            platform="instagram",
            kind="brand_reply",
            native_id="18045678901234567",
            thread_id="18012345678901234",
            parent_id="18023456789012345",
            author=Author(user_id="17841405726653026", handle="acme.store"),
            text="Next week!",
            occurred_at=at(2025, 8, 19, 10, 56, 40),
            conversation_key="comments:18023456789012345",
        ),
    ]


def test_instagram_business_login_comment_with_field_and_value_in_the_entry_is_read():
    # Given a Business Login for Instagram comment: field/value directly in the entry
    # When it is normalised
    drafts = normalise(fixture("instagram_business_login_comment"))
    # Then it is read like any comment
    assert [(d.platform, d.kind, d.native_id, d.author.handle, d.text, d.occurred_at) for d in drafts] == [
        (
            "instagram",
            "comment",
            "18056789012345678",
            "mention.fan",
            "@acme.store look at this!",
            at(2025, 8, 19, 11, 13, 20),
        )
    ]


def test_instagram_direct_message_is_normalised_field_by_field():
    # Given Meta's Instagram DM sample (milliseconds)
    # When it is normalised
    drafts = normalise(fixture("instagram_message"))
    # Then it is an Instagram direct message
    assert drafts == [
        InteractionDraft(
            platform="instagram",
            kind="direct_message",
            native_id="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1NzI2NjUzMDI2OjM0MDI4MjM2Njg0MTcxMDMwMTI0NDI1OTk1MzQ2NDA0NDA2NDgwMg==",
            thread_id=None,
            parent_id="aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1NzI2NjUzMDI2OjAx",
            author=Author(user_id="1234567890123456"),
            text="Do you ship to Canada?",
            occurred_at=datetime(2019, 9, 23, 18, 14, 45, 349000, tzinfo=UTC),
            conversation_key="dm:17841405726653026:1234567890123456",
        )
    ]


def test_instagram_echo_and_own_send_are_brand_replies_and_a_deletion_gives_nothing():
    # Given an is_echo message, the account's own send without the flag, and a deletion notice
    # When they are normalised
    drafts = normalise(fixture("instagram_echoes"))
    # Then both of the account's messages are brand replies to the recipient, in the conversation the
    # customer's own messages have; the deletion gives nothing
    assert [(d.kind, d.native_id, d.author.user_id, d.customer_id, d.text) for d in drafts] == [
        ("brand_reply", "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxOjAy", "17841405726653026",
         "1234567890123456", "Yes, we do!"),
        ("brand_reply", "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxOjAz", "17841405726653026",
         "1234567890123456", "Shipping takes 5 days."),
    ]  # fmt: skip
    customer_key = normalise(fixture("instagram_message"))[0].conversation_key
    assert [d.conversation_key for d in drafts] == [customer_key, customer_key]


def test_instagram_dashboard_test_message_with_string_seconds_is_read():
    # Given the App Dashboard's test shape: a "messages" change whose value is a messaging event,
    # with a timestamp in seconds as a string
    payload = {
        "object": "instagram",
        "entry": [
            {
                "id": "0",
                "time": 1527459824,
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "sender": {"id": "12334"},
                            "recipient": {"id": "23245"},
                            "timestamp": "1527459824",
                            "message": {"mid": "random_mid", "text": "random_text"},
                        },
                    }
                ],
            }
        ],
    }
    # When it is normalised
    drafts = normalise_json(payload)
    # Then it is a direct message at that second
    assert [(d.platform, d.kind, d.native_id, d.author.user_id, d.occurred_at) for d in drafts] == [
        ("instagram", "direct_message", "random_mid", "12334", at(2018, 5, 27, 22, 23, 44))
    ]


# --- WhatsApp ---------------------------------------------------------------------------------------------


def test_whatsapp_text_message_is_normalised_field_by_field():
    # Given Meta's inbound text sample (timestamp is a string of seconds)
    # When it is normalised
    drafts = normalise(fixture("whatsapp_text"))
    # Then the author is the phone number with the contact's profile name
    assert drafts == [
        InteractionDraft(
            platform="whatsapp",
            kind="direct_message",
            native_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
            thread_id=None,
            parent_id=None,
            author=Author(user_id="16505551234", display_name="Sheena Nelson"),
            text="Does it come in another color?",
            occurred_at=at(2025, 6, 8, 20, 59, 43),
            conversation_key="wa:106540352242922:16505551234",
        )
    ]


@pytest.mark.parametrize("name", ["whatsapp_username_empty_from", "whatsapp_username_missing_from"])
def test_whatsapp_username_user_is_keyed_by_the_business_scoped_id(name):
    # Given a username user whose phone is withheld: "from" empty (early docs) or absent (later docs)
    # When the message is normalised
    drafts = normalise(fixture(name))
    # Then the author is the business-scoped user id, with name and handle (no "@") from the contact
    assert len(drafts) == 1
    assert drafts[0].author == Author(
        user_id="US.13491208655302741918", handle="realsheenanelson", display_name="Sheena Nelson"
    )
    assert drafts[0].platform == "whatsapp"
    assert drafts[0].kind == "direct_message"


def test_whatsapp_username_user_without_from_user_id_is_keyed_by_the_sole_contact():
    # Given a message with neither from nor from_user_id and one contact carrying a user_id
    payload = json.loads(fixture("whatsapp_username_missing_from"))
    del payload["entry"][0]["changes"][0]["value"]["messages"][0]["from_user_id"]
    # When it is normalised
    drafts = normalise_json(payload)
    # Then the contact's user_id is the author
    assert [d.author.user_id for d in drafts] == ["US.13491208655302741918"]


def test_whatsapp_message_whose_author_cannot_be_told_is_skipped():
    # Given a message with no from, no from_user_id and two contacts to choose from
    payload = json.loads(fixture("whatsapp_username_missing_from"))
    value = payload["entry"][0]["changes"][0]["value"]
    del value["messages"][0]["from_user_id"]
    value["contacts"].append({"profile": {"name": "Someone Else"}, "user_id": "US.99"})
    # When / Then no draft is made (no guessed author)
    assert normalise_json(payload) == []


def test_whatsapp_status_only_delivery_gives_no_drafts():
    # Given a delivery carrying only delivered/read statuses
    # When / Then it is acknowledged with no interactions
    assert normalise(fixture("whatsapp_statuses")) == []


def test_whatsapp_message_types_give_their_text_and_skip_reactions_unsupported_and_system():
    # Given ten messages of different types from two contacts, plus a status
    # When they are normalised
    drafts = normalise(fixture("whatsapp_message_types"))
    # Then each customer message keeps its type's text; reaction, unsupported and system are gone
    assert [(d.native_id, d.text, d.parent_id, d.author.display_name) for d in drafts] == [
        ("wamid.IMAGE01", "This one arrived broken", None, "Sheena Nelson"),
        ("wamid.DOCUMENT01", "", None, "Sheena Nelson"),
        ("wamid.INTERACTIVEBUTTON01", "हाँ, ऑर्डर करें", None, "Arjun Mehta"),
        ("wamid.INTERACTIVELIST01", "Returns\nSend an item back", None, "Arjun Mehta"),
        ("wamid.BUTTON01", "Track my order", "wamid.TEMPLATE01", "Sheena Nelson"),
        ("wamid.STICKER01", "", None, "Sheena Nelson"),
        ("wamid.TEXTREPLY01", "And the invoice?", "wamid.OUTBOUND01", "Sheena Nelson"),
    ]
    assert drafts[2].author.user_id == "919812345678"
    assert drafts[2].occurred_at == at(2025, 6, 8, 21, 0, 2)
    assert all(d.thread_id is None for d in drafts)


# --- envelope ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'"page"',
        b'{"object": "page"}',
        b'{"entry": []}',
        b'{"object": "page", "entry": {}}',
        b"\xff\xfe",
    ],
    ids=["not-json", "array", "string", "no-entry", "no-object", "entry-not-a-list", "not-utf8"],
)
def test_body_that_is_not_a_meta_envelope_is_unparseable(body):
    # Given a body that is not a JSON object with an object name and an entry list
    # When / Then normalising it is a 400
    with pytest.raises(UnparseableError) as raised:
        normalise(body)
    assert raised.value.status == 400


def test_object_the_crm_does_not_handle_gives_no_drafts():
    # Given a User-object notification (permissions changed)
    body = b'{"object":"user","entry":[{"id":"1","uid":"1","time":1,"changed_fields":["permissions"]}]}'
    # When / Then it is acknowledged with no interactions
    assert normalise(body) == []


def test_redelivered_batch_gives_the_same_interaction_ids():
    # Given the same WhatsApp delivery received twice (Meta retries for up to 7 days)
    body = fixture("whatsapp_message_types")
    # When both copies are normalised
    first, second = normalise(body), normalise(body)
    # Then they carry the same dedupe keys
    assert [d.interaction_id for d in first] == [d.interaction_id for d in second]
    assert first[0].interaction_id == "whatsapp:wamid.IMAGE01"


# --- robustness -------------------------------------------------------------------------------------------

FIXTURES = sorted(path.stem for path in EVENTS.glob("*.json"))
HEADER_NAMES = st.sampled_from(["x-hub-signature-256", "x-hub-signature", "content-type"]) | st.text(
    max_size=20
)
QUERY_KEYS = st.sampled_from(["hub.mode", "hub.challenge", "hub.verify_token"]) | st.text(max_size=20)
QUERY_VALUES = st.sampled_from(["subscribe", "meatyhamhock", "1158201444"]) | st.text(max_size=30)


def _only_domain_errors(call: Any) -> Any:
    try:
        return call()
    except SocialCrmError:
        return None


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=300) | reshaped([json.loads(fixture(name)) for name in FIXTURES], most=1))
def test_normalise_raises_only_domain_errors_whatever_the_body(body):
    # Given arbitrary bytes, or a real delivery with a wrong type somewhere
    # When it is normalised
    drafts = _only_domain_errors(lambda: normalise(body))
    # Then it either fails with a domain error or yields valid drafts
    for draft in drafts or []:
        assert isinstance(draft, InteractionDraft)
        assert isinstance(draft.native_id, str) and draft.author.user_id


@settings(max_examples=200)
@given(body=st.binary(max_size=100), headers=st.dictionaries(HEADER_NAMES, st.text(max_size=80), max_size=3))
def test_verify_raises_only_domain_errors_whatever_the_headers(body, headers):
    # Given arbitrary bytes and header strings
    # When / Then verification refuses them with a domain error (no random header is a valid signature)
    with pytest.raises(SocialCrmError):
        adapter.verify(Delivery(body=body, headers=headers), SECRET, NOW)


@settings(max_examples=200)
@given(query=st.dictionaries(QUERY_KEYS, QUERY_VALUES, max_size=4))
def test_handshake_raises_only_domain_errors_whatever_the_query(query):
    # Given an arbitrary query string
    # When / Then the handshake answers or fails with a domain error, nothing else
    reply = _only_domain_errors(lambda: adapter.handshake(query, SECRET))
    if reply is not None:
        assert reply.body == query["hub.challenge"]


# --- the handshake is not a signing oracle -------------------------------------------------------------

# Bodies the adapter takes in, each of which a forger would like Meta's signature for.
ACCEPTED_BODIES = [
    pytest.param(VECTOR_4_BODY, id="reference vector"),
    pytest.param(fixture("page_feed_comment"), id="page comment"),
    pytest.param(fixture("messenger_message"), id="messenger message"),
    pytest.param(fixture("instagram_comment"), id="instagram comment"),
    pytest.param(fixture("whatsapp_text"), id="whatsapp text"),
    *LONG_BODIES,
]


@pytest.mark.parametrize("body", ACCEPTED_BODIES)
def test_the_handshake_answer_for_a_delivery_body_is_no_signature_of_it(body):
    # Given a delivery body sent as hub.challenge, with the right verify token
    query = {"hub.mode": "subscribe", "hub.challenge": body.decode(), "hub.verify_token": "meatyhamhock"}
    # When the handshake answers it
    answer = adapter.handshake(query, SECRET).body
    # Then the answer is the challenge itself, unsigned: replayed as X-Hub-Signature-256 (as is, or after
    # the prefix) it is refused, because nothing in it was computed with the app secret
    assert answer == body.decode()
    for header in (answer, "sha256=" + answer):
        with pytest.raises(SignatureError):
            adapter.verify(signed(body, header), SECRET, NOW)


# --- deep nesting --------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", NESTING_DEPTHS)
@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda inner: inner, id="bare"),
        pytest.param(lambda inner: b'{"object":"page","entry":' + inner + b"}", id="entry list"),
        pytest.param(
            lambda inner: b'{"object":"page","entry":[{"id":"1","time":1,"changes":' + inner + b"}]}",
            id="changes list",
        ),
    ],
)
def test_json_nested_too_deeply_is_unparseable_not_a_server_error(depth, wrap):
    # Given a signed body nesting thousands of arrays, where the JSON parser would run out of stack
    body = wrap(nested_arrays(depth))
    adapter.verify(Delivery(body, signed_headers(body, SECRET)), SECRET, NOW)  # bytes only: nothing parsed
    # When normalised / Then it is a 400, never a RecursionError (a 5xx)
    with pytest.raises(UnparseableError) as raised:
        normalise(body)
    assert raised.value.status == 400


# --- signatures are compared whole ---------------------------------------------------------------------


def test_a_signature_differing_only_in_its_last_hex_digit_is_refused():
    # Given the vector 4 signature with only its last hex digit changed, still sha256= and 64 hex digits
    forged = last_hex_digit_changed(VECTOR_4_SIGNATURE)
    # When verified / Then it is refused, though 63 of 64 digits match
    with pytest.raises(SignatureError):
        adapter.verify(signed(VECTOR_4_BODY, forged), SECRET, NOW)


# --- blank ids -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("blank", BLANK_IDS)
def test_page_items_whose_ids_are_only_whitespace_are_skipped_and_the_rest_kept(blank):
    # Given the page feed batch with one comment's id and another comment's author id blank
    payload = json.loads(fixture("page_feed_batch"))
    changes = payload["entry"][0]["changes"]
    changes[0]["value"]["comment_id"] = blank
    changes[1]["value"]["from"]["id"] = blank
    # and Messenger messages with a blank message id, a blank sender and one intact
    messages = json.loads(fixture("messenger_message"))["entry"][0]
    no_id, no_sender = json.loads(json.dumps(messages)), json.loads(json.dumps(messages))
    no_id["messaging"][0]["message"]["mid"] = blank
    no_sender["messaging"][0]["sender"]["id"] = blank
    payload["entry"] += [no_id, no_sender, messages]
    # When normalised
    drafts = normalise_json(payload)
    # Then only the items with real ids remain
    assert [d.native_id for d in drafts] == [
        "12345_98803",  # the Page's reply
        "204857193846271_777",
        "204857193846271_778",
        "m_1457764197618:41d102a3e1ae206a38",
    ]


@pytest.mark.parametrize("blank", BLANK_IDS)
@pytest.mark.parametrize("blanked", ["comment id", "author id"])
def test_instagram_comments_whose_ids_are_only_whitespace_are_skipped_and_the_rest_kept(blank, blanked):
    # Given the Instagram comments batch whose first comment has a blank id, or a blank author id
    payload = json.loads(fixture("instagram_comments_batch"))
    value = payload["entry"][0]["changes"][0]["value"]
    if blanked == "author id":
        value["from"]["id"] = blank
    else:
        value.pop("id", None)
        value["comment_id"] = blank
    # When normalised / Then that comment is skipped and the live comment and the account's reply kept
    assert [d.native_id for d in normalise_json(payload)] == ["18034567890123456", "18045678901234567"]


@pytest.mark.parametrize("blank", BLANK_IDS)
def test_whatsapp_messages_whose_ids_are_only_whitespace_are_skipped_and_the_rest_kept(blank):
    # Given three WhatsApp messages: a blank id, a blank sender (and no other id to key it by), intact
    payload = json.loads(fixture("whatsapp_text"))
    value = payload["entry"][0]["changes"][0]["value"]
    intact = value["messages"][0]
    no_id, no_sender = dict(intact, id=blank), dict(intact, **{"from": blank})
    value["messages"] = [no_id, no_sender, intact]
    # When normalised / Then only the intact one remains
    assert [d.native_id for d in normalise_json(payload)] == [intact["id"]]


def test_a_whatsapp_sender_id_holding_half_an_emoji_skips_that_message_and_keeps_the_rest():
    # Given a WhatsApp delivery whose first message's sender id holds a lone surrogate (as fuzzed)
    good = {
        "from": "15551234567",
        "id": "wamid.good",
        "timestamp": "1749416383",
        "type": "text",
        "text": {"body": "hi"},
    }
    bad = {**good, "from": "1\udc00", "id": "wamid.bad"}
    value = {"metadata": {"phone_number_id": "106540352242922"}, "contacts": [], "messages": [bad, good]}
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    body = json.dumps(payload).encode()  # the surrogate is escaped in JSON, as a sender writes it
    # Then only the good message is read, and nothing raises (the route answers 200, never 500)
    assert [draft.native_id for draft in normalise(body)] == ["wamid.good"]
