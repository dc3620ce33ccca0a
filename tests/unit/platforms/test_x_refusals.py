"""X adapter: what each refusal tells X or the operator, and the less common shapes of posts and DMs.

A refusal's message is the body of the 400/401 that is answered, so it is pinned here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from socialcrm.errors import BadRequestError, ConfigurationError, SignatureError, UnparseableError
from socialcrm.platforms.base import Delivery
from socialcrm.platforms.x import SIGNATURE_HEADER, adapter, crc_response_token
from socialcrm.secrets import LinkedInSecret
from tests.unit.platforms.hostile_inputs import refusal
from tests.unit.platforms.test_x import (
    BRAND,
    VECTOR_BODY,
    VECTOR_CRC_ANSWER,
    VECTOR_CRC_TOKEN,
    VECTOR_SECRET,
    XAA_BRAND,
    normalise,
)

CUSTOMER = "3001969357"


def tweet(**fields: Any) -> dict[str, Any]:
    """An Account Activity post by a customer."""
    return {
        "id_str": "1925000000000000001",
        "user": {"id_str": CUSTOMER, "screen_name": "furiouscamper"},
        "timestamp_ms": "1747663306000",
        "text": "@brand hello",
        **fields,
    }


def aaa_posts(*tweets: dict[str, Any]) -> dict[str, Any]:
    return {"for_user_id": BRAND, "tweet_create_events": list(tweets)}


def dm_event(**fields: Any) -> dict[str, Any]:
    message_create = {
        "sender_id": CUSTOMER,
        "message_data": {"text": "Hello"},
        **fields.pop("message_create", {}),
    }
    return {"type": "message_create", "id": "954491830116155396", "created_timestamp": "1516403560557",
            "message_create": message_create, **fields}  # fmt: skip


def xaa(event_type: str, payload: dict[str, Any], brand: str | None = XAA_BRAND) -> dict[str, Any]:
    event: dict[str, Any] = {"event_type": event_type, "payload": payload}
    if brand is not None:
        event["filter"] = {"user_id": brand}
    return event


def post(**fields: Any) -> dict[str, Any]:
    """An X Activity API post by a customer."""
    return {"id": "1925000000000000009", "author_id": CUSTOMER, "created_at": "2025-05-19T14:01:46.000Z",
            "text": "@brand hi", **fields}  # fmt: skip


# --- handshake and secret --------------------------------------------------------------------------


def test_the_crc_can_be_answered_with_the_consumer_secret_given_as_text():
    secret = VECTOR_SECRET.consumer_secret.get_secret_value()
    assert crc_response_token(VECTOR_CRC_TOKEN, secret) == VECTOR_CRC_ANSWER


@pytest.mark.parametrize(
    "secret",
    [
        pytest.param("", id="empty-string"),
        pytest.param(LinkedInSecret(client_secret="x"), id="another-platforms"),
    ],
)
def test_an_empty_or_foreign_secret_is_a_configuration_error_and_nothing_is_signed(secret):
    message = refusal(ConfigurationError, crc_response_token, VECTOR_CRC_TOKEN, secret)
    assert message == "The x secret must be an XSecret with a consumer_secret."


def test_a_one_character_crc_token_is_signed():
    assert crc_response_token("a", VECTOR_SECRET).startswith("sha256=")


@pytest.mark.parametrize("token", ["", "a b", "{", "x" * 257])
def test_a_token_that_could_be_a_body_is_told_what_a_token_may_hold(token):
    message = refusal(BadRequestError, crc_response_token, token, VECTOR_SECRET)
    assert message == (
        "The crc_token must be at most 256 characters with no whitespace, "
        "braces, quotes, control or format characters."
    )


# --- signature -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "message"),
    [
        pytest.param(None, f"The {SIGNATURE_HEADER} header is missing.", id="missing"),
        pytest.param(
            "sha1=abc", f"The {SIGNATURE_HEADER} header must start with 'sha256='.", id="other-method"
        ),
        pytest.param(
            "sha256=abc", f"The {SIGNATURE_HEADER} header is not a Base64 SHA-256 digest.", id="short"
        ),
        pytest.param("sha256=" + "A" * 43 + "=", "The signature does not match the body.", id="wrong-digest"),
    ],
)
def test_each_signature_refusal_says_what_is_wrong(header, message):
    headers = {} if header is None else {SIGNATURE_HEADER: header}
    assert (
        refusal(SignatureError, adapter.verify, Delivery(VECTOR_BODY, headers), VECTOR_SECRET, 0.0) == message
    )


# --- body: refusals --------------------------------------------------------------------------------


def test_activity_data_that_is_not_an_object_is_refused_saying_so():
    message = refusal(UnparseableError, normalise, {"data": "post"})
    assert message == "The X Activity API 'data' must be an object."


def test_an_event_list_that_is_not_a_list_is_refused_naming_it():
    message = refusal(UnparseableError, normalise, {"for_user_id": BRAND, "tweet_create_events": {}})
    assert message == "'tweet_create_events' must be a list."


# --- body: Account Activity posts ------------------------------------------------------------------


@pytest.mark.parametrize(
    "quote",
    [
        pytest.param({"quoted_status_id_str": "1924000000000000001"}, id="by-id"),
        pytest.param({"quoted_status": {"id_str": "1924000000000000001"}}, id="by-object"),
    ],
)
def test_a_quote_names_the_quoted_post_as_its_parent_however_x_gives_it(quote):
    [draft] = normalise(aaa_posts(tweet(is_quote_status=True, **quote)))
    assert draft.kind == "mention"
    assert draft.parent_id == "1924000000000000001"


def test_a_post_without_words_is_kept_with_empty_text():
    [draft] = normalise(aaa_posts(tweet(text=None)))
    assert draft.text == ""


def test_an_author_with_no_followers_is_shown_with_zero_followers():
    [draft] = normalise(aaa_posts(tweet(user={"id_str": CUSTOMER, "followers_count": 0})))
    assert draft.author.follower_count == 0


def test_a_v1_created_at_is_given_in_utc_on_a_machine_in_another_time_zone(machine_in_india):
    [draft] = normalise(aaa_posts(tweet(timestamp_ms=None, created_at="Mon May 19 14:01:46 +0000 2025")))
    assert draft.occurred_at.isoformat() == "2025-05-19T14:01:46+00:00"


@pytest.mark.parametrize(
    ("lang", "language"),
    [
        pytest.param("zh-Hant-TW", "zh-Hant-TW", id="three-part-tag"),
        pytest.param("fil", "fil", id="three-letter-code"),
        pytest.param("qaa", None, id="first-private-use-code"),
        pytest.param("qtz", None, id="last-private-use-code"),
    ],
)
def test_a_language_hint_is_kept_as_sent_unless_it_is_a_private_use_code(lang, language):
    [draft] = normalise(aaa_posts(tweet(lang=lang)))
    assert draft.language == language


# --- body: X Activity posts ------------------------------------------------------------------------


def test_events_after_an_unreadable_one_are_still_read():
    events = ["junk", {"payload": post()}, xaa("post.mention.create", post())]
    [draft] = normalise({"data": events})
    assert draft.native_id == "1925000000000000009"


def test_a_reply_event_is_a_reply_even_when_it_names_no_parent():
    [draft] = normalise({"data": xaa("post.reply.create", post())})
    assert draft.kind == "reply"
    assert draft.thread_id is None  # no conversation id, and a reply does not start its own


def test_a_mention_without_a_conversation_id_starts_its_own_thread():
    [draft] = normalise({"data": xaa("post.mention.create", post())})
    assert draft.thread_id == "1925000000000000009"


def test_a_post_naming_the_post_it_answers_in_in_reply_to_tweet_id_is_a_reply_to_it():
    [draft] = normalise(
        {"data": xaa("post.mention.create", post(in_reply_to_tweet_id="1924000000000000002"))}
    )
    assert draft.kind == "reply"
    assert draft.parent_id == "1924000000000000002"


def test_a_broken_reference_does_not_hide_the_good_one_after_it():
    references = [{"type": "replied_to"}, {"type": "replied_to", "id": "1924000000000000003"}]
    [draft] = normalise({"data": xaa("post.mention.create", post(referenced_tweets=references))})
    assert draft.parent_id == "1924000000000000003"


def test_an_activity_post_without_words_is_kept_with_empty_text():
    [draft] = normalise({"data": xaa("post.mention.create", post(text=None))})
    assert draft.text == ""


# --- body: direct messages -------------------------------------------------------------------------


def test_a_dm_event_without_a_type_is_read_as_a_message():
    event = dm_event()
    del event["type"]
    [draft] = normalise({"for_user_id": BRAND, "direct_message_events": [event]})
    assert draft.kind == "direct_message"


def test_a_dm_event_of_another_type_is_skipped():
    assert (
        normalise({"for_user_id": BRAND, "direct_message_events": [dm_event(type="participant_join")]}) == []
    )


def test_a_dm_timed_only_by_an_iso_created_at_is_read():
    event = dm_event(created_timestamp=None, created_at="2026-07-24T21:23:44.372Z")
    [draft] = normalise({"data": xaa("dm.received", {"direct_message_events": [event]})})
    assert draft.occurred_at == datetime(2026, 7, 24, 21, 23, 44, 372000, tzinfo=UTC)


def test_a_dm_without_words_is_kept_with_empty_text():
    [draft] = normalise(
        {"for_user_id": BRAND, "direct_message_events": [dm_event(message_create={"message_data": {}})]}
    )
    assert draft.text == ""


def test_a_conversation_id_given_by_x_is_the_dm_thread():
    event = dm_event(dm_conversation_id="42-3001969357")
    [draft] = normalise({"for_user_id": BRAND, "direct_message_events": [event]})
    assert draft.thread_id == "42-3001969357"


def test_a_dm_thread_is_built_from_its_target_when_no_account_is_named():
    event = dm_event(message_create={"target": {"recipient_id": "42"}})
    [draft] = normalise({"direct_message_events": [event]})
    assert draft.thread_id == "42-3001969357"


@pytest.mark.parametrize(
    "target",
    [pytest.param({}, id="no-recipient"), pytest.param({"recipient_id": CUSTOMER}, id="to-themselves")],
)
def test_a_dm_with_no_other_party_has_no_thread(target):
    [draft] = normalise({"direct_message_events": [dm_event(message_create={"target": target})]})
    assert draft.thread_id is None


@pytest.mark.parametrize("followers", ["22", -1, True], ids=["text", "negative", "boolean"])
def test_a_follower_count_that_is_not_a_count_is_left_out_and_the_post_kept(followers):
    [draft] = normalise(aaa_posts(tweet(user={"id_str": CUSTOMER, "followers_count": followers})))
    assert draft.author.follower_count is None


def test_a_handle_that_is_not_text_is_left_out_and_the_post_kept():
    [draft] = normalise(aaa_posts(tweet(user={"id_str": CUSTOMER, "screen_name": 42, "name": 7})))
    assert draft.author.handle is None and draft.author.display_name is None
