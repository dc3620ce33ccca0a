"""YouTube adapter: WebSub verification of intent, ``X-Hub-Signature``, Atom entries as posts."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialcrm.errors import (
    BadRequestError,
    SignatureError,
    SocialCrmError,
    UnparseableError,
)
from socialcrm.platforms import adapter_for
from socialcrm.platforms.base import Delivery, Intent
from socialcrm.platforms.youtube import adapter, signed_headers
from socialcrm.secrets import YouTubeSecret
from tests.unit.platforms.hostile_inputs import (
    ANY_TEXT,
    BLANK_IDS,
    LONG_BODIES,
    NESTING_DEPTHS,
    last_hex_digit_changed,
)

EVENTS = Path(__file__).parents[2] / "events" / "youtube"
SECRET = YouTubeSecret(hub_secret="websub_secret")
NOW = 1_795_000_000.0  # WebSub signs no time: any now will do

TOPIC = "https://www.youtube.com/xml/feeds/videos.xml?channel_id=UCupvZG-5ko_eiXAupbDfxWw"
# docs/webhook-protocols.md §9 vector 9.
VECTOR_BODY = b"<feed/>"
VECTOR_HEADER = "sha1=e28b5809b59f74255244ce8ce05fc37daa958a2f"
VECTOR_SHA256 = "sha256=d92f5f00c9e375bb6834c55bd92cab0cdf8930a84623bc55895322ed6ef829d7"

ATOM_HEAD = '<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns="http://www.w3.org/2005/Atom">'


def fixture(name: str) -> bytes:
    return (EVENTS / name).read_bytes()


def intent(**overrides: str | None) -> dict[str, str]:
    """A verification-of-intent query as Google's hub sends it, with our verify token."""
    query: dict[str, str | None] = {
        "hub.mode": "subscribe",
        "hub.topic": TOPIC,
        "hub.challenge": "14017196213542419375",
        "hub.lease_seconds": "432000",
        "hub.verify_token": "our-verify-token",
    }
    query.update(overrides)
    return {key: value for key, value in query.items() if value is not None}


def feed(*entries: str) -> bytes:
    return (ATOM_HEAD + "".join(entries) + "</feed>").encode()


def entry(*parts: str) -> str:
    return "<entry>" + "".join(parts) + "</entry>"


# --- handshake -------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["subscribe", "unsubscribe"])
def test_verification_of_intent_echoes_the_challenge_as_plain_text(mode):
    # Given the hub verifying a (un)subscription with our token
    # When the route answers the handshake
    reply = adapter_for("youtube").handshake(intent(**{"hub.mode": mode}), SECRET)
    # Then the body is exactly the challenge, as text/plain, 200
    assert reply.body == "14017196213542419375"
    assert reply.content_type == "text/plain"
    assert reply.status == 200


def test_the_challenge_is_echoed_verbatim_whatever_it_holds():
    challenge = 'a b+c/"quoted"&<tag>é'
    assert adapter.handshake(intent(**{"hub.challenge": challenge}), SECRET).body == challenge


def test_the_intent_to_confirm_names_the_mode_the_topic_the_lease_and_the_token_the_hub_sent():
    reply = adapter.handshake(intent(**{"hub.mode": "unsubscribe"}), SECRET)
    assert reply.intent == Intent("unsubscribe", TOPIC, lease_seconds=432000, verify_token="our-verify-token")
    # A hub that sends no token (WebSub) and a lease that is not a number of seconds
    reply = adapter.handshake(intent(**{"hub.verify_token": None, "hub.lease_seconds": "5 days"}), SECRET)
    assert reply.intent == Intent("subscribe", TOPIC, lease_seconds=None, verify_token=None)


@pytest.mark.parametrize("topic", [None, ""], ids=["missing", "empty"])
def test_a_verification_without_a_topic_is_a_400(topic):
    with pytest.raises(BadRequestError) as raised:
        adapter.handshake(intent(**{"hub.topic": topic}), SECRET)
    assert "hub.topic" in raised.value.message


def test_a_denial_from_the_hub_is_acknowledged_with_an_empty_200():
    # Given the hub telling us it refused the subscription (it sends no token and no challenge)
    query = {"hub.mode": "denied", "hub.topic": TOPIC, "hub.reason": "unverified callback"}
    # When answered
    reply = adapter.handshake(query, SECRET)
    # Then a 200 with an empty text body, once the denial is matched to a topic of ours
    assert (reply.status, reply.body, reply.content_type) == (200, "", "text/plain")
    assert reply.intent == Intent("denied", TOPIC)


@pytest.mark.parametrize("mode", ["publish", "Subscribe", "", None])
def test_any_other_mode_is_a_400(mode):
    with pytest.raises(BadRequestError) as raised:
        adapter.handshake(intent(**{"hub.mode": mode}), SECRET)
    assert raised.value.status == 400


@pytest.mark.parametrize("challenge", [None, ""], ids=["missing", "empty"])
def test_a_missing_challenge_is_a_400(challenge):
    with pytest.raises(BadRequestError) as raised:
        adapter.handshake(intent(**{"hub.challenge": challenge}), SECRET)
    assert "hub.challenge" in raised.value.message


# --- signature -------------------------------------------------------------------------------------


def test_signed_headers_reproduce_the_reference_vector_9():
    assert signed_headers(VECTOR_BODY, SECRET, NOW) == {"x-hub-signature": VECTOR_HEADER}


def test_the_reference_vector_9_verifies():
    adapter.verify(Delivery(VECTOR_BODY, {"x-hub-signature": VECTOR_HEADER}), SECRET, NOW)


def test_a_sha256_signature_as_other_websub_hubs_send_verifies():
    assert signed_headers(VECTOR_BODY, SECRET, NOW, method="sha256") == {"x-hub-signature": VECTOR_SHA256}
    adapter.verify(Delivery(VECTOR_BODY, {"x-hub-signature": VECTOR_SHA256}), SECRET, NOW)


@pytest.mark.parametrize("method", ["sha1", "sha256", "sha384", "sha512"])
def test_every_websub_method_verifies_a_real_notification(method):
    body = fixture("video_upload.xml")
    adapter.verify(Delivery(body, signed_headers(body, SECRET, NOW, method=method)), SECRET, NOW)


def test_upper_case_method_and_hex_are_accepted():
    adapter.verify(Delivery(VECTOR_BODY, {"x-hub-signature": VECTOR_HEADER.upper()}), SECRET, NOW)


def test_a_missing_signature_header_is_a_401():
    with pytest.raises(SignatureError) as raised:
        adapter.verify(Delivery(VECTOR_BODY, {}), SECRET, NOW)
    assert raised.value.status == 401


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("md5=" + "0" * 32, id="unknown-method"),
        pytest.param("sha256=" + VECTOR_HEADER.removeprefix("sha1="), id="sha1-digest-under-sha256"),
        pytest.param(VECTOR_HEADER.removeprefix("sha1="), id="no-method"),
        pytest.param("sha1", id="method-only"),
        pytest.param("sha1=", id="empty-digest"),
        pytest.param(VECTOR_HEADER[:-1], id="short-digest"),
        pytest.param(VECTOR_HEADER[:-1] + "z", id="non-hex-digest"),
        pytest.param("=" + VECTOR_HEADER, id="empty-method"),
        pytest.param("sha1=" + "0" * 40, id="wrong-digest"),
        pytest.param("", id="empty"),
    ],
)
def test_a_malformed_or_wrong_signature_is_a_401(header):
    with pytest.raises(SignatureError):
        adapter.verify(Delivery(VECTOR_BODY, {"x-hub-signature": header}), SECRET, NOW)


@pytest.mark.parametrize(
    "body",
    [VECTOR_BODY + b" ", b"<feed />", b"<Feed/>", b""],
    ids=["trailing-space", "reformatted", "case", "empty"],
)
def test_a_body_that_is_not_the_signed_one_is_rejected(body):
    with pytest.raises(SignatureError):
        adapter.verify(Delivery(body, {"x-hub-signature": VECTOR_HEADER}), SECRET, NOW)


def test_a_signature_made_with_another_hub_secret_is_rejected():
    other = YouTubeSecret(hub_secret="not_ours")
    with pytest.raises(SignatureError):
        adapter.verify(Delivery(VECTOR_BODY, signed_headers(VECTOR_BODY, other, NOW)), SECRET, NOW)


# --- normalise -------------------------------------------------------------------------------------


def test_a_video_notification_becomes_a_post_by_its_channel():
    # Given the official notification sample
    # When normalised
    [draft] = adapter.normalise(Delivery(fixture("video_upload.xml")))
    # Then the video is a post, keyed by its id, by its channel
    assert draft.platform == "youtube"
    assert draft.kind == "post"
    assert draft.native_id == "dQw4w9WgXcQ"
    assert draft.interaction_id == "youtube:dQw4w9WgXcQ"
    assert draft.thread_id == "dQw4w9WgXcQ"
    assert draft.parent_id is None
    assert draft.author.user_id == "UCupvZG-5ko_eiXAupbDfxWw"
    assert draft.author.display_name == "Channel title"
    assert draft.author.handle is None
    assert draft.text == "Video title"
    assert draft.language is None
    assert draft.occurred_at == datetime(2015, 3, 6, 21, 40, 57, tzinfo=UTC)  # published, not updated


def test_a_hindi_title_and_nanosecond_updated_time_with_an_offset_are_read():
    # Given an entry with a Hindi title (with an &amp;), no published, and updated in nanoseconds at +05:30
    [draft] = adapter.normalise(Delivery(fixture("video_hindi_no_published.xml")))
    # Then the text is decoded and the time falls back to updated, in UTC, to the microsecond
    assert draft.text == "दिवाली सेल: नया संग्रह & ऑफ़र"
    assert draft.author.display_name == "शॉप इंडिया"
    assert draft.occurred_at == datetime(2026, 11, 22, 10, 15, 3, 987654, tzinfo=UTC)


def test_a_feed_with_two_entries_gives_two_posts_in_order():
    drafts = adapter.normalise(Delivery(fixture("two_entries.xml")))
    assert [d.native_id for d in drafts] == ["AAAAAAAAAA1", "AAAAAAAAAA2"]
    assert [d.text for d in drafts] == ["Unboxing, part 1", "Unboxing, part 2"]
    assert drafts[1].occurred_at == datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


def test_a_title_edit_redelivers_the_same_interaction_id():
    original = fixture("video_upload.xml")
    edited = original.replace(b"Video title", b"Better title").replace(b"2015-03-09T19", b"2015-03-10T08")
    [first], [again] = adapter.normalise(Delivery(original)), adapter.normalise(Delivery(edited))
    assert first.interaction_id == again.interaction_id


def test_a_deleted_video_tombstone_gives_no_draft():
    assert adapter.normalise(Delivery(fixture("deleted_entry.xml"))) == []


def test_a_feed_without_entries_gives_no_draft():
    assert adapter.normalise(Delivery(feed())) == []


def test_ids_fall_back_to_the_atom_id_and_the_author_uri():
    # Given an entry without yt:videoId / yt:channelId
    body = feed(
        entry(
            "<id>yt:video:FallbackId1</id><title>t</title>",
            "<author><name>n</name><uri>https://www.youtube.com/channel/UCfallback</uri></author>",
            "<published>2026-01-01T00:00:00Z</published>",
        )
    )
    [draft] = adapter.normalise(Delivery(body))
    assert (draft.native_id, draft.author.user_id) == ("FallbackId1", "UCfallback")


def test_an_entry_that_names_no_video_is_skipped():
    body = feed(entry("<id>tag:example.org,2026:other</id><title>not a video</title>"))
    assert adapter.normalise(Delivery(body)) == []


def test_an_entry_that_names_no_channel_is_skipped_and_the_rest_of_the_feed_kept():
    # Given a feed whose first video names no channel (no yt:channelId, no author uri)
    body = feed(
        entry("<yt:videoId>v1</yt:videoId>", "<published>2026-01-01T00:00:00Z</published>"),
        entry(
            "<yt:videoId>v2</yt:videoId><yt:channelId>UC2</yt:channelId>",
            "<published>2026-01-01T00:00:00Z</published>",
        ),
    )
    # When normalised / Then that entry is skipped and the other kept
    assert [d.native_id for d in adapter.normalise(Delivery(body))] == ["v2"]


@pytest.mark.parametrize(
    "parts",
    [
        pytest.param(("<yt:videoId>v1</yt:videoId>", "<yt:channelId>UC1</yt:channelId>"), id="no-time"),
        pytest.param(
            (
                "<yt:videoId>v1</yt:videoId><yt:channelId>UC1</yt:channelId>",
                "<published>yesterday</published>",
            ),
            id="bad-time",
        ),
        pytest.param(
            (
                "<yt:videoId>v1</yt:videoId><yt:channelId>UC1</yt:channelId>",
                "<published>0001-01-01T00:00:00+01:00</published>",
            ),
            id="time-out-of-range",
        ),
    ],
)
def test_a_video_entry_missing_its_time_is_unparseable(parts):
    with pytest.raises(UnparseableError):
        adapter.normalise(Delivery(feed(entry(*parts))))


@pytest.mark.parametrize("name", ["billion_laughs.xml", "xxe_file.xml"])
def test_a_body_declaring_a_dtd_is_refused_before_parsing(name):
    # Given an entity-expansion bomb or an external entity pointing at a local file
    # When normalised
    with pytest.raises(UnparseableError) as raised:
        adapter.normalise(Delivery(fixture(name)))
    # Then it is refused as such, not parsed (no expansion, no file read)
    assert "DTD" in raised.value.message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_a_body_in_another_encoding_with_a_byte_order_mark_is_unparseable(encoding):
    xml = fixture("xxe_file.xml").decode()
    body = xml.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>').encode(
        encoding
    )
    with pytest.raises(UnparseableError):
        adapter.normalise(Delivery(body))


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("name", ["billion_laughs.xml", "xxe_file.xml"])
def test_a_dtd_cannot_hide_in_utf16_without_a_byte_order_mark(name, encoding):
    # Given a DTD body in UTF-16 without BOM: valid UTF-8 (with NULs) that no text scan finds
    # "<!DOCTYPE" in, yet that Expat reads as UTF-16
    xml = fixture(name).decode()
    body = xml.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>').encode(
        encoding
    )
    assert b"<!DOCTYPE" not in body
    # When normalised
    with pytest.raises(UnparseableError) as raised:
        adapter.normalise(Delivery(body))
    # Then the parser itself stops at the doctype declaration
    assert "DTD" in raised.value.message


def test_a_lone_entity_declaration_is_refused_too():
    with pytest.raises(UnparseableError):
        adapter.normalise(Delivery(b'<!ENTITY x "y">' + feed()))


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b'{"feed": []}', id="json"),
        pytest.param(b"<feed", id="truncated"),
        pytest.param(b"\xff\xfe<\x00", id="not-utf8"),
        pytest.param(b"<rss><channel/></rss>", id="not-atom"),
        pytest.param(b"<feed/>", id="feed-without-namespace"),
    ],
)
def test_a_body_that_is_not_an_atom_feed_is_unparseable(body):
    with pytest.raises(UnparseableError) as raised:
        adapter.normalise(Delivery(body))
    assert raised.value.status == 400


# --- robustness ------------------------------------------------------------------------------------

FRAGMENTS = st.sampled_from(
    [
        "<entry>",
        "</entry>",
        "<yt:videoId>",
        "</yt:videoId>",
        "<yt:channelId>",
        "</yt:channelId>",
        "<published>",
        "</published>",
        "<updated>",
        "</updated>",
        "<title>",
        "</title>",
        "<author><name>",
        "</name></author>",
        "<id>yt:video:",
        "</id>",
        "2026-01-01T00:00:00Z",
        "9999-12-31T23:59:59-23:59",
        "&amp;",
        "&#0;",
        "<![CDATA[x]]>",
        "<!DOCTYPE",
        "v1",
    ]
)
# Wire bodies are bytes, so fragments are text without surrogates; st.binary() covers invalid UTF-8.
XMLISH = st.lists(FRAGMENTS | st.text(max_size=40), max_size=12).map(lambda parts: feed("".join(parts)))


def only_domain_errors(call, *args) -> None:
    with contextlib.suppress(SocialCrmError):
        call(*args)


@settings(max_examples=300, deadline=None)
@given(XMLISH | st.binary())
def test_normalise_raises_only_domain_errors_for_arbitrary_bodies(body):
    only_domain_errors(adapter.normalise, Delivery(body))


@settings(deadline=None)
@given(body=st.binary(max_size=64), header=ANY_TEXT | st.builds("{}={}".format, ANY_TEXT, ANY_TEXT))
def test_verify_raises_only_domain_errors_for_arbitrary_headers(body, header):
    with pytest.raises(SocialCrmError):  # refused with a domain error: no random header is a valid signature
        adapter.verify(Delivery(body, {"x-hub-signature": header}), SECRET, NOW)


HUB_KEYS = st.sampled_from(
    ["hub.mode", "hub.challenge", "hub.verify_token", "hub.topic", "hub.lease_seconds"]
)


@settings(deadline=None)
@given(
    st.dictionaries(
        HUB_KEYS | ANY_TEXT, st.sampled_from(["subscribe", "denied", "our-verify-token"]) | ANY_TEXT
    )
)
def test_handshake_raises_only_domain_errors_for_arbitrary_queries(query):
    only_domain_errors(adapter.handshake, query, SECRET)


# --- the handshake is not a signing oracle ---------------------------------------------------------

ACCEPTED_BODIES = [
    pytest.param(VECTOR_BODY, id="reference vector"),
    pytest.param(fixture("video_upload.xml"), id="video upload"),
    pytest.param(fixture("two_entries.xml"), id="two entries"),
    *LONG_BODIES,
]


@pytest.mark.parametrize("body", ACCEPTED_BODIES)
def test_the_handshake_answer_for_a_delivery_body_is_no_signature_of_it(body):
    # Given a notification body sent as hub.challenge, with our verify token
    # When the verification of intent is answered
    answer = adapter.handshake(intent(**{"hub.challenge": body.decode()}), SECRET).body
    # Then the answer is the challenge itself, unsigned: replayed as X-Hub-Signature (as is, or after a
    # method) it is refused, because nothing in it was computed with the hub secret
    assert answer == body.decode()
    for header in (answer, f"sha1={answer}", f"sha256={answer}"):
        with pytest.raises(SignatureError):
            adapter.verify(Delivery(body, {"x-hub-signature": header}), SECRET, NOW)


# --- deep nesting ----------------------------------------------------------------------------------


def nested_elements(depth: int) -> str:
    return "<x>" * depth + "</x>" * depth


VIDEO = (
    "<yt:videoId>v1</yt:videoId><yt:channelId>UC1</yt:channelId><published>2026-01-01T00:00:00Z</published>"
)


@pytest.mark.parametrize("depth", NESTING_DEPTHS)
def test_xml_nested_deeply_is_read_without_recursion(depth):
    # Given a signed feed nesting thousands of elements, beside its entries and inside one of them
    body = feed(
        nested_elements(depth), entry(VIDEO, nested_elements(depth)), entry(VIDEO.replace("v1", "v2"))
    )
    adapter.verify(Delivery(body, signed_headers(body, SECRET, NOW)), SECRET, NOW)
    # When normalised / Then the entries are read and the nesting ignored: no RecursionError (a 5xx)
    assert [d.native_id for d in adapter.normalise(Delivery(body))] == ["v1", "v2"]


@pytest.mark.parametrize("depth", NESTING_DEPTHS)
def test_xml_nested_deeply_and_left_open_is_unparseable(depth):
    # Given a feed that opens thousands of elements and never closes them
    body = (ATOM_HEAD + "<x>" * depth).encode()
    # When normalised / Then it is a 400
    with pytest.raises(UnparseableError):
        adapter.normalise(Delivery(body))


# --- signatures are compared whole -----------------------------------------------------------------


@pytest.mark.parametrize("header", [VECTOR_HEADER, VECTOR_SHA256])
def test_a_signature_differing_only_in_its_last_hex_digit_is_refused(header):
    # Given the reference signature (sha1, and sha256) with only its last hex digit changed
    forged = last_hex_digit_changed(header)
    assert len(forged) == len(header) and forged != header
    # When verified / Then it is refused, though every other digit matches
    with pytest.raises(SignatureError):
        adapter.verify(Delivery(VECTOR_BODY, {"x-hub-signature": forged}), SECRET, NOW)


# --- blank ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize("blank", BLANK_IDS)
def test_entries_whose_video_or_channel_id_is_only_whitespace_are_skipped_and_the_rest_kept(blank):
    # Given a feed whose entries have a blank video id, a blank atom id fallback, a blank channel id,
    # a blank channel uri fallback, and one intact entry
    published = "<published>2026-01-01T00:00:00Z</published>"
    body = feed(
        entry(f"<yt:videoId>{blank}</yt:videoId><yt:channelId>UC1</yt:channelId>", published),
        entry(f"<id>yt:video:{blank}</id><yt:channelId>UC1</yt:channelId>", published),
        entry(f"<yt:videoId>v3</yt:videoId><yt:channelId>{blank}</yt:channelId>", published),
        entry(
            "<yt:videoId>v4</yt:videoId>",
            f"<author><uri>https://www.youtube.com/channel/{blank}</uri></author>",
            published,
        ),
        entry("<yt:videoId>v5</yt:videoId><yt:channelId>UC5</yt:channelId>", published),
    )
    # When normalised / Then only the intact entry remains
    assert [d.native_id for d in adapter.normalise(Delivery(body))] == ["v5"]
