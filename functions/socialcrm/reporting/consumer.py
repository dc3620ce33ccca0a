"""The report consumer's batch: EventBridge events from its SQS queue → facts → counters.

Each record's fate is its own. A record whose body is not a socialcrm event of a counted type, or
whose facts could not be recorded, is reported as a partial-batch failure: SQS retries it (facts
already recorded are refused as duplicates on the retry), then moves it to the DLQ.

The facts of an erased subject's data that were still in flight when the erasure ran (an event queued
here, or redriven from the DLQ later) are dropped, not counted: counting would write a seen-marker
derived from the subject's ids after the erasure verified that none is left. An interaction is erased
data when it occurred at or before the subject's tombstone (the rule enrich applies); a case, when it
opened no later than ``ERASED_CASE_MARGIN`` after it (a message from before the erasure that was in
flight can open its case until the erasure's settle period and a route run have passed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from socialcrm.events.models import (
    CaseUpdated,
    EventDetail,
    InteractionEnriched,
    InteractionRouted,
    SlaBreached,
    SpikeDetected,
)
from socialcrm.observability import logger
from socialcrm.reporting.counters import Recorded
from socialcrm.reporting.dimensions import PENDING
from socialcrm.reporting.facts import Fact, facts_of

# The erasure's settle period (90 s by default) and the route function's timeout, with a margin.
ERASED_CASE_MARGIN = timedelta(minutes=5)

COUNTED_DETAILS: dict[str, type[EventDetail]] = {
    model.detail_type: model
    for model in (InteractionEnriched, InteractionRouted, CaseUpdated, SlaBreached, SpikeDetected)
}


class FactRecorder(Protocol):
    def record(self, fact: Fact, *, now: datetime) -> Recorded: ...


class BusEvent(BaseModel):
    """The EventBridge envelope as EventBridge delivers it to an SQS target."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str
    detail_type: str = Field(alias="detail-type")
    source: str
    detail: dict[str, Any]
    # Set when EventBridge replayed the event from the bus's archive (``socialcrm events replay``).
    replay_name: str | None = Field(default=None, alias="replay-name")


@dataclass(frozen=True)
class QueuedRecord:
    message_id: str
    body: str


@dataclass
class ReportOutcome:
    """What a batch did; the handler turns it into the response and the business metrics."""

    failed: list[str] = field(default_factory=list)  # SQS message ids to retry
    counted: int = 0  # new facts
    duplicates: int = 0
    erased: int = 0  # events about an erased subject's data, dropped
    objected: int = 0  # replayed events of subjects who object to processing, not counted
    interactions_by_platform: Counter[str] = field(default_factory=Counter)
    # Interactions by their final sentiment (a PENDING one counts here once its sentiment arrives).
    interactions_by_sentiment: Counter[str] = field(default_factory=Counter)
    sla_breaches: int = 0  # first-response targets (the alarmed metric)
    sla_met: int = 0
    # Every clock's outcomes (first_response, next_response, resolution): one per case, round, reopening.
    breaches_by_clock: Counter[str] = field(default_factory=Counter)
    met_by_clock: Counter[str] = field(default_factory=Counter)
    spikes: int = 0

    def note(self, fact: Fact, recorded: Recorded) -> None:
        if recorded is Recorded.DUPLICATE:
            self.duplicates += 1
            return
        if recorded is Recorded.COUNTED:
            self.counted += 1
        if fact.kind == "interaction":
            if recorded is Recorded.COUNTED:
                self.interactions_by_platform[fact.labels["platform"]] += 1
            if fact.labels["sentiment"] != PENDING:
                self.interactions_by_sentiment[fact.labels["sentiment"]] += 1
        elif "clock" in fact.labels:  # a service-level outcome
            breached = fact.labels["outcome"] == "breached"
            (self.breaches_by_clock if breached else self.met_by_clock)[fact.labels["clock"]] += 1
            if fact.kind == "sla":
                self.sla_breaches += breached
                self.sla_met += not breached
        elif fact.kind == "spike":
            self.spikes += 1


def parse(body: str) -> EventDetail:
    """The detail model of a queued bus event; ValueError when it is not one reporting counts."""
    return parse_event(body)[0]


def parse_event(body: str) -> tuple[EventDetail, bool]:
    """The detail model of a queued bus event, and whether it was replayed from the bus's archive."""
    event = BusEvent.model_validate_json(body)
    model = COUNTED_DETAILS.get(event.detail_type)
    if model is None:
        raise ValueError(f"detail-type {event.detail_type!r} is not counted by reports")
    return model.model_validate(event.detail), event.replay_name is not None


def erased_data(detail: EventDetail, erased_at: Callable[[str], datetime | None]) -> bool:
    """True when ``detail`` is about data its subject had erased (see the module docstring)."""
    if isinstance(detail, InteractionEnriched):
        tombstone = erased_at(detail.subject_id)
        return tombstone is not None and detail.occurred_at <= tombstone
    if isinstance(detail, InteractionRouted | CaseUpdated | SlaBreached):
        tombstone = erased_at(detail.subject_id)
        return tombstone is not None and detail.opened_at <= tombstone + ERASED_CASE_MARGIN
    return False  # a spike concerns no person


def process_batch(
    records: Sequence[QueuedRecord],
    *,
    counters: FactRecorder,
    now: datetime,
    erased_at: Callable[[str], datetime | None],
    objects: Callable[[str], bool] | None = None,
) -> ReportOutcome:
    """Record the facts of every record; a record fails alone (see the module docstring).

    ``erased_at`` gives a subject's erasure tombstone, if any; it raises when it cannot tell, and the
    record is retried (nothing is counted unchecked). ``objects`` says whether a subject objects to
    processing (GDPR Art. 21): a replayed event of theirs is not counted (a replay is processing now).
    """
    outcome = ReportOutcome()
    for record in records:
        try:
            detail, replayed = parse_event(record.body)
        except (ValidationError, ValueError):
            logger.error("unreadable event", message_id=record.message_id)
            outcome.failed.append(record.message_id)
            continue
        try:
            if erased_data(detail, erased_at):
                outcome.erased += 1
                continue
            subject = getattr(detail, "subject_id", None)
            if replayed and objects is not None and isinstance(subject, str) and objects(subject):
                outcome.objected += 1
                continue
            for fact in facts_of(detail):
                outcome.note(fact, counters.record(fact, now=now))
        except Exception:  # a store failure fails this record only; its recorded facts stay deduplicated
            logger.exception("counting failed", message_id=record.message_id, detail_type=detail.detail_type)
            outcome.failed.append(record.message_id)
    return outcome
