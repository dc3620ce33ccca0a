"""TikTok adapter: no handshake, ``TikTok-Signature: t=..,s=..`` with a ±300 s window, DMs and comments."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialcrm.errors import (
    MethodNotAllowedError,
    SignatureError,
    SocialCrmError,
    StaleTimestampError,
    UnparseableError,
)
from socialcrm.platforms import adapter_for
from socialcrm.platforms.base import Delivery
from socialcrm.platforms.tiktok import adapter, signed_headers
from socialcrm.secrets import TikTokSecret
from tests.unit.platforms.hostile_inputs import (
    ANY_TEXT,
    BLANK_IDS,
    CHALLENGE_KEYS,
    JSON_VALUES,
    LONG_BODIES,
    NESTING_DEPTHS,
    last_hex_digit_changed,
    mutations,
    nested_arrays,
    only_domain_errors,
)

EVENTS = Path(__file__).parents[2] / "events" / "tiktok"
SECRET = TikTokSecret(client_secret="tiktok_client_secret")
BUSINESS = "-000abcdEFGHijklMNOPqrstuvWXYZ"

# docs/webhook-protocols.md §9 vector 8: the authorization.removed example of §5.1, minified exactly.
VECTOR_BODY = (
    b'{"client_key":"bwo2m45353a6k85","event":"authorization.removed","create_time":1615338610,'
    b'"user_openid":"act.example12345Example12345Example","content":"{\\"reason\\": 1 }"}'
)
VECTOR_T = 1633174587
VECTOR_HEADER = "t=1633174587,s=2ef0467f794a8f45a8f3069b9aaebaac4974575bfd7aa69dba329a8c0c263ac7"
VECTOR_S = VECTOR_HEADER.split(",s=")[1]


def fixture(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


def delivery_of(payload: dict[str, Any]) -> Delivery:
    return Delivery(json.dumps(payload).encode())


def with_content(name: str, content: Any) -> Delivery:
    payload = json.loads(fixture(name))
    payload["content"] = content
    return delivery_of(payload)


def verify_header(header: str, body: bytes = VECTOR_BODY, now: float = VECTOR_T) -> None:
    adapter.verify(Delivery(body, {"tiktok-signature": header}), SECRET, now)


# --- handshake -------------------------------------------------------------------------------------


def test_a_get_is_refused_with_405_because_tiktok_only_posts():
    # Given the route's adapter, When TikTok's route is asked for a handshake
    with pytest.raises(MethodNotAllowedError) as raised:
        adapter_for("tiktok").handshake({"hub.challenge": "x"}, SECRET)
    # Then it answers 405 saying the platform only POSTs
    assert raised.value.status == 405
    assert "POST" in raised.value.message


# --- signature -------------------------------------------------------------------------------------


def test_signed_headers_reproduce_the_reference_vector_8():
    # Given the §9 vector's secret, timestamp and body; When signing
    headers = signed_headers(VECTOR_BODY, SECRET, VECTOR_T)
    # Then the header is exactly the reference's
    assert headers == {"tiktok-signature": VECTOR_HEADER}


def test_the_reference_vector_8_verifies_at_its_own_time():
    # Given the reference header, When verified at t, Then no error
    verify_header(VECTOR_HEADER, now=VECTOR_T)


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_a_signature_within_300_seconds_either_way_is_accepted(offset):
    # Given the vector, When now is within ±300 s of t, Then it verifies
    verify_header(VECTOR_HEADER, now=VECTOR_T + offset)


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(301, id="too-old"),
        pytest.param(-301, id="from-the-future"),
        pytest.param(86_400, id="a-day-old"),
    ],
)
def test_a_signature_outside_300_seconds_is_stale(offset):
    # Given a valid signature, When now is more than 300 s away from t
    with pytest.raises(StaleTimestampError) as raised:
        verify_header(VECTOR_HEADER, now=VECTOR_T + offset)
    # Then it is rejected as a 401 stale timestamp
    assert raised.value.status == 401


def test_the_header_name_is_matched_whatever_its_case():
    # Given the header spelt as TikTok's docs spell it (REST payload format keeps the case)
    delivery = Delivery(VECTOR_BODY, {"TikTok-Signature": VECTOR_HEADER})
    # When verified, Then it is found and accepted
    adapter.verify(delivery, SECRET, VECTOR_T)


def test_upper_case_hex_is_the_same_digest_and_is_accepted():
    verify_header(f"t={VECTOR_T},s={VECTOR_S.upper()}")


def test_spaces_around_the_parts_are_tolerated():
    verify_header(f"t={VECTOR_T}, s={VECTOR_S}")


def test_unknown_parts_are_ignored_so_tiktok_can_add_some():
    verify_header(f"t={VECTOR_T},s={VECTOR_S},v2=whatever")


def test_a_missing_header_is_a_401():
    with pytest.raises(SignatureError) as raised:
        adapter.verify(Delivery(VECTOR_BODY, {}), SECRET, VECTOR_T)
    assert raised.value.status == 401
    assert "missing" in raised.value.message


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(f"s={VECTOR_S}", id="missing-t"),
        pytest.param(f"t={VECTOR_T}", id="missing-s"),
        pytest.param(f"t=16331745a7,s={VECTOR_S}", id="non-digit-t"),
        pytest.param(f"t=-1633174587,s={VECTOR_S}", id="negative-t"),
        pytest.param(f"t=1633174587.0,s={VECTOR_S}", id="fractional-t"),
        pytest.param(f"t=١٦٣٣١٧٤٥٨٧,s={VECTOR_S}", id="non-ascii-digits-t"),
        pytest.param(f"t=,s={VECTOR_S}", id="empty-t"),
        pytest.param(f"t={VECTOR_T},s=", id="empty-s"),
        pytest.param(f"t={VECTOR_T},t={VECTOR_T},s={VECTOR_S}", id="duplicate-t"),
        pytest.param(f"t={VECTOR_T},s={VECTOR_S},s={VECTOR_S}", id="duplicate-s"),
        pytest.param(f"t={VECTOR_T};s={VECTOR_S}", id="semicolon-separated"),
        pytest.param(f"t{VECTOR_T},s={VECTOR_S}", id="part-without-equals"),
        pytest.param(f"t={VECTOR_T},,s={VECTOR_S}", id="empty-part"),
        pytest.param(f"t={VECTOR_T},s={VECTOR_S[:-1]}", id="short-s"),
        pytest.param(f"t={VECTOR_T},s={VECTOR_S[:-1]}g", id="non-hex-s"),
        pytest.param(f"t={VECTOR_T},s=sha256={VECTOR_S}", id="prefixed-s"),
        pytest.param("", id="empty-header"),
        pytest.param(VECTOR_S, id="bare-digest"),
    ],
)
def test_a_malformed_header_is_a_401_not_a_crash(header):
    with pytest.raises(SignatureError) as raised:
        verify_header(header)
    assert raised.value.status == 401
    assert not isinstance(raised.value, StaleTimestampError)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(VECTOR_BODY + b" ", id="trailing-space"),
        pytest.param(VECTOR_BODY.replace(b"1615338610", b"1615338611"), id="one-byte-changed"),
        pytest.param(json.dumps(json.loads(VECTOR_BODY)).encode(), id="re-serialised"),
        pytest.param(b"", id="empty-body"),
    ],
)
def test_a_body_that_is_not_the_signed_one_is_rejected(body):
    with pytest.raises(SignatureError):
        verify_header(VECTOR_HEADER, body=body)


def test_a_signature_made_with_another_secret_is_rejected():
    headers = signed_headers(VECTOR_BODY, TikTokSecret(client_secret="someone_else"), VECTOR_T)
    with pytest.raises(SignatureError):
        adapter.verify(Delivery(VECTOR_BODY, headers), SECRET, VECTOR_T)


def test_moving_the_timestamp_breaks_the_signature_because_it_is_signed():
    # Given the vector's digest presented with a later t (a replay dressed up as fresh)
    with pytest.raises(SignatureError) as raised:
        verify_header(f"t={VECTOR_T + 60},s={VECTOR_S}", now=VECTOR_T + 60)
    # Then the digest no longer matches
    assert not isinstance(raised.value, StaleTimestampError)


# --- normalise: Business Messaging -----------------------------------------------------------------


def test_an_inbound_business_message_becomes_a_direct_message():
    # Given the reference's im_receive_msg example
    # When normalised
    [draft] = adapter.normalise(Delivery(fixture("im_receive_msg.json")))
    # Then every field comes from the double-parsed content
    assert draft.platform == "tiktok"
    assert draft.kind == "direct_message"
    assert draft.native_id == "7456000000000000001"
    assert draft.interaction_id == "tiktok:7456000000000000001"
    assert draft.thread_id == "0:1:7123:7456"
    assert draft.parent_id is None
    assert draft.author.user_id == "-000buyerOpenId"
    assert draft.author.handle == "buyer_handle"
    assert draft.author.display_name is None
    assert draft.author.follower_count is None
    assert draft.text == "Is this available?"
    assert draft.language is None
    assert draft.occurred_at == datetime(
        2025, 12, 31, 23, 59, 59, 123000, tzinfo=UTC
    )  # content.timestamp in ms


def test_a_hindi_reply_keeps_its_text_its_parent_and_a_numeric_id_above_2_53_exactly():
    # Given a reply in Hindi whose message_id TikTok wrote as a JSON number above 2^53
    [draft] = adapter.normalise(Delivery(fixture("im_receive_msg_hindi_reply.json")))
    # Then the id survives digit for digit, as a string
    assert draft.native_id == "7456000000000000123"
    assert int(draft.native_id) > 2**53
    assert draft.text == "मेरा ऑर्डर अभी तक नहीं आया"
    assert draft.parent_id == "7456000000000000001"
    assert draft.author.user_id == "-000priyaOpenId"
    assert draft.author.handle == "priya_k"
    assert draft.occurred_at == datetime(2026, 1, 1, 0, 1, 52, 345000, tzinfo=UTC)


def test_an_image_message_is_kept_with_empty_text():
    [draft] = adapter.normalise(Delivery(fixture("im_receive_msg_image.json")))
    assert draft.native_id == "7456000000000000002"
    assert draft.text == ""


def test_a_redelivery_gives_the_same_interaction_id():
    first = adapter.normalise(Delivery(fixture("im_receive_msg.json")))
    again = adapter.normalise(Delivery(fixture("im_receive_msg.json")))
    assert (
        [d.interaction_id for d in first]
        == [d.interaction_id for d in again]
        == ["tiktok:7456000000000000001"]
    )


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("im_mark_read_msg.json", id="read-receipt"),
        pytest.param("authorization_removed.json", id="authorization-removed"),
        pytest.param("video_publish_completed.json", id="video-published"),
        pytest.param("comment_delete.json", id="comment-deleted"),
        pytest.param("comment_own.json", id="our-own-top-level-comment"),
    ],
)
def test_events_that_are_neither_a_customers_words_nor_a_reply_are_acknowledged_without_drafts(name):
    assert adapter.normalise(Delivery(fixture(name))) == []


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("im_send_msg.json", id="echo-of-our-own-message"),
        pytest.param("im_receive_msg_outbound.json", id="outbound-reported-as-receive"),
    ],
)
def test_a_message_the_business_sent_is_a_brand_reply_in_the_customers_conversation(name):
    # Given the business's own message to the buyer, as im_send_msg or reported as im_receive_msg
    # When normalised
    [draft] = adapter.normalise(Delivery(fixture(name)))
    # Then it is a brand reply to the buyer, keyed like the buyer's own messages in that conversation
    [customer] = adapter.normalise(Delivery(fixture("im_receive_msg.json")))
    assert (draft.kind, draft.author.user_id, draft.customer_id) == (
        "brand_reply",
        BUSINESS,
        "-000buyerOpenId",
    )
    assert draft.author.handle == "shop_handle"
    assert draft.conversation_key == customer.conversation_key == "conversation:0:1:7123:7456"


def test_the_businesss_reply_to_a_comment_is_a_brand_reply_in_the_comments_conversation():
    # Given the business answering a customer's comment
    payload = json.loads(fixture("comment_own.json"))
    content = json.loads(payload["content"])
    content["parent_comment_id"] = "7457000000000000010"
    payload["content"] = json.dumps(content)
    # When normalised
    [draft] = adapter.normalise(delivery_of(payload))
    # Then it is a brand reply keyed like the comment it answers
    customer = json.loads(fixture("comment_create.json"))
    customer_content = json.loads(customer["content"])
    customer_content["comment_id"] = "7457000000000000010"
    customer["content"] = json.dumps(customer_content)
    [comment] = adapter.normalise(delivery_of(customer))
    assert (draft.kind, draft.parent_id, draft.customer_id) == ("brand_reply", "7457000000000000010", None)
    assert draft.conversation_key == comment.conversation_key == "comments:7457000000000000010"


@pytest.mark.parametrize(
    "event", ["comment.update", "comment.hide", "comment.removed", "post.publish.complete"]
)
def test_other_event_names_give_no_draft(event):
    payload = json.loads(fixture("comment_create.json"))
    payload["event"] = event
    assert adapter.normalise(delivery_of(payload)) == []


@pytest.mark.parametrize("content", [{"reason": 1}, None, "not json", 5])
def test_the_content_of_an_ignored_event_is_not_even_parsed(content):
    assert adapter.normalise(with_content("authorization_removed.json", content)) == []


def test_a_message_without_content_timestamp_falls_back_to_create_time_in_seconds():
    content = json.loads(json.loads(fixture("im_receive_msg.json"))["content"])
    del content["timestamp"]
    [draft] = adapter.normalise(with_content("im_receive_msg.json", json.dumps(content)))
    assert draft.occurred_at == datetime(2026, 1, 1, tzinfo=UTC)


# --- normalise: comments (UNCONFIRMED schema, read tolerantly) -------------------------------------


def test_a_new_comment_becomes_a_comment_on_its_video():
    [draft] = adapter.normalise(Delivery(fixture("comment_create.json")))
    assert draft.platform == "tiktok"
    assert draft.kind == "comment"
    assert draft.native_id == "7457000000000000010"
    assert draft.thread_id == "7450000000000000999"
    assert draft.parent_id is None
    assert draft.author.user_id == "-000fanOpenId"
    assert draft.author.handle == "fan_of_shop"
    assert draft.text == "Love this colour! 😍"
    assert draft.occurred_at == datetime(2026, 1, 1, 0, 3, 20, tzinfo=UTC)  # create_time in seconds


def test_a_comment_with_a_parent_is_a_reply_and_its_alternative_keys_are_read():
    # Given a comment written with the other plausible keys (id, item_id, from_user.id, comment_text, ms time)
    [draft] = adapter.normalise(Delivery(fixture("comment_reply.json")))
    # Then each is read, and the parent makes it a reply
    assert draft.kind == "reply"
    assert draft.native_id == "7457000000000000011"
    assert draft.parent_id == "7457000000000000010"
    assert draft.thread_id == "7450000000000000999"
    assert draft.author.user_id == "-000otherFan"
    assert draft.author.handle == "other_fan"
    assert draft.text == "कितने का है?"
    assert draft.occurred_at == datetime(2026, 1, 1, 0, 3, 32, 345000, tzinfo=UTC)  # timestamp in ms


def test_a_comment_time_in_seconds_as_a_string_is_read():
    payload = json.loads(fixture("comment_create.json"))
    content = json.loads(payload["content"])
    content["create_time"] = "1767225800"
    [draft] = adapter.normalise(with_content("comment_create.json", json.dumps(content)))
    assert draft.occurred_at == datetime(2026, 1, 1, 0, 3, 20, tzinfo=UTC)


# --- normalise: malformed --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        pytest.param({"message_id": "1"}, id="object-not-string"),
        pytest.param(None, id="null"),
        pytest.param("{not json", id="unparseable-string"),
        pytest.param("[1, 2]", id="json-array"),
        pytest.param('"just a string"', id="json-string"),
    ],
)
@pytest.mark.parametrize("name", ["im_receive_msg.json", "comment_create.json"])
def test_a_stored_event_with_bad_content_is_unparseable(name, content):
    with pytest.raises(UnparseableError) as raised:
        adapter.normalise(with_content(name, content))
    assert raised.value.status == 400


@pytest.mark.parametrize(
    "drop", ["message_id", "from_user", "timestamp_and_create_time"], ids=lambda d: f"without-{d}"
)
def test_a_message_missing_its_id_author_or_time_is_unparseable(drop):
    payload = json.loads(fixture("im_receive_msg.json"))
    content = json.loads(payload["content"])
    if drop == "timestamp_and_create_time":
        del content["timestamp"], payload["create_time"]
    else:
        del content[drop]
    payload["content"] = json.dumps(content)
    with pytest.raises(UnparseableError):
        adapter.normalise(delivery_of(payload))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
        pytest.param(b'{"client_key": "k"}', id="no-event"),
        pytest.param(b'{"event": 7}', id="event-not-a-string"),
    ],
)
def test_a_body_that_is_not_a_tiktok_event_is_unparseable(body):
    with pytest.raises(UnparseableError):
        adapter.normalise(Delivery(body))


def test_tiktok_sends_one_event_per_delivery_so_a_json_array_is_unparseable():
    # Given two events wrapped in a list (not how TikTok delivers)
    body = b"[" + fixture("im_receive_msg.json") + b"," + fixture("comment_create.json") + b"]"
    # Then the body is refused rather than half-read
    with pytest.raises(UnparseableError):
        adapter.normalise(Delivery(body))


# --- robustness ------------------------------------------------------------------------------------

NESTED = st.fixed_dictionaries(
    {}, optional={"id": JSON_VALUES, "body": JSON_VALUES, "referenced_message_id": JSON_VALUES}
)
CONTENT_KEYS = [
    "message_id",
    "conversation_id",
    "timestamp",
    "from",
    "to",
    "comment_id",
    "id",
    "text",
    "comment_text",
    "content",
    "user_id",
    "user_openid",
    "username",
    "video_id",
    "item_id",
    "parent_comment_id",
    "reply_to_comment_id",
    "create_time",
]
CONTENT = st.fixed_dictionaries(
    {},
    optional={
        **{key: JSON_VALUES for key in CONTENT_KEYS},
        **{key: NESTED | JSON_VALUES for key in ("from_user", "to_user", "text", "referenced_message_info")},
    },
)
PAYLOADS = st.fixed_dictionaries(
    {"event": st.sampled_from(["im_receive_msg", "comment.create", "comment", "im_send_msg"]) | JSON_VALUES},
    optional={
        "content": CONTENT.map(json.dumps) | JSON_VALUES,
        "create_time": JSON_VALUES,
        "user_openid": st.just(BUSINESS) | JSON_VALUES,
    },
)


@settings(max_examples=300, deadline=None)
@given(PAYLOADS)
def test_normalise_raises_only_domain_errors_for_wrong_types_at_any_depth(payload):
    only_domain_errors(adapter.normalise, delivery_of(payload))


def with_parsed_content(name: str) -> dict[str, Any]:
    payload = json.loads(fixture(name))
    return {**payload, "content": json.loads(payload["content"])}


STORED = [with_parsed_content(name) for name in ("im_receive_msg_hindi_reply.json", "comment_reply.json")]


@settings(max_examples=300, deadline=None)
@given(mutations(STORED))
def test_normalise_raises_only_domain_errors_when_one_value_of_a_real_event_has_the_wrong_type(payload):
    # Given a real stored event with one value, at any depth of the double-parsed content, replaced
    content = payload.get("content") if isinstance(payload, dict) else None
    if isinstance(content, dict):
        payload = {**payload, "content": json.dumps(content)}
    # When normalised, Then a draft or a domain error, nothing else
    only_domain_errors(adapter.normalise, Delivery(json.dumps(payload).encode()))


@settings(deadline=None)
@given(st.binary())
def test_normalise_raises_only_domain_errors_for_arbitrary_bytes(body):
    only_domain_errors(adapter.normalise, Delivery(body))


@settings(max_examples=300, deadline=None)
@given(
    body=st.binary(max_size=64),
    header=ANY_TEXT | st.builds(lambda t, s: f"t={t},s={s}", ANY_TEXT, ANY_TEXT),
    now=st.floats(allow_nan=False) | st.integers(-(10**12), 10**12),
)
def test_verify_raises_only_domain_errors_for_arbitrary_headers(body, header, now):
    with pytest.raises(SocialCrmError):  # refused with a domain error: no random header is a valid signature
        adapter.verify(Delivery(body, {"tiktok-signature": header}), SECRET, now)


@given(st.dictionaries(ANY_TEXT, ANY_TEXT))
def test_handshake_always_answers_405(query):
    with pytest.raises(MethodNotAllowedError):
        adapter.handshake(query, SECRET)


# --- no handshake, so no signing oracle ------------------------------------------------------------

ACCEPTED_BODIES = [
    pytest.param(VECTOR_BODY, id="reference vector"),
    pytest.param(fixture("im_receive_msg.json"), id="business message"),
    pytest.param(fixture("comment_create.json"), id="comment"),
    *LONG_BODIES,
]


@pytest.mark.parametrize("body", ACCEPTED_BODIES)
@pytest.mark.parametrize("key", CHALLENGE_KEYS)
def test_a_delivery_body_sent_as_a_challenge_is_refused_with_405_and_nothing_signed(key, body):
    # Given a body normalise accepts (a forger's delivery), sent as any platform's challenge
    # When TikTok's route is asked for a handshake
    with pytest.raises(MethodNotAllowedError) as raised:
        adapter.handshake({key: body.decode()}, SECRET)
    # Then it is a 405 that does not echo the value
    assert raised.value.status == 405
    assert body.decode() not in raised.value.message


# --- deep nesting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", NESTING_DEPTHS)
@pytest.mark.parametrize(
    "body_of",
    [
        pytest.param(lambda inner: inner, id="bare"),
        pytest.param(lambda inner: b'{"event":"im_receive_msg","extra":' + inner + b"}", id="envelope"),
        pytest.param(
            lambda inner: json.dumps({"event": "im_receive_msg", "content": inner.decode()}).encode(),
            id="message content",
        ),
        pytest.param(
            lambda inner: json.dumps({"event": "comment.create", "content": inner.decode()}).encode(),
            id="comment content",
        ),
    ],
)
def test_json_nested_too_deeply_is_unparseable_not_a_server_error(depth, body_of):
    # Given a signed event nesting thousands of arrays (in the body, or in its JSON-string content)
    body = body_of(nested_arrays(depth))
    adapter.verify(Delivery(body, signed_headers(body, SECRET, VECTOR_T)), SECRET, VECTOR_T)
    # When normalised / Then it is a 400, never a RecursionError (a 5xx)
    with pytest.raises(UnparseableError) as raised:
        adapter.normalise(Delivery(body))
    assert raised.value.status == 400


# --- signatures are compared whole -----------------------------------------------------------------


def test_a_signature_differing_only_in_its_last_hex_digit_is_refused():
    # Given the vector 8 header with only the last hex digit of s changed, still 64 hex digits
    forged = last_hex_digit_changed(VECTOR_HEADER)
    # When verified at its own time / Then it is refused, though 63 of 64 digits match
    with pytest.raises(SignatureError):
        verify_header(forged)


# --- blank ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize("blank", BLANK_IDS)
@pytest.mark.parametrize(
    ("name", "path"),
    [
        pytest.param("im_receive_msg.json", ("message_id",), id="message id"),
        pytest.param("im_receive_msg.json", ("from_user", "id"), id="message sender"),
        pytest.param("comment_create.json", ("comment_id",), id="comment id"),
        pytest.param("comment_create.json", ("user_id",), id="comment author"),
    ],
)
def test_an_event_whose_id_is_only_whitespace_is_refused_like_one_without_an_id(name, path, blank):
    # Given TikTok's one event per delivery, whose message or comment id, or author id, is blank
    payload = json.loads(fixture(name))
    content = json.loads(payload["content"])
    node = content
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = blank
    payload["content"] = json.dumps(content)
    # When normalised / Then it is what the module says of an event lacking an id: unparseable (400)
    with pytest.raises(UnparseableError) as raised:
        adapter.normalise(delivery_of(payload))
    assert raised.value.status == 400
