"""What a send adapter is given and what it answers (``socialcrm.replies.adapters`` implements one per
platform; ``docs/webhook-protocols.md`` §13 is the reference for every request and answer).

An adapter makes exactly one platform call per :meth:`Adapter.send` and sorts the answer into one of four
outcomes; it never retries by itself. The send function decides what happens next: ``sent`` and
``permanent`` end the reply, ``retryable`` is tried again later (the platform certainly did not accept),
``ambiguous`` is reconciled before anything else is tried (the platform may have accepted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from socialcrm.secrets import SendSecrets

OutcomeKind = Literal["sent", "permanent", "retryable", "ambiguous"]
Visibility = Literal["public", "private"]


@dataclass(frozen=True)
class Target:
    """The customer message a reply answers, as the platform named it (raw platform ids: never logged)."""

    platform: str  # facebook, messenger, instagram, whatsapp, x, linkedin, tiktok, generic
    kind: str  # the answered message's kind: comment, reply, direct_message, mention, post, review
    native_id: str  # the platform's id of that message (comment id, mid, wamid, tweet id, URN, ...)
    user_id: str  # the customer's platform id (PSID, IGSID, wa_id, X user id, ...)
    thread_id: str | None = None  # the post / conversation it belongs to
    parent_id: str | None = None  # the message it replied to, if any


@dataclass(frozen=True)
class Template:
    """A WhatsApp message template approved by Meta: its name, language and body parameters in order."""

    name: str
    language: str
    params: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outgoing:
    """The reply to send."""

    reply_id: str  # "r_" + 32 hex: our marker (Messenger metadata, WhatsApp biz_opaque_callback_data)
    visibility: Visibility
    text: str  # the text (for a WhatsApp template: the rendered text, for reading back and the record)
    template: Template | None = None  # WhatsApp outside its window: send this approved template instead
    messaging_type: Literal["RESPONSE", "MESSAGE_TAG", "NONE"] = "NONE"  # Messenger / Instagram
    tag: str | None = None  # "HUMAN_AGENT" with MESSAGE_TAG


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    message_id: str | None = None  # sent: the platform's id of the new message (as its webhooks carry it)
    code: str | None = None  # the platform's error code, as text ("10/2018278", "429", "timeout")
    message: str | None = None  # for people: what went wrong (never the reply's text or a person's id)
    retry_after: float | None = None  # seconds the platform asked us to wait (Retry-After and the like)


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


class TransportError(Exception):
    """No HTTP answer. ``sent``: whether the request may have reached the platform (a timeout or reset
    after the request was written) — False only when it certainly did not (refused, DNS, TLS)."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class Transport(Protocol):
    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Make one HTTP request; raise :class:`TransportError` when no answer came."""
        ...


ReadBack = Literal["found", "absent", "cannot_tell"]


@dataclass(frozen=True)
class ReadBackResult:
    verdict: ReadBack
    message_id: str | None = None  # found: the id of our reply on the platform


Reconcile = Literal["echo", "read_back", "resend", "none"]


class Adapter(Protocol):
    platform: str

    def reconcile_by(self, target: Target, outgoing: Outgoing) -> Reconcile:
        """How an ambiguous send of this reply is settled: ``echo`` (our marker comes back in a webhook),
        ``read_back`` (read the platform), ``resend`` (the receiver deduplicates: Standard Webhooks'
        ``webhook-id``) or ``none`` (it cannot be told: the reply ends ``unknown``)."""
        ...

    def send(self, target: Target, outgoing: Outgoing, secrets: SendSecrets, transport: Transport) -> Outcome:
        """One platform call; the outcome, never an exception for a platform's or the network's failure."""
        ...

    def read_back(
        self, target: Target, outgoing: Outgoing, secrets: SendSecrets, transport: Transport
    ) -> ReadBackResult:
        """Whether the platform holds our reply (``reconcile == "read_back"`` only)."""
        ...
