"""Event details. No personal data: ids, the pseudonymous subject_id and derived attributes only.

``schemas/events/<DetailType>.schema.json`` is generated from these models and a test fails on drift.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from socialcrm.models import Interaction, Kind, Platform, SentimentLabel, SentimentScores, SentimentStatus


class EventDetail(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    detail_type: ClassVar[str]


class InteractionEnriched(EventDetail):
    """An interaction is stored with its language and sentiment; consumers fetch text by id if they need it."""

    detail_type: ClassVar[str] = "InteractionEnriched"

    interaction_id: str
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
            interaction_id=interaction.interaction_id,
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


EVENT_MODELS: tuple[type[EventDetail], ...] = (InteractionEnriched,)
