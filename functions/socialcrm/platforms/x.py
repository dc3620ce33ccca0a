"""X (Twitter) webhooks: the CRC handshake, the body signature and both delivery shapes.

Protocol reference: ``docs/webhook-protocols.md`` §3. One route serves two products that share the CRC and the
signature (HMAC-SHA256 keyed with the app's consumer secret, Base64, ``sha256=`` prefix):

* the Account Activity API (AAA, v1.1 objects): ``tweet_create_events`` and ``direct_message_events``
  for the subscribed account ``for_user_id``;
* the X Activity API (XAA, v2 objects): ``{"data": {"event_type", "filter", "payload", "includes"}}``.

The CRC signs the caller's ``crc_token`` with the very key that signs deliveries, so a token that could
be a delivery body is refused (400) rather than signed: one holding ``{`` or ``"``, whitespace, a
control, format or surrogate character (Unicode categories Cc, Cf, Cs, Zl, Zp), or longer than
:data:`MAX_CRC_TOKEN_CHARS`. X documents no format for the token (its examples are a UUID and
``challenge_string``) and stops delivering when the CRC fails, so nothing narrower is guessed. Every
JSON object needs a ``{``, so no body that ``normalise`` accepts can be signed this way (see
"Handshakes are not signing oracles" in the protocol reference).

Choices where the platform leaves room (each covered by a test):

* ``native_id`` is the post id (``id_str`` / ``payload.id``) or the DM event id, never ``event_uuid``:
  the same post delivered by AAA and by XAA is one interaction, and X says DM event ids are shared by
  v1.1 and v2.
* A post that replies to another is a ``reply`` (``parent_id`` = the post it answers), whichever API or
  event type delivered it; any other post (a mention, a quote) is a ``mention``. A quote's
  ``parent_id`` is the quoted post, so the CRM can show what was quoted.
* ``thread_id`` is X's conversation id: ``conversation_id`` when XAA sends it; for an AAA post that is
  not a reply it is the post's own id (a post that answers nothing starts its own conversation); for
  an AAA reply it is unknown (v1.1 has no conversation id) and left null. A DM's thread is X's
  one-to-one ``dm_conversation_id``, ``"<smaller user id>-<larger user id>"``.
* ``conversation_key``: a post's is the brand's public exchange with the customer,
  ``public:<brand id>:<customer id>`` (the customer: the author, or for the brand's reply the user it
  answers), whichever API delivered it: v1.1 posts carry no conversation id, and a chain of replies (the
  customer answering the brand's reply, the brand answering that) keeps one key only this way, as a DM
  pair does. Without the account (``for_user_id`` / ``filter.user_id``) or the customer, the thread:
  ``conversation:<conversation_id>``, else the post answered, else the post. A DM is
  ``dm:<brand id>:<customer id>``.
* The brand's own messages: a post by the subscribed account (``user.id_str == for_user_id``, or XAA's
  ``post.create`` / an author equal to ``filter.user_id``) that replies to another post is a
  ``brand_reply`` (``customer_id`` is ``in_reply_to_user_id_str`` / ``in_reply_to_user_id``); its
  non-reply posts are skipped. A DM it sent (``sender_id == for_user_id``, or XAA's ``dm.sent``) is a
  ``brand_reply`` whose customer is ``target.recipient_id``.
* Retweets carry no words of their author and are skipped, as is every other AAA key or XAA event type.
* ``lang`` is a language hint except ``und``, ``zxx`` and X's private-use codes (``qme`` media only,
  ``qht`` hashtags only, ``qam``, ``qct``, ``qst``...), which say there is no language to detect.
* A body that is not a JSON object, or a known event list that is not a list, is unparseable (400).
  A single event lacking its id, author or time is skipped: failing the delivery would make X retry
  and then drop the good events of the same batch with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from socialcrm.errors import BadRequestError, ConfigurationError, SignatureError, UnparseableError
from socialcrm.models import BRAND_REPLY, Author, InteractionDraft
from socialcrm.platforms.base import (
    Delivery,
    HandshakeReply,
    conversation_key,
    digests_equal,
    from_epoch_millis,
    from_iso8601,
    parse_json_object,
    required_query,
    text_id,
)
from socialcrm.secrets import XSecret

SIGNATURE_HEADER = "x-twitter-webhooks-signature"
_SIGNATURE_PREFIX = "sha256="
# "sha256=" + Base64 of a 32-byte digest: 43 characters and one "=" of padding.
_SIGNATURE_SHAPE = re.compile(r"sha256=[A-Za-z0-9+/]{43}=")
MAX_CRC_TOKEN_CHARS = 256
_CRC_REFUSED_CHARACTERS = frozenset('{"')
_CRC_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_V1_TIME_FORMAT = "%a %b %d %H:%M:%S %z %Y"  # "Mon May 19 14:01:46 +0000 2025"
# post.create is the subscribed account's own post (a brand reply when it answers a post).
_POST_EVENTS = frozenset({"post.mention.create", "post.reply.create", "post.quote.create", "post.create"})
_DM_EVENTS = frozenset({"dm.received", "dm.sent"})
_NO_LANGUAGE = frozenset({"und", "zxx"})
_LANGUAGE_ALIASES = {"in": "id", "iw": "he"}  # X still sends the withdrawn ISO 639 codes
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


class XAdapter:
    """The ``x`` route: AAA and XAA deliveries, signed with the consumer secret."""

    name: ClassVar[str] = "x"
    secret_model: ClassVar[type[BaseModel]] = XSecret

    def handshake(self, query: Mapping[str, str], secret: XSecret) -> HandshakeReply:
        """Answer the CRC: ``{"response_token": "sha256=<base64 HMAC(consumer_secret, crc_token)>"}``.

        A token that could be a delivery body is refused (``BadRequestError``, 400): see the module.
        """
        token = required_query(query, "crc_token")
        body = json.dumps({"response_token": crc_response_token(token, secret)})
        return HandshakeReply(body=body, content_type="application/json")

    def verify(self, delivery: Delivery, secret: XSecret, now: float) -> None:
        """Check ``x-twitter-webhooks-signature`` over the raw body; X signs no timestamp."""
        header = delivery.header(SIGNATURE_HEADER)
        if not header:
            raise SignatureError(f"The {SIGNATURE_HEADER} header is missing.")
        received = header.strip()
        if not received.startswith(_SIGNATURE_PREFIX):
            raise SignatureError(f"The {SIGNATURE_HEADER} header must start with '{_SIGNATURE_PREFIX}'.")
        if not _SIGNATURE_SHAPE.fullmatch(received):
            raise SignatureError(f"The {SIGNATURE_HEADER} header is not a Base64 SHA-256 digest.")
        if not digests_equal(body_signature(delivery.body, secret), received):
            raise SignatureError("The signature does not match the body.")

    def normalise(self, delivery: Delivery) -> list[InteractionDraft]:
        """Every customer post and DM in the delivery, AAA or XAA; the rest is skipped."""
        payload = parse_json_object(delivery.body)
        if "data" in payload:
            return _activity_api_drafts(payload["data"])
        return _account_activity_drafts(payload)


adapter = XAdapter()


def crc_response_token(crc_token: str, secret: XSecret | str) -> str:
    """The CRC answer for one token; ``BadRequestError`` for a token that could be a delivery body.

    >>> crc_response_token("9b4507b3-9040-4669-9ca3-6b94edb50553",
    ...     "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu")
    'sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8='
    >>> crc_response_token('{"for_user_id":"1"}', "secret")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    socialcrm.errors.BadRequestError: The crc_token must be at most 256 characters ...
    """
    if not is_signable_crc_token(crc_token):
        raise BadRequestError(
            f"The crc_token must be at most {MAX_CRC_TOKEN_CHARS} characters with no whitespace, "
            "braces, quotes, control or format characters."
        )
    return _sign(crc_token.encode("utf-8"), secret)


def is_signable_crc_token(token: str) -> bool:
    """Whether a CRC token may be signed: it cannot be a delivery body (see the module docstring).

    >>> is_signable_crc_token("9b4507b3-9040-4669-9ca3-6b94edb50553"), is_signable_crc_token("a b")
    (True, False)
    """
    return 0 < len(token) <= MAX_CRC_TOKEN_CHARS and not any(
        char in _CRC_REFUSED_CHARACTERS
        or char.isspace()
        or unicodedata.category(char) in _CRC_REFUSED_CATEGORIES
        for char in token
    )


def body_signature(body: bytes, secret: XSecret | str) -> str:
    """The ``x-twitter-webhooks-signature`` value X sends with ``body``: ``sha256=<base64>``."""
    return _sign(body, secret)


def signed_headers(body: bytes, secret: XSecret | str, now: float, **extra: str) -> dict[str, str]:
    """Headers X would send with ``body`` (sender side, for tests, the demo and benchmarks).

    ``now`` is accepted for a uniform interface; X signs no timestamp. ``extra`` adds headers, with
    ``_`` in a keyword read as ``-`` (``content_type="application/json"``).
    """
    headers = {key.replace("_", "-").lower(): value for key, value in extra.items()}
    headers[SIGNATURE_HEADER] = body_signature(body, secret)
    return headers


def _sign(message: bytes, secret: XSecret | str) -> str:
    digest = hmac.new(_key(secret), message, hashlib.sha256).digest()
    return _SIGNATURE_PREFIX + base64.b64encode(digest).decode("ascii")


def _key(secret: XSecret | str) -> bytes:
    if isinstance(secret, XSecret):
        return secret.consumer_secret.get_secret_value().encode("utf-8")
    if isinstance(secret, str) and secret:
        return secret.encode("utf-8")
    raise ConfigurationError("The x secret must be an XSecret with a consumer_secret.")


# --- Account Activity API (v1.1 objects) -------------------------------------------------------------


def _account_activity_drafts(payload: dict[str, Any]) -> list[InteractionDraft]:
    brand = _id(payload.get("for_user_id"))
    users = _obj(payload.get("users"))
    drafts = [_tweet_draft(tweet, brand) for tweet in _objects(payload, "tweet_create_events")]
    drafts += [_dm_draft(event, brand, users) for event in _objects(payload, "direct_message_events")]
    return [draft for draft in drafts if draft is not None]


def _tweet_draft(tweet: dict[str, Any], brand: str | None) -> InteractionDraft | None:
    native_id = _id(tweet.get("id_str"))
    user = _obj(tweet.get("user"))
    author_id = _id(user.get("id_str"))
    occurred_at = _first_time(
        lambda: from_epoch_millis(_digits(tweet.get("timestamp_ms"))),
        lambda: _v1_time(tweet.get("created_at")),
    )
    if native_id is None or author_id is None or occurred_at is None:
        return None
    if isinstance(tweet.get("retweeted_status"), dict):
        return None
    reply_to = _id(tweet.get("in_reply_to_status_id_str"))
    customer_id = None
    if author_id == brand:
        if reply_to is None:
            return None  # the brand's own post answers nobody
        kind = BRAND_REPLY
        customer_id = _customer(_id(tweet.get("in_reply_to_user_id_str")), brand)
    else:
        kind = "reply" if reply_to else "mention"
    quoted = None
    if tweet.get("is_quote_status") is True:
        quoted = _id(tweet.get("quoted_status_id_str")) or _id(_obj(tweet.get("quoted_status")).get("id_str"))
    text = _text(_obj(tweet.get("extended_tweet")).get("full_text")) or _text(tweet.get("text"))
    return _draft(
        kind=kind,
        native_id=native_id,
        thread_id=None if reply_to else native_id,
        parent_id=reply_to or quoted,
        author_id=author_id,
        user=user,
        text=text or "",
        language=_language(tweet.get("lang")),
        occurred_at=occurred_at,
        conversation_key=_public_exchange(brand, customer_id or author_id, reply_to or native_id),
        customer_id=customer_id,
    )


def _public_exchange(brand: str | None, customer: str | None, fallback: str) -> str | None:
    """The conversation of a v1.1 post, which carries no conversation id: the brand's public exchange with
    the customer (``public:<brand>:<customer>``), so a customer's follow-up that answers the brand's reply,
    and the brand's reply to that follow-up, stay in it however the posts chain (as a DM pair does).
    Without the account or the customer, the post answered (else the post itself)."""
    if brand is not None and customer is not None and customer != brand:
        return conversation_key("public", brand, customer)
    return conversation_key("conversation", fallback)


def _dm_draft(event: dict[str, Any], brand: str | None, users: dict[str, Any]) -> InteractionDraft | None:
    """A ``message_create`` DM event (the v1.1 shape, which XAA's ``dm.received``/``dm.sent`` also carry):
    a customer's message, or the brand's own (``sender_id`` is the brand) to ``target.recipient_id``."""
    if event.get("type", "message_create") != "message_create":
        return None
    native_id = _id(event.get("id"))
    message = _obj(event.get("message_create"))
    sender = _id(message.get("sender_id"))
    occurred_at = _first_time(
        lambda: from_epoch_millis(_digits(event.get("created_timestamp"))),
        lambda: from_iso8601(event.get("created_at")),
    )
    if native_id is None or sender is None or occurred_at is None:
        return None
    recipient = _id(_obj(message.get("target")).get("recipient_id"))
    customer: str | None
    account: str | None
    if sender == brand:
        customer = _customer(recipient, brand)
        if customer is None:
            return None  # a DM of the brand to nobody we can name
        kind, customer_id, account = BRAND_REPLY, customer, brand
    else:
        recipient = recipient or brand
        kind, customer, customer_id, account = "direct_message", sender, None, brand or recipient
    thread_id = _id(event.get("dm_conversation_id")) or _dm_conversation_id(sender, recipient)
    return _draft(
        kind=kind,
        native_id=native_id,
        thread_id=thread_id,
        parent_id=None,
        author_id=sender,
        user=_unwrap_v2(_obj(users.get(sender))),
        text=_text(_obj(message.get("message_data")).get("text")) or "",
        language=None,
        occurred_at=occurred_at,
        conversation_key=conversation_key("dm", account, customer),
        customer_id=customer_id,
    )


def _customer(user_id: str | None, brand: str | None) -> str | None:
    """The customer a brand message answers: a user other than the brand, else unknown."""
    return user_id if user_id is not None and user_id != brand else None


def _dm_conversation_id(sender: str, recipient: str | None) -> str | None:
    """X's one-to-one conversation id: both user ids, the smaller first."""
    if recipient is None or recipient == sender:
        return None
    first, second = sorted((sender, recipient), key=lambda user_id: (len(user_id), user_id))
    return f"{first}-{second}"


# --- X Activity API (v2 objects) ---------------------------------------------------------------------


def _activity_api_drafts(data: Any) -> list[InteractionDraft]:
    if isinstance(data, dict):
        events: list[Any] = [data]
    elif isinstance(data, list):
        events = data
    else:
        raise UnparseableError("The X Activity API 'data' must be an object.")
    drafts: list[InteractionDraft | None] = []
    for event in events:
        if not isinstance(event, dict):
            continue
        event_type = event.get("event_type")
        if not isinstance(event_type, str):
            continue
        brand = _id(_obj(event.get("filter")).get("user_id"))
        payload = _obj(event.get("payload"))
        if event_type in _POST_EVENTS:
            drafts.append(_post_draft(event_type, payload, _obj(event.get("includes")), brand))
        elif event_type in _DM_EVENTS:
            users = _obj(payload.get("users"))
            drafts += [_dm_draft(dm, brand, users) for dm in _objects(payload, "direct_message_events")]
    return [draft for draft in drafts if draft is not None]


def _post_draft(
    event_type: str, post: dict[str, Any], includes: dict[str, Any], brand: str | None
) -> InteractionDraft | None:
    native_id = _id(post.get("id"))
    author_id = _id(post.get("author_id"))
    occurred_at = _first_time(lambda: from_iso8601(post.get("created_at")))
    if native_id is None or author_id is None or occurred_at is None:
        return None
    references = _references(post.get("referenced_tweets"))
    reply_to = _id(post.get("in_reply_to_tweet_id")) or references.get("replied_to")
    is_reply = reply_to is not None or event_type == "post.reply.create"
    customer_id = None
    if author_id == brand or event_type == "post.create":
        if author_id != brand or reply_to is None:
            return None  # the brand's own post answers nobody (or post.create of someone else)
        kind = BRAND_REPLY
        customer_id = _customer(_id(post.get("in_reply_to_user_id")), brand)
    else:
        kind = "reply" if is_reply else "mention"
    conversation = _id(post.get("conversation_id"))
    text = _text(_obj(post.get("note_tweet")).get("text")) or _text(post.get("text"))
    return _draft(
        kind=kind,
        native_id=native_id,
        thread_id=conversation or (None if is_reply else native_id),
        parent_id=reply_to or references.get("quoted"),
        author_id=author_id,
        user=_included_user(includes, author_id),
        text=text or "",
        language=_language(post.get("lang")),
        occurred_at=occurred_at,
        conversation_key=_public_exchange(
            brand, customer_id or author_id, conversation or reply_to or native_id
        ),
        customer_id=customer_id,
    )


def _references(value: Any) -> dict[str, str]:
    """``referenced_tweets`` as ``{type: id}`` (``replied_to``, ``quoted``, ``retweeted``)."""
    found: dict[str, str] = {}
    for reference in value if isinstance(value, list) else []:
        kind, ref_id = _obj(reference).get("type"), _id(_obj(reference).get("id"))
        if isinstance(kind, str) and ref_id is not None:
            found.setdefault(kind, ref_id)
    return found


def _included_user(includes: dict[str, Any], user_id: str) -> Mapping[str, Any]:
    """The author in ``includes.users``: flat v2 users, or wrapped as ``{"data": {...}}`` (both occur)."""
    users = includes.get("users")
    for user in users if isinstance(users, list) else []:
        candidate = _unwrap_v2(_obj(user))
        if candidate.get("id") == user_id:
            return candidate
    return {}


# --- shared readers: every one tolerates any JSON value ----------------------------------------------


def _author(user_id: str, user: Mapping[str, Any]) -> Author:
    """An author from a v1.1 user (``screen_name``, ``followers_count``) or a v2 user (``username``,
    ``public_metrics.followers_count``)."""
    followers = _count(user.get("followers_count"))
    if followers is None:
        followers = _count(_obj(user.get("public_metrics")).get("followers_count"))
    return Author(
        user_id=user_id,
        handle=_text(user.get("screen_name")) or _text(user.get("username")),
        display_name=_text(user.get("name")),
        follower_count=followers,
    )


def _unwrap_v2(user: Mapping[str, Any]) -> Mapping[str, Any]:
    """XAA's DM users map wraps each v2 user as ``{"data": {...}}``; AAA's does not."""
    inner = user.get("data")
    return inner if isinstance(inner, dict) else user


def _draft(*, author_id: str, user: Mapping[str, Any], **fields: Any) -> InteractionDraft | None:
    """The draft of one item, or None to skip it when an id is not valid text (a lone surrogate, such
    as ``"\\ud83d"``, which the models refuse): the rest of the delivery is still read."""
    try:
        return InteractionDraft(platform="x", author=_author(author_id, user), **fields)
    except ValidationError:
        return None


def _objects(container: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The objects of the list under ``key``; absent → none; present but not a list → unparseable."""
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise UnparseableError(f"'{key}' must be a list.")
    return [item for item in value if isinstance(item, dict)]


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# An id as X sends it: text. Numbers are refused (v1.1 ``id`` loses precision).
_id = text_id


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _digits(value: Any) -> str:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    raise UnparseableError("Not a millisecond timestamp.")


def _v1_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise UnparseableError("Not a v1.1 created_at.")
    try:
        return datetime.strptime(value, _V1_TIME_FORMAT).astimezone(UTC)
    except ValueError as exc:
        raise UnparseableError("Not a v1.1 created_at.") from exc


def _first_time(*readers: Callable[[], datetime]) -> datetime | None:
    """The first reading that parses, else None (a time near the ends of the calendar does not)."""
    for read in readers:
        try:
            return read()
        except (UnparseableError, OverflowError):
            continue
    return None


def _language(value: Any) -> str | None:
    if not isinstance(value, str) or not _LANGUAGE_TAG.fullmatch(value):
        return None
    primary = value.split("-", 1)[0].lower()
    if primary in _NO_LANGUAGE or (len(primary) == 3 and "qaa" <= primary <= "qtz"):
        return None
    return _LANGUAGE_ALIASES.get(primary, primary) + value[len(primary) :]
