"""The enrich stage for one SQS batch: parse, enrich together, store, count, publish.

Every record's fate is its own: a record that cannot be parsed, stored or announced is reported as a
partial-batch failure (SQS retries it, then moves it to the DLQ) while the rest of the batch is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pydantic import ValidationError

from socialcrm.events.models import InteractionEnriched
from socialcrm.models import Interaction
from socialcrm.observability import logger
from socialcrm.privacy import SuppressionCheck

# How long an interaction whose sentiment is PENDING waits before it is enriched again (SQS maximum).
PENDING_RETRY_DELAY_SECONDS = 900


class InteractionStore(Protocol):
    def store_new(self, interaction: Interaction, *, enriched_at: datetime) -> bool: ...

    def complete_pending(self, interaction: Interaction, *, enriched_at: datetime) -> bool: ...


class Publisher(Protocol):
    def publish(
        self, details: Sequence[InteractionEnriched], trace_header: str | None = None
    ) -> list[int]: ...


class PendingQueue(Protocol):
    def send_later(self, interactions: Sequence[Interaction], delay_seconds: int) -> list[str]: ...


@dataclass(frozen=True)
class QueuedRecord:
    message_id: str
    body: str


@dataclass
class BatchOutcome:
    failed: list[str] = field(default_factory=list)  # SQS message ids to retry
    stored: int = 0
    completed: int = 0  # PENDING interactions whose sentiment arrived
    duplicates: int = 0
    pending: int = 0
    suppressed: int = 0


def process_batch(
    records: Sequence[QueuedRecord],
    *,
    enrich: Callable[[list[Interaction]], list[Interaction]],
    store: InteractionStore,
    publisher: Publisher,
    pending_queue: PendingQueue,
    suppression: SuppressionCheck,
    now: datetime,
    trace_header: str | None = None,
) -> BatchOutcome:
    outcome = BatchOutcome()
    parsed: list[tuple[str, Interaction]] = []
    for record in records:
        try:
            parsed.append((record.message_id, Interaction.model_validate_json(record.body)))
        except ValidationError:
            logger.error("unreadable record", message_id=record.message_id)
            outcome.failed.append(record.message_id)

    kept = []
    for message_id, interaction in parsed:
        if suppression.suppressed(interaction):
            outcome.suppressed += 1
            logger.info(
                "suppressed", interaction_id=interaction.interaction_id, subject_id=interaction.subject_id
            )
        else:
            kept.append((message_id, interaction))

    enriched = enrich([interaction for _, interaction in kept])
    announce: list[tuple[str, Interaction]] = []
    to_retry_later: list[tuple[str, Interaction]] = []
    for (message_id, _), interaction in zip(kept, enriched, strict=True):
        try:
            if store.store_new(interaction, enriched_at=now):
                outcome.stored += 1
            elif interaction.sentiment_status != "PENDING" and store.complete_pending(
                interaction, enriched_at=now
            ):
                outcome.completed += 1
            else:
                outcome.duplicates += 1
        except Exception:  # a store failure fails this record only
            logger.exception("store failed", interaction_id=interaction.interaction_id)
            outcome.failed.append(message_id)
            continue
        if interaction.sentiment_status == "PENDING":
            to_retry_later.append((message_id, interaction))
        announce.append((message_id, interaction))
        logger.info(
            "enriched",
            interaction_id=interaction.interaction_id,
            subject_id=interaction.subject_id,
            language=interaction.language,
            sentiment=interaction.sentiment.label if interaction.sentiment else interaction.sentiment_status,
        )

    if to_retry_later:
        outcome.pending = len(to_retry_later)
        unsent = set(pending_queue.send_later([i for _, i in to_retry_later], PENDING_RETRY_DELAY_SECONDS))
        outcome.failed += [m for m, i in to_retry_later if i.interaction_id in unsent]

    failed_events = publisher.publish([InteractionEnriched.of(i) for _, i in announce], trace_header)
    outcome.failed += [announce[index][0] for index in failed_events]
    outcome.failed = list(dict.fromkeys(outcome.failed))
    return outcome
