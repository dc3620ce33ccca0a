"""What each event adds to the counters, as *facts* with a key that makes counting idempotent.

A fact is something that happened once: an interaction arrived, a case was routed to its teams, a
case got its first response, a service-level target was met or breached, a spike was detected.
Producers can announce a fact more than once under new event ids (the enrich stage re-announces an
interaction it had already stored; routing publishes ``CaseUpdated`` on every change of a case, so the
same first response, round or resolution arrives many times; ``SlaBreached`` and a later
``CaseUpdated`` both tell of one breach), and SQS can redeliver an event. So the key is the fact's own
identity, not the event id, and it is stored as a SHA-256 digest: the seen-markers hold no interaction,
case or subject id.

The identities of a case's facts (:func:`case_fact_keys` lists them all):

=================  ===============================  ==================================================
kind               identity                         counted
=================  ===============================  ==================================================
``routed``         case id                          once per case
``first_response`` case id                          once per case: its time, by source
``sla``            case id                          once per case: the first-response target
``next_response``  case id, round index (0, 1, …)   once per wait for a next response
``resolution``     case id, reopened_count (0, 1…)  once per case and per reopening
=================  ===============================  ==================================================

An outcome counts on the day it was decided: the answer's (or resolution's) day when met, the due
day when breached. Erasure recomputes a subject's marker keys with :func:`case_fact_keys` and
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
from typing import Any, Final, Literal

from socialcrm.events.models import (
    CaseUpdated,
    Clock,
    EventDetail,
    InteractionEnriched,
    InteractionRouted,
    SlaBreached,
    SpikeDetected,
)
from socialcrm.models import BRAND_REPLY
from socialcrm.reporting.dimensions import (
    ALL_TEAMS,
    CLOCK_FAMILIES,
    FIRST_RESPONSE,
    INTERACTIONS,
    PATCH,
    PENDING,
    ROUTED,
    SEGMENTS,
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

FactKind = Literal["interaction", "routed", "first_response", "sla", "next_response", "resolution", "spike"]
# The facts of a case keyed by its id alone; a case's rounds and reopenings add keys of their own.
CASE_FACTS: Final[tuple[FactKind, ...]] = ("routed", "first_response", "sla")
# The fact kind of each clock's outcome ("sla" is the first response's, as before the other clocks).
CLOCK_FACTS: Final[dict[Clock, FactKind]] = {
    "first_response": "sla",
    "next_response": "next_response",
    "resolution": "resolution",
}


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
    if event.kind == BRAND_REPLY:
        return []  # the brand's own reply: a response on its case, not a customer's message to count
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
    ) + tuple(
        Delta(CellKey(day, encode(SEGMENTS, segment, event.platform)), {"n": 1})
        for segment in dict.fromkeys(event.segments)
    )
    return [Fact("routed", fact_key("routed", event.case_id), deltas, {"platform": event.platform})]


def _first_response(event: CaseUpdated, answered: datetime) -> Fact:
    """The first response's time, under its source (a source-less event predates native responses:
    only PATCH could set a first response then)."""
    seconds = max(0, round((answered - event.opened_at).total_seconds()))
    source = event.first_response_source or PATCH
    amounts = {"n": 1, "seconds": seconds, bucket_for(seconds): 1}
    deltas = tuple(
        Delta(CellKey(day_of(answered), encode(FIRST_RESPONSE, team, source, event.platform)), amounts)
        for team in _teams_and_all(event.teams)
    )
    labels = {"platform": event.platform, "source": source}
    return Fact("first_response", fact_key("first_response", event.case_id), deltas, labels)


def _outcome(
    clock: Clock,
    identity: tuple[str, ...],
    event: CaseUpdated | SlaBreached,
    *,
    met: bool,
    decided_at: datetime,
) -> Fact:
    """A clock's outcome, counted once whichever event tells it first (``SlaBreached`` or a
    ``CaseUpdated``): met on the answer's (resolution's) day, breached on the due day."""
    amounts = {"met": 1} if met else {"breached": 1}
    family = CLOCK_FAMILIES[clock]
    deltas = tuple(
        Delta(CellKey(day_of(decided_at), encode(family, team, event.priority, event.platform)), amounts)
        for team in _teams_and_all(event.teams)
    )
    labels = {"platform": event.platform, "outcome": "met" if met else "breached", "clock": clock}
    kind = CLOCK_FACTS[clock]
    return Fact(kind, fact_key(kind, *identity), deltas, labels)


def _case_updated(event: CaseUpdated) -> list[Fact]:
    def outcome(clock: Clock, *identity: str, met: bool, done: datetime | None, due: datetime | None) -> Fact:
        """Met: decided when it was done (answered, resolved); breached: when it was due."""
        decided_at = (done if met else due) or event.updated_at
        return _outcome(clock, (event.case_id, *identity), event, met=met, decided_at=decided_at)

    facts = []
    if event.first_response_at is not None:
        facts.append(_first_response(event, event.first_response_at))
    if event.sla_met is not None:
        facts.append(
            outcome("first_response", met=event.sla_met, done=event.first_response_at, due=event.sla_due_at)
        )
    for index, wait in enumerate(event.next_responses):
        if wait.met is not None:
            facts.append(
                outcome("next_response", str(index), met=wait.met, done=wait.responded_at, due=wait.due_at)
            )
    if event.resolution_met is not None:
        facts.append(
            outcome(
                "resolution",
                str(event.reopened_count),
                met=event.resolution_met,
                done=event.resolved_at,
                due=event.resolution_due_at,
            )
        )
    return facts


def _sla_breached(event: SlaBreached) -> list[Fact]:
    """The breach of the clock named. A resolution breach names no reopening (the event has no
    ``reopened_count``), so it is left to the ``CaseUpdated`` that routing publishes with it; so is a
    next-response breach without its round."""
    if event.clock == "first_response":
        identity: tuple[str, ...] = (event.case_id,)
    elif event.clock == "next_response" and event.round is not None:
        identity = (event.case_id, str(event.round))
    else:
        return []
    return [_outcome(event.clock, identity, event, met=False, decided_at=event.sla_due_at)]


def case_fact_keys(case_id: str, body: Mapping[str, Any] | None = None) -> list[str]:
    """Every seen-marker key a case's facts can have, from its case row's ``body`` (plain values:
    ``next_responses`` a list, ``reopened_count`` a number; either may be missing): the keys by case id,
    one per next-response round and one per reopening (and the first resolution).

    >>> keys = case_fact_keys("c_1", {"next_responses": [{}, {}], "reopened_count": 1})
    >>> len(keys), keys[3] == fact_key("next_response", "c_1", "0"), keys[-1] == fact_key("resolution", "c_1", "1")
    (7, True, True)
    """
    body = body or {}
    rounds = len(body.get("next_responses") or [])
    reopenings = int(body.get("reopened_count") or 0)
    return [
        *(fact_key(kind, case_id) for kind in CASE_FACTS),
        *(fact_key("next_response", case_id, str(index)) for index in range(rounds)),
        *(fact_key("resolution", case_id, str(count)) for count in range(reopenings + 1)),
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
