"""The LinkedIn adapter: challenge validation, tolerant X-LI-Signature, organisation social actions."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcrm.errors import BadRequestError, SignatureError, SocialCrmError, UnparseableError
from socialcrm.models import InteractionDraft
from socialcrm.platforms import adapter_for
from socialcrm.platforms.base import Delivery
from socialcrm.platforms.linkedin import (
    SIGNATURE_HEADER,
    adapter,
    body_signature,
    challenge_response,
    signed_headers,
)
from socialcrm.secrets import LinkedInSecret
from tests.unit.platforms.hostile_inputs import (
    ANY_TEXT,
    BLANK_IDS,
    NESTING_DEPTHS,
    last_hex_digit_changed,
    nested_arrays,
    reshaped,
)

EVENTS = Path(__file__).resolve().parents[2] / "events" / "linkedin"
# docs/webhook-protocols.md §9 vectors 6 and 7.
VECTOR_SECRET = LinkedInSecret(client_secret="linkedin_client_secret")
VECTOR_CHALLENGE = "890e4665-4dfe-4ab1-b689-ed553bceeed0"
VECTOR_CHALLENGE_RESPONSE = "c813f311661c3a733dcae599bb95c7cabc666e22dc36e2a84a3d3ce27c9de8de"
VECTOR_BODY = b'{"type":"ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS","notifications":[]}'
VECTOR_PREFIXED_READING = "ac45eddaaa6a822768f9fe11ff32196ccf7c378ca88261af039122750e00abb9"
VECTOR_RAW_READING = "fdccaf03aefbb1c0066e3cf3c0d529ab45fc568c37c1ff623bde6fa398d6d5cc"
NOW = 1_691_574_600.0
ORG = "urn:li:organization:96072893"


def raw(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


def document(name: str) -> Any:
    return json.loads(raw(name))


def normalise(body: bytes | Any) -> list[InteractionDraft]:
    if not isinstance(body, bytes):
        body = json.dumps(body, ensure_ascii=False).encode()
    return adapter.normalise(Delivery(body=body))


def verify(body: bytes, header: str | None) -> None:
    headers = {} if header is None else {SIGNATURE_HEADER: header}
    adapter.verify(Delivery(body=body, headers=headers), VECTOR_SECRET, NOW)


# --- handshake ------------------------------------------------------------------------------------------


def test_the_route_linkedin_serves_this_adapter_with_the_linkedin_secret_model() -> None:
    # Given the route segment "linkedin" / When its adapter is looked up / Then it is this one
    assert adapter_for("linkedin") is adapter
    assert adapter.name == "linkedin"
    assert adapter.secret_model is LinkedInSecret


def test_validation_answers_the_reference_vector_as_json() -> None:
    # Given LinkedIn's validation GET with the reference challenge code
    query = {"challengeCode": VECTOR_CHALLENGE, "applicationId": "77abc123"}

    # When the handshake answers it
    reply = adapter.handshake(query, VECTOR_SECRET)

    # Then the code is echoed with its known hex HMAC, as JSON
    assert reply.status == 200
    assert reply.content_type == "application/json"
    assert json.loads(reply.body) == {
        "challengeCode": VECTOR_CHALLENGE,
        "challengeResponse": VECTOR_CHALLENGE_RESPONSE,
    }
    assert challenge_response(VECTOR_CHALLENGE, VECTOR_SECRET) == VECTOR_CHALLENGE_RESPONSE


def test_validation_answer_is_keyed_with_the_client_secret() -> None:
    # Given the same challenge answered with another app's secret / When answered
    reply = adapter.handshake({"challengeCode": VECTOR_CHALLENGE}, LinkedInSecret(client_secret="other"))

    # Then LinkedIn would not accept the answer
    assert json.loads(reply.body)["challengeResponse"] != VECTOR_CHALLENGE_RESPONSE


@pytest.mark.parametrize("query", [{}, {"challengeCode": ""}, {"challengecode": VECTOR_CHALLENGE}])
def test_validation_without_a_challenge_code_is_a_bad_request(query: dict[str, str]) -> None:
    # Given a GET without challengeCode / When answered / Then it is a 400
    with pytest.raises(BadRequestError) as caught:
        adapter.handshake(query, VECTOR_SECRET)
    assert caught.value.status == 400


def test_validation_with_a_code_that_is_not_text_is_a_bad_request() -> None:
    # Given a code holding a lone surrogate / When answered / Then a 400, not a crash
    with pytest.raises(BadRequestError):
        adapter.handshake({"challengeCode": "\udfff"}, VECTOR_SECRET)


# --- signature ------------------------------------------------------------------------------------------


def test_the_sender_side_signs_the_majority_reading_of_the_reference_vector() -> None:
    # Given the §9 vector 7 body / When signed / Then it is bare lowercase hex of HMAC("hmacsha256=" + body)
    assert body_signature(VECTOR_BODY, VECTOR_SECRET) == VECTOR_PREFIXED_READING
    assert signed_headers(VECTOR_BODY, VECTOR_SECRET, NOW, content_type="application/json") == {
        SIGNATURE_HEADER: VECTOR_PREFIXED_READING,
        "content-type": "application/json",
    }


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(VECTOR_PREFIXED_READING, id="prefixed body, bare header"),
        pytest.param("hmacsha256=" + VECTOR_PREFIXED_READING, id="prefixed body, prefixed header"),
        pytest.param(VECTOR_PREFIXED_READING.upper(), id="prefixed body, uppercase hex"),
        pytest.param("HMACSHA256=" + VECTOR_PREFIXED_READING, id="prefixed body, uppercase prefix"),
        pytest.param(VECTOR_RAW_READING, id="raw body, bare header"),
        pytest.param("hmacsha256=" + VECTOR_RAW_READING, id="raw body, prefixed header"),
        pytest.param(VECTOR_RAW_READING.upper(), id="raw body, uppercase hex"),
        pytest.param(f"  {VECTOR_PREFIXED_READING} ", id="surrounding whitespace"),
    ],
)
def test_every_reading_of_the_reference_signature_verifies(header: str) -> None:
    # Given the §9 vector 7 body with a header in one of the readings seen in the wild
    # When verified / Then it passes
    verify(VECTOR_BODY, header)


def test_a_signed_batch_with_umlauts_verifies_over_its_raw_utf8_bytes() -> None:
    # Given a real-shaped batch whose body holds raw UTF-8
    body = raw("batch.json")
    assert "stürzt".encode() in body

    # When verified with the header LinkedIn computes over those bytes / Then it passes
    adapter.verify(Delivery(body=body, headers=signed_headers(body, VECTOR_SECRET, NOW)), VECTOR_SECRET, NOW)


@pytest.mark.parametrize(
    ("body", "header"),
    [
        pytest.param(VECTOR_BODY, None, id="missing header"),
        pytest.param(VECTOR_BODY, "", id="empty header"),
        pytest.param(VECTOR_BODY, "sha256=" + VECTOR_PREFIXED_READING, id="wrong prefix"),
        pytest.param(VECTOR_BODY, "hmacsha1=" + VECTOR_PREFIXED_READING, id="other algorithm prefix"),
        pytest.param(VECTOR_BODY, "hmacsha256=", id="prefix only"),
        pytest.param(VECTOR_BODY, VECTOR_PREFIXED_READING[:-1], id="one hex digit short"),
        pytest.param(VECTOR_BODY, VECTOR_PREFIXED_READING + "0", id="one hex digit long"),
        pytest.param(VECTOR_BODY, "z" * 64, id="not hex"),
        pytest.param(VECTOR_BODY, "rEXt2qpqgido+f4R/zIZbM98N4yogmGvA5EidQ4Aq7k=", id="base64 instead of hex"),
        pytest.param(VECTOR_BODY + b" ", VECTOR_PREFIXED_READING, id="one byte added"),
        pytest.param(VECTOR_BODY.replace(b"[]", b"[ ]"), VECTOR_PREFIXED_READING, id="re-serialised"),
        pytest.param(
            VECTOR_BODY.replace(b"ORGANIZATION", b"ORGANISATION"), VECTOR_RAW_READING, id="one byte changed"
        ),
        pytest.param(
            json.dumps(json.loads(raw("batch.json"))).encode(),
            signed_headers(raw("batch.json"), VECTOR_SECRET, NOW)[SIGNATURE_HEADER],
            id="body re-serialised with escapes",
        ),
        pytest.param(
            VECTOR_BODY,
            body_signature(VECTOR_BODY, LinkedInSecret(client_secret="someone-else")),
            id="other secret",
        ),
    ],
)
def test_a_delivery_without_a_valid_signature_is_rejected(body: bytes, header: str | None) -> None:
    # Given a delivery whose signature is absent, malformed or matches neither reading
    # When verified / Then it is a 401
    with pytest.raises(SignatureError) as caught:
        verify(body, header)
    assert caught.value.status == 401


# --- notifications --------------------------------------------------------------------------------------


def test_the_reference_comment_is_normalised_field_by_field() -> None:
    # Given the captured COMMENT notification of the reference
    # When normalised
    (draft,) = normalise(raw("comment.json"))

    # Then the notification id is the native id and the post is the thread
    assert draft.platform == "linkedin"
    assert draft.kind == "comment"
    assert draft.native_id == "5603453321"
    assert draft.interaction_id == "linkedin:5603453321"
    assert draft.thread_id == "urn:li:activity:7094637247890620418"
    assert draft.parent_id is None
    assert draft.author.user_id == "urn:li:person:zLqTygBP8S"
    assert (draft.author.handle, draft.author.display_name, draft.author.follower_count) == (None, None, None)
    assert draft.text == "Commenting as Sumit Butola..."
    assert draft.language is None
    assert draft.occurred_at == datetime(2023, 8, 9, 9, 48, 26, 310000, tzinfo=UTC)


def test_a_redelivered_notification_is_the_same_interaction() -> None:
    # Given the same notification delivered twice, the second time with a later lastModifiedAt
    first = document("comment.json")
    again = copy.deepcopy(first)
    again["notifications"][0]["lastModifiedAt"] += 300_000

    # When both are normalised / Then they share the interaction id (the dedupe key)
    (one,) = normalise(first)
    (two,) = normalise(again)
    assert one.interaction_id == two.interaction_id == "linkedin:5603453321"


def test_a_full_batch_keeps_comments_replies_mentions_and_the_organisations_reply() -> None:
    # Given a batch of ten: comment, admin comment (a reply to the first comment), reply, like, reshare,
    # share mention, admin mention, edit, delete and a top-level comment by the organisation itself
    # When normalised
    drafts = normalise(raw("batch.json"))

    # Then the four customer interactions and the organisation's reply remain, in order
    assert [(d.native_id, d.kind) for d in drafts] == [
        ("5603460001", "comment"),
        ("5603460002", "brand_reply"),
        ("5603460003", "reply"),
        ("5603460006", "mention"),
        ("5603460007", "mention"),
    ]
    comment, answer, reply, share_mention, admin_mention = drafts
    assert comment.text == "Die neue Version stürzt bei mir ständig ab. Gibt es ein Update?"
    assert comment.author.user_id == "urn:li:person:Hq8vXw2Lk1"
    assert reply.parent_id == "urn:li:comment:(urn:li:activity:7094637247890620418,7095000000000000001)"
    assert reply.thread_id == "urn:li:activity:7094637247890620418"
    assert share_mention.text.startswith("Great onboarding session with @Acme Corp")
    assert share_mention.author.user_id == "urn:li:person:Mn4bVc6XzA"
    assert share_mention.thread_id == "urn:li:activity:7095000000000000006"
    assert admin_mention.text == "@Acme Corp could you share the slides?"
    assert all(d.author.user_id != ORG for d in drafts if d.kind != "brand_reply")
    # and the organisation's answer is its reply in the first comment's conversation
    assert (answer.author.user_id, answer.customer_id) == (ORG, None)
    assert answer.text == "Thanks for flagging, our team is on it."
    assert answer.parent_id == "urn:li:comment:(urn:li:activity:7094637247890620418,7095000000000000001)"
    root = "comments:urn:li:comment:(urn:li:activity:7094637247890620418,7095000000000000001)"
    assert comment.conversation_key == answer.conversation_key == reply.conversation_key == root
    assert share_mention.conversation_key == "post:urn:li:share:7095000000000000006"
    assert admin_mention.conversation_key == (
        "comments:urn:li:comment:(urn:li:activity:7094637247890620418,7095000000000000007)"
    )


@pytest.mark.parametrize(
    "action", ["ADMIN_COMMENT", "SHARE", "LIKE", "COMMENT_EDIT", "COMMENT_DELETE", "SOMETHING_NEW", None, 3]
)
def test_actions_that_are_not_customer_words_give_nothing(action: Any) -> None:
    # Given the reference comment under another action / When normalised / Then nothing
    payload = document("comment.json")
    payload["notifications"][0]["action"] = action
    assert normalise(payload) == []


def test_a_comment_by_the_organisation_itself_gives_nothing() -> None:
    # Given the reference comment authored by the organisation / When normalised / Then nothing
    payload = document("comment.json")
    payload["notifications"][0]["decoratedGeneratedActivity"]["comment"]["owner"] = ORG
    assert normalise(payload) == []


def test_a_bare_list_of_notifications_is_read_with_actor_and_message_text_fallbacks() -> None:
    # Given notifications sent without the envelope; the second names its author only as `actor`
    # and holds its text in comment.message.text
    # When normalised
    first, second = normalise(raw("bare_list.json"))

    # Then both are read; a string notification id is kept as is
    assert (first.native_id, first.text) == ("5603470001", "किस दिन नया वर्शन आएगा?")
    assert first.author.user_id == "urn:li:person:Lk2jHg3FdS"
    assert (second.native_id, second.author.user_id) == ("5603470002", "urn:li:person:Rt6yUi7OpA")
    assert second.text == "Where can I find the pricing page?"


def test_a_single_notification_without_envelope_is_read() -> None:
    # Given one notification object / When normalised / Then it is the reference comment
    (draft,) = normalise(raw("single_notification.json"))
    assert draft.native_id == "5603453321"
    assert draft.kind == "comment"


def test_a_notification_lacking_id_author_or_time_is_skipped_and_the_rest_kept() -> None:
    # Given a batch in which three comments each lack one thing an interaction needs
    payload = document("batch.json")
    notifications = payload["notifications"]
    del notifications[0]["notificationId"]
    notifications[2]["decoratedGeneratedActivity"]["comment"]["owner"] = None
    notifications[5]["lastModifiedAt"] = "yesterday"

    # When normalised / Then only the complete ones remain
    assert [d.native_id for d in normalise(payload)] == ["5603460002", "5603460007"]


def test_notifications_of_another_event_type_give_nothing() -> None:
    # Given an envelope of a different subscription type / When normalised / Then nothing
    payload = document("batch.json")
    payload["type"] = "LEAD_ACTION"
    assert normalise(payload) == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b'"COMMENT"',
        b"42",
        b'{"type": "X", "notifications": {"action": "COMMENT"}}',
    ],
)
def test_a_body_that_is_not_a_linkedin_delivery_is_unparseable(body: bytes) -> None:
    # Given a body LinkedIn never sends / When normalised / Then it is a 400
    with pytest.raises(UnparseableError) as caught:
        normalise(body)
    assert caught.value.status == 400


def test_an_object_with_no_notifications_gives_nothing() -> None:
    # Given a JSON object that holds no notification / When normalised / Then nothing, not an error
    assert normalise(b'{"hello": "world"}') == []


# --- robustness ------------------------------------------------------------------------------------------

FIXTURES = sorted(path.name for path in EVENTS.glob("*.json"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=reshaped([document(name) for name in FIXTURES]))
def test_any_reshaped_delivery_gives_drafts_or_a_domain_error(body: bytes) -> None:
    # Given a real delivery with parts replaced by values of any JSON type
    # When normalised
    try:
        drafts = normalise(body)
    except SocialCrmError:
        return

    # Then every draft is a valid LinkedIn interaction with string ids
    for draft in drafts:
        assert draft.platform == "linkedin"
        assert isinstance(draft.native_id, str) and draft.native_id
        assert isinstance(draft.author.user_id, str) and draft.author.user_id
        assert draft.kind in {"comment", "reply", "mention", "brand_reply"}


HEADER_VALUES = ANY_TEXT | st.builds(lambda tail: "hmacsha256=" + tail, ANY_TEXT)


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=200),
    headers=st.dictionaries(st.sampled_from([SIGNATURE_HEADER, "content-type"]) | ANY_TEXT, HEADER_VALUES),
    query=st.dictionaries(st.sampled_from(["challengeCode", "applicationId"]) | ANY_TEXT, ANY_TEXT),
)
def test_arbitrary_bytes_headers_and_queries_raise_only_domain_errors(
    body: bytes, headers: dict[str, str], query: dict[str, str]
) -> None:
    # Given arbitrary input on every entry point / When each is called / Then only domain errors escape
    delivery = Delivery(body=body, headers=headers, query=query)
    with pytest.raises(SocialCrmError):  # no random header is a valid signature
        adapter.verify(delivery, VECTOR_SECRET, NOW)
    for call in (
        lambda: adapter.handshake(query, VECTOR_SECRET),
        lambda: adapter.normalise(delivery),
    ):
        with contextlib.suppress(SocialCrmError):
            call()


# --- the validation is not a signing oracle ------------------------------------------------------------

# Bodies the adapter takes in, each of which a forger would like LinkedIn's signature for.
ACCEPTED_BODIES = [
    pytest.param(VECTOR_BODY, id="reference vector"),
    pytest.param(raw("comment.json"), id="comment as sent"),
    pytest.param(json.dumps(document("comment.json"), separators=(",", ":")).encode(), id="comment compact"),
    pytest.param(raw("single_notification.json"), id="single notification"),
    pytest.param(raw("bare_list.json"), id="bare list"),
]


OTHER_CODE = "0f8fad5b-d9cb-469f-a165-70867728950e"


def _hex_hmac(message: bytes) -> str:
    key = VECTOR_SECRET.client_secret.get_secret_value().encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "code",
    [
        VECTOR_CHALLENGE,
        VECTOR_CHALLENGE.upper(),
        OTHER_CODE,
        str(uuid.UUID(int=0x1234_5678_9ABC_4DEF_8123_4567_89AB_CDEF)),
        "00000000-0000-4000-8000-000000000000",
        "FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF",
    ],
)
def test_validation_answers_any_version_4_uuid_in_either_case(code: str) -> None:
    # Given a challenge code that is a random type-4 UUID, as LinkedIn documents it
    # When the validation is answered
    reply = adapter.handshake({"challengeCode": code}, VECTOR_SECRET)

    # Then the code comes back with its hex HMAC-SHA256 under the client secret
    assert reply.status == 200
    assert json.loads(reply.body) == {"challengeCode": code, "challengeResponse": _hex_hmac(code.encode())}


@pytest.mark.parametrize("body", ACCEPTED_BODIES)
@pytest.mark.parametrize(
    "as_code",
    [
        pytest.param(lambda body: body, id="bare reading: HMAC(body)"),
        pytest.param(lambda body: b"hmacsha256=" + body, id="prefixed reading: HMAC('hmacsha256=' + body)"),
    ],
)
def test_validation_refuses_to_sign_a_delivery_body_under_either_reading(
    body: bytes, as_code: Callable[[bytes], bytes]
) -> None:
    # Given a body that normalise accepts (a forger's delivery), as the message either reading signs
    normalise(body)
    code = as_code(body).decode()

    # When it is sent as the challengeCode, to get a valid X-LI-Signature for it
    with pytest.raises(BadRequestError) as refused:
        adapter.handshake({"challengeCode": code}, VECTOR_SECRET)

    # Then it is a 400 saying what a code is, without echoing the value
    assert refused.value.status == 400
    assert "version-4 UUID" in refused.value.message
    assert code not in refused.value.message
    json.dumps({"error": refused.value.code, "message": refused.value.message})


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("x" * 257, id="257 characters"),
        pytest.param("x" * 10_000, id="10,000 characters"),
        pytest.param(OTHER_CODE * 7 + "-0f8f", id="257 characters of UUIDs"),
        pytest.param(OTHER_CODE.replace("-469f-", "-169f-"), id="version 1"),
        pytest.param(OTHER_CODE.replace("-a165-", "-c165-"), id="not the RFC 4122 variant"),
        pytest.param(OTHER_CODE.replace("-", ""), id="no hyphens"),
        pytest.param("{" + OTHER_CODE + "}", id="braces"),
        pytest.param("urn:uuid:" + OTHER_CODE, id="urn"),
        pytest.param(OTHER_CODE + "\n", id="trailing newline"),
        pytest.param(" " + OTHER_CODE, id="leading space"),
        pytest.param(OTHER_CODE.replace("0", "\u0660"), id="non-ASCII digits"),
        pytest.param(OTHER_CODE.replace("f", "g"), id="not hex"),
    ],
)
def test_validation_refuses_any_code_that_is_not_a_canonical_version_4_uuid(code: str) -> None:
    # Given a code that is long, or not a canonical type-4 UUID / When answered / Then it is a 400
    with pytest.raises(BadRequestError) as refused:
        adapter.handshake({"challengeCode": code}, VECTOR_SECRET)
    assert refused.value.status == 400
    assert code not in refused.value.message


def test_a_validation_answer_is_no_use_as_the_signature_of_a_delivery() -> None:
    # Given the answer to a real validation, which signs the code's own bytes under the bare reading
    answer = json.loads(adapter.handshake({"challengeCode": VECTOR_CHALLENGE}, VECTOR_SECRET).body)

    # When it is replayed as X-LI-Signature, for the code itself and for a real delivery
    verify(VECTOR_CHALLENGE.encode(), answer["challengeResponse"])
    with pytest.raises(SignatureError):
        verify(VECTOR_BODY, answer["challengeResponse"])

    # Then the only body it signs is the code, which is not a delivery
    with pytest.raises(UnparseableError):
        normalise(VECTOR_CHALLENGE.encode())


# --- deep nesting --------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", NESTING_DEPTHS)
@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda inner: inner, id="bare list"),
        pytest.param(lambda inner: b'{"notifications":' + inner + b"}", id="envelope"),
        pytest.param(lambda inner: b'{"notificationId":1,"action":' + inner + b"}", id="single notification"),
    ],
)
def test_json_nested_too_deeply_is_unparseable_not_a_server_error(depth: int, wrap: Callable) -> None:
    # Given a signed body nesting thousands of arrays, where the JSON parser would run out of stack
    body = wrap(nested_arrays(depth))
    verify(body, body_signature(body, VECTOR_SECRET))  # the signature covers bytes: nothing is parsed

    # When normalised / Then it is a 400, never a RecursionError (a 5xx)
    with pytest.raises(UnparseableError) as refused:
        normalise(body)
    assert refused.value.status == 400


# --- signatures are compared whole ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(last_hex_digit_changed(VECTOR_PREFIXED_READING), id="prefixed reading, bare header"),
        pytest.param(
            "hmacsha256=" + last_hex_digit_changed(VECTOR_PREFIXED_READING),
            id="prefixed reading, prefixed header",
        ),
        pytest.param(last_hex_digit_changed(VECTOR_RAW_READING), id="bare reading, bare header"),
        pytest.param(
            "hmacsha256=" + last_hex_digit_changed(VECTOR_RAW_READING), id="bare reading, prefixed header"
        ),
    ],
)
def test_a_signature_differing_only_in_its_last_hex_digit_is_refused(header: str) -> None:
    # Given a reading of the reference signature with only its last hex digit changed, still 64 hex digits
    # When verified / Then it is refused, though 63 of 64 digits match
    with pytest.raises(SignatureError):
        verify(VECTOR_BODY, header)


# --- blank ids -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("blank", BLANK_IDS)
def test_a_notification_whose_id_or_author_is_only_whitespace_is_skipped_and_the_rest_kept(
    blank: str,
) -> None:
    # Given a batch in which one comment's id and another's every author field are only whitespace
    payload = document("batch.json")
    notifications = payload["notifications"]
    notifications[0]["notificationId"] = blank
    notifications[2]["decoratedGeneratedActivity"]["comment"]["owner"] = blank
    notifications[2]["actor"] = blank

    # When normalised / Then those two are skipped and the other interactions kept
    assert [d.native_id for d in normalise(payload)] == ["5603460002", "5603460006", "5603460007"]
