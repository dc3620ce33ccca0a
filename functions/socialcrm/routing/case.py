"""A case: one conversation (or one spike) to be worked by teams within service levels; its events.

A case holds ids, the pseudonymous ``subject_id`` and derived attributes only: no names, handles or
text (the text stays with the interaction). Case ids are derived from what the case is about (the
conversation and its case number, or the spike window), so two consumers can never open two cases
for one. How a case follows its conversation is :mod:`socialcrm.routing.conversation`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from socialcrm.events.models import (
    CaseStatus,
    CaseUpdated,
    Clock,
    InteractionRouted,
    Priority,
    ResponseRound,
    ResponseSource,
    SlaBreached,
)
from socialcrm.models import Interaction, Kind, Platform, SentimentLabel

# Fields kept inside the service (delivery bookkeeping), never shown by the API.
INTERNAL_FIELDS = frozenset({"announced", "breach_announced", "claimed_by", "version"})
# Stored with the case but not shown by the API either.
PRIVATE_FIELDS = frozenset({"breaches_announced"})
# The most messages a case lists (the count goes on): keeps a case row far below DynamoDB's 400 KB.
MAX_CASE_MESSAGES = 500


def case_id_for(conversation_ref: str, sequence: int = 1) -> str:
    """The id of the ``sequence``-th case of a conversation (from its keyed ref): deterministic, so two
    consumers that open the same case at the same moment write the same id, and only one succeeds.

    >>> case_id_for("v_1") == case_id_for("v_1") != case_id_for("v_1", 2)
    True
    """
    return "c_" + hashlib.sha256(f"conversation:{conversation_ref}:{sequence}".encode()).hexdigest()[:32]


def conversation_of(interaction: Interaction) -> str:
    """The interaction's conversation ref; one of its own for a record stored before conversations."""
    return interaction.conversation_ref or "v_" + interaction.interaction_ref[2:]


class CaseMessage(BaseModel):
    """One message of a case's conversation: ids, kind and times (the text stays with the interaction)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interaction_ref: str
    interaction_id: str
    kind: Kind
    occurred_at: AwareDatetime
    received_at: AwareDatetime
    from_brand: bool = False
    automated: bool = Field(default=False, description="A brand reply sent by automation: not a response.")
    awaits_response: bool = Field(
        default=True,
        description="A customer message that asks for an answer (not one the rules only record).",
    )
    priority: Priority | None = Field(
        default=None, description="How urgent the rules found a customer message."
    )

    @classmethod
    def of(
        cls, interaction: Interaction, *, awaits_response: bool = True, priority: Priority | None = None
    ) -> CaseMessage:
        return cls(
            priority=None if interaction.from_brand else priority,
            interaction_ref=interaction.interaction_ref,
            interaction_id=interaction.interaction_id,
            kind=interaction.kind,
            occurred_at=interaction.occurred_at,
            received_at=interaction.received_at,
            from_brand=interaction.from_brand,
            awaits_response=awaits_response and not interaction.from_brand,
        )


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
    segments: list[str] = Field(
        default_factory=list, description="The customer's segments when the case opened (at-risk, vip, ...)."
    )
    status: CaseStatus = "open"
    assignee: str | None = None
    opened_at: AwareDatetime
    sla_due_at: AwareDatetime
    sla_warning_at: AwareDatetime
    first_response_at: AwareDatetime | None = None
    first_response_source: ResponseSource | None = None
    resolved_at: AwareDatetime | None = None
    breached_at: AwareDatetime | None = None
    sla_met: bool | None = None
    updated_at: AwareDatetime
    # The conversation (interaction cases): its messages in order, customer and brand.
    conversation_ref: str | None = None
    sequence: int = Field(default=1, ge=1, description="The conversation's n-th case.")
    messages: list[CaseMessage] = Field(default_factory=list)
    message_count: int = Field(default=0, ge=0)
    last_customer_message_at: AwareDatetime | None = None
    # Next responses: each wait that starts with a customer message after the brand answered.
    next_responses: list[ResponseRound] = Field(default_factory=list)
    next_warning_at: AwareDatetime | None = None
    # Resolution: due from the opening (or reopening) message.
    resolution_started_at: AwareDatetime | None = None
    resolution_due_at: AwareDatetime | None = None
    resolution_warning_at: AwareDatetime | None = None
    resolution_breached_at: AwareDatetime | None = None
    resolution_met: bool | None = None
    reopened_count: int = Field(default=0, ge=0)
    opened_resolved: bool = Field(default=False, description="Opened already resolved by a rule.")
    sla_started_at: AwareDatetime | None = Field(
        default=None, description="When the first-response clock started (we received the first message)."
    )
    answered_marks: list[AwareDatetime] = Field(
        default_factory=list,
        description="Answers that are not messages: a PATCHed first response, past resolutions.",
    )
    breaches_announced: list[str] = Field(default_factory=list)
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

    @property
    def open_round(self) -> int | None:
        """The index of the next-response wait still running, if any."""
        for index, wait in enumerate(self.next_responses):
            if wait.responded_at is None and wait.met is None:
                return index
        return None

    def public(self) -> dict[str, object]:
        """The case as the API shows it."""
        return self.model_dump(mode="json", exclude=set(INTERNAL_FIELDS | PRIVATE_FIELDS))


def sla_times(start: datetime, minutes: int, warning_ratio: float) -> tuple[datetime, datetime]:
    """(due, warning) for an SLA of ``minutes`` from ``start``; the warning at ``warning_ratio`` of it."""
    return start + timedelta(minutes=minutes), start + timedelta(seconds=minutes * 60 * warning_ratio)


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
        segments=case.segments,
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
        first_response_source=case.first_response_source,
        next_responses=case.next_responses,
        resolution_due_at=case.resolution_due_at,
        resolution_met=case.resolution_met,
        reopened_count=case.reopened_count,
        message_count=case.message_count,
    )


def breached_event(case: Case, clock: Clock = "first_response", index: int | None = None) -> SlaBreached:
    """The breach of one of the case's clocks (``index``: the next-response wait)."""
    if clock == "next_response":
        assert index is not None
        wait = case.next_responses[index]
        due, at = wait.due_at, case.updated_at
    elif clock == "resolution":
        assert case.resolution_due_at is not None and case.resolution_breached_at is not None
        due, at = case.resolution_due_at, case.resolution_breached_at
    else:
        assert case.breached_at is not None
        due, at = case.sla_due_at, case.breached_at
    return SlaBreached(
        clock=clock,
        round=index,
        case_id=case.case_id,
        subject_id=case.subject_id,
        platform=case.platform,
        teams=case.teams,
        priority=case.priority,
        opened_at=case.opened_at,
        sla_due_at=due,
        breached_at=at,
    )


class Conversation(BaseModel):
    """Where a conversation stands: its current case, and brand replies that arrived before any case."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    conversation_ref: str
    subject_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    platform: Platform
    case_id: str | None = None
    sequence: int = Field(default=0, ge=0, description="How many cases the conversation has opened.")
    waiting_replies: list[CaseMessage] = Field(default_factory=list)
    updated_at: AwareDatetime
    version: int = 0


@dataclass(frozen=True)
class CaseChange:
    """What an update did: the case it was applied to, the case after it, and whether it was written."""

    before: Case | None
    after: Case | None
    written: bool


class CaseStore(Protocol):
    """Where cases live (``socialcrm.routing.store.CaseRepository`` in DynamoDB)."""

    def get(self, case_id: str) -> Case | None: ...

    def conversation(self, conversation_ref: str) -> Conversation | None:
        """Where the conversation stands (strongly consistent), None when never seen."""
        ...

    def open_in(self, conversation: Conversation, case: Case, *, expected_version: int | None) -> bool:
        """Store ``case`` and point the conversation at it, atomically; False (nothing written) when the
        conversation changed since ``expected_version`` (None: it did not exist) or the case exists."""
        ...

    def keep(self, conversation: Conversation, *, expected_version: int | None) -> bool:
        """Store the conversation (a reply with no case yet); False when it changed meanwhile."""
        ...

    def open(self, case: Case) -> bool:
        """Store a new case; False when a case with its id exists (nothing written)."""
        ...

    def update(
        self, case_id: str, change: Callable[[Case], Case | None], *, current: Case | None = None
    ) -> CaseChange:
        """Apply ``change`` to the stored case (None: leave it) atomically. ``current``: the case as the
        caller just read it, tried first (no second read unless it changed meanwhile)."""
        ...

    def mark(self, case_id: str, **flags: bool) -> None:
        """Set delivery flags (``announced``, ``breach_announced``)."""
        ...

    def any_open(self, case_ids: Sequence[str]) -> bool:
        """Whether any of these cases exists and is not resolved (one batch read)."""
        ...


class WorkQueues(CaseStore, Protocol):
    """Cases as teams work them: a page of a queue, most urgent first."""

    def queue(
        self,
        *,
        team: str | None,
        status: str,
        priority: str | None,
        limit: int,
        cursor: str | None = None,
        teams: frozenset[str] | None = None,
    ) -> tuple[list[Case], str | None]: ...
