"""A case: one interaction (or one spike) to be worked by teams within an SLA; and the events it makes.

A case holds ids, the pseudonymous ``subject_id`` and derived attributes only: no names, handles or
text (the text stays with the interaction). Case ids are derived from what the case is about, so the
same interaction (or spike window) can never open a second case.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from socialcrm.events.models import (
    CaseStatus,
    CaseUpdated,
    EventDetail,
    InteractionRouted,
    Priority,
    SlaBreached,
)
from socialcrm.models import Interaction, Kind, Platform, SentimentLabel
from socialcrm.routing.evaluator import Decision

# Fields kept inside the service (delivery bookkeeping), never shown by the API.
INTERNAL_FIELDS = frozenset({"announced", "breach_announced", "claimed_by", "version"})


def case_id_for(interaction_ref: str) -> str:
    """The id of the case of an interaction, from its keyed ref: deterministic, URL-safe.

    >>> case_id_for("i_1") == case_id_for("i_1") != case_id_for("i_2")
    True
    """
    return "c_" + hashlib.sha256(f"interaction:{interaction_ref}".encode()).hexdigest()[:32]


def spike_key(topic: str, platform: str, window_start: datetime) -> str:
    return f"{platform}|{topic}|{window_start.isoformat()}"


def spike_case_id(topic: str, platform: str, window_start: datetime) -> str:
    """The id of the one case a spike window may open."""
    return (
        "s_" + hashlib.sha256(f"spike:{spike_key(topic, platform, window_start)}".encode()).hexdigest()[:32]
    )


def spike_subject_id(topic: str, platform: str, window_start: datetime) -> str:
    """A spike concerns no person: its subject id is derived from the spike, so it matches no one's."""
    return hashlib.sha256(f"spike-subject:{spike_key(topic, platform, window_start)}".encode()).hexdigest()


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    case_id: str
    origin: Literal["interaction", "spike"] = "interaction"
    interaction_id: str | None = None
    interaction_ref: str | None = None
    subject_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    platform: Platform
    kind: Kind | None = None
    language: str | None = None
    sentiment: SentimentLabel | None = None
    teams: list[str]
    priority: Priority
    sla_minutes: int = Field(ge=1, description="The SLA of the priority when the case opened.")
    tags: list[str] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list, description="Ids of the rules that matched.")
    notify: list[str] = Field(default_factory=list, description="Teams told when the case opened.")
    topics: list[str] = Field(default_factory=list, description="Spike topics the case counted into.")
    status: CaseStatus = "open"
    assignee: str | None = None
    opened_at: AwareDatetime
    sla_due_at: AwareDatetime
    sla_warning_at: AwareDatetime
    first_response_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    breached_at: AwareDatetime | None = None
    sla_met: bool | None = None
    updated_at: AwareDatetime
    version: int = 0
    announced: bool = False  # InteractionRouted / SpikeDetected published
    breach_announced: bool = False  # SlaBreached published
    # The SQS message that opened the case: only it (or its retry) announces the case, never a duplicate.
    claimed_by: str | None = None

    @property
    def responded_at(self) -> datetime | None:
        """When the customer was first answered (a resolution counts as an answer)."""
        times = [t for t in (self.first_response_at, self.resolved_at) if t is not None]
        return min(times) if times else None

    def public(self) -> dict[str, object]:
        """The case as the API shows it."""
        return self.model_dump(mode="json", exclude=set(INTERNAL_FIELDS))


def sla_times(start: datetime, minutes: int, warning_ratio: float) -> tuple[datetime, datetime]:
    """(due, warning) for an SLA of ``minutes`` from ``start``; the warning at ``warning_ratio`` of it."""
    return start + timedelta(minutes=minutes), start + timedelta(seconds=minutes * 60 * warning_ratio)


def open_case(
    interaction: Interaction,
    decision: Decision,
    *,
    now: datetime,
    warning_ratio: float,
    claimed_by: str | None = None,
) -> Case:
    """The case of an interaction. The SLA clock starts when we received the message: the customer
    has been waiting since then, however long routing took."""
    start = min(interaction.received_at, now)
    due, warning = sla_times(start, decision.sla_minutes, warning_ratio)
    return Case(
        case_id=case_id_for(interaction.interaction_ref),
        interaction_id=interaction.interaction_id,
        interaction_ref=interaction.interaction_ref,
        subject_id=interaction.subject_id,
        platform=interaction.platform,
        kind=interaction.kind,
        language=interaction.language,
        sentiment=interaction.sentiment.label if interaction.sentiment else None,
        teams=list(decision.teams),
        priority=decision.priority,
        sla_minutes=decision.sla_minutes,
        tags=list(decision.tags),
        rules=list(decision.rules),
        notify=list(decision.notify),
        topics=list(decision.topics),
        opened_at=now,
        sla_due_at=due,
        sla_warning_at=warning,
        updated_at=now,
        claimed_by=claimed_by,
    )


def routed_event(case: Case) -> InteractionRouted:
    assert case.interaction_ref is not None and case.kind is not None, "only interaction cases are routed"
    return InteractionRouted(
        case_id=case.case_id,
        interaction_ref=case.interaction_ref,
        subject_id=case.subject_id,
        platform=case.platform,
        kind=case.kind,
        language=case.language,
        sentiment=case.sentiment,
        teams=case.teams,
        priority=case.priority,
        tags=case.tags,
        rules=case.rules,
        opened_at=case.opened_at,
        sla_due_at=case.sla_due_at,
    )


def updated_event(case: Case) -> CaseUpdated:
    return CaseUpdated(
        case_id=case.case_id,
        subject_id=case.subject_id,
        platform=case.platform,
        teams=case.teams,
        priority=case.priority,
        status=case.status,
        opened_at=case.opened_at,
        sla_due_at=case.sla_due_at,
        first_response_at=case.first_response_at,
        resolved_at=case.resolved_at,
        sla_met=case.sla_met,
        updated_at=case.updated_at,
    )


def breached_event(case: Case) -> SlaBreached:
    assert case.breached_at is not None
    return SlaBreached(
        case_id=case.case_id,
        subject_id=case.subject_id,
        platform=case.platform,
        teams=case.teams,
        priority=case.priority,
        opened_at=case.opened_at,
        sla_due_at=case.sla_due_at,
        breached_at=case.breached_at,
    )


class CaseStore(Protocol):
    """Where cases live (``socialcrm.dal.routing.CaseRepository`` in DynamoDB)."""

    def get(self, case_id: str) -> Case | None: ...

    def open(self, case: Case) -> bool:
        """Store a new case; False when a case with its id exists (nothing written)."""
        ...

    def update(self, case_id: str, change: Callable[[Case], Case | None]) -> tuple[Case | None, bool]:
        """Apply ``change`` to the stored case (None: leave it) atomically; (the case, whether written)."""
        ...

    def mark(self, case_id: str, **flags: bool) -> None:
        """Set delivery flags (``announced``, ``breach_announced``)."""
        ...


class WorkQueues(CaseStore, Protocol):
    """Cases as teams work them: a page of a queue, most urgent first."""

    def queue(
        self, *, team: str | None, status: str, priority: str | None, limit: int, cursor: str | None = None
    ) -> tuple[list[Case], str | None]: ...


class Publisher(Protocol):
    def publish(self, details: Sequence[EventDetail], trace_header: str | None = None) -> list[int]: ...
