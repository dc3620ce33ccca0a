"""YouTube adapter: what each refusal tells the hub, tokens holding any character, and entry details.

A refusal's message is the body of the 400/401/403 that is answered, so it is pinned here.
"""

from __future__ import annotations

import pytest

from socialcrm.errors import BadRequestError, SignatureError, UnparseableError
from socialcrm.platforms.base import Delivery
from socialcrm.platforms.youtube import adapter, signed_headers
from tests.unit.platforms.hostile_inputs import refusal
from tests.unit.platforms.test_youtube import SECRET, VECTOR_BODY, entry, feed, intent

VIDEO = "<yt:videoId>dQw4w9WgXcQ</yt:videoId>"
CHANNEL = "<yt:channelId>UCupvZG-5ko_eiXAupbDfxWw</yt:channelId>"
PUBLISHED = "<published>2026-11-20T10:00:00+00:00</published>"


def normalise(body: bytes) -> list:
    return adapter.normalise(Delivery(body))


# --- handshake -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "error", "message"),
    [
        pytest.param(
            intent(**{"hub.topic": None}),
            BadRequestError,
            "The verification of intent needs the query parameter 'hub.topic'.",
            id="no-topic",
        ),
        pytest.param(
            intent(**{"hub.mode": "renew"}),
            BadRequestError,
            "hub.mode must be 'subscribe', 'unsubscribe' or 'denied'.",
            id="mode",
        ),
        pytest.param(
            intent(**{"hub.challenge": None}),
            BadRequestError,
            "The handshake needs the query parameter 'hub.challenge'.",
            id="no-challenge",
        ),
    ],
)
def test_each_handshake_refusal_says_what_is_wrong(query, error, message):
    assert refusal(error, adapter.handshake, query, SECRET) == message


# --- signature -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "message"),
    [
        pytest.param(
            "md5=" + "0" * 32, "X-Hub-Signature must be '<sha1|sha256|sha384|sha512>=<hex>'.", id="method"
        ),
        pytest.param(
            "sha1=" + "0" * 20 + "=" + "0" * 19,
            "The X-Hub-Signature value is not a hex digest of its method.",
            id="equals-inside-the-digest",
        ),
        pytest.param(
            "sha1=" + "g" * 40, "The X-Hub-Signature value is not a hex digest of its method.", id="not-hex"
        ),
        pytest.param(
            "sha1=" + "0" * 64, "The X-Hub-Signature value is not a hex digest of its method.", id="length"
        ),
        pytest.param("sha1=" + "0" * 40, "The X-Hub-Signature does not match the body.", id="wrong-digest"),
    ],
)
def test_each_signature_refusal_says_what_is_wrong(header, message):
    delivery = Delivery(VECTOR_BODY, {"x-hub-signature": header})
    assert refusal(SignatureError, adapter.verify, delivery, SECRET, 0.0) == message


def test_a_missing_signature_is_named():
    message = refusal(SignatureError, adapter.verify, Delivery(VECTOR_BODY, {}), SECRET, 0.0)
    assert message == "The X-Hub-Signature header is missing."


def test_the_sender_helper_refuses_an_unknown_argument_naming_it():
    with pytest.raises(TypeError) as raised:
        signed_headers(VECTOR_BODY, SECRET, 0.0, colour="red")
    assert str(raised.value) == "Unexpected arguments: ['colour']"


# --- body ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"\xff<feed/>", "The body is not UTF-8 XML.", id="not-utf8"),
        pytest.param(
            b'<!DOCTYPE feed [<!ENTITY a "b">]><feed/>',
            "The body declares a DTD or entities, which a WebSub notification never does.",
            id="dtd-in-text",
        ),
        pytest.param(
            "<!DOCTYPE feed>".encode("utf-16-le") + b"<feed/>",
            "The body declares a DTD, which a WebSub notification never does.",
            id="dtd-in-utf16",
        ),
        pytest.param(b"<feed>", "The body is not well-formed XML.", id="unclosed"),
        pytest.param(b"<rss/>", "The body is not an Atom feed.", id="not-atom"),
        pytest.param(
            feed(entry(VIDEO, CHANNEL)),
            "A YouTube entry has neither 'published' nor 'updated'.",
            id="no-time",
        ),
    ],
)
def test_each_body_refusal_says_what_is_wrong(body, message):
    assert refusal(UnparseableError, normalise, body) == message


def test_an_entry_without_a_title_is_a_post_with_empty_text():
    [draft] = normalise(feed(entry(VIDEO, CHANNEL, PUBLISHED)))
    assert draft.text == ""


@pytest.mark.parametrize(
    "uri",
    [
        "https://www.youtube.com/channel/UCupvZG-5ko_eiXAupbDfxWX/",
        "https://www.youtube.com/channel/UCold/channel/UCupvZG-5ko_eiXAupbDfxWX",
    ],
    ids=["trailing-slash", "last-channel-segment"],
)
def test_a_channel_named_only_by_its_uri_is_the_last_channel_segment(uri):
    author = f"<author><name>Shop</name><uri>{uri}</uri></author>"
    [draft] = normalise(feed(entry(VIDEO, author, PUBLISHED)))
    assert draft.author.user_id == "UCupvZG-5ko_eiXAupbDfxWX"
