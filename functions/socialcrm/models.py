"""The normalised Interaction record and its parts (``schemas/interaction.schema.json``).

One model serves every stage: the ingest function fills what the platform said, the enrich function
adds language and sentiment, routing adds ``routing``. ``schemas/interaction.schema.json`` is
generated from these models (``python -m socialcrm.schemas``) and a test fails when it drifts.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Platform = Literal[
    "facebook", "instagram", "messenger", "whatsapp", "x", "linkedin", "tiktok", "youtube", "generic"
]
Kind = Literal["comment", "mention", "direct_message", "reply", "review", "post"]
SentimentLabel = Literal["POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"]
# Why an interaction has (or lacks) a sentiment: ANALYSED has one; PENDING waits for Comprehend to
# come back (re-enriched later); the others are final and say why there is none.
SentimentStatus = Literal[
    "ANALYSED", "PENDING", "UNSUPPORTED_LANGUAGE", "NO_TEXT", "UNDETERMINED_LANGUAGE", "FAILED"
]

PLATFORMS: tuple[str, ...] = Platform.__args__  # type: ignore[attr-defined]
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]


class _Model(BaseModel):
    # A validation error names the field, never the value: it may be a message or a handle, and errors
    # reach logs.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class Author(_Model):
    user_id: str = Field(
        min_length=1, description="The platform's id of the person (string, never a number)."
    )
    handle: str | None = None
    display_name: str | None = None
    follower_count: int | None = Field(default=None, ge=0)


class SentimentScores(_Model):
    positive: float
    negative: float
    neutral: float
    mixed: float


class Sentiment(_Model):
    label: SentimentLabel
    scores: SentimentScores


class Routing(_Model):
    teams: list[str]
    priority: Literal["P1", "P2", "P3", "P4"]
    sla_due_at: AwareDatetime
    rules: list[str] = Field(description="Ids of the rules that matched.")


class InteractionDraft(_Model):
    """What a platform adapter makes of one message: everything but the pseudonymous subject id."""

    platform: Platform
    kind: Kind
    native_id: str = Field(min_length=1)
    thread_id: str | None = None
    parent_id: str | None = None
    author: Author
    text: str = ""
    language: str | None = Field(
        default=None, description="A language the platform reported reliably (BCP-47), else null."
    )
    occurred_at: AwareDatetime

    @property
    def interaction_id(self) -> str:
        return f"{self.platform}:{self.native_id}"


class Interaction(_Model):
    interaction_id: str = Field(pattern=r"^[a-z]+:.+$")
    subject_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    platform: Platform
    kind: Kind
    native_id: str = Field(min_length=1)
    thread_id: str | None = None
    parent_id: str | None = None
    author: Author
    text: str = ""
    language: str | None = None
    sentiment: Sentiment | None = None
    sentiment_status: SentimentStatus | None = None
    occurred_at: AwareDatetime
    received_at: AwareDatetime
    routing: Routing | None = None

    @classmethod
    def from_draft(cls, draft: InteractionDraft, *, pepper: str, received_at: datetime) -> Interaction:
        """Complete a draft with its ``interaction_id`` and ``subject_id``.

        >>> from datetime import UTC
        >>> draft = InteractionDraft(platform="x", kind="mention", native_id="1",
        ...     author=Author(user_id="42"), occurred_at=datetime(2026, 1, 1, tzinfo=UTC))
        >>> Interaction.from_draft(draft, pepper="p", received_at=datetime(2026, 1, 1, tzinfo=UTC)).interaction_id
        'x:1'
        """
        return cls(
            interaction_id=draft.interaction_id,
            subject_id=subject_id(pepper, draft.platform, draft.author.user_id),
            received_at=received_at,
            **draft.model_dump(exclude_none=False),
        )


def subject_id(pepper: str, platform: str, user_id: str) -> str:
    """The pseudonymous id of a data subject: ``HMAC-SHA256(pepper, "platform:user_id")`` in hex.

    >>> len(subject_id("pepper", "x", "123"))
    64
    """
    return hmac.new(pepper.encode(), f"{platform}:{user_id}".encode(), hashlib.sha256).hexdigest()
