"""The route consumer's batch: each ``InteractionEnriched`` → its conversation's case, clocks, events.

Per record: read the interaction (the event has no text). A customer's message joins the case of its
conversation (``socialcrm.routing.conversation``): open, or resolved less than the reopen window ago
(reopened); otherwise the rules decide whether it opens the conversation's next case (maybe already
resolved) or is only recorded. Opening is one transaction conditional on the conversation's version,
so two messages of one conversation processed at once open one case and the other joins it. A brand
reply (a platform echo) is recorded on the case as a response, or kept with the conversation until a
case opens. Then: the clocks (set, moved or deleted), the teams told, negative messages counted into
spike detection, the routing recorded on the interaction, and ``InteractionRouted`` / ``CaseUpdated``
(and ``SpikeDetected``) published for the batch in ``PutEvents`` calls of ten. A case is marked
announced once its opening events are out; a retried record finishes the work without counting twice.
Every record's fate is its own: a failure is a partial-batch failure, retried by SQS, then dead-lettered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pydantic import ValidationError

from socialcrm.customers.linking import LinkStore, link_by_keys
from socialcrm.customers.store import Identity
from socialcrm.errors import SocialCrmError
from socialcrm.events.models import EventDetail, InteractionEnriched
from socialcrm.events.ports import Publisher
from socialcrm.models import BRAND_REPLY, Interaction, Routing
from socialcrm.observability import logger
from socialcrm.replies.automation import AutomaticReplyStore, answer_automatically
from socialcrm.replies.sender import EchoLedger, SentPorts, confirm_echo
from socialcrm.replies.service import ReplyPorts
from socialcrm.routing.case import (
    Case,
    CaseMessage,
    CaseStore,
    Conversation,
    conversation_of,
    routed_event,
    spike_case_id,
    updated_event,
)
from socialcrm.routing.conversation import add_reply, join, open_case, reopen_window_passed
from socialcrm.routing.evaluator import CompiledRules, Decision, HistoryReader
from socialcrm.routing.notify import Notifier, Reason
from socialcrm.routing.segments import CustomerContext, CustomerDirectory, customer_context
from socialcrm.routing.sla import SlaScheduler
from socialcrm.routing.spikes import (
    CounterStore,
    Spike,
    SpikeDetector,
    bucket_start,
    open_spike_case,
    spike_event,
)

# Reads of a conversation before giving up on a message whose conversation keeps changing (retried).
CONVERSATION_ATTEMPTS = 4
# Brand replies a conversation keeps while it has no case (the latest; older ones answer nothing new).
MAX_WAITING_REPLIES = 20


class ConversationBusyError(SocialCrmError):
    """Other messages of the conversation kept changing it: the record is retried."""

    status = 503
    code = "conversation_busy"


class InteractionReader(Protocol):
    def get(self, interaction_ref: str) -> Interaction | None: ...


class RoutingRecorder(Protocol):
    def record(self, interaction_ref: str, routing: Routing) -> bool: ...


class SuppressionLookup(Protocol):
    def blocks(self, subject_id: str, occurred_at: datetime) -> bool: ...


@dataclass(frozen=True)
class QueuedRecord:
    message_id: str
    body: str


class Customers(CustomerDirectory, LinkStore, Protocol):
    """The customers table as the route consumer uses it (``socialcrm.customers.store.CustomerStore``)."""


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
    # Replies socialcrm sent: an echo carrying one's marker settles it (socialcrm.replies.sender).
    replies: AutomaticReplyStore | None = None
    # The rules' automatic replies (socialcrm.replies.automation): queued like a person's.
    automation: ReplyPorts | None = None
    # Where echoes of our replies were seen (the send function trusts an echo's absence only then).
    echoes: EchoLedger | None = None
    # Erasure tombstones and objections: a replayed event of a suppressed subject is not routed again.
    suppressions: SuppressionLookup | None = None
    # The sender's customer (socialcrm.routing.segments): segments and cross-channel history for the rules.
    customers: Customers | None = None


@dataclass
class RouteOutcome:
    failed: list[str] = field(default_factory=list)  # SQS message ids to retry
    opened: int = 0
    opened_resolved: int = 0  # opened already resolved by a rule (counted in opened too)
    joined: int = 0  # added to their conversation's case
    reopened: int = 0  # … which was resolved within the reopen window (counted in joined too)
    recorded: int = 0  # recorded by a rule without a case
    replies: int = 0  # the brand's replies recorded on a case
    automatic_replies: int = 0  # queued by the rules' reply and move_to_private actions
    automatic_replies_failed: int = 0  # could not be queued (logged; the message is routed all the same)
    replies_without_case: int = 0  # … kept with a conversation that has no case (yet)
    duplicates: int = 0
    waiting: int = 0  # sentiment still PENDING: routed when it arrives
    missing: int = 0  # the interaction is gone (erased)
    suppressed: int = 0  # replayed events of erased or objecting subjects, not routed
    spikes: int = 0
    by_priority: dict[str, int] = field(default_factory=dict)


@dataclass
class _Pending:
    """Events of one record, and the cases to mark announced once they are published."""

    message_id: str
    events: list[EventDetail] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)  # spike counters to mark
    case: Case | None = None  # the case a customer message joined


def parse_enriched(body: str) -> tuple[InteractionEnriched, bool]:
    """The ``InteractionEnriched`` detail of an EventBridge event delivered by SQS, and whether EventBridge
    replayed it from the bus's archive (it names its replay). A replay routes only what was never
    routed (an event the bus could not deliver), never for a subject erased or objecting since, never
    reopens a case with a message written before it was resolved (the message is recorded), never adds
    a brand reply of an earlier round to the conversation's case, and never answers automatically: a
    replay is not a customer writing now."""
    envelope = json.loads(body)
    if not isinstance(envelope, dict) or envelope.get("detail-type") != InteractionEnriched.detail_type:
        raise ValueError("not an InteractionEnriched event")
    return InteractionEnriched.model_validate(envelope["detail"]), bool(envelope.get("replay-name"))


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
            detail, replayed = parse_enriched(record.body)
        except (ValueError, ValidationError):
            logger.error("unreadable record", message_id=record.message_id)
            outcome.failed.append(record.message_id)
            continue
        if detail.interaction_ref in seen:  # the same event twice in one batch: once is enough
            outcome.duplicates += 1
            continue
        seen.add(detail.interaction_ref)
        try:
            work = _route_one(record.message_id, detail, compiled, ports, now, outcome, replayed=replayed)
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
    *,
    replayed: bool = False,
) -> _Pending | None:
    if detail.sentiment_status == "PENDING" and detail.kind != BRAND_REPLY:
        outcome.waiting += 1  # the enrich stage announces it again once its sentiment is in
        return None
    interaction = ports.interactions.get(detail.interaction_ref)
    if interaction is None:
        outcome.missing += 1
        logger.warning("interaction gone", interaction_ref=detail.interaction_ref)
        return None
    if replayed and _replay_skips(interaction, ports, outcome):
        return None
    if interaction.from_brand:
        return _brand_reply(message_id, interaction, compiled, ports, now, outcome)
    automatic = not replayed
    conversation_ref = conversation_of(interaction)
    window = _reopen_window(compiled)
    decision: Decision | None = None
    for _attempt in range(CONVERSATION_ATTEMPTS):
        conversation, case = _where(conversation_ref, ports)
        if case is not None and any(m.interaction_ref == interaction.interaction_ref for m in case.messages):
            return _again(message_id, case, interaction, ports, outcome)
        if decision is None:
            # Business hours as when the message reached us (a dry run replays it the same way).
            at = min(interaction.received_at, now)
            context = _customer(interaction, compiled, ports)
            decision = compiled.evaluate(
                interaction,
                at=at,
                history=ports.history,
                segments=context.segments if context else (),
                customer_history=context.entries if context else None,
            )
        if replayed and case is not None and _resolved_after(case, interaction):
            # A message written before its case was resolved, whose event was lost: kept, never reopening it
            _record_only(
                interaction, decision, ports, outcome, "replayed, written before its case was resolved"
            )
            return None
        if case is not None and not reopen_window_passed(case, now=now, window=window):
            joined = _join(message_id, case, interaction, decision, compiled, ports, now, outcome)
            if automatic and joined is not None and joined.case is not None:
                _automatic_reply(joined.case, interaction, decision, compiled, ports, now, outcome)
            return joined
        if decision.case_action == "record":
            _record_only(interaction, decision, ports, outcome, "recorded")
            return None
        sequence = (conversation.sequence if conversation else 0) + 1
        candidate = open_case(
            interaction,
            decision,
            compiled.document,
            conversation_ref=conversation_ref,
            sequence=sequence,
            now=now,
            earlier=conversation.waiting_replies if conversation else (),
            resolved=decision.case_action == "resolved",
            claimed_by=message_id,
        )
        state = Conversation(
            conversation_ref=conversation_ref,
            subject_id=interaction.subject_id,
            platform=interaction.platform,
            case_id=candidate.case_id,
            sequence=sequence,
            updated_at=now,
        )
        if ports.cases.open_in(
            state, candidate, expected_version=conversation.version if conversation else None
        ):
            opened = _opened(message_id, candidate, interaction, compiled, ports, now, outcome)
            if automatic and candidate.status != "resolved":
                _automatic_reply(candidate, interaction, decision, compiled, ports, now, outcome)
            return opened
        # Another consumer changed the conversation meanwhile (opened its case, kept a reply): again.
    raise ConversationBusyError("The conversation kept changing; retry.")


def _customer(interaction: Interaction, compiled: CompiledRules, ports: RoutePorts) -> CustomerContext | None:
    """The sender's customer (linked first to the identities that carry its strong identifiers), its
    segments (stored back when they changed) and its history on every channel; None when there is no
    customers table, nothing reads them, or the customers or history cannot be read (a message is never
    held back for its customer: it is routed as its sender's alone, and the warning is logged)."""
    if ports.customers is None:
        return None
    try:
        owner = None  # the sender's customer, once linking has read it
        if interaction.identity_keys:  # the same phone number on another identity: one customer
            sender = Identity(interaction.platform, interaction.subject_id)
            linked = link_by_keys(sender, interaction.identity_keys, ports.customers, at=datetime.now(tz=UTC))
            owner = (linked.owner,) if linked.owner_known else None
        settings = compiled.document.segments
        if not (settings.enabled or compiled.history_days):
            return None
        return customer_context(
            interaction,
            settings=settings,
            directory=ports.customers,
            history=ports.history,
            days=compiled.history_days,
            owner=owner,
        )
    except SocialCrmError as exc:  # the customer is an extra: the message is routed without it
        logger.warning(
            "routed without its customer", interaction_ref=interaction.interaction_ref, error=exc.code
        )
        return None


def _replay_skips(interaction: Interaction, ports: RoutePorts, outcome: RouteOutcome) -> bool:
    """True when a replayed event must not be routed: its message was routed already (a replay never
    reopens or duplicates a case), or its subject was erased or objects since (nothing of theirs is
    processed again)."""
    if interaction.routing is not None:
        outcome.duplicates += 1
        logger.info("replayed, already routed", interaction_ref=interaction.interaction_ref)
        return True
    if interaction.from_brand:
        # A reply is never routed, so its case says whether it was handled: one that is not in the
        # conversation's case and was written before that case opened, or before it was resolved, belongs
        # to an earlier round of the conversation and changes nothing now.
        _, case = _where(conversation_of(interaction), ports)
        handled = case is not None and any(
            m.interaction_ref == interaction.interaction_ref for m in case.messages
        )
        if (
            case is not None
            and not handled
            and (case.opened_at > interaction.occurred_at or _resolved_after(case, interaction))
        ):
            outcome.duplicates += 1
            logger.info("replayed reply of an earlier case", interaction_ref=interaction.interaction_ref)
            return True
    if ports.suppressions is not None and ports.suppressions.blocks(
        interaction.subject_id, interaction.occurred_at
    ):
        outcome.suppressed += 1
        logger.info("replayed, subject suppressed", interaction_ref=interaction.interaction_ref)
        return True
    return False


def _record_only(
    interaction: Interaction, decision: Decision, ports: RoutePorts, outcome: RouteOutcome, why: str
) -> None:
    """Write the decision's routing onto the interaction, with no case."""
    outcome.recorded += 1
    routing = Routing(
        teams=list(decision.teams), priority=decision.priority, sla_due_at=None, rules=list(decision.rules)
    )
    ports.routing.record(interaction.interaction_ref, routing)
    logger.info(why, interaction_ref=interaction.interaction_ref, rules=list(decision.rules))


def _resolved_after(case: Case, interaction: Interaction) -> bool:
    """The case was resolved after ``interaction`` was written (it had its chance to be seen)."""
    return (
        case.status == "resolved"
        and case.resolved_at is not None
        and case.resolved_at >= interaction.occurred_at
    )


def _again(
    message_id: str, case: Case, interaction: Interaction, ports: RoutePorts, outcome: RouteOutcome
) -> _Pending | None:
    """A message already in its case: a redelivery, or the retry of an attempt that did not finish."""
    if case.interaction_ref == interaction.interaction_ref:  # it opened the case
        if _taken(case, message_id):
            outcome.duplicates += 1
            logger.info("duplicate", interaction_ref=interaction.interaction_ref, case_id=case.case_id)
            return None
        work = _Pending(message_id)
        _start(case, ports, reason="opened", notify=case.notify)
        _record_routing(ports, interaction, case)
        work.events += _opening_events(case)
        work.cases.append(case.case_id)
        return work
    # A message that joined: set its clocks and announce the case again (both idempotent).
    outcome.duplicates += 1
    ports.scheduler.schedule(case)
    _record_routing(ports, interaction, case)
    return _Pending(message_id, events=[updated_event(case)])


def _opening_events(case: Case) -> list[EventDetail]:
    """What opening a case announces (the first attempt or its retry): ``InteractionRouted``, and
    ``CaseUpdated`` when it opened answered (an echo came first) or resolved (by a rule)."""
    events: list[EventDetail] = [routed_event(case)]
    if case.first_response_at is not None or case.status == "resolved":
        events.append(updated_event(case))
    return events


def _opened(
    message_id: str,
    case: Case,
    interaction: Interaction,
    compiled: CompiledRules,
    ports: RoutePorts,
    now: datetime,
    outcome: RouteOutcome,
) -> _Pending:
    work = _Pending(message_id)
    _start(case, ports, reason="opened", notify=() if case.status == "resolved" else case.notify)
    _record_routing(ports, interaction, case)
    work.events += _opening_events(case)
    work.cases.append(case.case_id)
    outcome.opened += 1
    if case.status == "resolved":
        outcome.opened_resolved += 1
    outcome.by_priority[case.priority] = outcome.by_priority.get(case.priority, 0) + 1
    logger.info(
        "routed",
        case_id=case.case_id,
        interaction_ref=interaction.interaction_ref,
        subject_id=case.subject_id,
        priority=case.priority,
        teams=case.teams,
        rules=case.rules,
        sequence=case.sequence,
    )
    _count_spikes(interaction, case.topics, case.platform, compiled, ports, now, work, outcome)
    return work


def _join(
    message_id: str,
    case: Case,
    interaction: Interaction,
    decision: Decision,
    compiled: CompiledRules,
    ports: RoutePorts,
    now: datetime,
    outcome: RouteOutcome,
) -> _Pending | None:
    """Add a customer's message to its conversation's case (reopening it within the window)."""
    result = ports.cases.update(
        case.case_id,
        lambda current: join(current, interaction, decision, compiled.document, now=now),
        current=case,
    )
    joined, previous = result.after, result.before
    if joined is None or previous is None:  # erased meanwhile
        outcome.missing += 1
        return None
    if not result.written:
        return _again(message_id, joined, interaction, ports, outcome)
    ports.scheduler.schedule(joined, since=previous)
    escalated = joined.priority != previous.priority
    if escalated:
        for team in joined.teams:
            ports.notifier.notify(team, joined, "escalated")
    _record_routing(ports, interaction, joined)
    work = _Pending(message_id, events=[updated_event(joined)], case=joined)
    outcome.joined += 1
    if previous.status == "resolved" and joined.status != "resolved":
        outcome.reopened += 1
    logger.info(
        "joined",
        case_id=joined.case_id,
        interaction_ref=interaction.interaction_ref,
        priority=joined.priority,
        escalated=escalated,
        reopened=joined.reopened_count != previous.reopened_count,
    )
    _count_spikes(interaction, list(decision.topics), joined.platform, compiled, ports, now, work, outcome)
    return work


def _automatic_reply(
    case: Case,
    message: Interaction,
    decision: Decision,
    compiled: CompiledRules,
    ports: RoutePorts,
    now: datetime,
    outcome: RouteOutcome,
) -> None:
    """The rules' automatic reply to ``message``, if one matched and the guards allow it. Best effort: a
    failure is logged and counted, and the message stays routed (its case and clocks are what matter)."""
    if decision.answer is None or ports.automation is None or ports.replies is None:
        return
    try:
        queued = answer_automatically(
            case,
            message,
            decision.answer,
            ports=ports.automation,
            store=ports.replies,
            spike_open=lambda topics, platform, at: _spike_open(topics, platform, at, compiled, ports),
            topics=decision.topics,
            now=now,
        )
    except Exception:
        logger.exception("automatic reply failed", case_id=case.case_id)
        outcome.automatic_replies_failed += 1
        return
    outcome.automatic_replies += len(queued)


def _spike_open(
    topics: Sequence[str], platform: str, at: datetime, compiled: CompiledRules, ports: RoutePorts
) -> bool:
    """Whether a spike case of one of ``topics`` on ``platform`` is still open: opened in this window or
    any of the baseline's windows before it (one batch read)."""
    settings = compiled.document.spikes
    if not settings.enabled or not topics:
        return False
    start = bucket_start(at, settings.bucket_minutes)
    windows = [
        start - timedelta(minutes=settings.bucket_minutes * n) for n in range(settings.baseline_buckets + 1)
    ]
    return ports.cases.any_open(
        [spike_case_id(topic, platform, window) for topic in topics for window in windows]
    )


def _brand_reply(
    message_id: str,
    reply: Interaction,
    compiled: CompiledRules,
    ports: RoutePorts,
    now: datetime,
    outcome: RouteOutcome,
) -> _Pending | None:
    """The brand answered: record it on its conversation's case (a response), or keep it with the
    conversation until a case opens (it arrived before the message it answers, or answers none)."""
    if reply.reply_marker is not None and ports.replies is not None:
        sent = SentPorts(
            replies=ports.replies,
            cases=ports.cases,
            rules=lambda: compiled,
            scheduler=ports.scheduler,
            publisher=ports.publisher,
            echoes=ports.echoes,
        )
        if confirm_echo(reply, ports=sent) is not None:
            logger.info("reply confirmed by its echo", interaction_ref=reply.interaction_ref)
    conversation_ref = conversation_of(reply)
    window = _reopen_window(compiled)
    for _attempt in range(CONVERSATION_ATTEMPTS):
        conversation, case = _where(conversation_ref, ports)
        if case is not None and not reopen_window_passed(case, now=now, window=window):
            answered = _answer(message_id, case, reply, compiled, ports, now, outcome)
            if answered is not None:
                return answered
        waiting = list(conversation.waiting_replies) if conversation else []
        if any(m.interaction_ref == reply.interaction_ref for m in waiting):
            outcome.duplicates += 1
            return None
        state = Conversation(
            conversation_ref=conversation_ref,
            subject_id=conversation.subject_id if conversation else reply.subject_id,
            platform=reply.platform,
            case_id=conversation.case_id if conversation else None,
            sequence=conversation.sequence if conversation else 0,
            waiting_replies=[*waiting, CaseMessage.of(reply)][-MAX_WAITING_REPLIES:],
            updated_at=now,
        )
        if ports.cases.keep(state, expected_version=conversation.version if conversation else None):
            outcome.replies_without_case += 1
            logger.info("brand reply without a case", interaction_ref=reply.interaction_ref)
            return None
    raise ConversationBusyError("The conversation kept changing; retry.")


def _answer(
    message_id: str,
    case: Case,
    reply: Interaction,
    compiled: CompiledRules,
    ports: RoutePorts,
    now: datetime,
    outcome: RouteOutcome,
) -> _Pending | None:
    """Record the reply on the case and stop the clocks it meets; None when the case is gone."""
    result = ports.cases.update(
        case.case_id, lambda current: add_reply(current, reply, compiled.document, now=now), current=case
    )
    answered = result.after
    if answered is None:
        return None
    if result.written:
        ports.scheduler.schedule(answered, since=result.before)
        outcome.replies += 1
    else:
        outcome.duplicates += 1  # a redelivered echo: announced again, counted once
    logger.info("brand reply", case_id=answered.case_id, interaction_ref=reply.interaction_ref)
    return _Pending(message_id, events=[updated_event(answered)])


def _where(conversation_ref: str, ports: RoutePorts) -> tuple[Conversation | None, Case | None]:
    """The conversation as it stands (strongly consistent) and its current case."""
    conversation = ports.cases.conversation(conversation_ref)
    case = ports.cases.get(conversation.case_id) if conversation and conversation.case_id else None
    return conversation, case


def _reopen_window(compiled: CompiledRules) -> timedelta:
    return timedelta(days=compiled.document.reopen_window_days)


def _record_routing(ports: RoutePorts, interaction: Interaction, case: Case) -> None:
    ports.routing.record(
        interaction.interaction_ref,
        Routing(
            case_id=case.case_id,
            teams=case.teams,
            priority=case.priority,
            sla_due_at=case.sla_due_at,
            rules=case.rules,
        ),
    )


def _count_spikes(
    interaction: Interaction,
    topics: list[str],
    platform: str,
    compiled: CompiledRules,
    ports: RoutePorts,
    now: datetime,
    work: _Pending,
    outcome: RouteOutcome,
) -> None:
    """Count a negative message into spike detection (once: only the attempt that stored it counts)."""
    if interaction.sentiment is None or interaction.sentiment.label != "NEGATIVE" or not topics:
        return
    detector = SpikeDetector(compiled.document.spikes, ports.counters)
    for spike in detector.observe(topics, platform, interaction.received_at, count=True):
        _spike(spike, compiled, ports, now, work, outcome)


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
