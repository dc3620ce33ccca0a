"""The enrich stage for one SQS batch: parse, drop duplicates, enrich together, store, count, publish.

Every record's fate is its own: a record that cannot be parsed, stored or announced is reported as a
partial-batch failure (SQS retries it, then moves it to the DLQ) while the rest of the batch is kept.

Duplicates are dropped before Comprehend (``socialcrm.dedupe``): a copy repeated in the batch, an
interaction already stored, and one another batch is working on right now are never analysed, stored,
routed or counted twice. The one exception is deliberate: the same queued message seen again after it
was stored (same ``received_at``) is announced again, because the earlier attempt may have failed to
publish; consumers count by fact, so an announcement made twice counts once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pydantic import ValidationError

from socialcrm.dedupe import ClaimResult
from socialcrm.events.models import InteractionEnriched
from socialcrm.events.ports import Publisher
from socialcrm.models import Interaction
from socialcrm.observability import logger
from socialcrm.privacy import SuppressionCheck

# How long an interaction whose sentiment is PENDING waits before it is enriched again (SQS maximum).
PENDING_RETRY_DELAY_SECONDS = 900


class InteractionStore(Protocol):
    def stored(self, refs: Sequence[str]) -> dict[str, Interaction]: ...

    def store_new(self, interaction: Interaction, *, enriched_at: datetime) -> bool: ...

    def complete_pending(self, interaction: Interaction, *, enriched_at: datetime) -> bool: ...


class ClaimPort(Protocol):
    def claim(self, refs: Sequence[str], *, until: datetime, now: datetime) -> ClaimResult: ...

    def release(self, refs: Sequence[str]) -> None: ...


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
    duplicates: int = 0  # copies dropped before analysis (in the batch, stored, or claimed elsewhere)
    pending: int = 0
    suppressed: int = 0
    analysed: int = 0  # interactions handed to the analysis (Comprehend)
    announced_again: int = 0  # stored by an earlier attempt at the same message, announced again


def process_batch(
    records: Sequence[QueuedRecord],
    *,
    enrich: Callable[[list[Interaction]], list[Interaction]],
    store: InteractionStore,
    claims: ClaimPort,
    publisher: Publisher,
    pending_queue: PendingQueue,
    suppression: SuppressionCheck,
    now: datetime,
    deadline: datetime,
    trace_header: str | None = None,
) -> BatchOutcome:
    """Enrich one batch; ``deadline`` is when the invocation ends (the claims' lease)."""
    outcome = BatchOutcome()
    leads = _leads(records, outcome)
    kept = _not_suppressed(leads, suppression, outcome)

    announce: list[tuple[str, Interaction]] = []
    try:
        stored = store.stored([i.interaction_ref for _, i in kept])
    except Exception:  # the store is unreachable: retry the whole batch rather than analyse blindly
        logger.exception("duplicate check failed")
        outcome.failed += [message_id for message_id, _ in kept]
        kept, stored = [], {}
    fresh: list[tuple[str, Interaction]] = []
    for message_id, interaction in kept:
        known = stored.get(interaction.interaction_ref)
        if known is None or known.sentiment_status == "PENDING":
            fresh.append((message_id, interaction))
        else:
            outcome.duplicates += 1
            if known.received_at == interaction.received_at:  # this very message, stored before: announce
                outcome.announced_again += 1
                announce.append((message_id, known))

    claim = claims.claim([i.interaction_ref for _, i in fresh], until=deadline, now=now)
    held, unavailable = set(claim.held_elsewhere), set(claim.unavailable)
    outcome.duplicates += len(held)
    outcome.failed += [m for m, i in fresh if i.interaction_ref in unavailable]
    mine = [(m, i) for m, i in fresh if i.interaction_ref not in held | unavailable]
    try:
        announce += _analyse_and_store(mine, enrich, store, pending_queue, now, outcome)
        failed_events = publisher.publish([InteractionEnriched.of(i) for _, i in announce], trace_header)
        outcome.failed += [announce[index][0] for index in failed_events]
    finally:
        claims.release(claim.claimed)
    outcome.failed = list(dict.fromkeys(outcome.failed))
    return outcome


def _leads(records: Sequence[QueuedRecord], outcome: BatchOutcome) -> list[tuple[str, Interaction]]:
    """The parsed records, one per interaction: later copies in the batch are acknowledged as duplicates."""
    leads: dict[str, tuple[str, Interaction]] = {}
    for record in records:
        try:
            interaction = Interaction.model_validate_json(record.body)
        except ValidationError:
            logger.error("unreadable record", message_id=record.message_id)
            outcome.failed.append(record.message_id)
            continue
        if interaction.interaction_ref in leads:
            outcome.duplicates += 1
        else:
            leads[interaction.interaction_ref] = (record.message_id, interaction)
    return list(leads.values())


def _not_suppressed(
    leads: list[tuple[str, Interaction]], suppression: SuppressionCheck, outcome: BatchOutcome
) -> list[tuple[str, Interaction]]:
    kept = []
    for message_id, interaction in leads:
        if suppression.suppressed(interaction):
            outcome.suppressed += 1
            logger.info(
                "suppressed", interaction_ref=interaction.interaction_ref, subject_id=interaction.subject_id
            )
        else:
            kept.append((message_id, interaction))
    return kept


def _analyse_and_store(
    mine: list[tuple[str, Interaction]],
    enrich: Callable[[list[Interaction]], list[Interaction]],
    store: InteractionStore,
    pending_queue: PendingQueue,
    now: datetime,
    outcome: BatchOutcome,
) -> list[tuple[str, Interaction]]:
    """Analyse and store what this batch holds; returns what to announce."""
    # The brand's own replies are stored with their conversation as they came: never analysed.
    customers = [interaction for _, interaction in mine if not interaction.from_brand]
    outcome.analysed = len(customers)
    results = enrich(customers) if customers else []
    if len(results) != len(customers):
        raise ValueError(f"the analysis returned {len(results)} interactions for {len(customers)}")
    analysed = iter(results)
    enriched = [interaction if interaction.from_brand else next(analysed) for _, interaction in mine]
    announce: list[tuple[str, Interaction]] = []
    to_retry_later: list[tuple[str, Interaction]] = []
    for (message_id, _), interaction in zip(mine, enriched, strict=True):
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
            logger.exception("store failed", interaction_ref=interaction.interaction_ref)
            outcome.failed.append(message_id)
            continue
        if interaction.sentiment_status == "PENDING":
            to_retry_later.append((message_id, interaction))
        announce.append((message_id, interaction))
        logger.info(
            "enriched",
            interaction_ref=interaction.interaction_ref,
            subject_id=interaction.subject_id,
            language=interaction.language,
            sentiment=interaction.sentiment.label if interaction.sentiment else interaction.sentiment_status,
        )
    if to_retry_later:
        outcome.pending = len(to_retry_later)
        unsent = set(pending_queue.send_later([i for _, i in to_retry_later], PENDING_RETRY_DELAY_SECONDS))
        outcome.failed += [m for m, i in to_retry_later if i.interaction_ref in unsent]
    return announce
