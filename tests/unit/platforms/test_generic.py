"""Generic adapter: Standard Webhooks signatures (reference library, injected clock) and the envelope body."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialcrm.errors import (
    BadRequestError,
    ConfigurationError,
    MethodNotAllowedError,
    SignatureError,
    SocialCrmError,
    StaleTimestampError,
    UnparseableError,
)
from socialcrm.platforms import adapter_for
from socialcrm.platforms.base import Delivery
from socialcrm.platforms.generic import ENVELOPE_MODEL, GenericEnvelope, adapter, signed_headers
from socialcrm.secrets import GenericSecret
from tests.unit.platforms.hostile_inputs import (
    ANY_TEXT,
    BLANK_IDS,
    CHALLENGE_KEYS,
    JSON_VALUES,
    LONG_BODIES,
    NESTING_DEPTHS,
    last_base64_character_changed,
    mutations,
    nested_arrays,
    only_domain_errors,
)

EVENTS = Path(__file__).parents[2] / "events" / "generic"

# docs/webhook-protocols.md §9 vector 1 (the Standard Webhooks / Svix published vector).
SECRET = GenericSecret(webhook_secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_T = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
VECTOR_HEADERS = {
    "webhook-id": VECTOR_ID,
    "webhook-timestamp": str(VECTOR_T),
    "webhook-signature": VECTOR_SIGNATURE,
}

NOW = 1_795_000_000  # 2026-11-18, for deliveries signed by the tests themselves
NOW_DT = datetime.fromtimestamp(NOW, tz=UTC)


def fixture(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


def verify_vector(now: float = VECTOR_T, body: bytes = VECTOR_BODY, **headers: str | None) -> None:
    merged: dict[str, str | None] = {**VECTOR_HEADERS, **{k.replace("_", "-"): v for k, v in headers.items()}}
    adapter.verify(Delivery(body, {k: v for k, v in merged.items() if v is not None}), SECRET, now)


def body_of(payload: dict[str, Any]) -> Delivery:
    return Delivery(json.dumps(payload, ensure_ascii=False).encode())


def review(**changes: Any) -> dict[str, Any]:
    """The review fixture with dotted-path changes; a value of ``...`` deletes the key."""
    payload = json.loads(fixture("review.json"))
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = payload
        for key in parents:
            node = node[key]
        if value is ...:
            del node[last]
        else:
            node[last] = value
    return payload


# --- handshake -------------------------------------------------------------------------------------


def test_a_get_is_refused_with_405_because_senders_only_post():
    with pytest.raises(MethodNotAllowedError) as raised:
        adapter_for("generic").handshake({}, SECRET)
    assert raised.value.status == 405
    assert "POST" in raised.value.message


# --- signature -------------------------------------------------------------------------------------


def test_signed_headers_reproduce_the_reference_vector_1():
    # Given the published vector's secret, id, timestamp and body; When signed through the reference library
    headers = signed_headers(VECTOR_BODY, SECRET, VECTOR_T, msg_id=VECTOR_ID)
    # Then the headers are exactly the published ones
    assert headers == VECTOR_HEADERS


def test_the_reference_vector_1_verifies_at_its_own_time_not_the_real_clock():
    # Given the 2021 vector, which the library alone rejects today as "Message timestamp too old"
    # When verified with now frozen at its timestamp
    verify_vector(now=VECTOR_T)
    # Then it passes: the library's clock is the injected now (this pins the override of its private hook)


def test_a_delivery_fresh_by_the_real_clock_is_stale_at_an_injected_past_now():
    # Given a delivery signed now-ish (2026)
    headers = signed_headers(VECTOR_BODY, SECRET, NOW)
    # When verified at the vector's 2021 now
    with pytest.raises(StaleTimestampError):
        adapter.verify(Delivery(VECTOR_BODY, headers), SECRET, VECTOR_T)


@pytest.mark.parametrize("offset", [-300, 0, 300])
def test_a_timestamp_within_five_minutes_either_way_is_accepted(offset):
    verify_vector(now=VECTOR_T + offset)


@pytest.mark.parametrize("offset", [301, -301], ids=["too-old", "from-the-future"])
def test_a_timestamp_beyond_five_minutes_is_stale(offset):
    with pytest.raises(StaleTimestampError) as raised:
        verify_vector(now=VECTOR_T + offset)
    assert raised.value.status == 401


def test_one_valid_signature_among_several_is_enough():
    # Given a rotated secret: an old signature first, then the current one
    verify_vector(webhook_signature=f"v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= {VECTOR_SIGNATURE}")


def test_entries_of_an_unknown_version_are_ignored():
    verify_vector(webhook_signature=f"v2,c29tZXRoaW5nIGVsc2U= {VECTOR_SIGNATURE}")


def test_extra_spaces_between_entries_are_tolerated():
    verify_vector(webhook_signature=f"  v2,abc   {VECTOR_SIGNATURE} ")


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param("v1", id="version-only"),
        pytest.param("nocomma", id="no-comma"),
        pytest.param("v1,bogus", id="not-base64"),
        pytest.param("v1,a,b", id="two-commas"),
        pytest.param("v2,c29tZXRoaW5n", id="only-an-unknown-version"),
        pytest.param("v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=", id="another-message's"),
        pytest.param(VECTOR_SIGNATURE.removeprefix("v1,"), id="without-version"),
        pytest.param("v1a," + VECTOR_SIGNATURE.removeprefix("v1,"), id="asymmetric-version"),
    ],
)
def test_a_malformed_or_wrong_signature_is_a_401_not_a_crash(signature):
    with pytest.raises(SignatureError) as raised:
        verify_vector(webhook_signature=signature)
    assert raised.value.status == 401
    assert not isinstance(raised.value, StaleTimestampError)


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_missing_header_is_a_401_naming_it(header):
    headers = {k: v for k, v in VECTOR_HEADERS.items() if k != header}
    with pytest.raises(SignatureError) as raised:
        adapter.verify(Delivery(VECTOR_BODY, headers), SECRET, VECTOR_T)
    assert header in raised.value.message


@pytest.mark.parametrize("timestamp", ["1614265330.0", "16142653e2", "", " 1614265330", "-1614265330", "abc"])
def test_a_timestamp_that_is_not_integer_seconds_is_a_401(timestamp):
    with pytest.raises(SignatureError):
        verify_vector(webhook_timestamp=timestamp)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(VECTOR_BODY + b" ", id="trailing-space"),
        pytest.param(b'{"test":2432232314}', id="re-serialised"),
        pytest.param(b'{"test": 2432232315}', id="one-byte-changed"),
        pytest.param(b"\xff\xfe", id="not-utf8"),
    ],
)
def test_a_body_that_is_not_the_signed_one_is_rejected(body):
    with pytest.raises(SignatureError):
        verify_vector(body=body)


def test_the_message_id_is_signed_so_changing_it_breaks_the_signature():
    with pytest.raises(SignatureError):
        verify_vector(webhook_id="msg_another")


def test_a_signature_made_with_another_secret_is_rejected():
    other = GenericSecret(webhook_secret="whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB")
    with pytest.raises(SignatureError):
        adapter.verify(Delivery(VECTOR_BODY, signed_headers(VECTOR_BODY, other, NOW)), SECRET, NOW)


def test_a_secret_that_is_not_base64_is_a_configuration_error_not_a_401():
    # Given a deployment whose whsec_ secret has impossible base64 padding
    broken = GenericSecret(webhook_secret="whsec_A")
    # Then verifying says the configuration is wrong (500), rather than blaming the sender
    with pytest.raises(ConfigurationError):
        adapter.verify(Delivery(VECTOR_BODY, VECTOR_HEADERS), broken, VECTOR_T)


def test_signed_headers_make_a_new_message_id_unless_given_one():
    first, second = signed_headers(b"{}", SECRET, NOW), signed_headers(b"{}", SECRET, NOW)
    assert first["webhook-id"].startswith("msg_")
    assert first["webhook-id"] != second["webhook-id"]
    adapter.verify(Delivery(b"{}", first), SECRET, NOW)


# --- normalise -------------------------------------------------------------------------------------


def test_a_review_becomes_an_interaction_field_by_field():
    # Given the documented example body
    # When normalised
    [draft] = adapter.normalise(Delivery(fixture("review.json")))
    # Then every field is the sender's
    assert draft.platform == "generic"
    assert draft.kind == "review"
    assert draft.native_id == "r-981"
    assert draft.interaction_id == "generic:r-981"
    assert draft.thread_id is None
    assert draft.parent_id is None
    assert draft.author.user_id == "cust-42"
    assert draft.author.handle == "shopper1"
    assert draft.author.display_name == "Asha Rao"
    assert draft.author.follower_count == 0
    assert draft.text.startswith("Delivery took two weeks")
    assert draft.language is None
    assert draft.occurred_at == datetime(2026, 11, 22, 9, 59, tzinfo=UTC)


def test_a_hindi_reply_keeps_its_language_thread_parent_and_a_big_numeric_user_id_exactly():
    [draft] = adapter.normalise(Delivery(fixture("reply_hindi.json")))
    assert draft.kind == "reply"
    assert draft.text == "बहुत बढ़िया सेवा, धन्यवाद!"
    assert draft.language == "hi"
    assert (draft.thread_id, draft.parent_id) == ("product-1234", "c-77-1")
    assert draft.author.user_id == "9007199254740993"  # 2^53 + 1, a string all the way
    # occurred_at absent: the envelope timestamp (+05:30) in UTC
    assert draft.occurred_at == datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)
    assert draft.occurred_at.utcoffset().total_seconds() == 0


def test_without_any_body_time_the_webhook_timestamp_header_is_used():
    [draft] = adapter.normalise(Delivery(fixture("minimal.json"), {"webhook-timestamp": str(NOW)}))
    assert draft.occurred_at == datetime.fromtimestamp(NOW, tz=UTC)
    assert (draft.kind, draft.text, draft.author.handle) == ("comment", "", None)


def test_without_any_time_at_all_the_error_names_occurred_at():
    with pytest.raises(BadRequestError) as raised:
        adapter.normalise(Delivery(fixture("minimal.json")))
    assert raised.value.message.startswith("data.occurred_at:")


def test_other_event_types_are_acknowledged_without_drafts():
    assert adapter.normalise(Delivery(fixture("other_type.json"))) == []


def test_unknown_envelope_fields_are_tolerated():
    [draft] = adapter.normalise(body_of(review(svix_attempt=3)))
    assert draft.native_id == "r-981"


def test_a_redelivery_gives_the_same_interaction_id():
    first, again = (
        adapter.normalise(Delivery(fixture("review.json"))),
        adapter.normalise(Delivery(fixture("review.json"))),
    )
    assert [d.interaction_id for d in first] == [d.interaction_id for d in again] == ["generic:r-981"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"data__author__user_id": ...}, "data.author.user_id: Field required"),
        ({"data__native_id": ...}, "data.native_id: Field required"),
        ({"data__text": ...}, "data.text: Field required"),
        ({"data__kind": ...}, "data.kind: Field required"),
        ({"data__author": ...}, "data.author: Field required"),
        ({"data": ...}, "data: Field required"),
        ({"type": ...}, "type: Field required"),
        ({"type": 7}, "type: Input should be 'interaction.created'"),
        ({"data__kind": "tweet"}, "data.kind: Input should be"),
        ({"data__native_id": ""}, "data.native_id: String should have at least 1 character"),
        ({"data__native_id": 981}, "data.native_id: Input should be a valid string"),
        ({"data__author__user_id": 42}, "data.author.user_id: Input should be a valid string"),
        (
            {"data__author__follower_count": -1},
            "data.author.follower_count: Input should be greater than or equal",
        ),
        ({"data__txt": "typo"}, "data.txt: Extra inputs are not permitted"),
        ({"data__author__name": "typo"}, "data.author.name: Extra inputs are not permitted"),
        ({"data__occurred_at": "2026-11-22T09:59:00"}, "data.occurred_at: Input should have timezone info"),
        ({"data__occurred_at": "yesterday"}, "data.occurred_at: Input should be a valid datetime"),
        ({"data__language": "Hindi language"}, "data.language: String should match pattern"),
        ({"data": ["not", "an", "object"]}, "data: Input should be a valid dictionary"),
        ({"data__author": "cust-42"}, "data.author: Input should be a valid dictionary"),
    ],
)
def test_an_invalid_body_is_a_400_naming_the_field(changes, expected):
    with pytest.raises(BadRequestError) as raised:
        adapter.normalise(body_of(review(**changes)))
    assert raised.value.status == 400
    assert raised.value.code == "bad_request"
    assert expected in raised.value.message


def test_every_invalid_field_is_named_in_one_answer():
    with pytest.raises(BadRequestError) as raised:
        adapter.normalise(body_of(review(data__native_id=..., data__author__user_id=...)))
    assert "data.native_id: Field required" in raised.value.message
    assert "data.author.user_id: Field required" in raised.value.message


def test_a_flood_of_unknown_fields_gives_a_bounded_message():
    payload = review()
    payload["data"].update({f"field{i}": i for i in range(500)})
    with pytest.raises(BadRequestError) as raised:
        adapter.normalise(body_of(payload))
    assert "and 490 more" in raised.value.message
    assert len(raised.value.message) < 2_000


@pytest.mark.parametrize("body", [b"not json", b"", b"[]", b'"interaction.created"'])
def test_a_body_that_is_not_a_json_object_is_unparseable(body):
    with pytest.raises(UnparseableError):
        adapter.normalise(Delivery(body))


def test_the_envelope_model_is_exported_for_the_schema_and_names_the_required_fields():
    schema = ENVELOPE_MODEL.model_json_schema()
    assert ENVELOPE_MODEL is GenericEnvelope
    assert set(schema["required"]) == {"type", "data"}
    data = schema["$defs"]["GenericData"]
    assert set(data["required"]) == {"native_id", "kind", "text", "author"}
    assert data["additionalProperties"] is False
    assert schema["$defs"]["GenericAuthor"]["required"] == ["user_id"]


# --- robustness ------------------------------------------------------------------------------------

AUTHOR = st.fixed_dictionaries(
    {},
    optional={key: JSON_VALUES | ANY_TEXT for key in ("user_id", "handle", "display_name", "follower_count")},
)
DATA = st.fixed_dictionaries(
    {},
    optional={
        "native_id": ANY_TEXT | JSON_VALUES,
        "kind": st.sampled_from(["review", "comment"]) | JSON_VALUES,
        "text": ANY_TEXT | JSON_VALUES,
        "occurred_at": st.sampled_from(["2026-11-22T09:59:00Z", "9999-12-31T23:59:59-23:59"]) | JSON_VALUES,
        "author": AUTHOR | JSON_VALUES,
        "thread_id": JSON_VALUES,
        "language": st.sampled_from(["hi", "en-GB"]) | JSON_VALUES,
    },
)
ENVELOPES = st.fixed_dictionaries(
    {"type": st.just("interaction.created") | JSON_VALUES},
    optional={"data": DATA | JSON_VALUES, "timestamp": st.just("0001-01-01T00:00:00+23:59") | JSON_VALUES},
)


@settings(max_examples=300, deadline=None)
@given(ENVELOPES, st.sampled_from([{}, {"webhook-timestamp": "99999999999999"}, {"webhook-timestamp": "1"}]))
def test_normalise_raises_only_domain_errors_for_wrong_types_at_any_depth(payload, headers):
    only_domain_errors(adapter.normalise, Delivery(json.dumps(payload).encode(), headers))


@settings(max_examples=300, deadline=None)
@given(mutations([json.loads(fixture("review.json")), json.loads(fixture("reply_hindi.json"))]))
def test_normalise_raises_only_domain_errors_when_one_value_of_a_real_body_has_the_wrong_type(payload):
    only_domain_errors(adapter.normalise, Delivery(json.dumps(payload).encode()))


@settings(deadline=None)
@given(st.binary())
def test_normalise_raises_only_domain_errors_for_arbitrary_bytes(body):
    only_domain_errors(adapter.normalise, Delivery(body))


@settings(max_examples=300, deadline=None)
@given(
    body=st.binary(max_size=32),
    msg_id=ANY_TEXT,
    timestamp=ANY_TEXT | st.just(str(VECTOR_T)),
    signature=ANY_TEXT | st.builds("{},{}".format, ANY_TEXT, ANY_TEXT) | st.just(VECTOR_SIGNATURE),
)
def test_verify_raises_only_domain_errors_for_arbitrary_headers(body, msg_id, timestamp, signature):
    headers = {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature}
    with pytest.raises(SocialCrmError):  # refused with a domain error: no random header is a valid signature
        adapter.verify(Delivery(body, headers), SECRET, VECTOR_T)


# --- no handshake, so no signing oracle ------------------------------------------------------------

ACCEPTED_BODIES = [
    pytest.param(fixture("review.json"), id="review"),
    pytest.param(fixture("reply_hindi.json"), id="hindi reply"),
    *LONG_BODIES,
]


@pytest.mark.parametrize("body", ACCEPTED_BODIES)
@pytest.mark.parametrize("key", CHALLENGE_KEYS)
def test_a_delivery_body_sent_as_a_challenge_is_refused_with_405_and_nothing_signed(key, body):
    # Given a body normalise accepts (a forger's delivery), sent as any platform's challenge
    # When the generic route is asked for a handshake
    with pytest.raises(MethodNotAllowedError) as raised:
        adapter.handshake({key: body.decode()}, SECRET)
    # Then it is a 405 that does not echo the value
    assert raised.value.status == 405
    assert body.decode() not in raised.value.message


# --- deep nesting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", NESTING_DEPTHS)
@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda inner: inner, id="bare"),
        pytest.param(lambda inner: b'{"type":"interaction.created","data":' + inner + b"}", id="data"),
        pytest.param(
            lambda inner: b'{"type":"interaction.created","extra":' + inner + b"}", id="extra field"
        ),
    ],
)
def test_json_nested_too_deeply_is_unparseable_not_a_server_error(depth, wrap):
    # Given a signed body nesting thousands of arrays, where the JSON parser would run out of stack
    body = wrap(nested_arrays(depth))
    headers = signed_headers(body, SECRET, NOW)
    adapter.verify(Delivery(body, headers), SECRET, NOW)  # the reference library is not asked to parse it
    # When normalised / Then it is a 400, never a RecursionError (a 5xx)
    with pytest.raises(UnparseableError) as raised:
        adapter.normalise(Delivery(body, headers))
    assert raised.value.status == 400


# --- signatures are compared whole -----------------------------------------------------------------


def test_a_signature_differing_only_in_its_last_digest_character_is_refused():
    # Given the vector 1 signature with its last digest character (before the "=") changed so that the
    # decoded digest differs too, still a well-formed v1,<base64> entry
    forged = last_base64_character_changed(VECTOR_SIGNATURE)
    assert base64.b64decode(forged[3:]) != base64.b64decode(VECTOR_SIGNATURE[3:])
    # When verified at its own time / Then it is refused
    with pytest.raises(SignatureError):
        verify_vector(webhook_signature=forged)


# --- blank ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize("blank", BLANK_IDS)
@pytest.mark.parametrize(
    ("changes", "named"),
    [
        pytest.param("data__native_id", "data.native_id", id="native id"),
        pytest.param("data__author__user_id", "data.author.user_id", id="author id"),
    ],
)
def test_an_interaction_whose_id_is_only_whitespace_is_a_400_naming_the_field(changes, named, blank):
    # Given the one interaction of a delivery with a blank id
    # When normalised / Then, as for any invalid field, it is a 400 naming it (never the value)
    with pytest.raises(BadRequestError) as raised:
        adapter.normalise(body_of(review(**{changes: blank})))
    assert raised.value.status == 400
    assert raised.value.message.startswith(f"{named}: ")
    assert "whitespace" in raised.value.message


@pytest.mark.parametrize("phone", ["+34 600 000 000", "0034600000000", "+34 (600) 000-000"])
def test_a_senders_phone_number_becomes_the_same_keyed_hash_as_the_whatsapp_number_and_is_kept_nowhere(phone):
    from socialcrm.models import Author, Interaction, InteractionDraft

    # Given a review whose sender gives the person's phone number, and the same person on WhatsApp
    [draft] = adapter.normalise(body_of(review(data__author__phone=phone, data__author__phone_verified=True)))
    whatsapp = InteractionDraft(
        platform="whatsapp",
        kind="direct_message",
        native_id="wamid.1",
        author=Author(user_id="34600000000"),
        occurred_at=NOW_DT,
    )
    # When both are completed with the pepper
    web = Interaction.from_draft(draft, pepper="pepper", received_at=NOW_DT)
    wa = Interaction.from_draft(whatsapp, pepper="pepper", received_at=NOW_DT)
    # Then they carry one key, and the number itself is nowhere in what is stored
    assert web.identity_keys == wa.identity_keys and len(web.identity_keys) == 1
    stored = web.model_dump_json()
    assert "600" not in stored.replace(web.identity_keys[0], "") and "phone" not in stored


@pytest.mark.parametrize(
    ("phone", "verified"),
    [
        ("12345", True),
        ("call me", True),
        ("+34 600 000 000 000 000", True),
        ("600 000 000", True),  # a national number: another country's digits, read as international
        ("+34 600 000 000", False),  # not verified: whoever types a number must not join its owner
    ],
)
def test_what_is_no_verified_international_phone_number_gives_no_key(phone, verified):
    from socialcrm.models import Interaction

    [draft] = adapter.normalise(
        body_of(review(data__author__phone=phone, data__author__phone_verified=verified))
    )
    assert Interaction.from_draft(draft, pepper="pepper", received_at=NOW_DT).identity_keys == []
