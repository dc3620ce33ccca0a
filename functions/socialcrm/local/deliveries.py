"""Webhook deliveries as the platforms send them, signed: the sender side of the local stack.

Used by the demo, the end-to-end tests and the local benchmark. Each builder returns the body the
platform would POST (shapes from ``tests/events`` and the protocol reference) and the interaction ids
it should produce, known from the payload itself (``"{platform}:{native_id}"``), not computed by the
adapters under test. :class:`Signer` adds the headers each platform signs with, from a platform-secrets
document (the development one locally); it never prints or logs a secret.
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


def facebook_comment(comment_id: str, user_id: str, name: str, text: str, when: datetime) -> Payload:
    """A comment on the Page's post (``page`` / ``feed``, verb ``add``)."""
    post_id = f"{FACEBOOK_PAGE}_{comment_id.split('_')[0]}"
    change = {
        "field": "feed",
        "value": {
            "from": {"id": user_id, "name": name},
            "post": {"status_type": "added_photos", "is_published": True, "id": post_id},
            "message": text,
            "post_id": post_id,
            "comment_id": comment_id,
            "parent_id": post_id,
            "created_time": _seconds(when),
            "item": "comment",
            "verb": "add",
        },
    }
    body = {"object": "page", "entry": [{"id": FACEBOOK_PAGE, "time": _seconds(when), "changes": [change]}]}
    return Payload(
        "meta", _json(body, escape_non_ascii=True), (f"facebook:{comment_id}",), "Facebook comment"
    )


def instagram_message(mid: str, sender_id: str, text: str, when: datetime) -> Payload:
    """A direct message to the Instagram professional account."""
    event = {
        "sender": {"id": sender_id},
        "recipient": {"id": INSTAGRAM_ACCOUNT},
        "timestamp": _millis(when),
        "message": {"mid": mid, "text": text},
    }
    body = {
        "object": "instagram",
        "entry": [{"id": INSTAGRAM_ACCOUNT, "time": _millis(when), "messaging": [event]}],
    }
    return Payload("meta", _json(body, escape_non_ascii=True), (f"instagram:{mid}",), "Instagram DM")


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
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": WHATSAPP_PHONE_NUMBER_ID},
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
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WHATSAPP_ACCOUNT, "changes": [{"value": value, "field": "messages"}]}],
    }
    return Payload("meta", _json(body, escape_non_ascii=True), (f"whatsapp:{wamid}",), "WhatsApp message")


def whatsapp_read_receipt(wamid: str, wa_id: str, when: datetime) -> Payload:
    """A status update (the customer read our reply): acknowledged, not an interaction."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": WHATSAPP_PHONE_NUMBER_ID},
        "statuses": [
            {"id": wamid, "status": "read", "timestamp": str(_seconds(when)), "recipient_id": wa_id}
        ],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WHATSAPP_ACCOUNT, "changes": [{"value": value, "field": "messages"}]}],
    }
    return Payload("meta", _json(body, escape_non_ascii=True), (), "WhatsApp read receipt")


def x_mention(
    tweet_id: str,
    user_id: str,
    screen_name: str,
    text: str,
    lang: str | None,
    when: datetime,
    *,
    followers: int = 318,
) -> Payload:
    """A post mentioning the brand (Account Activity API ``tweet_create_events``)."""
    tweet = {
        "created_at": when.astimezone(UTC).strftime("%a %b %d %H:%M:%S +0000 %Y"),
        "id": int(tweet_id),
        "id_str": tweet_id,
        "text": text,
        "truncated": False,
        "in_reply_to_status_id_str": None,
        "in_reply_to_user_id_str": X_BRAND,
        "user": {
            "id": int(user_id),
            "id_str": user_id,
            "name": screen_name.title(),
            "screen_name": screen_name,
            "followers_count": followers,
        },
        "is_quote_status": False,
        "lang": lang,
        "timestamp_ms": str(_millis(when)),
    }
    body = {"for_user_id": X_BRAND, "user_has_blocked": "false", "tweet_create_events": [tweet]}
    return Payload("x", _json(body), (f"x:{tweet_id}",), "X mention")


def x_direct_message(event_id: str, sender_id: str, screen_name: str, text: str, when: datetime) -> Payload:
    """A direct message to the brand (Account Activity API ``direct_message_events``)."""
    event = {
        "type": "message_create",
        "id": event_id,
        "created_timestamp": str(_millis(when)),
        "message_create": {
            "target": {"recipient_id": X_BRAND},
            "sender_id": sender_id,
            "message_data": {"text": text, "entities": {"hashtags": [], "urls": [], "user_mentions": []}},
        },
    }
    users = {
        sender_id: {
            "id": sender_id,
            "name": screen_name.title(),
            "screen_name": screen_name,
            "followers_count": 41,
        }
    }
    body = {"for_user_id": X_BRAND, "direct_message_events": [event], "users": users}
    return Payload("x", _json(body), (f"x:{event_id}",), "X DM")


def linkedin_comment(notification_id: int, person: str, text: str, when: datetime) -> Payload:
    """A member's comment on the organisation's post (``ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS``)."""
    activity = "urn:li:activity:7094637247890620418"
    notification = {
        "lastModifiedAt": _millis(when),
        "sourcePost": activity,
        "decoratedGeneratedActivity": {
            "comment": {
                "owner": person,
                "text": text,
                "entity": f"urn:li:comment:({activity},{notification_id})",
                "object": activity,
            }
        },
        "action": "COMMENT",
        "notificationId": notification_id,
        "organizationalEntity": LINKEDIN_ORGANIZATION,
        "generatedActivity": f"urn:li:comment:({activity},{notification_id})",
    }
    body = {"type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS", "notifications": [notification]}
    return Payload("linkedin", _json(body), (f"linkedin:{notification_id}",), "LinkedIn comment")


def tiktok_message(message_id: str, sender_openid: str, handle: str, text: str, when: datetime) -> Payload:
    """A Business Messaging DM to the brand's TikTok account (``im_receive_msg``)."""
    content = {
        "conversation_id": f"0:1:{TIKTOK_BUSINESS}:{sender_openid}",
        "message_id": message_id,
        "timestamp": _millis(when),
        "type": "text",
        "text": {"body": text},
        "from": handle,
        "from_user": {"id": sender_openid},
        "to": "acme_store",
        "to_user": {"id": TIKTOK_BUSINESS},
    }
    body = {
        "client_key": "sbawdev0local0key",
        "event": "im_receive_msg",
        "create_time": _seconds(when),
        "user_openid": TIKTOK_BUSINESS,
        "content": json.dumps(content, ensure_ascii=False),
    }
    return Payload("tiktok", _json(body), (f"tiktok:{message_id}",), "TikTok message")


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


def generic_review(native_id: str, user_id: str, handle: str, text: str, when: datetime) -> Payload:
    """A review from a shop or review site speaking Standard Webhooks."""
    stamp = when.astimezone(UTC).isoformat().replace("+00:00", "Z")
    body = {
        "type": "interaction.created",
        "timestamp": stamp,
        "data": {
            "native_id": native_id,
            "kind": "review",
            "text": text,
            "occurred_at": stamp,
            "author": {
                "user_id": user_id,
                "handle": handle,
                "display_name": handle.title(),
                "follower_count": 0,
            },
            "thread_id": None,
            "parent_id": None,
            "language": None,
        },
    }
    return Payload("generic", _json(body), (f"generic:{native_id}",), "review")
