"""The X adapter: CRC handshake, body signature, Account Activity and X Activity deliveries."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
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
from socialcrm.platforms.x import (
    SIGNATURE_HEADER,
    adapter,
    body_signature,
    crc_response_token,
    signed_headers,
)
from socialcrm.secrets import XSecret
from tests.unit.platforms.hostile_inputs import (
    ANY_TEXT,
    BLANK_IDS,
    LONG_BODIES,
    NESTING_DEPTHS,
    last_base64_character_changed,
    nested_arrays,
    reshaped,
)

EVENTS = Path(__file__).resolve().parents[2] / "events" / "x"
# docs/webhook-protocols.md §9 vectors 2 and 3 (consumer secret and crc_token from X DevRel's published gist).
VECTOR_SECRET = XSecret(consumer_secret="z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu")
VECTOR_CRC_TOKEN = "9b4507b3-9040-4669-9ca3-6b94edb50553"
VECTOR_CRC_ANSWER = "sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="
VECTOR_BODY = b'{"for_user_id":"2244994945","tweet_create_events":[]}'
VECTOR_BODY_SIGNATURE = "sha256=CpOc2dZ+JrkFhzkAW3gWETdo1w8Mx1i/MpqTbkrylcw="
NOW = 1_747_663_400.0
BRAND = "2244994945"
XAA_BRAND = "1111111111111111111"


def raw(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


def document(name: str) -> Any:
    return json.loads(raw(name))


def normalise(body: bytes | Any) -> list[InteractionDraft]:
    if not isinstance(body, bytes):
        body = json.dumps(body, ensure_ascii=False).encode()
    return adapter.normalise(Delivery(body=body))


def signed(body: bytes) -> Delivery:
    return Delivery(body=body, headers=signed_headers(body, VECTOR_SECRET, NOW))


# --- handshake ------------------------------------------------------------------------------------------


def test_the_route_x_serves_this_adapter_with_the_x_secret_model() -> None:
    # Given the route segment "x" / When its adapter is looked up / Then it is this one
    assert adapter_for("x") is adapter
    assert adapter.name == "x"
    assert adapter.secret_model is XSecret


def test_crc_answers_the_reference_vector_as_json() -> None:
    # Given X's CRC with the published token and consumer secret
    query = {"crc_token": VECTOR_CRC_TOKEN}

    # When the handshake answers it
    reply = adapter.handshake(query, VECTOR_SECRET)

    # Then it is JSON with the known response token
    assert reply.status == 200
    assert reply.content_type == "application/json"
    assert json.loads(reply.body) == {"response_token": VECTOR_CRC_ANSWER}
    assert crc_response_token(VECTOR_CRC_TOKEN, VECTOR_SECRET) == VECTOR_CRC_ANSWER


def test_crc_answer_is_keyed_with_the_consumer_secret() -> None:
    # Given the same token answered with another app's secret
    other = XSecret(consumer_secret="another-consumer-secret")

    # When the handshake answers it / Then X would not accept the answer
    reply = adapter.handshake({"crc_token": VECTOR_CRC_TOKEN}, other)
    assert json.loads(reply.body)["response_token"] != VECTOR_CRC_ANSWER


@pytest.mark.parametrize("query", [{}, {"crc_token": ""}, {"hub.challenge": "123"}])
def test_crc_without_a_token_is_a_bad_request(query: dict[str, str]) -> None:
    # Given a GET without crc_token / When it is answered / Then it is a 400
    with pytest.raises(BadRequestError) as caught:
        adapter.handshake(query, VECTOR_SECRET)
    assert caught.value.status == 400


def test_crc_with_a_token_that_is_not_text_is_a_bad_request() -> None:
    # Given a token holding a lone surrogate (no UTF-8 form) / When answered / Then a 400, not a crash
    with pytest.raises(BadRequestError):
        adapter.handshake({"crc_token": "abc\ud800"}, VECTOR_SECRET)


# --- signature ------------------------------------------------------------------------------------------


def test_the_reference_body_vector_verifies_and_is_what_the_sender_side_signs() -> None:
    # Given the §9 vector 3 body and its known signature
    delivery = Delivery(body=VECTOR_BODY, headers={SIGNATURE_HEADER: VECTOR_BODY_SIGNATURE})

    # When verified / Then it passes, and the sender-side helper produces the same header
    adapter.verify(delivery, VECTOR_SECRET, NOW)
    assert body_signature(VECTOR_BODY, VECTOR_SECRET) == VECTOR_BODY_SIGNATURE
    assert signed_headers(VECTOR_BODY, VECTOR_SECRET, NOW) == {SIGNATURE_HEADER: VECTOR_BODY_SIGNATURE}


def test_signed_headers_add_extra_headers_with_http_names() -> None:
    # Given an extra header passed as a keyword / When signing / Then it is there under its HTTP name
    headers = signed_headers(VECTOR_BODY, VECTOR_SECRET, NOW, content_type="application/json")
    assert headers == {SIGNATURE_HEADER: VECTOR_BODY_SIGNATURE, "content-type": "application/json"}


def test_a_signed_delivery_with_hindi_text_verifies_over_its_raw_utf8_bytes() -> None:
    # Given a real-shaped delivery whose body holds raw UTF-8 Devanagari
    body = raw("aaa_tweet_mention_hindi.json")
    assert "धीमा".encode() in body

    # When verified with the header X computes over those bytes / Then it passes
    adapter.verify(signed(body), VECTOR_SECRET, NOW)


def test_signature_surrounded_by_whitespace_still_verifies() -> None:
    # Given a header value with stray whitespace (some proxies add it) / When verified / Then it passes
    delivery = Delivery(body=VECTOR_BODY, headers={SIGNATURE_HEADER: f" {VECTOR_BODY_SIGNATURE} "})
    adapter.verify(delivery, VECTOR_SECRET, NOW)


def _resigned_with_ascii_escapes(body: bytes) -> bytes:
    return json.dumps(json.loads(body)).encode()


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param(VECTOR_BODY, {}, id="missing header"),
        pytest.param(VECTOR_BODY, {SIGNATURE_HEADER: ""}, id="empty header"),
        pytest.param(
            VECTOR_BODY, {SIGNATURE_HEADER: "sha1=CpOc2dZ+JrkFhzkAW3gWETdo1w8Mx1i/MpqTbkrylcw="}, id="sha1"
        ),
        pytest.param(
            VECTOR_BODY, {SIGNATURE_HEADER: "SHA256=CpOc2dZ+JrkFhzkAW3gWETdo1w8Mx1i/MpqTbkrylcw="}, id="case"
        ),
        pytest.param(
            VECTOR_BODY, {SIGNATURE_HEADER: "CpOc2dZ+JrkFhzkAW3gWETdo1w8Mx1i/MpqTbkrylcw="}, id="no prefix"
        ),
        pytest.param(VECTOR_BODY, {SIGNATURE_HEADER: "sha256=not base64 at all"}, id="malformed"),
        pytest.param(
            VECTOR_BODY, {SIGNATURE_HEADER: "sha256=CpOc2dZ+JrkFhzkAW3gWETdo1w8Mx1i/MpqTbkrylc"}, id="cut"
        ),
        pytest.param(
            VECTOR_BODY,
            {SIGNATURE_HEADER: "sha256=0a939cd9d67e26b9058739005b7816113768d70f0cc758bf329a936e4af295cc"},
            id="hex instead of base64",
        ),
        pytest.param(VECTOR_BODY + b" ", {SIGNATURE_HEADER: VECTOR_BODY_SIGNATURE}, id="one byte added"),
        pytest.param(
            VECTOR_BODY.replace(b"2244994945", b"2244994946"),
            {SIGNATURE_HEADER: VECTOR_BODY_SIGNATURE},
            id="one byte changed",
        ),
        pytest.param(
            _resigned_with_ascii_escapes(raw("aaa_tweet_mention_hindi.json")),
            signed_headers(raw("aaa_tweet_mention_hindi.json"), VECTOR_SECRET, NOW),
            id="body re-serialised",
        ),
        pytest.param(
            VECTOR_BODY,
            signed_headers(VECTOR_BODY, XSecret(consumer_secret="someone-else"), NOW),
            id="other secret",
        ),
    ],
)
def test_a_delivery_without_a_valid_signature_is_rejected(body: bytes, headers: dict[str, str]) -> None:
    # Given a delivery whose signature is absent, malformed or not over these bytes with this secret
    delivery = Delivery(body=body, headers=headers)

    # When verified / Then it is a 401
    with pytest.raises(SignatureError) as caught:
        adapter.verify(delivery, VECTOR_SECRET, NOW)
    assert caught.value.status == 401


# --- Account Activity API: posts -----------------------------------------------------------------------


def test_a_hindi_mention_is_normalised_field_by_field() -> None:
    # Given the reference AAA mention in Hindi
    # When normalised
    (draft,) = normalise(raw("aaa_tweet_mention_hindi.json"))

    # Then every field is X's own
    assert draft.platform == "x"
    assert draft.kind == "mention"
    assert draft.native_id == "1924465506158878979"
    assert draft.interaction_id == "x:1924465506158878979"
    assert draft.thread_id == "1924465506158878979"  # a post that answers nothing starts its conversation
    assert draft.parent_id is None
    assert draft.author.user_id == "3001969357"
    assert draft.author.handle == "furiouscamper"
    assert draft.author.display_name == "Jordan Brinks"
    assert draft.author.follower_count == 22
    assert draft.text == "@XDevelopers आपका ऐप बहुत धीमा है, कृपया ठीक करें"
    assert draft.language == "hi"
    assert draft.occurred_at == datetime(2025, 5, 19, 14, 1, 46, tzinfo=UTC)


def test_post_ids_above_2_to_the_53_come_from_id_str_exactly() -> None:
    # Given the mention whose numeric id is what a JavaScript client would have rounded it to
    payload = document("aaa_tweet_mention_hindi.json")
    payload["tweet_create_events"][0]["id"] = 1924465506158878700
    payload["tweet_create_events"][0]["user"]["id"] = 3001969300
    assert payload["tweet_create_events"][0]["id_str"] == "1924465506158878979"  # above 2**53

    # When normalised
    (draft,) = normalise(payload)

    # Then the ids are the exact strings, not the numbers
    assert draft.native_id == "1924465506158878979"
    assert draft.author.user_id == "3001969357"


def test_a_long_reply_takes_its_full_text_and_its_time_from_created_at() -> None:
    # Given a truncated reply whose full text is in extended_tweet and which carries no timestamp_ms
    # When normalised
    (draft,) = normalise(raw("aaa_tweet_reply_extended.json"))

    # Then it is a reply to the brand's post with the untruncated text
    assert draft.kind == "reply"
    assert draft.native_id == "1924741234567890123"
    assert draft.parent_id == "1924700000000000001"
    assert draft.thread_id is None  # v1.1 does not say which conversation a reply belongs to
    assert draft.text.startswith("@XDevelopers Third time this week")
    assert draft.text.endswith("whole quarter-end close.")
    assert "…" not in draft.text
    assert draft.author.user_id == "98765432101234567"
    assert draft.author.follower_count == 1530
    assert draft.language == "en"
    assert draft.occurred_at == datetime(2025, 5, 20, 8, 15, 2, tzinfo=UTC)


def test_timestamp_ms_is_preferred_to_created_at_for_its_millisecond_precision() -> None:
    # Given a post whose timestamp_ms carries milliseconds
    payload = document("aaa_tweet_mention_hindi.json")
    payload["tweet_create_events"][0]["timestamp_ms"] = "1747663306789"

    # When normalised / Then the milliseconds are kept
    (draft,) = normalise(payload)
    assert draft.occurred_at == datetime(2025, 5, 19, 14, 1, 46, 789000, tzinfo=UTC)


def test_a_batch_of_posts_keeps_customers_and_skips_the_brand_and_retweets() -> None:
    # Given five posts: a mention, a quote, the brand's own post, a retweet and a reply
    # When normalised
    drafts = normalise(raw("aaa_tweet_batch.json"))

    # Then the three customer posts remain, in order
    assert [d.native_id for d in drafts] == [
        "1925000000000000011",
        "1925000000000000012",
        "1925000000000000015",
    ]
    mention, quote, reply = drafts
    assert (mention.kind, mention.parent_id, mention.language) == ("mention", None, None)  # lang "und"
    assert mention.text == "@XDevelopers 🙏🙏"
    assert (quote.kind, quote.parent_id, quote.thread_id) == (
        "mention",
        "1924999999999999999",
        quote.native_id,
    )
    assert quote.author.handle == "benokafor"
    assert (reply.kind, reply.parent_id, reply.language) == ("reply", "1925000000000000013", "fr")
    assert reply.occurred_at == datetime(2025, 5, 21, 10, 4, tzinfo=UTC)
    assert all(d.author.user_id != BRAND for d in drafts)


def test_the_brands_own_post_gives_nothing() -> None:
    # Given a delivery holding only a post by the subscribed account
    payload = document("aaa_tweet_mention_hindi.json")
    payload["tweet_create_events"][0]["user"]["id_str"] = payload["for_user_id"]

    # When normalised / Then there is no interaction
    assert normalise(payload) == []


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("hi", "hi"),
        ("en-GB", "en-GB"),
        ("in", "id"),
        ("iw", "he"),
        ("und", None),
        ("zxx", None),
        ("qme", None),
        ("qht", None),
        ("qam", None),
        ("", None),
        (None, None),
        (7, None),
        ("not a language", None),
    ],
)
def test_only_a_real_language_tag_becomes_the_language_hint(lang: Any, expected: str | None) -> None:
    # Given the mention with X's lang field set / When normalised / Then only real languages are kept
    payload = document("aaa_tweet_mention_hindi.json")
    payload["tweet_create_events"][0]["lang"] = lang
    (draft,) = normalise(payload)
    assert draft.language == expected


def test_a_post_lacking_its_id_or_time_is_skipped_and_the_rest_of_the_batch_kept() -> None:
    # Given a batch in which one post has a numeric id only and another an unreadable time
    payload = document("aaa_tweet_batch.json")
    del payload["tweet_create_events"][0]["id_str"]
    payload["tweet_create_events"][1]["timestamp_ms"] = "soon"
    payload["tweet_create_events"][1]["created_at"] = "yesterday"

    # When normalised / Then the readable reply is still there
    assert [d.native_id for d in normalise(payload)] == ["1925000000000000015"]


# --- Account Activity API: direct messages ---------------------------------------------------------------


def test_the_reference_direct_message_is_normalised_field_by_field() -> None:
    # Given the official AAA direct_message_events sample
    # When normalised
    (draft,) = normalise(raw("aaa_direct_message.json"))

    # Then the sender comes from the users map and the thread is X's one-to-one conversation id
    assert draft.kind == "direct_message"
    assert draft.native_id == "954491830116155396"
    assert draft.thread_id == "3001969357-4337869213"
    assert draft.parent_id is None
    assert draft.author.user_id == "3001969357"
    assert draft.author.handle == "furiouscamper"
    assert draft.author.display_name == "Jordan Brinks"
    assert draft.author.follower_count == 22
    assert draft.text == "Hello World!"
    assert draft.language is None
    assert draft.occurred_at == datetime(2018, 1, 19, 23, 12, 40, 557000, tzinfo=UTC)


def test_a_batch_of_direct_messages_keeps_the_brands_answer_as_a_brand_reply() -> None:
    # Given two customers' DMs with the brand's answer between them
    # When normalised
    drafts = normalise(raw("aaa_direct_message_batch.json"))

    # Then both customers' messages remain, each in its own conversation with the brand
    assert [d.native_id for d in drafts] == [
        "1925100000000000001",
        "1925100000000000002",
        "1925100000000000003",
    ]
    first, answer, second = drafts
    assert [d.author.handle for d in (first, second)] == ["anasouza", "benokafor"]
    assert first.text == "Olá, meu pedido 8812 não chegou."
    # X orders the two user ids numerically: 2244994945 < 1500000000000000001 < ...
    assert first.thread_id == "2244994945-1500000000000000001"
    assert second.thread_id == "44196397-2244994945"
    # and the brand's answer is a brand reply to the first customer, in that customer's conversation
    assert (answer.kind, answer.author.user_id, answer.customer_id) == (
        "brand_reply",
        BRAND,
        "1500000000000000001",
    )
    assert answer.text == "Sorry to hear that, checking now."
    assert answer.thread_id == first.thread_id
    assert answer.conversation_key == first.conversation_key == f"dm:{BRAND}:1500000000000000001"
    assert second.conversation_key == f"dm:{BRAND}:44196397"


def test_other_account_activity_events_are_acknowledged_with_nothing() -> None:
    # Given likes, follows, typing indicators and deletions / When normalised / Then nothing
    assert normalise(raw("aaa_other_events.json")) == []


# --- X Activity API --------------------------------------------------------------------------------------


def test_an_activity_api_mention_is_normalised_field_by_field() -> None:
    # Given the official post.mention.create sample
    # When normalised
    (draft,) = normalise(raw("xaa_post_mention.json"))

    # Then the post id is the native id and the author comes from includes.users
    assert draft.kind == "mention"
    assert draft.native_id == "2080765813578191303"
    assert draft.thread_id == "2080765813578191303"
    assert draft.parent_id is None
    assert draft.author.user_id == "2222222222222222222"
    assert draft.author.handle == "OtherUser"
    assert draft.author.display_name == "OtherUser"
    assert draft.author.follower_count == 97
    assert draft.text == "hey @ExampleUser"
    assert draft.language is None  # lang "und"
    assert draft.occurred_at == datetime(2026, 7, 24, 21, 23, 23, tzinfo=UTC)


def test_the_same_post_from_both_apis_is_one_interaction() -> None:
    # Given the Hindi mention delivered once by AAA and once by XAA
    # When both are normalised
    (from_aaa,) = normalise(raw("aaa_tweet_mention_hindi.json"))
    (from_xaa,) = normalise(raw("xaa_post_mention_hindi.json"))

    # Then they dedupe to one interaction and say the same thing
    assert from_xaa.interaction_id == from_aaa.interaction_id == "x:1924465506158878979"
    assert from_xaa == from_aaa


def test_an_activity_api_reply_takes_its_long_text_parent_and_conversation() -> None:
    # Given a post.reply.create with a note_tweet and its author wrapped as {"data": user}
    # When normalised
    (draft,) = normalise(raw("xaa_post_reply.json"))

    # Then it is a reply in the brand's conversation with the full text
    assert draft.kind == "reply"
    assert draft.native_id == "2080950000000000007"
    assert draft.parent_id == "2080761390344937796"
    assert draft.thread_id == "2080761390344937796"
    assert draft.text.endswith("Esto no es serio.")
    assert draft.author.handle == "luciaf"
    assert draft.author.display_name == "Lucía Fernández"
    assert draft.author.follower_count == 871
    assert draft.language == "es"


def test_a_reply_identified_only_by_referenced_tweets_has_its_parent() -> None:
    # Given the reply without in_reply_to_tweet_id, only referenced_tweets
    payload = document("xaa_post_reply.json")
    del payload["data"]["payload"]["in_reply_to_tweet_id"]

    # When normalised / Then the parent comes from the replied_to reference
    (draft,) = normalise(payload)
    assert draft.parent_id == "2080761390344937796"


def test_a_mention_that_replies_to_a_post_is_a_reply_as_from_the_account_activity_api() -> None:
    # Given a post.mention.create whose post answers another post
    payload = document("xaa_post_mention.json")
    payload["data"]["payload"]["referenced_tweets"] = [{"type": "replied_to", "id": "2080700000000000000"}]

    # When normalised / Then it is a reply, as AAA would have called the same post
    (draft,) = normalise(payload)
    assert (draft.kind, draft.parent_id) == ("reply", "2080700000000000000")


def test_an_activity_api_quote_is_a_mention_of_the_quoted_post() -> None:
    # Given a post.quote.create / When normalised
    (draft,) = normalise(raw("xaa_post_quote.json"))

    # Then it is a mention whose parent is the quoted post
    assert draft.kind == "mention"
    assert draft.native_id == "2080960000000000009"
    assert draft.parent_id == "2080761390344937796"
    assert draft.thread_id == "2080960000000000009"
    assert draft.author.follower_count == 97


def test_an_activity_api_direct_message_is_normalised_with_its_v2_sender() -> None:
    # Given the official dm.received sample / When normalised
    (draft,) = normalise(raw("xaa_dm_received.json"))

    # Then the DM event id is the native id and the sender comes from the wrapped v2 user
    assert draft.kind == "direct_message"
    assert draft.native_id == "2080765901528535096"
    assert draft.thread_id == "1111111111111111111-2222222222222222222"
    assert draft.author.user_id == "2222222222222222222"
    assert draft.author.handle == "OtherUser"
    assert draft.author.follower_count == 97
    assert draft.text == "hello!"
    assert draft.occurred_at == datetime(2026, 7, 24, 21, 23, 44, 372000, tzinfo=UTC)


def test_activity_api_posts_and_dms_by_the_brand_give_nothing() -> None:
    # Given a mention and a dm.received whose author is the filtered (brand) user
    mention = document("xaa_post_mention.json")
    mention["data"]["payload"]["author_id"] = XAA_BRAND
    dm = document("xaa_dm_received.json")
    dm["data"]["payload"]["direct_message_events"][0]["message_create"]["sender_id"] = XAA_BRAND

    # When normalised / Then there is no interaction
    assert normalise(mention) == []
    assert normalise(dm) == []


def test_the_brands_own_activity_api_post_that_answers_nothing_gives_nothing() -> None:
    # Given the brand's own post.create, a post that replies to nobody / When normalised / Then nothing
    assert normalise(raw("xaa_post_create.json")) == []


def test_an_activity_api_dm_sent_by_the_brand_is_a_brand_reply_in_the_customers_conversation() -> None:
    # Given X's dm.sent sample: the filtered (brand) user writing to a customer
    # When normalised
    (draft,) = normalise(raw("xaa_dm_sent.json"))
    # Then it is a brand reply to the recipient, keyed like that customer's dm.received
    received = document("xaa_dm_received.json")
    received["data"]["payload"]["direct_message_events"][0]["message_create"]["sender_id"] = "2244994945"
    received["data"]["payload"]["direct_message_events"][0]["message_create"]["target"]["recipient_id"] = (
        XAA_BRAND
    )
    (customer,) = normalise(received)
    assert (draft.kind, draft.author.user_id, draft.customer_id) == ("brand_reply", XAA_BRAND, "2244994945")
    assert draft.author.handle == "ExampleUser"
    assert draft.text == "Thanks for the update!"
    assert draft.conversation_key == customer.conversation_key == f"dm:{XAA_BRAND}:2244994945"


def test_an_activity_api_delivery_listing_several_events_gives_each_interaction() -> None:
    # Given several XAA events in one delivery, one of them an event type that is skipped
    events = [
        document(name)["data"]
        for name in (
            "xaa_post_mention.json",
            "xaa_post_create.json",
            "xaa_post_reply.json",
            "xaa_dm_received.json",
        )
    ]

    # When normalised / Then each customer interaction is there once
    drafts = normalise({"data": events})
    assert [(d.kind, d.native_id) for d in drafts] == [
        ("mention", "2080765813578191303"),
        ("reply", "2080950000000000007"),
        ("direct_message", "2080765901528535096"),
    ]


# --- malformed bodies ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b'"tweet"',
        b'{"for_user_id": "1", "tweet_create_events": {"id_str": "1"}}',
        b'{"for_user_id": "1", "direct_message_events": "hello"}',
        b'{"data": "post.mention.create"}',
    ],
)
def test_a_body_that_is_not_an_x_delivery_is_unparseable(body: bytes) -> None:
    # Given a body X never sends / When normalised / Then it is a 400
    with pytest.raises(UnparseableError) as caught:
        normalise(body)
    assert caught.value.status == 400


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

    # Then every draft is a valid X interaction with string ids
    for draft in drafts:
        assert draft.platform == "x"
        assert isinstance(draft.native_id, str) and draft.native_id
        assert isinstance(draft.author.user_id, str) and draft.author.user_id


HEADER_VALUES = ANY_TEXT | st.builds(lambda tail: "sha256=" + tail, ANY_TEXT)


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=200),
    headers=st.dictionaries(st.sampled_from([SIGNATURE_HEADER, "content-type"]) | ANY_TEXT, HEADER_VALUES),
    query=st.dictionaries(st.sampled_from(["crc_token"]) | ANY_TEXT, ANY_TEXT),
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


# --- the CRC is not a signing oracle -------------------------------------------------------------------

# Bodies the adapter takes in, each of which a forger would like X's signature for.
ACCEPTED_BODIES = [
    pytest.param(VECTOR_BODY, id="reference vector"),
    pytest.param(raw("aaa_tweet_mention_hindi.json"), id="AAA mention as sent"),
    pytest.param(
        json.dumps(document("aaa_tweet_mention_hindi.json"), separators=(",", ":")).encode(), id="AAA compact"
    ),
    pytest.param(raw("aaa_direct_message.json"), id="AAA direct message"),
    pytest.param(
        json.dumps(document("xaa_post_mention.json"), separators=(",", ":")).encode(), id="XAA compact"
    ),
]


def _hmac_base64(message: bytes) -> str:
    key = VECTOR_SECRET.consumer_secret.get_secret_value().encode()
    return "sha256=" + base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


@pytest.mark.parametrize(
    "token",
    [
        VECTOR_CRC_TOKEN,
        "challenge_string",
        "MTQ1NDk4ODg4MzQ4OTg2Mjc4NA==",
        "a1B2-c3D4_e5F6.g7H8~i9J0:k1L2/m3N4+o5P6",
        "t" * 256,
    ],
)
def test_crc_answers_typical_tokens_with_the_hmac_x_expects(token: str) -> None:
    # Given a token of the kinds X and its examples use (a UUID, text, base64), up to 256 characters
    # When the CRC is answered
    reply = adapter.handshake({"crc_token": token}, VECTOR_SECRET)

    # Then the answer is sha256=base64(HMAC-SHA256(consumer secret, token))
    assert reply.status == 200
    assert json.loads(reply.body) == {"response_token": _hmac_base64(token.encode())}


@pytest.mark.parametrize("body", ACCEPTED_BODIES)
def test_crc_refuses_to_sign_a_delivery_body_the_adapter_would_accept(body: bytes) -> None:
    # Given a body that normalise accepts (a forger's delivery)
    normalise(body)

    # When it is sent as the crc_token, to get the signature X would send with it
    with pytest.raises(BadRequestError) as refused:
        adapter.handshake({"crc_token": body.decode()}, VECTOR_SECRET)

    # Then the CRC is refused with a 400 that says what a token may hold, without echoing it
    assert refused.value.status == 400
    assert "crc_token" in refused.value.message
    assert body.decode() not in refused.value.message
    json.dumps({"error": refused.value.code, "message": refused.value.message})


@pytest.mark.parametrize(
    "character",
    [
        "{",
        '"',
        " ",
        "\t",
        "\n",
        "\r",
        "\x0b",
        "\xa0",
        "\u3000",
        "\x00",
        "\x1b",
        "\x7f",
        "\x85",
        "\u200b",
        "\u202e",
        "\ufeff",
        "\u2028",
        "\u2029",
        "\ud800",
    ],
)
def test_crc_refuses_a_token_holding_a_brace_quote_space_control_or_format_character(character: str) -> None:
    # Given an otherwise typical token holding one character a delivery body could need
    token = VECTOR_CRC_TOKEN[:8] + character + VECTOR_CRC_TOKEN[8:]

    # When the CRC is answered / Then it is a 400 and nothing is signed
    with pytest.raises(BadRequestError) as refused:
        adapter.handshake({"crc_token": token}, VECTOR_SECRET)
    assert refused.value.status == 400
    assert token not in refused.value.message


@pytest.mark.parametrize("length", [257, 10_000])
def test_crc_refuses_a_token_longer_than_256_characters(length: int) -> None:
    # Given a long token of plain characters / When the CRC is answered / Then it is a 400
    with pytest.raises(BadRequestError) as refused:
        adapter.handshake({"crc_token": "a" * length}, VECTOR_SECRET)
    assert refused.value.status == 400
    assert "256" in refused.value.message


@pytest.mark.parametrize("body", [pytest.param(nested_arrays(128), id="128 nested arrays"), *LONG_BODIES])
def test_a_crc_answer_cannot_be_replayed_as_the_signature_of_a_long_or_unusual_body(body: bytes) -> None:
    # Given a body the CRC might be asked to sign
    # When the CRC is asked for it
    try:
        answer = json.loads(adapter.handshake({"crc_token": body.decode()}, VECTOR_SECRET).body)
    except BadRequestError:
        return  # refused: nothing was signed

    # Then whatever it answered is no use as a delivery: verify passes only over that exact body,
    # which normalise refuses
    adapter.verify(Delivery(body, {SIGNATURE_HEADER: answer["response_token"]}), VECTOR_SECRET, NOW)
    with pytest.raises(UnparseableError):
        normalise(body)


# --- deep nesting --------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", NESTING_DEPTHS)
@pytest.mark.parametrize(
    "wrap",
    [
        pytest.param(lambda inner: inner, id="bare"),
        pytest.param(lambda inner: b'{"for_user_id":"1","tweet_create_events":' + inner + b"}", id="AAA"),
        pytest.param(lambda inner: b'{"data":' + inner + b"}", id="XAA"),
    ],
)
def test_json_nested_too_deeply_is_unparseable_not_a_server_error(depth: int, wrap: Callable) -> None:
    # Given a signed body nesting thousands of arrays, where the JSON parser would run out of stack
    body = wrap(nested_arrays(depth))
    adapter.verify(signed(body), VECTOR_SECRET, NOW)  # X's signature covers bytes: nothing is parsed

    # When normalised / Then it is a 400, never a RecursionError (a 5xx)
    with pytest.raises(UnparseableError) as refused:
        normalise(body)
    assert refused.value.status == 400


# --- signatures are compared whole ---------------------------------------------------------------------


def test_a_signature_differing_only_in_its_last_digest_character_is_refused() -> None:
    # Given the reference signature with only its last digest character changed, still well-formed
    forged = last_base64_character_changed(VECTOR_BODY_SIGNATURE)
    assert forged[:-2] == VECTOR_BODY_SIGNATURE[:-2] and forged != VECTOR_BODY_SIGNATURE
    assert base64.b64decode(forged[7:]) != base64.b64decode(VECTOR_BODY_SIGNATURE[7:])

    # When verified / Then it is refused, though every character but one matches
    with pytest.raises(SignatureError):
        adapter.verify(Delivery(VECTOR_BODY, {SIGNATURE_HEADER: forged}), VECTOR_SECRET, NOW)


# --- blank ids -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("blank", BLANK_IDS)
def test_account_activity_items_whose_ids_are_only_whitespace_are_skipped_and_the_rest_kept(
    blank: str,
) -> None:
    # Given a batch whose first post has a blank id and whose second post's author has a blank id
    payload = document("aaa_tweet_batch.json")
    payload["tweet_create_events"][0]["id_str"] = blank
    payload["tweet_create_events"][1]["user"]["id_str"] = blank
    # and DMs, one with a blank event id and one with a blank sender
    dms = document("aaa_direct_message_batch.json")["direct_message_events"]
    dms[0]["id"] = blank
    dms[2]["message_create"]["sender_id"] = blank
    payload["direct_message_events"] = [*dms, document("aaa_direct_message.json")["direct_message_events"][0]]

    # When normalised
    drafts = normalise(payload)

    # Then only the items with real ids remain (the brand's DM answer among them)
    assert [d.native_id for d in drafts] == [
        "1925000000000000015",
        "1925100000000000002",
        "954491830116155396",
    ]


@pytest.mark.parametrize("blank", [" ", "\t\t"])
def test_activity_api_items_whose_ids_are_only_whitespace_are_skipped_and_the_rest_kept(blank: str) -> None:
    # Given three XAA mentions: one with a blank post id, one with a blank author id, one intact
    no_id, no_author, intact = (document("xaa_post_mention.json")["data"] for _ in range(3))
    no_id["payload"]["id"] = blank
    no_author["payload"]["author_id"] = blank
    dm = document("xaa_dm_received.json")["data"]
    dm["payload"]["direct_message_events"][0]["message_create"]["sender_id"] = blank

    # When normalised / Then only the intact one remains
    drafts = normalise({"data": [no_id, no_author, dm, intact]})
    assert [d.native_id for d in drafts] == ["2080765813578191303"]


# --- times at the ends of the calendar -----------------------------------------------------------------


def test_a_post_created_in_year_1_is_handled_and_the_rest_of_the_batch_kept() -> None:
    # Given a batch whose first post carries only a v1.1 created_at in year 1 (UTC), and whose second
    # carries year 1 an hour east of UTC (which is year 0 in UTC, before what a datetime can hold)
    payload = document("aaa_tweet_batch.json")
    first, second = payload["tweet_create_events"][:2]
    del first["timestamp_ms"], second["timestamp_ms"]
    first["created_at"] = "Mon Jan 01 00:00:00 +0000 0001"
    second["created_at"] = "Mon Jan 01 00:30:00 +0100 0001"

    # When normalised: no exception
    drafts = normalise(payload)

    # Then the year-1 time, which parses, is kept; the one that cannot be read is skipped; the rest stay
    assert [d.native_id for d in drafts] == ["1925000000000000011", "1925000000000000015"]
    assert drafts[0].occurred_at == datetime(1, 1, 1, tzinfo=UTC)


def test_an_activity_api_post_created_in_year_1_is_handled_and_the_rest_kept() -> None:
    # Given XAA mentions created in year 1 UTC, in year 1 east of UTC (unreadable), and today
    year_1, before_year_1, today = (document("xaa_post_mention.json")["data"] for _ in range(3))
    year_1["payload"]["created_at"] = "0001-01-01T00:00:00Z"
    year_1["payload"]["id"] = "1"
    before_year_1["payload"]["created_at"] = "0001-01-01T00:30:00+01:00"
    before_year_1["payload"]["id"] = "2"

    # When normalised: no exception
    drafts = normalise({"data": [year_1, before_year_1, today]})

    # Then year 1 is kept, the unreadable time skipped, today's post kept
    assert [(d.native_id, d.occurred_at.year) for d in drafts] == [("1", 1), ("2080765813578191303", 2026)]
