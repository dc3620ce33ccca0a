"""The ``generic`` platform: any sender speaking Standard Webhooks (``docs/webhook-protocols.md`` §7).

Signature: the headers ``webhook-id``, ``webhook-timestamp`` (integer unix seconds) and
``webhook-signature`` (space-separated ``v1,<base64>`` entries), HMAC-SHA256 over
``"{id}.{timestamp}.{body}"`` keyed by the base64 secret after ``whsec_``. Verification is done by the
reference library ``standardwebhooks``, given the raw body and the three headers. That library reads
the real clock for its ±5 min window; our contract injects ``now`` instead, so the window is checked
here against ``now`` first (``StaleTimestampError``) and the library's own timestamp check is pointed
at the same ``now`` by overriding its one private hook, ``Webhook.__verify_timestamp``
(:class:`_ClockedWebhook`). The library is pinned by the project's lock; a test verifies the spec's
2021 vector at a 2021 ``now`` and would fail should a new release rename that hook. Every exception
the library raises (``WebhookVerificationError``, and the raw ``ValueError``/``binascii.Error`` it lets
out for malformed entries such as ``v1``, ``nocomma`` or ``v1,bogus``) becomes ``SignatureError``.
Entries of versions other than ``v1`` are ignored, so one valid ``v1`` among several suffices.

Body: ``{"type": "interaction.created", "timestamp", "data": {...}}`` as :class:`GenericEnvelope`
describes (``ENVELOPE_MODEL`` is what ``schemas/generic-webhook.schema.json`` is generated from).
Other ``type`` values are acknowledged with no draft. ``data`` and ``data.author`` forbid unknown
fields, so a sender's typo is a 400 naming it rather than a silently lost field; the envelope itself
tolerates extra fields (senders' webhook frameworks add some). An id made only of whitespace
(``data.native_id``, ``data.author.user_id``) is no id: a 400 naming the field. ``data.occurred_at``
defaults to the envelope's ``timestamp``, then to the ``webhook-timestamp`` header. Validation failures
are ``BadRequestError`` whose message names each field, e.g. ``data.author.user_id: Field required``.

Conversations and brand replies: the optional ``data.conversation_id`` is the sender's id of the
conversation the message belongs to; the conversation key is ``conversation:<conversation_id>`` (absent:
the thread, else the message alone). ``kind: "brand_reply"`` is the brand's own message (``author`` is
the brand); its optional ``data.customer_id`` names the customer it answers, under whose subject it is
filed. ``customer_id`` on any other kind is a 400: only a brand reply answers a customer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from math import floor
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from socialcrm.errors import (
    BadRequestError,
    ConfigurationError,
    MethodNotAllowedError,
    SignatureError,
    StaleTimestampError,
)
from socialcrm.models import (
    BRAND_REPLY,
    MAX_ID_CHARS,
    MESSAGE_ID_PATTERN,
    Author,
    InteractionDraft,
    Kind,
    check_message_id,
)
from socialcrm.platforms.base import (
    Delivery,
    HandshakeReply,
    conversation_key,
    from_epoch_seconds,
    parse_json_object,
)
from socialcrm.secrets import GenericSecret

PLATFORM: Final = "generic"
INTERACTION_CREATED = "interaction.created"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
TOLERANCE_SECONDS = 300  # the reference libraries' ±5 minutes
MAX_REPORTED_ERRORS = 10

_TIMESTAMP = re.compile(r"[0-9]{1,15}")


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("an id cannot be only whitespace")
    return value


# An id: a string with at least one character that is not whitespace (the check adds nothing to the schema).
_Id = Annotated[str, AfterValidator(_not_blank)]
# A message, thread, parent or conversation id: the same, and the models' id rules (at most MAX_ID_CHARS,
# no control characters, lone surrogates or line separators), stated in the schema as a pattern.
_MessageId = Annotated[
    str,
    Field(min_length=1, max_length=MAX_ID_CHARS, json_schema_extra={"pattern": MESSAGE_ID_PATTERN}),
    AfterValidator(_not_blank),
    AfterValidator(check_message_id),
]
# The customer a brand reply answers: a user id, as author.user_id is one.
_CustomerId = Annotated[str, Field(min_length=1, max_length=MAX_ID_CHARS), AfterValidator(_not_blank)]


# --- body models -----------------------------------------------------------------------------------


class GenericAuthor(BaseModel):
    """Who wrote the interaction, as the sender knows them."""

    model_config = ConfigDict(extra="forbid", title="GenericAuthor", hide_input_in_errors=True)

    user_id: _Id = Field(
        min_length=1, max_length=MAX_ID_CHARS, description="The sender's id of the person (a string)."
    )
    handle: str | None = Field(default=None, description="Public handle, if any.")
    display_name: str | None = Field(default=None, description="Display name, if any.")
    follower_count: int | None = Field(default=None, ge=0, description="Audience size, if known.")
    phone: str | None = Field(
        default=None,
        max_length=64,
        description="The person's phone number, if known, in international form (+34 600 000 000). Only "
        "with phone_verified is its keyed hash used to link this identity to the person's WhatsApp "
        "identity. The number itself is never stored.",
    )
    phone_verified: bool = Field(
        default=False,
        description="True only when the sender verified the number belongs to this person (a code sent to it): "
        "whoever can type a number could otherwise join another person's customer.",
    )


class GenericData(BaseModel):
    """One interaction: a review, a comment, a message..."""

    model_config = ConfigDict(extra="forbid", title="GenericData", hide_input_in_errors=True)

    native_id: _MessageId = Field(
        description="The sender's own id of the message; redeliveries repeat it. No control characters."
    )
    kind: Kind = Field(description="What the interaction is; brand_reply is the brand's own message.")
    text: str = Field(description="The text of the interaction (may be empty).")
    occurred_at: AwareDatetime | None = Field(
        default=None, description="When it happened; defaults to the envelope's timestamp."
    )
    author: GenericAuthor
    thread_id: _MessageId | None = Field(default=None, description="Conversation id.")
    parent_id: _MessageId | None = Field(default=None, description="Replied-to id.")
    language: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$",
        description="BCP-47 tag, only when the sender knows it reliably.",
    )
    conversation_id: _MessageId | None = Field(
        default=None,
        description="The conversation the message belongs to: the customer's messages and the brand's "
        "replies in it carry the same id. No control characters.",
    )
    customer_id: _CustomerId | None = Field(
        default=None, description="Only with kind brand_reply: the sender's id of the customer answered."
    )

    @model_validator(mode="after")
    def _only_a_brand_reply_answers_a_customer(self) -> GenericData:
        if self.customer_id is not None and self.kind != BRAND_REPLY:
            raise ValueError("customer_id is only for kind brand_reply")
        return self


class GenericEnvelope(BaseModel):
    """A Standard Webhooks payload carrying one interaction (``type`` ``interaction.created``)."""

    model_config = ConfigDict(extra="ignore", title="GenericWebhook", hide_input_in_errors=True)

    type: Literal["interaction.created"] = Field(
        description="Other event types are acknowledged and ignored."
    )
    timestamp: AwareDatetime | None = Field(default=None, description="When the event was created.")
    data: GenericData


ENVELOPE_MODEL = GenericEnvelope


# --- adapter ---------------------------------------------------------------------------------------


class _ClockedWebhook(Webhook):
    """The reference verifier with its clock set to the caller's ``now`` instead of the real one."""

    def __init__(self, secret: str, now: float) -> None:
        super().__init__(secret)
        self._now = now

    # Overrides the library's private ``Webhook.__verify_timestamp`` (name-mangled), its only clock read.
    def _Webhook__verify_timestamp(self, timestamp_header: str) -> datetime:
        try:
            timestamp = datetime.fromtimestamp(float(timestamp_header), tz=UTC)
        except (ValueError, OverflowError, OSError) as exc:
            raise WebhookVerificationError("Invalid Signature Headers") from exc
        if abs(timestamp.timestamp() - self._now) > TOLERANCE_SECONDS:
            raise WebhookVerificationError("Message timestamp outside the tolerance")
        return timestamp


class GenericAdapter:
    """Standard Webhooks senders posting :class:`GenericEnvelope` bodies."""

    name: ClassVar[str] = "generic"
    secret_model: ClassVar[type[BaseModel]] = GenericSecret

    def handshake(self, query: Mapping[str, str], secret: GenericSecret) -> HandshakeReply:
        """Standard Webhooks has no verification handshake."""
        raise MethodNotAllowedError(
            "The generic platform has no verification handshake: senders only POST to this route."
        )

    def verify(self, delivery: Delivery, secret: GenericSecret, now: float) -> None:
        """Check the Standard Webhooks signature of the raw body, within ±5 min of ``now``."""
        headers = {
            name: delivery.header(name) or "" for name in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
        }
        missing = [name for name, value in headers.items() if not value]
        if missing:
            raise SignatureError(f"Missing Standard Webhooks header(s): {', '.join(missing)}.")
        if not _TIMESTAMP.fullmatch(headers[TIMESTAMP_HEADER]):
            raise SignatureError("webhook-timestamp must be an integer number of seconds.")
        if abs(now - int(headers[TIMESTAMP_HEADER])) > TOLERANCE_SECONDS:
            raise StaleTimestampError(f"webhook-timestamp is more than {TOLERANCE_SECONDS} s away from now.")
        headers[SIGNATURE_HEADER] = " ".join(headers[SIGNATURE_HEADER].split())
        webhook = _webhook(secret, now)
        try:
            webhook.verify(delivery.body, headers, json_parse=False)
        except WebhookVerificationError as exc:
            raise SignatureError("No webhook-signature entry matches the body.") from exc
        except Exception as exc:  # the library lets ValueError/binascii.Error out for malformed entries
            raise SignatureError("The webhook-signature header is malformed.") from exc

    def normalise(self, delivery: Delivery) -> list[InteractionDraft]:
        """The interaction of an ``interaction.created`` event; none for other types."""
        payload = parse_json_object(delivery.body)
        event_type = payload.get("type")
        if isinstance(event_type, str) and event_type != INTERACTION_CREATED:
            return []
        try:
            envelope = GenericEnvelope.model_validate(payload)
        except ValidationError as exc:
            raise BadRequestError(_describe(exc)) from exc
        data = envelope.data
        occurred_at = data.occurred_at or envelope.timestamp or _header_time(delivery)
        try:
            return [
                InteractionDraft(
                    platform=PLATFORM,
                    kind=data.kind,
                    native_id=data.native_id,
                    thread_id=data.thread_id,
                    parent_id=data.parent_id,
                    author=Author(**data.author.model_dump(exclude={"phone", "phone_verified"})),
                    phone=data.author.phone if data.author.phone_verified else None,
                    text=data.text,
                    language=data.language,
                    occurred_at=occurred_at.astimezone(UTC),
                    conversation_key=conversation_key("conversation", data.conversation_id),
                    customer_id=data.customer_id,
                )
            ]
        except (ValidationError, OverflowError) as exc:
            raise BadRequestError("data.occurred_at: out of range once converted to UTC") from exc


adapter = GenericAdapter()


def signed_headers(body: bytes, secret: GenericSecret, now: float, **extra: Any) -> dict[str, str]:
    """Standard Webhooks headers for ``body`` at ``now``, signed by the reference library.

    Pass ``msg_id="msg_..."`` to fix the ``webhook-id`` (a redelivery keeps it); otherwise a new one.

    >>> secret = GenericSecret(webhook_secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    >>> signed_headers(b'{"test": 2432232314}', secret, 1614265330, msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek")
    ... # doctest: +NORMALIZE_WHITESPACE
    {'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek', 'webhook-timestamp': '1614265330',
     'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='}
    """
    msg_id = extra.pop("msg_id", None) or f"msg_{uuid.uuid4().hex}"
    if extra:
        raise TypeError(f"Unexpected arguments: {sorted(extra)}")
    seconds = floor(now)
    signature = _webhook(secret, now).sign(
        msg_id, datetime.fromtimestamp(seconds, tz=UTC), body.decode("utf-8")
    )
    return {ID_HEADER: msg_id, TIMESTAMP_HEADER: str(seconds), SIGNATURE_HEADER: signature}


def _webhook(secret: GenericSecret, now: float) -> _ClockedWebhook:
    try:
        return _ClockedWebhook(secret.webhook_secret.get_secret_value(), now)
    except Exception as exc:  # binascii.Error, EmptyWebhookSecretError: the deployment's secret is wrong
        raise ConfigurationError("The generic webhook_secret is not 'whsec_' + non-empty base64.") from exc


def _header_time(delivery: Delivery) -> datetime:
    value = delivery.header(TIMESTAMP_HEADER) or ""
    if not _TIMESTAMP.fullmatch(value):
        raise BadRequestError(
            "data.occurred_at: Field required when neither 'timestamp' nor the webhook-timestamp header is given"
        )
    return from_epoch_seconds(value)


def _describe(exc: ValidationError) -> str:
    """``"data.author.user_id: Field required; data.kind: Input should be ..."`` (first few errors)."""
    errors = exc.errors()
    described = [
        f"{'.'.join(str(part)[:64] for part in error['loc']) or '(body)'}: {error['msg']}"
        for error in errors[:MAX_REPORTED_ERRORS]
    ]
    if len(errors) > MAX_REPORTED_ERRORS:
        described.append(f"and {len(errors) - MAX_REPORTED_ERRORS} more")
    return "; ".join(described)
