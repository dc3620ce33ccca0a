"""Webhook deliveries as the platforms send them, signed: the sender side of the local stack.

Used by the demo, the end-to-end tests and the local benchmark. Each builder returns the body the
platform would POST (shapes from ``tests/events`` and the protocol reference) and the interaction ids
it should produce, known from the payload itself (``"{platform}:{native_id}"``), not computed by the
adapters under test. Where a platform shows the brand answering, a reply builder sits next to the
customer-message builder it answers (``messenger_message`` / ``messenger_echo``, ``x_mention`` /
``x_brand_reply``, …): given the same ids, the adapter gives both the same conversation key
(``docs/webhook-protocols.md`` §12). :class:`Signer` adds the headers each platform signs with, from a
platform-secrets document (the development one locally); it never prints or logs a secret.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from socialcrm.platforms import generic, linkedin, meta, tiktok, x, youtube
from socialcrm.secrets import PlatformSecrets

# The brand's own accounts on each platform (the receiving side of every delivery).
FACEBOOK_PAGE = "102938475610293"
INSTAGRAM_ACCOUNT = "17841405726653026"
WHATSAPP_ACCOUNT = "102290129340398"
WHATSAPP_PHONE_NUMBER_ID = "106540352242922"
X_BRAND = "2244994945"
LINKEDIN_ORGANIZATION = "urn:li:organization:96072893"
TIKTOK_BUSINESS = "-000abcdEFGHijklMNOPqrstuvWXYZ"
YOUTUBE_CHANNEL = "UCupvZG-5ko_eiXAupbDfxWw"
GENERIC_BRAND = "acme"
# The organisation's post the LinkedIn comments are on.
LINKEDIN_ACTIVITY = "urn:li:activity:7094637247890620418"

_SIGNERS: dict[str, Callable[..., dict[str, str]]] = {
    "meta": meta.signed_headers,
    "x": x.signed_headers,
    "linkedin": linkedin.signed_headers,
    "tiktok": tiktok.signed_headers,
    "youtube": youtube.signed_headers,
    "generic": generic.signed_headers,
}


@dataclass(frozen=True)
class Payload:
    """A body a platform POSTs to ``/webhooks/{route}`` and the interaction ids it carries."""

    route: str
    body: bytes
    interaction_ids: tuple[str, ...]
    label: str = ""
    content_type: str = "application/json"


@dataclass(frozen=True)
class SignedDelivery:
    payload: Payload
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"/webhooks/{self.payload.route}"


class Signer:
    """Signs payloads as each platform does, with the secrets of one platform-secrets document."""

    def __init__(self, secrets: PlatformSecrets) -> None:
        self._secrets = secrets

    def sign(
        self, payload: Payload, *, now: float | None = None, body: bytes | None = None
    ) -> SignedDelivery:
        """Headers for ``payload`` (or for another ``body``, to forge a bad signature) at ``now``."""
        secret = self._secrets.for_platform(payload.route)
        if secret is None:
            raise LookupError(f"The secrets document has no entry for '{payload.route}'.")
        headers = _SIGNERS[payload.route](
            payload.body if body is None else body, secret, time.time() if now is None else now
        )
        return SignedDelivery(payload, {"content-type": payload.content_type, **headers})

    def forged(self, payload: Payload) -> SignedDelivery:
        """The payload with a signature that does not match it (signed over other bytes)."""
        return self.sign(payload, body=payload.body + b" ")


def _json(document: dict[str, Any], *, escape_non_ascii: bool = False) -> bytes:
    """Compact JSON as the platforms send it: Meta escapes non-ASCII as ``\\uXXXX``, the others send UTF-8."""
    return json.dumps(document, ensure_ascii=escape_non_ascii, separators=(",", ":")).encode("utf-8")


def _seconds(when: datetime) -> int:
    return int(when.timestamp())


def _millis(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def facebook_comment(
    comment_id: str,
    user_id: str,
    name: str,
    text: str,
    when: datetime,
    *,
    parent_id: str | None = None,
) -> Payload:
    """A comment on the Page's post (``page`` / ``feed``, verb ``add``); with ``parent_id``, a reply to
    that comment of the same post (``comment_id`` is ``"<post>_<comment>"``, as Facebook writes it)."""
    return _feed_comment(comment_id, {"id": user_id, "name": name}, text, when, parent_id, "Facebook comment")


def facebook_page_reply(comment_id: str, parent_id: str, text: str, when: datetime) -> Payload:
    """The Page's reply to a customer's comment ``parent_id`` (``from.id`` is the Page): a brand reply in
    that comment's thread. Facebook threads are two levels deep, so ``parent_id`` is the top-level comment.
    """
    page = {"id": FACEBOOK_PAGE, "name": "Acme Store"}
    return _feed_comment(comment_id, page, text, when, parent_id, "Facebook Page reply")


def _feed_comment(
    comment_id: str,
    author: dict[str, str],
    text: str,
    when: datetime,
    parent_id: str | None,
    what: str,
) -> Payload:
    post_id = f"{FACEBOOK_PAGE}_{comment_id.split('_')[0]}"
    change = {
        "field": "feed",
        "value": {
            "from": author,
            "post": {"status_type": "added_photos", "is_published": True, "id": post_id},
            "message": text,
            "post_id": post_id,
            "comment_id": comment_id,
            "parent_id": parent_id or post_id,
            "created_time": _seconds(when),
            "item": "comment",
            "verb": "add",
        },
    }
    body = {"object": "page", "entry": [{"id": FACEBOOK_PAGE, "time": _seconds(when), "changes": [change]}]}
    return Payload("meta", _json(body, escape_non_ascii=True), (f"facebook:{comment_id}",), what)


def instagram_message(mid: str, sender_id: str, text: str, when: datetime) -> Payload:
    """A direct message to the Instagram professional account."""
    return _instagram_messaging(
        {"id": sender_id}, {"id": INSTAGRAM_ACCOUNT}, {"mid": mid, "text": text}, when, "Instagram DM"
    )


def instagram_echo(mid: str, igsid: str, text: str, when: datetime) -> Payload:
    """The account's own message to ``igsid`` (``messages`` with ``is_echo``: sender = the account)."""
    message = {"mid": mid, "text": text, "is_echo": True}
    return _instagram_messaging({"id": INSTAGRAM_ACCOUNT}, {"id": igsid}, message, when, "Instagram DM echo")


def _instagram_messaging(
    sender: dict[str, str], recipient: dict[str, str], message: dict[str, Any], when: datetime, what: str
) -> Payload:
    event = {"sender": sender, "recipient": recipient, "timestamp": _millis(when), "message": message}
    body = {
        "object": "instagram",
        "entry": [{"id": INSTAGRAM_ACCOUNT, "time": _millis(when), "messaging": [event]}],
    }
    return Payload("meta", _json(body, escape_non_ascii=True), (f"instagram:{message['mid']}",), what)


def instagram_comment(
    comment_id: str,
    media_id: str,
    user_id: str,
    username: str,
    text: str,
    when: datetime,
    *,
    parent_id: str | None = None,
) -> Payload:
    """A comment on the account's media (``instagram`` / ``comments``); with ``parent_id``, a reply to
    that comment (Instagram threads are one level deep: ``parent_id`` is the top-level comment)."""
    author = {"id": user_id, "username": username}
    return _instagram_comment(comment_id, media_id, author, text, when, parent_id, "Instagram comment")


def instagram_comment_reply(
    comment_id: str, media_id: str, parent_id: str, text: str, when: datetime
) -> Payload:
    """The account's reply to the comment ``parent_id`` (``from.id`` is the account): a brand reply."""
    author = {"id": INSTAGRAM_ACCOUNT, "username": "acme.store"}
    return _instagram_comment(comment_id, media_id, author, text, when, parent_id, "Instagram comment reply")


def _instagram_comment(
    comment_id: str,
    media_id: str,
    author: dict[str, str],
    text: str,
    when: datetime,
    parent_id: str | None,
    what: str,
) -> Payload:
    value: dict[str, Any] = {
        "from": author,
        "media": {"id": media_id, "media_product_type": "FEED"},
        "id": comment_id,
        "text": text,
    }
    if parent_id is not None:
        value["parent_id"] = parent_id
    # A comment carries no time of its own: the entry's (seconds) is the comment's.
    entry = {
        "id": INSTAGRAM_ACCOUNT,
        "time": _seconds(when),
        "changes": [{"field": "comments", "value": value}],
    }
    body = {"object": "instagram", "entry": [entry]}
    return Payload("meta", _json(body, escape_non_ascii=True), (f"instagram:{comment_id}",), what)


def messenger_message(mid: str, psid: str, text: str, when: datetime) -> Payload:
    """A Messenger message to the Page (``page`` / ``messaging``): ``psid`` is the customer's page-scoped id."""
    return _messenger(
        mid, {"id": psid}, {"id": FACEBOOK_PAGE}, {"mid": mid, "text": text}, when, "Messenger message"
    )


def messenger_echo(mid: str, psid: str, text: str, when: datetime) -> Payload:
    """The Page's own reply to ``psid``, as Messenger echoes it (``message_echoes``: ``is_echo``, sender = Page)."""
    message = {"mid": mid, "is_echo": True, "app_id": 1517776481860111, "text": text}
    return _messenger(mid, {"id": FACEBOOK_PAGE}, {"id": psid}, message, when, "Messenger echo")


def _messenger(
    mid: str,
    sender: dict[str, str],
    recipient: dict[str, str],
    message: dict[str, Any],
    when: datetime,
    what: str,
) -> Payload:
    event = {"sender": sender, "recipient": recipient, "timestamp": _millis(when), "message": message}
    body = {"object": "page", "entry": [{"id": FACEBOOK_PAGE, "time": _millis(when), "messaging": [event]}]}
    return Payload("meta", _json(body, escape_non_ascii=True), (f"messenger:{mid}",), what)


def whatsapp_message(wamid: str, wa_id: str, name: str, text: str, when: datetime) -> Payload:
    """A text message to the WhatsApp Business number (Cloud API)."""
    value = {
        **_WHATSAPP_VALUE,
        "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
        "messages": [
            {
                "from": wa_id,
                "id": wamid,
                "timestamp": str(_seconds(when)),
                "type": "text",
                "text": {"body": text},
            }
        ],
    }
    return _whatsapp(value, "messages", (f"whatsapp:{wamid}",), "WhatsApp message")


def whatsapp_read_receipt(wamid: str, wa_id: str, when: datetime) -> Payload:
    """A status update (the customer read our reply): acknowledged, not an interaction."""
    value = {
        **_WHATSAPP_VALUE,
        "statuses": [
            {"id": wamid, "status": "read", "timestamp": str(_seconds(when)), "recipient_id": wa_id}
        ],
    }
    return _whatsapp(value, "messages", (), "WhatsApp read receipt")


def whatsapp_sent_status(wamid: str, wa_id: str, when: datetime) -> Payload:
    """The ``sent`` status of the business's message ``wamid`` to ``wa_id`` (a customer-service reply, not
    marketing): a brand reply without text in the customer's conversation."""
    status = {
        "id": wamid,
        "status": "sent",
        "timestamp": str(_seconds(when)),
        "recipient_id": wa_id,
        "conversation": {"id": f"conv-{wamid}", "origin": {"type": "service"}},
        "pricing": {
            "billable": False,
            "pricing_model": "PMP",
            "category": "service",
            "type": "free_customer_service",
        },
    }
    value = {**_WHATSAPP_VALUE, "statuses": [status]}
    return _whatsapp(value, "messages", (f"whatsapp:{wamid}",), "WhatsApp sent status")


def whatsapp_echo(wamid: str, wa_id: str, text: str, when: datetime) -> Payload:
    """What the business typed to ``wa_id`` in the WhatsApp Business app (``smb_message_echoes``, a
    coexistence number): a brand reply with its text."""
    echo = {
        "from": _WHATSAPP_DISPLAY_NUMBER,
        "to": wa_id,
        "id": wamid,
        "timestamp": str(_seconds(when)),
        "type": "text",
        "text": {"body": text},
    }
    value = {**_WHATSAPP_VALUE, "message_echoes": [echo]}
    return _whatsapp(value, "smb_message_echoes", (f"whatsapp:{wamid}",), "WhatsApp Business app echo")


_WHATSAPP_DISPLAY_NUMBER = "15550783881"
_WHATSAPP_VALUE = {
    "messaging_product": "whatsapp",
    "metadata": {
        "display_phone_number": _WHATSAPP_DISPLAY_NUMBER,
        "phone_number_id": WHATSAPP_PHONE_NUMBER_ID,
    },
}


def _whatsapp(value: dict[str, Any], field: str, interaction_ids: tuple[str, ...], what: str) -> Payload:
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WHATSAPP_ACCOUNT, "changes": [{"value": value, "field": field}]}],
    }
    return Payload("meta", _json(body, escape_non_ascii=True), interaction_ids, what)


def x_mention(
    tweet_id: str,
    user_id: str,
    screen_name: str,
    text: str,
    lang: str | None,
    when: datetime,
    *,
    followers: int = 318,
    in_reply_to: str | None = None,
    in_reply_to_user: str = X_BRAND,
) -> Payload:
    """A post mentioning the brand (Account Activity API ``tweet_create_events``); with ``in_reply_to``,
    the customer's reply to that post (of ``in_reply_to_user``: the brand's reply, or their own post)."""
    user = {
        "id": int(user_id),
        "id_str": user_id,
        "name": screen_name.title(),
        "screen_name": screen_name,
        "followers_count": followers,
    }
    tweet = _tweet(tweet_id, user, text, lang, when, in_reply_to, in_reply_to_user)
    return _tweets(tweet, "X reply" if in_reply_to else "X mention")


def x_brand_reply(
    tweet_id: str, in_reply_to: str, customer_id: str, text: str, when: datetime, *, lang: str | None = "en"
) -> Payload:
    """The brand's reply to the post ``in_reply_to`` of ``customer_id`` (``user.id_str == for_user_id``):
    a brand reply keyed, like a mention, by the post it answers."""
    tweet = _tweet(tweet_id, _X_BRAND_USER, text, lang, when, in_reply_to, customer_id)
    return _tweets(tweet, "X brand reply")


_X_BRAND_USER: dict[str, Any] = {
    "id": int(X_BRAND),
    "id_str": X_BRAND,
    "name": "Acme",
    "screen_name": "acme",
    "followers_count": 58300,
}


def _tweet(
    tweet_id: str,
    user: dict[str, Any],
    text: str,
    lang: str | None,
    when: datetime,
    in_reply_to: str | None,
    in_reply_to_user: str,
) -> dict[str, Any]:
    return {
        "created_at": when.astimezone(UTC).strftime("%a %b %d %H:%M:%S +0000 %Y"),
        "id": int(tweet_id),
        "id_str": tweet_id,
        "text": text,
        "truncated": False,
        "in_reply_to_status_id_str": in_reply_to,
        "in_reply_to_user_id_str": in_reply_to_user,
        "user": user,
        "is_quote_status": False,
        "lang": lang,
        "timestamp_ms": str(_millis(when)),
    }


def _tweets(tweet: dict[str, Any], what: str) -> Payload:
    body = {"for_user_id": X_BRAND, "user_has_blocked": "false", "tweet_create_events": [tweet]}
    return Payload("x", _json(body), (f"x:{tweet['id_str']}",), what)


def x_direct_message(event_id: str, sender_id: str, screen_name: str, text: str, when: datetime) -> Payload:
    """A direct message to the brand (Account Activity API ``direct_message_events``)."""
    user = {"id": sender_id, "name": screen_name.title(), "screen_name": screen_name, "followers_count": 41}
    return _x_dm(event_id, sender_id, X_BRAND, text, when, {sender_id: user}, "X DM")


def x_brand_direct_message(event_id: str, recipient_id: str, text: str, when: datetime) -> Payload:
    """A direct message the brand sent to ``recipient_id`` (``sender_id == for_user_id``): a brand reply."""
    brand = {key: _X_BRAND_USER[key] for key in ("name", "screen_name", "followers_count")}
    users = {X_BRAND: {"id": X_BRAND, **brand}}
    return _x_dm(event_id, X_BRAND, recipient_id, text, when, users, "X brand DM")


def _x_dm(
    event_id: str,
    sender_id: str,
    recipient_id: str,
    text: str,
    when: datetime,
    users: dict[str, Any],
    what: str,
) -> Payload:
    event = {
        "type": "message_create",
        "id": event_id,
        "created_timestamp": str(_millis(when)),
        "message_create": {
            "target": {"recipient_id": recipient_id},
            "sender_id": sender_id,
            "message_data": {"text": text, "entities": {"hashtags": [], "urls": [], "user_mentions": []}},
        },
    }
    body = {"for_user_id": X_BRAND, "direct_message_events": [event], "users": users}
    return Payload("x", _json(body), (f"x:{event_id}",), what)


def linkedin_comment(
    notification_id: int, person: str, text: str, when: datetime, *, reply_to: str | None = None
) -> Payload:
    """A member's comment on the organisation's post (``ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS``); with
    ``reply_to`` (a comment URN, :func:`linkedin_comment_urn`), their reply to that comment.

    The comment's own id is the notification id: its URN is ``linkedin_comment_urn(notification_id)``.
    """
    what = "LinkedIn reply" if reply_to else "LinkedIn comment"
    return _linkedin_comment(notification_id, "COMMENT", person, text, when, reply_to, what)


def linkedin_organization_reply(
    notification_id: int, reply_to: str, text: str, when: datetime, *, action: str = "ADMIN_COMMENT"
) -> Payload:
    """The organisation's reply to the comment ``reply_to`` (a comment URN): ``ADMIN_COMMENT``, or with
    ``action="COMMENT"`` a comment whose owner is the organisation. A brand reply naming no customer."""
    return _linkedin_comment(
        notification_id, action, LINKEDIN_ORGANIZATION, text, when, reply_to, "LinkedIn organisation reply"
    )


def linkedin_comment_urn(comment_id: int) -> str:
    """The URN of a comment on :data:`LINKEDIN_ACTIVITY`, in the full form the adapter keys threads by."""
    return f"urn:li:comment:({LINKEDIN_ACTIVITY},{comment_id})"


def _linkedin_comment(
    notification_id: int,
    action: str,
    owner: str,
    text: str,
    when: datetime,
    reply_to: str | None,
    what: str,
) -> Payload:
    own = linkedin_comment_urn(notification_id)
    notification = {
        "lastModifiedAt": _millis(when),
        "sourcePost": LINKEDIN_ACTIVITY,
        "decoratedGeneratedActivity": {
            "comment": {"owner": owner, "text": text, "entity": own, "object": reply_to or LINKEDIN_ACTIVITY}
        },
        "action": action,
        "notificationId": notification_id,
        "organizationalEntity": LINKEDIN_ORGANIZATION,
        "generatedActivity": own,
    }
    body = {"type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS", "notifications": [notification]}
    return Payload("linkedin", _json(body), (f"linkedin:{notification_id}",), what)


def tiktok_message(message_id: str, sender_openid: str, handle: str, text: str, when: datetime) -> Payload:
    """A Business Messaging DM to the brand's TikTok account (``im_receive_msg``)."""
    sender, business = (handle, sender_openid), (_TIKTOK_HANDLE, TIKTOK_BUSINESS)
    return _tiktok_im(
        "im_receive_msg", message_id, sender_openid, sender, business, text, when, "TikTok message"
    )


def tiktok_sent_message(
    message_id: str, recipient_openid: str, handle: str, text: str, when: datetime
) -> Payload:
    """The brand's message to ``recipient_openid`` (``im_send_msg``), in the conversation of
    :func:`tiktok_message` with that customer: a brand reply."""
    business, recipient = (_TIKTOK_HANDLE, TIKTOK_BUSINESS), (handle, recipient_openid)
    return _tiktok_im(
        "im_send_msg", message_id, recipient_openid, business, recipient, text, when, "TikTok sent message"
    )


_TIKTOK_HANDLE = "acme_store"


def _tiktok_im(
    event: str,
    message_id: str,
    customer_openid: str,
    sender: tuple[str, str],
    recipient: tuple[str, str],
    text: str,
    when: datetime,
    what: str,
) -> Payload:
    content = {
        "conversation_id": f"0:1:{TIKTOK_BUSINESS}:{customer_openid}",
        "message_id": message_id,
        "timestamp": _millis(when),
        "type": "text",
        "text": {"body": text},
        "from": sender[0],
        "from_user": {"id": sender[1]},
        "to": recipient[0],
        "to_user": {"id": recipient[1]},
    }
    body = {
        "client_key": "sbawdev0local0key",
        "event": event,
        "create_time": _seconds(when),
        "user_openid": TIKTOK_BUSINESS,
        "content": json.dumps(content, ensure_ascii=False),
    }
    return Payload("tiktok", _json(body), (f"tiktok:{message_id}",), what)


def youtube_upload(video_id: str, channel_id: str, channel_name: str, title: str, when: datetime) -> Payload:
    """A WebSub notification of a new video on a channel we follow (Atom)."""
    stamp = when.astimezone(UTC).isoformat()
    feed = f"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns="http://www.w3.org/2005/Atom">
  <link rel="hub" href="https://pubsubhubbub.appspot.com"/>
  <link rel="self" href="https://www.youtube.com/xml/feeds/videos.xml?channel_id={channel_id}"/>
  <title>YouTube video feed</title>
  <updated>{stamp}</updated>
  <entry>
    <id>yt:video:{video_id}</id>
    <yt:videoId>{video_id}</yt:videoId>
    <yt:channelId>{channel_id}</yt:channelId>
    <title>{escape(title)}</title>
    <link rel="alternate" href="http://www.youtube.com/watch?v={video_id}"/>
    <author>
      <name>{escape(channel_name)}</name>
      <uri>http://www.youtube.com/channel/{channel_id}</uri>
    </author>
    <published>{stamp}</published>
    <updated>{stamp}</updated>
  </entry>
</feed>
"""
    return Payload(
        "youtube", feed.encode("utf-8"), (f"youtube:{video_id}",), "YouTube upload", "application/atom+xml"
    )


def generic_review(
    native_id: str, user_id: str, handle: str, text: str, when: datetime, *, phone: str | None = None
) -> Payload:
    """A review from a shop or review site speaking Standard Webhooks (with the reviewer's phone number,
    when the shop verified it)."""
    author = _generic_author(user_id, handle) | ({"phone": phone, "phone_verified": True} if phone else {})
    return _generic(native_id, "review", author, text, when, {}, "review")


def generic_message(
    native_id: str, user_id: str, handle: str, text: str, when: datetime, *, conversation_id: str
) -> Payload:
    """A customer's direct message in the sender's conversation ``conversation_id`` (Standard Webhooks)."""
    author = _generic_author(user_id, handle)
    extra = {"conversation_id": conversation_id}
    return _generic(native_id, "direct_message", author, text, when, extra, "generic message")


def generic_brand_reply(
    native_id: str, conversation_id: str, customer_id: str, text: str, when: datetime
) -> Payload:
    """The brand's reply (``kind: "brand_reply"``) to ``customer_id`` in ``conversation_id``: the
    conversation of :func:`generic_message` with that id."""
    author = {"user_id": GENERIC_BRAND, "handle": GENERIC_BRAND, "display_name": "Acme"}
    extra = {"conversation_id": conversation_id, "customer_id": customer_id}
    return _generic(native_id, "brand_reply", author, text, when, extra, "generic brand reply")


def _generic_author(user_id: str, handle: str) -> dict[str, Any]:
    return {"user_id": user_id, "handle": handle, "display_name": handle.title(), "follower_count": 0}


def _generic(
    native_id: str,
    kind: str,
    author: dict[str, Any],
    text: str,
    when: datetime,
    extra: dict[str, str],
    what: str,
) -> Payload:
    stamp = when.astimezone(UTC).isoformat().replace("+00:00", "Z")
    body = {
        "type": "interaction.created",
        "timestamp": stamp,
        "data": {
            "native_id": native_id,
            "kind": kind,
            "text": text,
            "occurred_at": stamp,
            "author": author,
            "thread_id": None,
            "parent_id": None,
            "language": None,
            **extra,
        },
    }
    return Payload("generic", _json(body), (f"generic:{native_id}",), what)
