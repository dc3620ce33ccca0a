"""Meta webhooks: Facebook Page feed, Messenger, Instagram and the WhatsApp Cloud API (route ``meta``).

One app, one route, one secret (``MetaSecret``: ``app_secret`` signs deliveries, ``verify_token`` answers
the handshake). The protocol reference is ``docs/webhook-protocols.md`` §2.

Handshake: ``hub.mode`` must be ``subscribe`` (else 400), ``hub.challenge`` must be present (else 400),
``hub.verify_token`` must equal the configured token (else 403, compared in constant time; a missing token
is a wrong token). The reply is the challenge verbatim, ``text/plain``.

Signature: ``X-Hub-Signature-256: sha256=<hex>``, HMAC-SHA256 of the raw body with the app secret. Meta
sends lowercase hex; uppercase hex is accepted too (the digest is lowercased first, then compared in constant
time, so nothing is weakened). The legacy ``X-Hub-Signature`` (sha1) alone is refused. Nothing is timestamped,
so there is no replay window: redeliveries are caught by the dedupe on ``interaction_id``.

What becomes an interaction (``docs/webhook-protocols.md`` §2 and "Brand replies and conversations"):

* ``page`` / ``feed`` changes with ``verb`` ``add`` and ``item`` comment, post, status, photo or video →
  ``facebook`` comment (``reply`` when ``parent_id`` differs from ``post_id``) or post. Edits, removals,
  reactions, likes and shares are skipped, and so are items without ``from``. The Page's own comment
  (``from.id == entry.id``) is a ``brand_reply``; the Page's own posts are skipped.
* ``page`` / ``messaging`` (and ``standby``, the handover protocol's copy) with a ``message.mid`` →
  ``messenger`` direct message; an echo of the Page's own message (``is_echo``, field
  ``message_echoes``: sender the Page, recipient the customer) is a ``brand_reply`` whose
  ``customer_id`` is the recipient. Reads, deliveries, reactions and postbacks are skipped.
* ``instagram`` / ``comments`` and ``live_comments`` (id in ``value.id`` or ``value.comment_id``; no
  per-comment time, so ``entry.time``) → ``instagram`` comment, or ``reply`` when ``parent_id`` differs from
  the media id. The account's own reply (``from.id == entry.id``) is a ``brand_reply``; its own top-level
  comment answers nobody and is skipped. The Business-Login shape (``field``/``value`` directly in the
  entry) is read too.
* ``instagram`` / ``mentions`` is skipped: it carries only ``comment_id``/``media_id``, no author and no
  text, and an interaction needs an author (Business Login folds mentions into ``comments``, which are kept).
* ``instagram`` / ``messaging`` → ``instagram`` direct message; the account's own message (``is_echo``,
  or ``sender.id == entry.id``) is a ``brand_reply`` to the recipient; deleted and unsupported messages
  are skipped.
* ``whatsapp_business_account`` / ``messages`` / ``value.messages[]`` → ``whatsapp`` direct message, text from
  the type's own field (text body, media caption, button or list reply title and description, order text;
  empty for stickers, audio, locations...). Reactions, ``unsupported``/``unknown``, ``system`` and
  ``request_welcome`` messages are skipped. The author is ``from`` (the phone number); a username user
  whose ``from`` is empty or absent is keyed by the business-scoped user id (``from_user_id``, else the
  sole contact's ``user_id``). Name and handle come from the contact matched by ``wa_id`` or ``user_id``
  (a leading ``@`` of the username is dropped).
* ``value.statuses[]``: a ``sent`` status of a one-to-one message is a ``brand_reply`` without text (the
  status ``id`` is the message's, its author the business ``phone_number_id``, its customer
  ``recipient_id``, else ``recipient_user_id``; its ``biz_opaque_callback_data`` is the marker of a reply
  socialcrm sent, as a Messenger or Instagram echo's ``metadata`` is). ``delivered``, ``read``, ``played`` and ``failed`` are
  not replies, nor is a message whose ``pricing.category`` or ``conversation.origin.type`` is marketing,
  nor one sent to a group: all skipped.
* ``smb_message_echoes`` / ``value.message_echoes[]`` (a WhatsApp Business app number onboarded to the
  Cloud API: what the business typed on its phone) → ``brand_reply`` with its text, to the customer
  ``to`` (a leading ``+`` and separators dropped, so it reads as the ``wa_id`` the customer's messages
  carry).

Conversation keys: a Messenger or Instagram DM is ``dm:<entry id>:<customer id>``; a Facebook or
Instagram comment thread is ``comments:<root comment id>`` (a top-level comment's own id, a reply's
``parent_id``); a visitor post, and the Page's top-level comment on a post, ``post:<post id>``; WhatsApp is
``wa:<phone_number_id>:<customer>``. A key that cannot be built (its account id absent) is left unset.

Direct messages have no ``thread_id`` (the conversation is the author's; a thread id built from a phone
number would put personal data into an id); ``parent_id`` is the message replied to, if any. Meta gives no
reliable language hint, so ``language`` is always ``None``.

Times: ``entry.time`` is seconds in change notifications and milliseconds in messaging ones, and Meta's test
tools send seconds where the docs say milliseconds, so every epoch number is read by size (at or above 1e11
it is milliseconds: 1e11 seconds is the year 5138, 1e11 ms is 1973); non-numeric strings are read as
ISO-8601.

A body that is not a JSON object with an ``entry`` list is unparseable (400). Inside it, an item that lacks
what an interaction needs (an id, an author, a readable time) is skipped rather than failing the delivery: a
4xx would make Meta redeliver the whole batch, good items included, until it gives up (and unsubscribe a
Messenger app after an hour).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from socialcrm.errors import BadRequestError, SignatureError, UnparseableError, VerifyTokenError
from socialcrm.models import BRAND_REPLY, Author, InteractionDraft, reply_marker
from socialcrm.platforms.base import (
    Delivery,
    HandshakeReply,
    conversation_key,
    digests_equal,
    from_epoch_millis,
    from_epoch_seconds,
    from_iso8601,
    integer_or_text_id,
    parse_json_object,
)
from socialcrm.secrets import MetaSecret

SIGNATURE_HEADER = "x-hub-signature-256"
LEGACY_SIGNATURE_HEADER = "x-hub-signature"
_SIGNATURE_PREFIX = "sha256="
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
_MILLIS_FROM = 100_000_000_000

_FEED_ITEMS = frozenset({"comment", "post", "status", "photo", "video"})
_INSTAGRAM_COMMENT_FIELDS = frozenset({"comments", "live_comments"})
# WhatsApp message types that are not something the customer said to us.
_WHATSAPP_SKIPPED_TYPES = frozenset({"reaction", "unsupported", "unknown", "system", "request_welcome"})
_WHATSAPP_CAPTIONED_TYPES = frozenset({"image", "video", "document"})
# The one status that says the business sent a message; delivered, read, played and failed do not.
_WHATSAPP_SENT = "sent"
# Pricing categories (and conversation origins) of marketing messages: a broadcast is no reply.
_WHATSAPP_MARKETING = frozenset({"marketing", "marketing_lite"})
# What a phone number written for sending may hold besides its digits ("+1 650-555-1234").
_PHONE_PUNCTUATION = re.compile(r"[+\s().-]")


class MetaAdapter:
    """Handshake, signature check and normalisation for every Meta product on one route."""

    name: ClassVar[str] = "meta"
    secret_model: ClassVar[type[BaseModel]] = MetaSecret

    def handshake(self, query: Mapping[str, str], secret: MetaSecret) -> HandshakeReply:
        """Answer ``GET ?hub.mode=subscribe&hub.challenge=…&hub.verify_token=…`` with the challenge.

        >>> from pydantic import SecretStr
        >>> s = MetaSecret(app_secret=SecretStr("a"), verify_token=SecretStr("t"))
        >>> adapter.handshake({"hub.mode": "subscribe", "hub.challenge": "42", "hub.verify_token": "t"}, s).body
        '42'
        """
        if query.get("hub.mode") != "subscribe":
            raise BadRequestError("The handshake needs hub.mode=subscribe.")
        challenge = query.get("hub.challenge")
        if not isinstance(challenge, str) or not challenge:
            raise BadRequestError("The handshake needs the query parameter 'hub.challenge'.")
        token = query.get("hub.verify_token")
        expected = secret.verify_token.get_secret_value()
        if not isinstance(token, str) or not digests_equal(_clean(expected), _clean(token)):
            raise VerifyTokenError("The hub.verify_token does not match the configured verify token.")
        return HandshakeReply(body=challenge, content_type="text/plain")

    def verify(self, delivery: Delivery, secret: MetaSecret, now: float) -> None:
        """Check ``X-Hub-Signature-256`` against the raw body; ``SignatureError`` (401) if it does not match.

        ``now`` is unused: Meta signs no timestamp.
        """
        header = delivery.header(SIGNATURE_HEADER)
        if not header:
            if delivery.header(LEGACY_SIGNATURE_HEADER):
                raise SignatureError(
                    "Only X-Hub-Signature-256 is accepted; the legacy sha1 X-Hub-Signature is not."
                )
            raise SignatureError("The X-Hub-Signature-256 header is missing.")
        if not isinstance(header, str):
            raise SignatureError("The X-Hub-Signature-256 header is malformed.")
        value = header.strip()
        if not value.startswith(_SIGNATURE_PREFIX):
            raise SignatureError("The X-Hub-Signature-256 header must start with 'sha256='.")
        received = value[len(_SIGNATURE_PREFIX) :].lower()
        if not _HEX_DIGEST.fullmatch(received):
            raise SignatureError("The X-Hub-Signature-256 header must be 'sha256=' and 64 hex digits.")
        if not digests_equal(_digest(delivery.body, secret.app_secret.get_secret_value()), received):
            raise SignatureError("The X-Hub-Signature-256 signature does not match the body.")

    def normalise(self, delivery: Delivery) -> list[InteractionDraft]:
        """Every customer interaction in the delivery, in delivery order (see the module docstring)."""
        payload = parse_json_object(delivery.body)
        product = payload.get("object")
        entries = payload.get("entry")
        if not isinstance(product, str) or not isinstance(entries, list):
            raise UnparseableError(
                "A Meta delivery is a JSON object with an 'object' name and an 'entry' list."
            )
        reader = _READERS.get(product)
        if reader is None:
            return []
        drafts: list[InteractionDraft] = []
        for entry in entries:
            if isinstance(entry, dict):
                drafts.extend(draft for draft in reader(entry) if draft is not None)
        return drafts


def signed_headers(body: bytes, secret: MetaSecret | str, now: float = 0.0, **extra: str) -> dict[str, str]:
    """The headers Meta would send with ``body``: ``x-hub-signature-256`` plus any ``extra`` headers.

    ``secret`` is the ``MetaSecret`` (or the app secret itself); ``now`` is unused (Meta signs no time).
    Extra keyword names become header names (``content_type`` → ``content-type``).

    >>> signed_headers(b'{"object":"page","entry":[{"id":"PAGE","time":1,"changes":[]}]}', "test_app_secret")
    {'x-hub-signature-256': 'sha256=14c8f35886969202ce8fb44d7e919f2b43a836340b7c816017240be4c658966d'}
    """
    app_secret = secret if isinstance(secret, str) else secret.app_secret.get_secret_value()
    headers = {key.lower().replace("_", "-"): value for key, value in extra.items()}
    headers[SIGNATURE_HEADER] = _SIGNATURE_PREFIX + _digest(body, app_secret)
    return headers


def _digest(body: bytes, app_secret: str) -> str:
    return hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------------------------------------
# Readers, one per ``object``: each yields a draft or ``None`` (skipped) per item of one entry.


def _page_entry(entry: dict[str, Any]) -> Iterator[InteractionDraft | None]:
    entry_id, entry_time = _id(entry.get("id")), _instant(entry.get("time"))
    for field, value in _changes(entry):
        if field == "feed":
            yield _feed_draft(value, entry_id, entry_time)
        elif field == "messages":  # the App Dashboard's test shape: a messaging event as the value
            yield _messaging_draft(value, "messenger", entry_id, entry_time)
    for event in _messaging_events(entry):
        yield _messaging_draft(event, "messenger", entry_id, entry_time)


def _instagram_entry(entry: dict[str, Any]) -> Iterator[InteractionDraft | None]:
    entry_id, entry_time = _id(entry.get("id")), _instant(entry.get("time"))
    for field, value in _changes(entry):
        if field in _INSTAGRAM_COMMENT_FIELDS:
            yield _instagram_comment_draft(value, entry_id, entry_time)
        elif field == "messages":  # the App Dashboard's test shape: a messaging event as the value
            yield _messaging_draft(value, "instagram", entry_id, entry_time)
    for event in _messaging_events(entry):
        yield _messaging_draft(event, "instagram", entry_id, entry_time)


def _whatsapp_entry(entry: dict[str, Any]) -> Iterator[InteractionDraft | None]:
    for field, value in _changes(entry):
        business = _id(_obj(value.get("metadata")).get("phone_number_id"))
        if field == "messages":
            contacts = [contact for contact in _list(value.get("contacts")) if isinstance(contact, dict)]
            for message in _list(value.get("messages")):
                if isinstance(message, dict):
                    yield _whatsapp_draft(message, contacts, business)
            for status in _list(value.get("statuses")):
                if isinstance(status, dict):
                    yield _whatsapp_status_draft(status, business)
        elif field == "smb_message_echoes":
            for echo in _list(value.get("message_echoes")):
                if isinstance(echo, dict):
                    yield _whatsapp_echo_draft(echo, business)


_READERS = {
    "page": _page_entry,
    "instagram": _instagram_entry,
    "whatsapp_business_account": _whatsapp_entry,
}


def _changes(entry: dict[str, Any]) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """``(field, value)`` of each change, including Business Login's field/value placed in the entry."""
    changes = [change for change in _list(entry.get("changes")) if isinstance(change, dict)]
    if "field" in entry and "value" in entry:
        changes.append(entry)
    for change in changes:
        value = change.get("value")
        if isinstance(value, dict):
            field = change.get("field")
            yield (field if isinstance(field, str) else None), value


def _messaging_events(entry: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("messaging", "standby"):
        for event in _list(entry.get(key)):
            if isinstance(event, dict):
                yield event


# ---------------------------------------------------------------------------------------------------------
# One item → one draft (or None).


def _feed_draft(
    value: dict[str, Any], page_id: str | None, entry_time: datetime | None
) -> InteractionDraft | None:
    item = value.get("item")
    if value.get("verb") != "add" or not isinstance(item, str) or item not in _FEED_ITEMS:
        return None
    author = _obj(value.get("from"))
    user_id = _id(author.get("id"))
    if user_id is None:
        return None
    from_page = user_id == page_id
    post_id = _id(value.get("post_id"))
    if item == "comment":
        native_id = _id(value.get("comment_id"))
        parent_id = _id(value.get("parent_id")) or post_id
        is_reply = parent_id is not None and parent_id != post_id
        thread_id = post_id
        if from_page:  # the Page answering: a reply joins the comment's thread, a top-level comment the post
            kind = BRAND_REPLY
            key = conversation_key("comments", parent_id) if is_reply else conversation_key("post", post_id)
        else:
            kind = "reply" if is_reply else "comment"
            key = conversation_key("comments", parent_id if is_reply else native_id)
    elif from_page:
        return None  # the Page's own post answers nobody
    else:
        native_id = post_id or _id(value.get(f"{item}_id"))  # photo_id / video_id when there is no post_id
        parent_id, kind, thread_id = None, "post", native_id
        key = conversation_key("post", native_id)
    return _draft(
        platform="facebook",
        kind=kind,
        native_id=native_id,
        thread_id=thread_id,
        parent_id=parent_id,
        author=_author(user_id, display_name=author.get("name")),
        text=value.get("message"),
        occurred_at=_instant(value.get("created_time")) or entry_time,
        conversation_key=key,
    )


def _instagram_comment_draft(
    value: dict[str, Any], account_id: str | None, entry_time: datetime | None
) -> InteractionDraft | None:
    author = _obj(value.get("from"))
    user_id = _id(author.get("id"))
    if user_id is None:
        return None
    native_id = _id(value.get("id")) or _id(value.get("comment_id"))
    media_id = _id(_obj(value.get("media")).get("id")) or _id(value.get("media_id"))
    parent_id = _id(value.get("parent_id"))
    is_reply = parent_id is not None and parent_id != media_id
    if user_id == account_id:
        if not is_reply:
            return None  # the account's own top-level comment answers nobody
        kind = BRAND_REPLY
    else:
        kind = "reply" if is_reply else "comment"
    # Instagram threads are one level deep: "replies to a reply will be added to the top-level comment",
    # so parent_id is the root of the thread.
    return _draft(
        platform="instagram",
        kind=kind,
        native_id=native_id,
        thread_id=media_id,
        parent_id=parent_id or media_id,
        author=_author(user_id, handle=author.get("username")),
        text=value.get("text"),
        occurred_at=entry_time,
        conversation_key=conversation_key("comments", parent_id if is_reply else native_id),
    )


def _messaging_draft(
    event: dict[str, Any], platform: str, account_id: str | None, entry_time: datetime | None
) -> InteractionDraft | None:
    message = event.get("message")
    if not isinstance(message, dict) or any(message.get(flag) for flag in ("is_deleted", "is_unsupported")):
        return None
    sender = _id(_obj(event.get("sender")).get("id"))
    recipient = _id(_obj(event.get("recipient")).get("id"))
    if sender is None:
        return None
    customer: str | None
    account: str | None
    marker = None
    if message.get("is_echo") or sender == account_id:
        # The account's own message (message_echoes): the customer is the recipient. An echo whose
        # sender is another account than the entry's is not ours to read. Its metadata is the marker
        # socialcrm put on a reply it sent (the reply id), when it was one of ours.
        account = account_id or sender
        if sender != account or recipient is None or recipient == sender:
            return None
        kind, customer, customer_id = BRAND_REPLY, recipient, recipient
        marker = reply_marker(message.get("metadata"))
    else:
        kind, customer, customer_id = "direct_message", sender, None
        account = account_id or recipient
    return _draft(
        platform=platform,
        kind=kind,
        native_id=_id(message.get("mid")),
        parent_id=_id(_obj(message.get("reply_to")).get("mid")),
        author=_author(sender),
        text=message.get("text"),
        occurred_at=_instant(event.get("timestamp")) or entry_time,
        conversation_key=conversation_key("dm", account, customer),
        customer_id=customer_id,
        reply_marker=marker,
    )


def _whatsapp_draft(
    message: dict[str, Any], contacts: list[dict[str, Any]], business: str | None
) -> InteractionDraft | None:
    kind = message.get("type")
    if isinstance(kind, str) and kind in _WHATSAPP_SKIPPED_TYPES:
        return None
    phone = _id(message.get("from"))
    scoped_id = _id(message.get("from_user_id"))
    if phone is None and scoped_id is None and len(contacts) == 1:
        scoped_id = _id(contacts[0].get("user_id"))
    user_id = phone or scoped_id
    if user_id is None:
        return None
    profile = _obj(_whatsapp_contact(contacts, phone, scoped_id).get("profile"))
    username = _string(profile.get("username"))
    return _draft(
        platform="whatsapp",
        kind="direct_message",
        native_id=_id(message.get("id")),
        parent_id=_id(_obj(message.get("context")).get("id")),
        author=_author(
            user_id, handle=username.removeprefix("@") if username else None, display_name=profile.get("name")
        ),
        text=_whatsapp_text(message, kind),
        occurred_at=_instant(message.get("timestamp")),
        conversation_key=conversation_key("wa", business, user_id),
    )


def _whatsapp_status_draft(status: dict[str, Any], business: str | None) -> InteractionDraft | None:
    """A ``sent`` status: the business sent a message to the customer (no text in a status)."""
    if status.get("status") != _WHATSAPP_SENT or status.get("recipient_type") == "group":
        return None
    category = _string(_obj(status.get("pricing")).get("category"))
    origin = _string(_obj(_obj(status.get("conversation")).get("origin")).get("type"))
    if category in _WHATSAPP_MARKETING or origin in _WHATSAPP_MARKETING:
        return None  # a marketing broadcast answers nobody
    customer = _whatsapp_customer(status.get("recipient_id")) or _id(status.get("recipient_user_id"))
    return _whatsapp_brand_draft(
        status, business, customer, text="", marker=reply_marker(status.get("biz_opaque_callback_data"))
    )


def _whatsapp_echo_draft(echo: dict[str, Any], business: str | None) -> InteractionDraft | None:
    """A message the business sent from the WhatsApp Business app (``smb_message_echoes``)."""
    kind = echo.get("type")
    if isinstance(kind, str) and kind in _WHATSAPP_SKIPPED_TYPES:
        return None
    customer = _whatsapp_customer(echo.get("to")) or _id(echo.get("to_user_id"))
    return _whatsapp_brand_draft(echo, business, customer, text=_whatsapp_text(echo, kind))


def _whatsapp_brand_draft(
    item: dict[str, Any], business: str | None, customer: str | None, *, text: str, marker: str | None = None
) -> InteractionDraft | None:
    if business is None or customer is None or customer == business:
        return None
    return _draft(
        platform="whatsapp",
        kind=BRAND_REPLY,
        native_id=_id(item.get("id")),
        parent_id=_id(_obj(item.get("context")).get("id")),
        author=_author(business),
        text=text,
        occurred_at=_instant(item.get("timestamp")),
        conversation_key=conversation_key("wa", business, customer),
        customer_id=customer,
        reply_marker=marker,
    )


def _whatsapp_customer(value: Any) -> str | None:
    """The customer's number as their messages carry it (``wa_id``, digits only): a number written for
    sending (``"+1 650-555-1234"``) loses its ``+`` and separators; any other id is kept as it is."""
    found = _id(value)
    if found is None:
        return None
    digits = _PHONE_PUNCTUATION.sub("", found)
    return digits if digits.isascii() and digits.isdigit() else found


def _whatsapp_contact(
    contacts: list[dict[str, Any]], phone: str | None, scoped_id: str | None
) -> dict[str, Any]:
    """The contact the message came from, matched by ``wa_id`` or ``user_id`` (never guessed)."""
    for contact in contacts:
        if phone is not None and _id(contact.get("wa_id")) == phone:
            return contact
        if scoped_id is not None and _id(contact.get("user_id")) == scoped_id:
            return contact
    return {}


def _whatsapp_text(message: dict[str, Any], kind: Any) -> str:
    if kind == "interactive":
        interactive = _obj(message.get("interactive"))
        reply = _obj(interactive.get("button_reply")) or _obj(interactive.get("list_reply"))
        parts = (_string(reply.get("title")), _string(reply.get("description")))
        return "\n".join(part for part in parts if part)
    if kind == "button":
        return _string(_obj(message.get("button")).get("text")) or ""
    if kind == "order":
        return _string(_obj(message.get("order")).get("text")) or ""
    if isinstance(kind, str) and kind in _WHATSAPP_CAPTIONED_TYPES:
        return _string(_obj(message.get(kind)).get("caption")) or ""
    if kind == "text" or kind is None:
        return _string(_obj(message.get("text")).get("body")) or ""
    return ""


# ---------------------------------------------------------------------------------------------------------
# Tolerant readers of JSON values: a wrong type reads as absent.


def _draft(
    *, native_id: str | None, occurred_at: datetime | None, text: Any, **fields: Any
) -> InteractionDraft | None:
    if native_id is None or occurred_at is None:
        return None
    try:
        return InteractionDraft(
            native_id=native_id, occurred_at=occurred_at, text=_string(text) or "", **fields
        )
    except ValidationError:  # defence in depth: every field is checked above, a bad item is skipped
        return None


def _author(user_id: str, *, handle: Any = None, display_name: Any = None) -> Author | None:
    """The author, or None for a user id no encoder can write (half an emoji): its item is skipped by
    :func:`_draft`, as every item with such an id is."""
    try:
        return Author(
            user_id=user_id, handle=_string(handle) or None, display_name=_string(display_name) or None
        )
    except ValidationError:
        return None


def _id(value: Any) -> str | None:
    """An id as text or an integer (:func:`integer_or_text_id`), as sent: an id holding a lone surrogate
    is not repaired (two ids would become one), the model refuses its item."""
    return integer_or_text_id(value)


def _string(value: Any) -> str | None:
    """A string with any lone surrogate (a ``\\ud800`` escape without its pair) replaced by U+FFFD."""
    return _clean(value) if isinstance(value, str) else None


def _clean(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _instant(value: Any) -> datetime | None:
    """An epoch number (seconds or milliseconds, told apart by size; int, float or string) or ISO-8601."""
    if isinstance(value, bool) or value is None:
        return None
    number: Any = value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            try:
                return from_iso8601(value)
            except UnparseableError:
                return None
    if not isinstance(number, int | float):
        return None
    try:
        return from_epoch_millis(value) if abs(number) >= _MILLIS_FROM else from_epoch_seconds(value)
    except UnparseableError:
        return None


adapter = MetaAdapter()
