"""A reply: what a person (or a rule) asked to send on a case, and what became of it.

A reply is ``queued`` (recorded; not yet tried, or tried and certainly refused, to be tried again),
``sending`` (a platform call started: what it did is not known yet), ``sent`` (the platform's message id
and time), ``failed`` (the platform's code and a reason a person understands; nothing was sent) or
``unknown`` (the platform may or may not have sent it and cannot tell us: a person must look before
sending again). It is never silently gone. The API shows ``sending`` as ``queued``: to the person who
asked, both mean "not sent yet".

A reply holds its text, so it is personal data of the conversation's subject: it is stored in the
cases table with the case's ``subject_id`` (``socialcrm.replies.store``), exported and erased with it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from socialcrm.models import REPLY_MARKER_PATTERN, Kind, Platform
from socialcrm.replies.outbound import Outgoing, Reconcile, Template, Visibility
from socialcrm.replies.policy import ONE_PRIVATE_REPLY

ReplyStatus = Literal["queued", "sending", "sent", "failed", "unknown"]
Author = Literal["person", "automation"]
FINAL: frozenset[str] = frozenset({"sent", "failed", "unknown"})
REPLY_ID_PATTERN = REPLY_MARKER_PATTERN
# Internal bookkeeping, never shown by the API.
INTERNAL_FIELDS = frozenset(
    {
        "version",
        "request_digest",
        "next_attempt_at",
        "ambiguous_at",
        "reconcile",
        "whatsapp_template",
        "claim_version",
    }
)


def reply_id_for(case_id: str, idempotency_key: str | None) -> str:
    """The reply's id: derived from the case and the caller's Idempotency-Key (the same key on the same
    case is the same reply), else random.

    >>> reply_id_for("c_1", "k") == reply_id_for("c_1", "k") != reply_id_for("c_2", "k")
    True
    """
    if idempotency_key is None:
        return "r_" + uuid.uuid4().hex
    return "r_" + hashlib.sha256(f"reply:{case_id}:{idempotency_key}".encode()).hexdigest()[:32]


def person_key(idempotency_key: str) -> str:
    """A caller's Idempotency-Key in the space of keys people give (automatic replies have their own)."""
    return f"person:{idempotency_key}"


def holds_private_reply(reply: Reply) -> bool:
    """Whether the reply takes its comment's one private reply (a guard row, ``socialcrm.replies.store``)."""
    return (
        reply.visibility == "private"
        and reply.platform in ONE_PRIVATE_REPLY
        and reply.answered_kind != "direct_message"
    )


def request_digest(body: dict[str, Any]) -> str:
    """A digest of what was asked, to tell a repeated request from a different one under the same key."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reply_id: str = Field(pattern=REPLY_ID_PATTERN)
    case_id: str
    subject_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    platform: Platform
    visibility: Visibility
    author: Author
    requested_by: str = Field(description="Who asked: the caller's IAM principal, or rule:<id>.")
    text: str = Field(description="The text sent (a template's, filled and in the message's language).")
    template: str | None = Field(default=None, description="The template it was written from, if any.")
    language: str | None = Field(default=None, description="The template language used.")
    in_reply_to: str = Field(description="The interaction_ref of the customer message answered.")
    answered_kind: Kind = Field(description="Its kind (a comment answered privately has one private reply).")
    messaging_type: Literal["RESPONSE", "MESSAGE_TAG", "NONE"] = "NONE"
    tag: str | None = None
    whatsapp_template: Template | None = None
    status: ReplyStatus = "queued"
    attempts: int = Field(default=0, ge=0, description="Platform calls made.")
    created_at: AwareDatetime
    updated_at: AwareDatetime
    platform_message_id: str | None = None
    sent_at: AwareDatetime | None = None
    error_code: str | None = None
    error_message: str | None = None
    next_attempt_at: AwareDatetime | None = None
    ambiguous_at: AwareDatetime | None = None
    reconcile: Reconcile | None = None
    claim_version: int | None = Field(
        default=None, description="The version the sending call was claimed at."
    )
    request_digest: str = ""
    version: int = 0

    def outgoing(self) -> Outgoing:
        return Outgoing(
            reply_id=self.reply_id,
            visibility=self.visibility,
            text=self.text,
            template=self.whatsapp_template,
            messaging_type=self.messaging_type,
            tag=self.tag,
        )

    def public(self) -> dict[str, Any]:
        """The reply as the API shows it (``sending`` reads ``queued``: not sent yet)."""
        shown = self.model_dump(mode="json", exclude=set(INTERNAL_FIELDS))
        if self.status == "sending":
            shown["status"] = "queued"
        return shown

    def changed(self, now: datetime, **update: Any) -> Reply:
        return self.model_copy(update={**update, "updated_at": now})
