"""The platforms' rules for answering, checked before anything is queued for sending.

Each check answers for one reply on one case: may it be sent, and how (the Send API's
``messaging_type``/``tag``, a template only), or why not — as a :class:`Refusal` whose ``status`` is 409
(the rule holds now but may not later: a window closed, a private reply already sent) or 422 (the
request can never be sent as asked: a platform with nothing to answer, text too long). The rules and
their sources are in ``docs/webhook-protocols.md`` ("Sending replies").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Visibility = Literal["public", "private"]
Author = Literal["person", "automation"]

STANDARD_WINDOW = timedelta(hours=24)  # Messenger, Instagram, WhatsApp customer-service window
HUMAN_AGENT_WINDOW = timedelta(days=7)  # Messenger/Instagram HUMAN_AGENT tag; click-to-message ads
PRIVATE_REPLY_WINDOW = timedelta(days=7)  # one private reply to a Facebook/Instagram comment
TIKTOK_WINDOW = timedelta(hours=48)  # after the customer's last message [UNCONFIRMED: integrators' docs]
# Text limits (docs/webhook-protocols.md §13): characters, except Instagram's in UTF-8 bytes.
MAX_CHARACTERS = {"messenger": 2000, "whatsapp": 4096, "linkedin": 1250, "tiktok": 6000}
MAX_BYTES = {"instagram": 1000}
X_MAX_WEIGHT = 280
# Platforms whose customers' messages are direct messages (a public reply is not possible there).
PRIVATE_ONLY = frozenset({"messenger", "whatsapp"})
# Platforms where a comment can have one private reply (docs/webhook-protocols.md §13.1, §13.2).
ONE_PRIVATE_REPLY = frozenset({"facebook", "instagram"})
# Where TikTok business messaging is unavailable: accounts registered in the European Economic Area
# (the EU's 27, Iceland, Liechtenstein, Norway), Switzerland and the United Kingdom (§13.6, [UNCONFIRMED]
# from TikTok itself: Chatwoot's and respond.io's documentation).
TIKTOK_UNAVAILABLE_REGIONS = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
        "IS",
        "LI",
        "NO",
        "CH",
        "GB",
    ]
)


@dataclass(frozen=True)
class Refusal(Exception):
    """Why a reply cannot be sent: ``status`` 409 or 422, ``rule`` a stable code, ``message`` for people."""

    status: int
    rule: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Permission:
    """How a permitted reply is sent."""

    messaging_type: Literal["RESPONSE", "MESSAGE_TAG", "NONE"] = "NONE"
    tag: str | None = None
    template_only: bool = False


@dataclass(frozen=True)
class Conversation:
    """What the rules need to know of the case's conversation."""

    platform: str
    kind: str  # the kind of the customer message answered (comment, direct_message, mention, ...)
    last_customer_message_at: datetime
    answered_at: datetime | None = None  # when the message answered was written (None: the last one)
    private_replies_sent: int = 0  # to this comment, so far
    came_from_ad: bool = False  # a click-to-Messenger/Direct ad opened the conversation


def check(
    conversation: Conversation,
    *,
    visibility: Visibility,
    author: Author,
    text: str | None,
    template: str | None,
    now: datetime,
) -> Permission:
    """The permission to send this reply, or :class:`Refusal` naming the rule it breaks."""
    platform = conversation.platform
    if platform == "youtube":
        raise Refusal(422, "nothing_to_answer", "YouTube notifications carry nothing to answer.")
    if visibility == "public" and platform in PRIVATE_ONLY:
        raise Refusal(422, "private_only", f"A {platform} conversation is private: answer it privately.")
    if text is not None:
        _length(platform, text)
    if platform == "x" and visibility == "public" and author == "automation":
        raise Refusal(
            409,
            "x_automatic_public_reply",
            "X refuses the same text twice and restricts automated replies: automation answers on X by "
            "direct message only.",
        )
    since = now - conversation.last_customer_message_at
    if platform in {"messenger", "instagram"} and _direct(conversation, visibility):
        return _meta_window(conversation, since=since, author=author)
    if platform == "tiktok" and since > TIKTOK_WINDOW:
        raise Refusal(
            409,
            "tiktok_window",
            "More than 48 hours since the customer's last message: TikTok allows no reply now.",
        )
    if platform == "whatsapp":
        if since <= STANDARD_WINDOW:
            return Permission()
        if template is None:
            raise Refusal(
                409,
                "whatsapp_window",
                "More than 24 hours since the customer's last message: WhatsApp allows only an approved "
                "template now.",
            )
        return Permission(template_only=True)
    if visibility == "private" and platform in ONE_PRIVATE_REPLY:
        if conversation.private_replies_sent:
            raise Refusal(409, "one_private_reply", "This comment already has its one private reply.")
        written = conversation.answered_at or conversation.last_customer_message_at
        if now - written > PRIVATE_REPLY_WINDOW:
            raise Refusal(
                409, "private_reply_window", "A comment can be answered privately within 7 days only."
            )
    return Permission()


def _direct(conversation: Conversation, visibility: Visibility) -> bool:
    return conversation.kind == "direct_message" or (
        visibility == "private" and conversation.platform == "messenger"
    )


def _meta_window(conversation: Conversation, *, since: timedelta, author: Author) -> Permission:
    """Messenger and Instagram: 24 hours; then the HUMAN_AGENT tag for 7 days, for people only."""
    if since <= STANDARD_WINDOW:
        return Permission(messaging_type="RESPONSE")
    if since <= HUMAN_AGENT_WINDOW:
        if conversation.came_from_ad:
            return Permission(messaging_type="RESPONSE")
        if author == "person":
            return Permission(messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
        raise Refusal(
            409,
            "automation_outside_window",
            "More than 24 hours since the customer's last message: only a person may answer now "
            "(the HUMAN_AGENT tag), never automation.",
        )
    raise Refusal(
        409,
        "meta_window",
        "More than 7 days since the customer's last message: Messenger and Instagram allow no reply now.",
    )


def _length(platform: str, text: str) -> None:
    if not text.strip():
        raise Refusal(422, "empty_text", "The reply has no text.")
    if platform == "x":
        weight = x_weight(text)
        if weight > X_MAX_WEIGHT:
            raise Refusal(422, "too_long", f"X counts {weight} characters; a post holds {X_MAX_WEIGHT}.")
        return
    limit = MAX_CHARACTERS.get(platform)
    if limit is not None and len(text) > limit:
        raise Refusal(422, "too_long", f"{len(text)} characters; {platform} takes at most {limit}.")
    byte_limit = MAX_BYTES.get(platform)
    if byte_limit is not None and len(text.encode()) > byte_limit:
        raise Refusal(422, "too_long", f"{len(text.encode())} bytes; {platform} takes at most {byte_limit}.")


def x_weight(text: str, urls: Sequence[str] = ()) -> int:
    """X's weighted length: 1 for most Latin and punctuation, 2 for CJK and most other scripts, 23 per
    URL (``twitter-text`` configuration v3), counted on NFC text.

    >>> x_weight("hello")
    5
    >>> x_weight("こんにちは")
    10
    """
    weight = 0
    for character in unicodedata.normalize("NFC", text):
        code = ord(character)
        light = code <= 4351 or 8192 <= code <= 8205 or 8208 <= code <= 8223 or 8242 <= code <= 8247
        weight += 1 if light else 2
    for url in urls:
        weight += 23 - sum(1 if ord(c) <= 4351 else 2 for c in url)
    return weight
