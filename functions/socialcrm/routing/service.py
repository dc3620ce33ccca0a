"""The route consumer's batch: each ``InteractionEnriched`` → rules → one case, its clocks, its events.

Per record: read the interaction (the event has no text), evaluate the rules, open the case (a
conditional write keyed by the interaction: a duplicate event never opens a second case), set the SLA
clocks, tell the teams the rules name, count a negative interaction into spike detection, record the
routing on the interaction, and publish ``InteractionRouted`` (and ``SpikeDetected``) for the batch
in ``PutEvents`` calls of ten. A case is marked announced once its events are out; a retried record
whose case exists but was not announced finishes the work without counting it twice.
Every record's fate is its own: a failure is a partial-batch failure, retried by SQS, then dead-lettered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pydantic import ValidationError

from socialcrm.events.models import EventDetail, InteractionEnriched
from socialcrm.models import Interaction, Routing
from socialcrm.observability import logger
from socialcrm.routing.case import Case, CaseStore, Publisher, case_id_for, open_case, routed_event
from socialcrm.routing.evaluator import CompiledRules, HistoryReader
from socialcrm.routing.notify import Notifier, Reason
from socialcrm.routing.sla import SlaScheduler
from socialcrm.routing.spikes import CounterStore, Spike, SpikeDetector, open_spike_case, spike_event


class InteractionReader(Protocol):
    def get(self, interaction_ref: str) -> Interaction | None: ...


class RoutingRecorder(Protocol):
    def record(self, interaction_ref: str, routing: Routing) -> bool: ...


@dataclass(frozen=True)
class QueuedRecord:
    message_id: str
    body: str


@dataclass(frozen=True)
class RoutePorts:
    rules: Callable[[], CompiledRules]
    interactions: InteractionReader
    history: HistoryReader
    cases: CaseStore
    counters: CounterStore
    scheduler: SlaScheduler
    notifier: Notifier
    publisher: Publisher
    routing: RoutingRecorder


@dataclass
class RouteOutcome:
    failed: list[str] = field(default_factory=list)  # SQS message ids to retry
    opened: int = 0
    duplicates: int = 0
    waiting: int = 0  # sentiment still PENDING: routed when it arrives
    missing: int = 0  # the interaction is gone (erased)
    spikes: int = 0
    by_priority: dict[str, int] = field(default_factory=dict)


@dataclass
class _Pending:
    """Events of one record, and the cases to mark announced once they are published."""

    message_id: str
    events: list[EventDetail] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)  # spike counters to mark


def parse_enriched(body: str) -> InteractionEnriched:
    """The ``InteractionEnriched`` detail of an EventBridge event delivered by SQS."""
    envelope = json.loads(body)
    if not isinstance(envelope, dict) or envelope.get("detail-type") != InteractionEnriched.detail_type:
        raise ValueError("not an InteractionEnriched event")
    return InteractionEnriched.model_validate(envelope["detail"])


def route_batch(
    records: Sequence[QueuedRecord], *, ports: RoutePorts, now: datetime, trace_header: str | None = None
) -> RouteOutcome:
    """Route every record; returns what happened and the message ids to retry."""
    outcome = RouteOutcome()
    compiled = ports.rules()
    pending: list[_Pending] = []
    seen: set[str] = set()
    for record in records:
        try:
            detail = parse_enriched(record.body)
        except (ValueError, ValidationError):
            logger.error("unreadable record", message_id=record.message_id)
            outcome.failed.append(record.message_id)
            continue
        if detail.interaction_ref in seen:  # the same event twice in one batch: once is enough
            outcome.duplicates += 1
            continue
        seen.add(detail.interaction_ref)
        try:
            work = _route_one(record.message_id, detail, compiled, ports, now, outcome)
        except Exception:  # this record only: retried by SQS, then dead-lettered
            logger.exception("routing failed", interaction_ref=detail.interaction_ref)
            outcome.failed.append(record.message_id)
            continue
        if work is not None:
            pending.append(work)

    events = [(work, event) for work in pending for event in work.events]
    failed_events = set(ports.publisher.publish([event for _, event in events], trace_header))
    unannounced = {id(events[i][0]) for i in failed_events}
    for work in pending:
        if id(work) in unannounced:
            outcome.failed.append(work.message_id)
            continue
        try:
            for key in work.fired:
                ports.counters.mark_fired(key)
            for case_id in work.cases:
                ports.cases.mark(case_id, announced=True)
        except Exception:
            logger.exception("could not mark the case announced", message_id=work.message_id)
            outcome.failed.append(work.message_id)
    outcome.failed = list(dict.fromkeys(outcome.failed))
    return outcome


def _route_one(
    message_id: str,
    detail: InteractionEnriched,
    compiled: CompiledRules,
    ports: RoutePorts,
    now: datetime,
    outcome: RouteOutcome,
) -> _Pending | None:
    if detail.sentiment_status == "PENDING":
        outcome.waiting += 1  # the enrich stage announces it again once its sentiment is in
        return None
    case_id = case_id_for(detail.interaction_ref)
    case = ports.cases.get(case_id)
    if case is not None and _taken(case, message_id):
        outcome.duplicates += 1
        logger.info("duplicate", interaction_ref=detail.interaction_ref, case_id=case_id)
        return None
    interaction = ports.interactions.get(detail.interaction_ref)
    if interaction is None:
        outcome.missing += 1
        logger.warning("interaction gone", interaction_ref=detail.interaction_ref)
        return None
    first_attempt = False
    if case is None:
        # Business hours as when the message reached us (a dry run replays it the same way).
        decision = compiled.evaluate(interaction, at=min(interaction.received_at, now), history=ports.history)
        candidate = open_case(
            interaction,
            decision,
            now=now,
            warning_ratio=compiled.document.sla_warning_ratio,
            claimed_by=message_id,
        )
        first_attempt = ports.cases.open(candidate)
        if not first_attempt:  # a duplicate of this event, processed at the same moment, opened it
            outcome.duplicates += 1
            return None
        case = candidate
    work = _Pending(message_id)
    _start(case, ports, reason="opened", notify=case.notify)
    ports.routing.record(
        interaction.interaction_ref,
        Routing(teams=case.teams, priority=case.priority, sla_due_at=case.sla_due_at, rules=case.rules),
    )
    work.events.append(routed_event(case))
    work.cases.append(case.case_id)
    if first_attempt:
        outcome.opened += 1
        outcome.by_priority[case.priority] = outcome.by_priority.get(case.priority, 0) + 1
    logger.info(
        "routed",
        case_id=case.case_id,
        interaction_ref=interaction.interaction_ref,
        subject_id=case.subject_id,
        priority=case.priority,
        teams=case.teams,
        rules=case.rules,
    )
    if interaction.sentiment is not None and interaction.sentiment.label == "NEGATIVE" and case.topics:
        detector = SpikeDetector(compiled.document.spikes, ports.counters)
        for spike in detector.observe(
            case.topics, case.platform, interaction.received_at, count=first_attempt
        ):
            _spike(spike, compiled, ports, now, work, outcome)
    return work


def _taken(case: Case, message_id: str) -> bool:
    """Whether the case is announced, or opened by another message (which announces it, or its retry)."""
    return case.announced or (case.claimed_by is not None and case.claimed_by != message_id)


def _start(case: Case, ports: RoutePorts, *, reason: Reason, notify: Sequence[str]) -> None:
    """Set the case's clocks and tell the teams (once per attempt; scheduling is idempotent)."""
    ports.scheduler.schedule(case)
    for team in notify:
        ports.notifier.notify(team, case, reason)


def _spike(
    spike: Spike,
    compiled: CompiledRules,
    ports: RoutePorts,
    now: datetime,
    work: _Pending,
    outcome: RouteOutcome,
) -> None:
    """Open (or finish announcing) the one case of a spike window."""
    candidate = open_spike_case(spike, compiled.document, now=now, claimed_by=work.message_id)
    case = candidate if ports.cases.open(candidate) else ports.cases.get(candidate.case_id)
    if case is None or case.announced:
        ports.counters.mark_fired(spike.counter_key)
        return
    if _taken(case, work.message_id):
        return  # another message found the same spike at the same moment: it announces it
    _start(case, ports, reason="spike", notify=case.notify)
    work.events.append(spike_event(case, spike))
    work.cases.append(case.case_id)
    work.fired.append(spike.counter_key)
    outcome.spikes += 1
    logger.info("spike", case_id=case.case_id, topic=spike.topic, platform=spike.platform, count=spike.count)
