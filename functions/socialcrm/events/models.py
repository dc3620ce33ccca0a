"""Event details. No personal data: the project's own ids (case ids, keyed interaction refs), the
pseudonymous subject_id and derived attributes only; never a platform's message, thread or user id.

``schemas/events/<DetailType>.schema.json`` is generated from these models and a test fails on drift.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from socialcrm.models import Interaction, Kind, Platform, SentimentLabel, SentimentScores, SentimentStatus


class EventDetail(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
    detail_type: ClassVar[str]


class InteractionEnriched(EventDetail):
    """An interaction is stored with its language and sentiment; consumers fetch text by id if they need it."""

    detail_type: ClassVar[str] = "InteractionEnriched"

    interaction_ref: str = Field(
        pattern=r"^i_[0-9a-f]{32}$", description="The interaction's keyed ref; never the platform's id."
    )
    subject_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    platform: Platform
    kind: Kind
    language: str | None
    sentiment: SentimentLabel | None
    sentiment_scores: SentimentScores | None
    sentiment_status: SentimentStatus | None
    follower_count: int | None
    occurred_at: AwareDatetime

    @classmethod
    def of(cls, interaction: Interaction) -> InteractionEnriched:
        return cls(
            interaction_ref=interaction.interaction_ref,
            subject_id=interaction.subject_id,
            platform=interaction.platform,
            kind=interaction.kind,
            language=interaction.language,
            sentiment=interaction.sentiment.label if interaction.sentiment else None,
            sentiment_scores=interaction.sentiment.scores if interaction.sentiment else None,
            sentiment_status=interaction.sentiment_status,
            follower_count=interaction.author.follower_count,
            occurred_at=interaction.occurred_at,
        )


Priority = Literal["P1", "P2", "P3", "P4"]
CaseStatus = Literal["open", "pending", "resolved"]


class InteractionRouted(EventDetail):
    """A case was opened for an interaction: who works it, how urgently, and why (the rules that matched)."""

    detail_type: ClassVar[str] = "InteractionRouted"

    case_id: str
    interaction_ref: str = Field(
        pattern=r"^i_[0-9a-f]{32}$", description="The interaction's keyed ref; never the platform's id."
    )
    subject_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    platform: Platform
    kind: Kind
    language: str | None
    sentiment: SentimentLabel | None
    teams: list[str]
    priority: Priority
    tags: list[str]
    rules: list[str]
    opened_at: AwareDatetime
    sla_due_at: AwareDatetime
    segments: list[str] = Field(
        default_factory=list, description="The customer's segments when the case opened (at-risk, vip, ...)."
    )


Clock = Literal["first_response", "next_response", "resolution"]
ResponseSource = Literal["native", "patch"]


class ResponseRound(BaseModel):
    """One wait for a next response: a customer wrote after the brand's reply, until the brand's next reply."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    started_at: AwareDatetime = Field(description="When we received the customer message that started it.")
    due_at: AwareDatetime
    responded_at: AwareDatetime | None = None
    met: bool | None = Field(default=None, description="Known once answered, or once the due time passed.")


class CaseUpdated(EventDetail):
    """A case changed (assignee, status, a message joined, a response); ``sla_met`` is the first-response
    target's, known once it was answered or breached."""

    detail_type: ClassVar[str] = "CaseUpdated"

    case_id: str
    subject_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    platform: Platform
    teams: list[str]
    priority: Priority
    status: CaseStatus
    opened_at: AwareDatetime
    sla_due_at: AwareDatetime
    first_response_at: AwareDatetime | None
    resolved_at: AwareDatetime | None
    sla_met: bool | None
    updated_at: AwareDatetime
    first_response_source: ResponseSource | None = Field(
        default=None, description="native: a brand reply the platform sent us; patch: set through the API."
    )
    next_responses: list[ResponseRound] = Field(default_factory=list)
    resolution_due_at: AwareDatetime | None = None
    resolution_met: bool | None = None
    reopened_count: int = Field(default=0, ge=0)
    message_count: int = Field(default=1, ge=0)


class SlaBreached(EventDetail):
    """A case reached a due time unanswered (first or next response) or unresolved (resolution)."""

    detail_type: ClassVar[str] = "SlaBreached"

    clock: Clock = "first_response"
    round: int | None = Field(
        default=None, ge=0, description="For next_response: which wait (0 = the first)."
    )

    case_id: str
    subject_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    platform: Platform
    teams: list[str]
    priority: Priority
    opened_at: AwareDatetime
    sla_due_at: AwareDatetime = Field(description="The due time that passed (of the clock named).")
    breached_at: AwareDatetime


class SpikeDetected(EventDetail):
    """Negative interactions on one topic and platform passed the floor and k times their baseline."""

    detail_type: ClassVar[str] = "SpikeDetected"

    topic: str
    platform: Platform
    window_start: AwareDatetime
    window_minutes: int
    count: int
    baseline: float
    case_id: str | None


class ErasureRequested(EventDetail):
    """A compliance officer asked for erasure; the request record holds what the erase consumer needs."""

    detail_type: ClassVar[str] = "ErasureRequested"

    request_id: str
    subject_count: int
    requested_at: AwareDatetime


class ErasureCompleted(EventDetail):
    """An erasure finished; counts per store and whether verification found nothing left."""

    detail_type: ClassVar[str] = "ErasureCompleted"

    request_id: str
    status: Literal["COMPLETED", "FAILED"]
    erased: dict[str, int]
    verified: bool
    completed_at: AwareDatetime


EVENT_MODELS: tuple[type[EventDetail], ...] = (
    InteractionEnriched,
    InteractionRouted,
    CaseUpdated,
    SlaBreached,
    SpikeDetected,
    ErasureRequested,
    ErasureCompleted,
)
