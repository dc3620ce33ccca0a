"""TikTok webhooks (``docs/webhook-protocols.md`` §5): TikTok for Developers and TikTok API for Business.

Transport: no GET handshake (the callback URL is set in the developer portal), one event per POST.

Signature: header ``TikTok-Signature: t=<unix seconds>,s=<hex>`` where ``s`` is
``HMAC-SHA256(client_secret, f"{t}." + raw body)`` in hex. TikTok gives no replay window ("decide
whether the difference is tolerable"); we accept ``t`` within ±300 s of ``now``
(:data:`TOLERANCE_SECONDS`, the figure the reference recommends) and answer ``StaleTimestampError``
outside it. A header with a part that is not ``key=value``, or with ``t`` or ``s`` twice, is
malformed; unknown keys are ignored so TikTok can add some. Upper-case hex is accepted (same digest).

Body: ``{client_key, event, create_time (s), user_openid, content}`` where ``content`` is a JSON
*string* holding the event's own object (parsed twice). What we store:

* ``im_receive_msg`` (Business Messaging, reference §5.2, schema derived from Chatwoot's
  implementation): one ``direct_message`` when it is inbound, i.e. ``content.to_user.id`` is the
  business account (``user_openid``) or ``content.from_user.id`` is not. ``im_send_msg`` ("Receive
  real-time notifications if you send a message to a user", quoted by Chatwoot from TikTok's docs),
  and an ``im_receive_msg`` sent by the business account itself, are the brand's own message: a
  ``brand_reply`` authored by ``from_user.id`` whose ``customer_id`` is ``to_user.id``.
  ``im_mark_read_msg`` is acknowledged without a draft. The conversation key is
  ``conversation:<content.conversation_id>``, else ``dm:<user_openid>:<customer id>``.
* Comment events. TikTok's Business API comment webhooks are UNCONFIRMED in the reference (neither
  the event names nor the ``content`` schema could be read from TikTok's docs), so we are tolerant:
  an event whose name contains ``comment`` is taken as a new comment unless the name says it is a
  deletion, removal, update, edit or hide (``comment.delete``, ``comment.update``, ``comment.hide``
  ... are acknowledged without a draft). Each field is read from the first of several plausible
  keys: id ``comment_id|id``; text ``text|comment_text|content``; author ``user_id|user_openid|
  from_user.id``, handle ``username|from``; thread ``video_id|item_id``; parent
  ``parent_comment_id|reply_to_comment_id`` (a parent makes it a ``reply``); time
  ``create_time|timestamp`` in seconds, or milliseconds when above 10^11, falling back to the
  envelope's ``create_time``. The conversation key is ``comments:<parent>`` for a reply and the
  comment's own id otherwise. A reply written by the business account itself is a ``brand_reply``;
  its top-level comment answers nobody and is skipped.
* Everything else (``authorization.removed``, ``video.*``, ``post.publish.*``, mentions, ...) is
  acknowledged with no draft; its ``content`` is not even parsed.

A stored event whose ``content`` is not a string of a JSON object, or that lacks an id, an author or
a time, is ``UnparseableError`` (400); an id made only of whitespace is no id.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Final

from pydantic import BaseModel, ValidationError

from socialcrm.errors import (
    MethodNotAllowedError,
    SignatureError,
    StaleTimestampError,
    UnparseableError,
)
from socialcrm.models import BRAND_REPLY, Author, InteractionDraft, Kind
from socialcrm.platforms.base import (
    Delivery,
    HandshakeReply,
    conversation_key,
    digests_equal,
    from_epoch_millis,
    from_epoch_seconds,
    integer_or_text_id,
    load_json,
    parse_json_object,
)
from socialcrm.secrets import TikTokSecret

PLATFORM: Final = "tiktok"
SIGNATURE_HEADER = "tiktok-signature"
TOLERANCE_SECONDS = 300
# Epoch values above this are milliseconds (10^11 s is the year 5138; 10^11 ms is 1973).
MILLIS_THRESHOLD = 10**11

RECEIVED_MESSAGE_EVENT = "im_receive_msg"
SENT_MESSAGE_EVENT = "im_send_msg"
_NOT_A_NEW_COMMENT = ("delete", "remove", "update", "edit", "hide")

_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


class TikTokAdapter:
    """TikTok: signature ``t=..,s=..`` over ``"{t}." + body``; Business Messaging DMs and comments."""

    name: ClassVar[str] = "tiktok"
    secret_model: ClassVar[type[BaseModel]] = TikTokSecret

    def handshake(self, query: Mapping[str, str], secret: TikTokSecret) -> HandshakeReply:
        """TikTok has no verification handshake: a GET is not an exchange it makes."""
        raise MethodNotAllowedError(
            "TikTok has no verification handshake: it only POSTs events to this route."
        )

    def verify(self, delivery: Delivery, secret: TikTokSecret, now: float) -> None:
        """Check ``TikTok-Signature`` against the raw body, within ±300 s of ``now``.

        >>> from socialcrm.secrets import TikTokSecret
        >>> secret = TikTokSecret(client_secret="s3cret")
        >>> body = b'{"event":"video.publish.completed"}'
        >>> adapter.verify(Delivery(body, signed_headers(body, secret, 1700000000)), secret, 1700000100)
        """
        header = _header(delivery, SIGNATURE_HEADER)
        if header is None:
            raise SignatureError("The TikTok-Signature header is missing.")
        timestamp, received = _parse_signature_header(header)
        if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
            raise StaleTimestampError(
                f"The TikTok-Signature timestamp is more than {TOLERANCE_SECONDS} s away from now."
            )
        expected = _signature(secret.client_secret.get_secret_value(), timestamp, delivery.body)
        if not digests_equal(expected, received.lower()):
            raise SignatureError("The TikTok-Signature does not match the body.")

    def normalise(self, delivery: Delivery) -> list[InteractionDraft]:
        """The interaction in one TikTok event: none, a direct message, a comment or a brand reply."""
        payload = parse_json_object(delivery.body)
        event = payload.get("event")
        if not isinstance(event, str):
            raise UnparseableError("A TikTok event needs an 'event' name (a string).")
        if event in (RECEIVED_MESSAGE_EVENT, SENT_MESSAGE_EVENT):
            return _direct_message(payload, event)
        if _is_new_comment(event):
            return _comment(payload, event)
        return []


adapter = TikTokAdapter()


def signed_headers(body: bytes, secret: TikTokSecret, now: float, **extra: Any) -> dict[str, str]:
    """The header TikTok would send with ``body`` at ``now`` (lower-case name, as Delivery keeps it).

    >>> from socialcrm.secrets import TikTokSecret
    >>> signed_headers(b"{}", TikTokSecret(client_secret="k"), 1633174587)["tiktok-signature"][:13]
    't=1633174587,'
    """
    if extra:
        raise TypeError(f"Unexpected arguments: {sorted(extra)}")
    timestamp = str(int(now))
    signature = _signature(secret.client_secret.get_secret_value(), timestamp, body)
    return {SIGNATURE_HEADER: f"t={timestamp},s={signature}"}


# --- signature -------------------------------------------------------------------------------------


def _signature(client_secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(client_secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _header(delivery: Delivery, name: str) -> str | None:
    """A header by name, case-insensitively (Delivery keys are lower-case, but be safe)."""
    value = delivery.header(name)
    if value is not None:
        return value
    return next((v for k, v in delivery.headers.items() if k.lower() == name), None)


def _parse_signature_header(header: str) -> tuple[str, str]:
    """``"t=1633174587,s=<hex>"`` → ``("1633174587", "<hex>")``; ``SignatureError`` if malformed."""
    parts: dict[str, str] = {}
    for part in header.split(","):
        key, equals, value = part.strip().partition("=")
        if not equals or not key:
            raise SignatureError("The TikTok-Signature header is malformed (expected t=<unix s>,s=<hex>).")
        if key in parts:
            raise SignatureError("The TikTok-Signature header carries a part more than once.")
        parts[key] = value.strip()
    timestamp, signature = parts.get("t"), parts.get("s")
    if timestamp is None or signature is None:
        raise SignatureError("The TikTok-Signature header needs both t=<unix s> and s=<hex>.")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError("The TikTok-Signature timestamp is not a number of seconds.")
    if not _HEX_DIGEST.fullmatch(signature):
        raise SignatureError("The TikTok-Signature value is not a hex HMAC-SHA256.")
    return timestamp, signature


# --- body ------------------------------------------------------------------------------------------


def _is_new_comment(event: str) -> bool:
    name = event.lower()
    return "comment" in name and not any(word in name for word in _NOT_A_NEW_COMMENT)


def _content(payload: dict[str, Any], event: str) -> dict[str, Any]:
    """The event's ``content``: a string holding a JSON object."""
    content = payload.get("content")
    event = event[:64]  # it is echoed in the messages below
    if not isinstance(content, str):
        raise UnparseableError(f"A TikTok '{event}' event needs 'content' as a JSON string.")
    parsed = load_json(content, f"The 'content' of a TikTok '{event}' event")
    if not isinstance(parsed, dict):
        raise UnparseableError(f"The 'content' of a TikTok '{event}' event must be a JSON object.")
    return parsed


def _direct_message(payload: dict[str, Any], event: str) -> list[InteractionDraft]:
    content = _content(payload, event)
    account = _text(payload.get("user_openid"))
    sender = _id(_child(content, "from_user").get("id"))
    recipient = _id(_child(content, "to_user").get("id"))
    from_business = event == SENT_MESSAGE_EVENT or (
        sender is not None and sender == account and recipient != account
    )
    if from_business:
        kind: Kind = BRAND_REPLY
        customer = _required(recipient, "content.to_user.id")
        customer_id: str | None = customer
    else:
        kind, customer_id = "direct_message", None
        customer = _required(sender, "content.from_user.id")
    timestamp = content.get("timestamp")
    occurred_at = _envelope_time(payload) if timestamp is None else from_epoch_millis(_number(timestamp))
    conversation = _id(content.get("conversation_id"))
    return [
        _draft(
            kind=kind,
            native_id=_required(_id(content.get("message_id")), "content.message_id"),
            author_id=_required(sender or (account if from_business else None), "content.from_user.id"),
            handle=_text(content.get("from")),
            text=_text(_child(content, "text").get("body")) or "",
            occurred_at=occurred_at,
            thread_id=conversation,
            parent_id=_id(_child(content, "referenced_message_info").get("referenced_message_id")),
            conversation_key=conversation_key("conversation", conversation)
            or conversation_key("dm", account, customer),
            customer_id=customer_id,
        )
    ]


def _comment(payload: dict[str, Any], event: str) -> list[InteractionDraft]:
    content = _content(payload, event)
    author_id = _first(content, _id, "user_id", "user_openid") or _id(_child(content, "from_user").get("id"))
    parent_id = _first(content, _id, "parent_comment_id", "reply_to_comment_id")
    kind: Kind = "reply" if parent_id else "comment"
    if author_id is not None and author_id == _text(payload.get("user_openid")):
        if parent_id is None:
            return []  # the business account's own top-level comment answers nobody
        kind = BRAND_REPLY
    time_value = next(
        (content[key] for key in ("create_time", "timestamp") if content.get(key) is not None), None
    )
    occurred_at = _envelope_time(payload) if time_value is None else _epoch_auto(time_value)
    native_id = _required(_first(content, _id, "comment_id", "id"), "content.comment_id")
    return [
        _draft(
            kind=kind,
            native_id=native_id,
            author_id=_required(author_id, "content.user_id"),
            handle=_first(content, _text, "username", "from"),
            text=_first(content, _text, "text", "comment_text", "content") or "",
            occurred_at=occurred_at,
            thread_id=_first(content, _id, "video_id", "item_id"),
            parent_id=parent_id,
            conversation_key=conversation_key("comments", parent_id or native_id),
        )
    ]


def _draft(
    *,
    kind: Kind,
    native_id: str,
    author_id: str,
    handle: str | None,
    text: str,
    occurred_at: datetime,
    thread_id: str | None,
    parent_id: str | None,
    conversation_key: str | None,
    customer_id: str | None = None,
) -> InteractionDraft:
    try:
        return InteractionDraft(
            platform=PLATFORM,
            kind=kind,
            native_id=native_id,
            author=Author(user_id=author_id, handle=handle),
            text=text,
            occurred_at=occurred_at,
            thread_id=thread_id,
            parent_id=parent_id,
            conversation_key=conversation_key,
            customer_id=customer_id,
        )
    except ValidationError as exc:
        raise UnparseableError("The TikTok event does not make a valid interaction.") from exc


def _envelope_time(payload: dict[str, Any]) -> datetime:
    if "create_time" not in payload:
        raise UnparseableError("The TikTok event carries no time (content.timestamp or create_time).")
    return from_epoch_seconds(_number(payload["create_time"]))


def _epoch_auto(value: Any) -> datetime:
    """Seconds or milliseconds, told apart by size."""
    number = _number(value)
    return from_epoch_millis(number) if number > MILLIS_THRESHOLD else from_epoch_seconds(number)


def _number(value: Any) -> float:
    """A JSON number or a string of digits as a float; ``UnparseableError`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UnparseableError("A TikTok time is not an epoch number.")
    try:
        return float(value)
    except (ValueError, OverflowError) as exc:
        raise UnparseableError("A TikTok time is not an epoch number.") from exc


def _child(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _first(content: dict[str, Any], read: Callable[[Any], str | None], *keys: str) -> str | None:
    """The first of ``keys`` whose value ``read`` accepts."""
    return next((found for key in keys if (found := read(content.get(key))) is not None), None)


_id = integer_or_text_id


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _required(value: str | None, field: str) -> str:
    if value is None:
        raise UnparseableError(f"The TikTok event lacks '{field}'.")
    return value
