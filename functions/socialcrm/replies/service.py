"""Asking for a reply: ``POST /cases/{case_id}/replies`` and the rules' automatic replies.

Everything that can be known before sending is checked here, and a refusal names its rule (409: it may
pass later — a window closed, the comment's private reply taken, credentials missing; 422: it never can
— nothing to answer, text too long, an unknown template). Then the reply is recorded (``queued``) and its
id put on the outbound queue: the send function (``socialcrm.replies.sender``) does the rest. The reply
is recorded before it is queued, so it can never be sent without a record; if queueing fails the record
is removed and the caller told to repeat (nothing was sent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from socialcrm.errors import NotFoundError, QueueUnavailableError, SocialCrmError
from socialcrm.models import Interaction
from socialcrm.privacy.suppression import Suppression
from socialcrm.replies import policy
from socialcrm.replies.outbound import Template, Visibility
from socialcrm.replies.reply import (
    Author,
    Reply,
    holds_private_reply,
    person_key,
    reply_id_for,
    request_digest,
)
from socialcrm.replies.templates import TemplateError, render
from socialcrm.routing.case import Case
from socialcrm.routing.evaluator import CompiledRules
from socialcrm.secrets import PlatformSecrets

MAX_TEXT_CHARS = 10_000  # any platform's limit is lower: the platform's own rule names it
# Platforms that have no private channel socialcrm can answer in.
PUBLIC_ONLY = frozenset({"linkedin"})
# Platforms whose customers' messages cannot be answered publicly from socialcrm.
DIRECT_ONLY = frozenset({"tiktok"})


class ReplyRequest(BaseModel):
    """A reply: its own text, or a template of the rules document filled from params."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT_CHARS)
    template: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]{0,63}$")
    params: dict[str, str] = Field(default_factory=dict, max_length=20)
    visibility: Visibility | None = Field(
        default=None,
        description="public or private; left out: as the customer wrote (a comment publicly, a DM privately).",
    )

    @model_validator(mode="after")
    def _text_or_template(self) -> ReplyRequest:
        if (self.text is None) == (self.template is None):
            raise ValueError("give text or template (with params), not both")
        if self.params and self.template is None:
            raise ValueError("params fill a template: give template too")
        return self


class ReplyRefusedError(SocialCrmError):
    """A reply that cannot be sent: ``status`` 409 or 422, ``code`` the rule it breaks."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ReplyStore(Protocol):
    def get(self, reply_id: str) -> Reply | None: ...
    def create(self, reply: Reply) -> bool: ...
    def replace(self, reply: Reply) -> Reply | None: ...
    def delete(self, reply: Reply) -> None: ...
    def of_case(self, case_id: str, subject_id: str) -> list[Reply]: ...
    def claim_private_reply(self, reply: Reply, at: datetime) -> str: ...
    def release_private_reply(self, reply: Reply) -> None: ...


class Outbound(Protocol):
    def enqueue(self, reply_id: str, *, version: int, delay_seconds: int = 0) -> None:
        """Put the reply (as of ``version``) on the outbound queue; raise ``QueueUnavailableError`` when
        it could not."""
        ...


class CaseReader(Protocol):
    def get(self, case_id: str) -> Case | None: ...


class InteractionReader(Protocol):
    def get(self, interaction_ref: str) -> Interaction | None: ...


class SuppressionReader(Protocol):
    def get(self, subject_id: str) -> Suppression | None: ...


@dataclass(frozen=True)
class ReplyPorts:
    cases: CaseReader
    replies: ReplyStore
    interactions: InteractionReader
    suppressions: SuppressionReader
    secrets: Callable[[], PlatformSecrets]
    rules: Callable[[], CompiledRules]
    outbound: Outbound


def answered_message(case: Case, interactions: InteractionReader) -> Interaction:
    """The customer message a reply answers: the latest message of the case's own customer still stored
    (another person who wrote in the same comment thread has a case of their own to be answered on)."""
    if case.origin == "spike":
        raise ReplyRefusedError(
            422, "nothing_to_answer", "A spike case groups many customers: answer their own cases."
        )
    for message in reversed(case.messages):
        if not message.from_brand:
            found = interactions.get(message.interaction_ref)
            if found is not None and found.subject_id == case.subject_id:
                return found
    raise ReplyRefusedError(409, "nothing_to_answer", "The case holds no customer message to answer.")


def request_reply(
    case_id: str,
    request: ReplyRequest,
    *,
    idempotency_key: str | None,
    requested_by: str,
    ports: ReplyPorts,
    now: datetime,
    author: Author = "person",
) -> tuple[Reply, bool]:
    """Record and queue a reply; (the reply, whether this call created it). A repeated request with the
    same Idempotency-Key returns the reply the first one created (queued again if it is still queued)."""
    reply_id = reply_id_for(case_id, None if idempotency_key is None else person_key(idempotency_key))
    digest = request_digest(request.model_dump(mode="json"))
    if idempotency_key is not None:
        existing = ports.replies.get(reply_id)
        if existing is not None:
            return _repeated(existing, digest, ports), False
    case = ports.cases.get(case_id)
    if case is None:
        raise NotFoundError(f"No case '{case_id}'.")
    reply = prepare(
        case, request, reply_id=reply_id, requested_by=requested_by, author=author, ports=ports, now=now
    )
    reply = reply.model_copy(update={"request_digest": digest})
    created = queue_reply(reply, ports=ports, now=now)
    if created is None:  # the same key, at the same moment: the other request's reply
        found = ports.replies.get(reply_id)
        if found is None:
            raise QueueUnavailableError("The reply could not be recorded: repeat the request.")
        return _repeated(found, digest, ports), False
    return created, True


def _repeated(existing: Reply, digest: str, ports: ReplyPorts) -> Reply:
    if existing.request_digest != digest:
        raise ReplyRefusedError(
            409, "idempotency_key_reused", "This Idempotency-Key was used for a different reply on this case."
        )
    if existing.status == "queued" and existing.attempts == 0:
        # Its first queueing may not have happened: harmless twice (the send function drops duplicates).
        ports.outbound.enqueue(existing.reply_id, version=existing.version)
    return existing


def prepare(
    case: Case,
    request: ReplyRequest,
    *,
    reply_id: str,
    requested_by: str,
    author: Author,
    ports: ReplyPorts,
    now: datetime,
) -> Reply:
    """The reply as it will be sent, or :class:`ReplyRefusedError` naming the rule it breaks."""
    message = answered_message(case, ports.interactions)
    platform = message.platform
    if platform == "youtube":
        raise ReplyRefusedError(422, "nothing_to_answer", "YouTube notifications carry nothing to answer.")
    visibility: Visibility = request.visibility or (
        "private" if message.kind == "direct_message" or platform in policy.PRIVATE_ONLY else "public"
    )
    _channel_rules(platform, message.kind, visibility)
    suppression = ports.suppressions.get(case.subject_id)
    if suppression is not None and (suppression.erased_at is not None or suppression.objected_at is not None):
        raise ReplyRefusedError(
            409, "subject_suppressed", "The customer's data was erased or they objected: no reply is sent."
        )
    secrets = ports.secrets()
    if not secrets.send.can_send(platform):
        raise ReplyRefusedError(
            409,
            "no_send_credentials",
            f"No send credentials for {platform} are configured (platform secrets).",
        )
    if platform == "tiktok" and secrets.send.tiktok is not None:
        region = secrets.send.tiktok.region
        if region in policy.TIKTOK_UNAVAILABLE_REGIONS:
            raise ReplyRefusedError(
                409,
                "tiktok_region",
                "TikTok business messaging is unavailable for accounts registered in the EEA, Switzerland "
                "or the United Kingdom.",
            )
    text, language, whatsapp = _text(request, message, ports)
    try:
        permission = policy.check(
            policy.Conversation(
                platform=platform,
                kind=message.kind,
                last_customer_message_at=max(
                    message.occurred_at, case.last_customer_message_at or message.occurred_at
                ),
                answered_at=message.occurred_at,
            ),
            visibility=visibility,
            author=author,
            text=text,
            template=whatsapp.name if whatsapp is not None else None,
            now=now,
        )
    except policy.Refusal as refusal:
        raise ReplyRefusedError(refusal.status, refusal.rule, refusal.message) from refusal
    return Reply(
        reply_id=reply_id,
        case_id=case.case_id,
        subject_id=case.subject_id,
        platform=platform,
        visibility=visibility,
        author=author,
        requested_by=requested_by,
        text=text,
        template=request.template,
        language=language,
        in_reply_to=message.interaction_ref,
        answered_kind=message.kind,
        messaging_type=permission.messaging_type,
        tag=permission.tag,
        whatsapp_template=whatsapp if permission.template_only else None,
        created_at=now,
        updated_at=now,
    )


def _channel_rules(platform: str, kind: str, visibility: Visibility) -> None:
    if visibility == "private" and platform in PUBLIC_ONLY:
        raise ReplyRefusedError(
            422, "public_only", f"socialcrm can answer {platform} only publicly (a comment)."
        )
    if platform in DIRECT_ONLY and (visibility == "public" or kind != "direct_message"):
        raise ReplyRefusedError(
            422, "direct_messages_only", f"socialcrm answers {platform} in direct messages only."
        )


def _text(
    request: ReplyRequest, message: Interaction, ports: ReplyPorts
) -> tuple[str, str | None, Template | None]:
    if request.text is not None:
        return request.text, None, None
    assert request.template is not None
    template = ports.rules().document.templates.get(request.template)
    if template is None:
        raise ReplyRefusedError(422, "unknown_template", f"template: no template {request.template!r}.")
    try:
        rendered = render(template, request.params, message.language)
    except TemplateError as exc:
        raise ReplyRefusedError(422, "template_params", f"{exc.field}: {exc.message}") from exc
    return rendered.text, rendered.language, rendered.whatsapp


def queue_reply(reply: Reply, *, ports: ReplyPorts, now: datetime) -> Reply | None:
    """Record the reply, take the comment's one private reply if it is one, and queue it; None when a
    reply with its id exists already."""
    private_guard = holds_private_reply(reply)
    if not ports.replies.create(reply):
        return None
    if private_guard:
        holder = ports.replies.claim_private_reply(reply, now)
        if holder != reply.reply_id:
            ports.replies.delete(reply)
            raise ReplyRefusedError(
                409, "one_private_reply", "This comment already has its one private reply."
            )
    try:
        ports.outbound.enqueue(reply.reply_id, version=reply.version)
    except QueueUnavailableError:
        if private_guard:
            ports.replies.release_private_reply(reply)
        ports.replies.delete(reply)
        raise
    return reply
