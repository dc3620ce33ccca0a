"""What each event adds to the counters, as *facts* with a key that makes counting idempotent.

A fact is something that happened once: an interaction arrived, a case was routed to its teams, a
case got its first response, a case's SLA was met or breached, a spike was detected. Producers can
announce a fact more than once under new event ids (the enrich stage re-announces an interaction it
had already stored; routing publishes ``CaseUpdated`` on every change of a case; ``SlaBreached`` and
a later ``CaseUpdated`` with ``sla_met=false`` both tell of one breach), and SQS can redeliver an event.
So the key is the fact's own identity, not the event id, and it is stored as a SHA-256 digest: the
seen-markers hold no interaction, case or subject id. Erasure recomputes a subject's marker keys with
:func:`fact_key` (``socialcrm.privacy.stores``): a fact's kind and identity must not change.

>>> from socialcrm.events.models import SpikeDetected
>>> spike = SpikeDetected(topic="refund", platform="x", window_start="2026-11-22T10:00:00Z",
...     window_minutes=15, count=40, baseline=4.0, case_id=None)
>>> [(f.kind, [d.key.dimension for d in f.deltas]) for f in facts_of(spike)]
[('spike', ['spikes|x|refund'])]
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from socialcrm.events.models import (
    CaseUpdated,
    EventDetail,
    InteractionEnriched,
    InteractionRouted,
    SlaBreached,
    SpikeDetected,
)
from socialcrm.reporting.dimensions import (
    ALL_TEAMS,
    FIRST_RESPONSE,
    INTERACTIONS,
    PENDING,
    ROUTED,
    SLA,
    SPIKES,
    TEAMS,
    UNASSIGNED_TEAM,
    UNKNOWN_LANGUAGE,
    UNSCORED,
    CellKey,
    bucket_for,
    day_of,
    encode,
)

FactKind = Literal["interaction", "routed", "first_response", "sla", "spike"]


@dataclass(frozen=True)
class Delta:
    """Amounts to add to one counter cell."""

    key: CellKey
    amounts: Mapping[str, int]


@dataclass(frozen=True)
class Fact:
    """One countable fact: its digest key and the deltas it adds, all or nothing.

    ``labels`` carry the dimensions the business metrics are emitted with (platform, sentiment,
    outcome). An ``interaction`` fact with a final sentiment ``completes_pending``: if the same
    interaction was counted earlier as PENDING, its count moves to the final sentiment.
    """

    kind: FactKind
    key: str
    deltas: tuple[Delta, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    completes_pending: bool = False


def fact_key(kind: FactKind, *identity: str) -> str:
    """``<kind>:<sha256 of the identity>``: the seen-marker key of a fact, with no id readable in it."""
    digest = hashlib.sha256("\x1f".join(identity).encode()).hexdigest()
    return f"{kind}:{digest}"


def _teams(teams: Iterable[str]) -> list[str]:
    unique = sorted({team for team in teams if team})
    return unique or [UNASSIGNED_TEAM]


def _teams_and_all(teams: Iterable[str]) -> list[str]:
    return [*_teams(teams), ALL_TEAMS]


def sentiment_bucket(label: str | None, status: str | None) -> str:
    """A label, PENDING when Comprehend has not answered yet, else UNSCORED."""
    if label is not None:
        return label
    return PENDING if status == PENDING else UNSCORED


def _interaction(event: InteractionEnriched) -> list[Fact]:
    sentiment = sentiment_bucket(event.sentiment, event.sentiment_status)
    cell = CellKey(
        day_of(event.occurred_at),
        encode(INTERACTIONS, event.platform, sentiment, event.language or UNKNOWN_LANGUAGE),
    )
    return [
        Fact(
            kind="interaction",
            key=fact_key("interaction", event.interaction_ref),
            deltas=(Delta(cell, {"n": 1}),),
            labels={"platform": event.platform, "sentiment": sentiment},
            completes_pending=sentiment != PENDING,
        )
    ]


def _routed(event: InteractionRouted) -> list[Fact]:
    sentiment = event.sentiment or UNSCORED
    language = event.language or UNKNOWN_LANGUAGE
    day = day_of(event.opened_at)
    deltas = tuple(
        Delta(CellKey(day, dimension), {"n": 1})
        for team in _teams(event.teams)
        for dimension in (
            encode(ROUTED, team, event.platform, sentiment, language),
            encode(TEAMS, team, event.platform),
        )
    )
    return [Fact("routed", fact_key("routed", event.case_id), deltas, {"platform": event.platform})]


def _first_response(
    case_id: str, teams: list[str], platform: str, opened: datetime, answered: datetime
) -> Fact:
    seconds = max(0, round((answered - opened).total_seconds()))
    day = day_of(answered)
    amounts = {"n": 1, "seconds": seconds, bucket_for(seconds): 1}
    deltas = tuple(
        Delta(CellKey(day, encode(FIRST_RESPONSE, team, platform)), amounts) for team in _teams_and_all(teams)
    )
    return Fact("first_response", fact_key("first_response", case_id), deltas, {"platform": platform})


def _sla_outcome(
    case_id: str, teams: list[str], priority: str, platform: str, *, met: bool, decided_at: datetime
) -> Fact:
    """The SLA outcome of a case, counted once whichever event tells it first (``SlaBreached`` or a
    ``CaseUpdated`` with ``sla_met``). A breach counts on its due day, a met SLA on its answer day."""
    day = day_of(decided_at)
    amounts = {"met": 1} if met else {"breached": 1}
    deltas = tuple(
        Delta(CellKey(day, encode(SLA, team, priority, platform)), amounts) for team in _teams_and_all(teams)
    )
    labels = {"platform": platform, "outcome": "met" if met else "breached"}
    return Fact("sla", fact_key("sla", case_id), deltas, labels)


def _case_updated(event: CaseUpdated) -> list[Fact]:
    facts = []
    if event.first_response_at is not None:
        facts.append(
            _first_response(
                event.case_id, event.teams, event.platform, event.opened_at, event.first_response_at
            )
        )
    if event.sla_met is not None:
        decided_at = (event.first_response_at or event.updated_at) if event.sla_met else event.sla_due_at
        facts.append(
            _sla_outcome(
                event.case_id,
                event.teams,
                event.priority,
                event.platform,
                met=event.sla_met,
                decided_at=decided_at,
            )
        )
    return facts


def _sla_breached(event: SlaBreached) -> list[Fact]:
    return [
        _sla_outcome(
            event.case_id, event.teams, event.priority, event.platform, met=False, decided_at=event.sla_due_at
        )
    ]


def _spike(event: SpikeDetected) -> list[Fact]:
    cell = CellKey(day_of(event.window_start), encode(SPIKES, event.platform, event.topic))
    key = fact_key("spike", event.platform, event.topic, event.window_start.astimezone(UTC).isoformat())
    return [Fact("spike", key, (Delta(cell, {"n": 1}),), {"platform": event.platform})]


def facts_of(detail: EventDetail) -> list[Fact]:
    """The facts an event's detail tells of (empty for a detail-type reporting does not count)."""
    if isinstance(detail, InteractionEnriched):
        return _interaction(detail)
    if isinstance(detail, InteractionRouted):
        return _routed(detail)
    if isinstance(detail, CaseUpdated):
        return _case_updated(detail)
    if isinstance(detail, SlaBreached):
        return _sla_breached(detail)
    if isinstance(detail, SpikeDetected):
        return _spike(detail)
    return []
