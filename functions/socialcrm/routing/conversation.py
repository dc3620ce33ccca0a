"""A case's conversation and its three service-level clocks, as pure functions of its messages.

A case holds a conversation: the customer's messages and the brand's replies (as the platforms sent
them back), in the order they happened. Its clocks follow from that list, whatever order the messages
arrived in and however often one was redelivered:

* **first response**: from the moment we received the opening message, until the brand's first reply
  that occurred after a customer message (or an agent's ``PATCH``, or a resolution);
* **next response**: once answered, each customer message written after the brand's latest answer
  starts a wait, which the brand's next reply ends (later customer messages join the same wait);
* **resolution**: from the opening (or reopening) message until the case is resolved.

Replies sent by automation are kept in the conversation but answer nothing. Due times are counted in
the business hours of the case's team calendar when the rules give one (``calendar.due_at``), else in
wall-clock time. :func:`settle` recomputes everything from the messages, so the functions below only
ever add a message, change the priority or reopen, then settle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from socialcrm.events.models import ResponseRound
from socialcrm.models import Interaction
from socialcrm.routing.calendar import due_at
from socialcrm.routing.case import MAX_CASE_MESSAGES, Case, CaseMessage, case_id_for
from socialcrm.routing.evaluator import Decision
from socialcrm.routing.rules import PRIORITIES

# Messages the rules only record (or open resolved) join a case without asking for an answer.
ANSWER_SEEKING = frozenset({"open"})


class Targets(Protocol):
    first_response: int
    next_response: int
    resolution: int


class ServiceLevels(Protocol):
    """What the rules document says about clocks (``socialcrm.routing.rules.RulesDocument``)."""

    @property
    def sla_warning_ratio(self) -> float: ...

    def targets(self, priority: str) -> Any: ...

    def calendar_for(self, teams: Sequence[str]) -> Any: ...


@dataclass(frozen=True)
class _Clock:
    minutes: float
    calendar: Any

    def due(self, start: datetime) -> datetime:
        return due_at(start, self.minutes, self.calendar)


def more_urgent(a: str, b: str) -> str:
    return a if PRIORITIES.index(a) <= PRIORITIES.index(b) else b  # type: ignore[arg-type]


def open_case(
    interaction: Interaction,
    decision: Decision,
    levels: ServiceLevels,
    *,
    conversation_ref: str,
    sequence: int,
    now: datetime,
    earlier: Sequence[CaseMessage] = (),
    resolved: bool = False,
    claimed_by: str | None = None,
) -> Case:
    """The ``sequence``-th case of a conversation, opened by ``interaction``; ``earlier``: the brand's
    replies already seen in the conversation (an echo that arrived before the message it answers).
    The clocks start when we received the message: the customer has waited since then."""
    start = min(interaction.received_at, now)
    targets = levels.targets(decision.priority)
    messages = _merge([CaseMessage.of(interaction, priority=decision.priority)], earlier)
    case = Case(
        case_id=case_id_for(conversation_ref, sequence),
        interaction_id=interaction.interaction_id,
        interaction_ref=interaction.interaction_ref,
        subject_id=interaction.subject_id,
        platform=interaction.platform,
        kind=interaction.kind,
        language=interaction.language,
        sentiment=interaction.sentiment.label if interaction.sentiment else None,
        teams=list(decision.teams),
        priority=decision.priority,
        sla_minutes=targets.first_response,
        tags=list(decision.tags),
        rules=list(decision.rules),
        notify=list(decision.notify),
        topics=list(decision.topics),
        segments=list(decision.segments),
        status="resolved" if resolved else "open",
        resolved_at=now if resolved else None,
        opened_resolved=resolved,
        opened_at=now,
        sla_started_at=start,
        sla_due_at=start,  # set by settle
        sla_warning_at=start,
        updated_at=now,
        claimed_by=claimed_by,
        conversation_ref=conversation_ref,
        sequence=sequence,
        messages=messages,
        message_count=len(messages),
        resolution_started_at=start,
    )
    return settle(case, levels, now=now)


def join(
    case: Case, interaction: Interaction, decision: Decision, levels: ServiceLevels, *, now: datetime
) -> Case | None:
    """The case with a customer's message added (None: it is there already). Teams, tags and rules
    gather; the priority can rise (its clocks move), never fall; a resolved case is reopened."""
    if _has(case, interaction.interaction_ref):
        return None
    seeks_answer = decision.case_action in ANSWER_SEEKING
    message = CaseMessage.of(interaction, awaits_response=seeks_answer, priority=decision.priority)
    priority = more_urgent(decision.priority, case.priority)
    update: dict[str, Any] = {
        "teams": _union(case.teams, decision.teams),
        "tags": _union(case.tags, decision.tags),
        "rules": _union(case.rules, decision.rules),
        "topics": _union(case.topics, decision.topics),
        "priority": priority,
        "messages": _merge(case.messages, [message]),
        "message_count": case.message_count + 1,
        "updated_at": now,
    }
    if case.status == "resolved" and seeks_answer:
        update.update(reopening(case, at=min(interaction.received_at, now)))
    elif case.status == "pending" and seeks_answer:
        update["status"] = "open"  # the customer wrote back
    return settle(case.model_copy(update=update), levels, now=now)


def reopening(case: Case, *, at: datetime) -> dict[str, Any]:
    """The changes that reopen a resolved case at ``at`` (by the customer's message or by an agent): its
    resolution becomes an answer of the past, and a new resolution clock starts (timed by ``settle``)."""
    return {
        "status": "open",
        "resolved_at": None,
        "answered_marks": [*case.answered_marks, *([case.resolved_at] if case.resolved_at else [])],
        "reopened_count": case.reopened_count + 1,
        "opened_resolved": False,
        "resolution_started_at": at,
        "resolution_due_at": None,
        "resolution_warning_at": None,
        "resolution_breached_at": None,
        "resolution_met": None,
    }


def add_reply(case: Case, reply: Interaction, levels: ServiceLevels | None, *, now: datetime) -> Case | None:
    """The case with a brand reply added (None: it is there already); it answers what waited."""
    return add_message(case, CaseMessage.of(reply), levels, now=now)


def add_message(
    case: Case, message: CaseMessage, levels: ServiceLevels | None, *, now: datetime
) -> Case | None:
    """The case with a brand message added (None: it is there already, as the platform's echo of a reply
    socialcrm sent, or the record of the send the echo beat)."""
    if _has(case, message.interaction_ref):
        return None
    update = {
        "messages": _merge(case.messages, [message]),
        "message_count": case.message_count + 1,
        "updated_at": now,
    }
    return settle(case.model_copy(update=update), levels, now=now)


def reopen_window_passed(case: Case, *, now: datetime, window: timedelta) -> bool:
    """A resolved case is reopened by a message within ``window`` of its resolution; after it, a message
    opens the conversation's next case."""
    return case.status == "resolved" and case.resolved_at is not None and now - case.resolved_at >= window


def settle(case: Case, levels: ServiceLevels | None, *, now: datetime) -> Case:
    """The case's responses and clocks, recomputed from its messages in the order they were written.

    Each clock is timed by the priority the conversation had while it ran: the most urgent customer
    message written before it was met (all of them, while it runs), so a complaint written after an
    answer never makes that answer late, whichever of the two reached us first; and the first-response
    clock starts when we received the conversation's first message, whichever was routed first. Without
    ``levels`` (the rules) the due times already set stay; a breach a clock recorded is kept.
    """
    messages = sorted(case.messages, key=_order)
    customer = [m for m in messages if not m.from_brand]
    answers = sorted(
        [m.occurred_at for m in messages if m.from_brand and not m.automated] + list(case.answered_marks)
    )
    ratio = levels.sla_warning_ratio if levels is not None else 0.8
    calendar = levels.calendar_for(case.teams) if levels is not None else None
    update: dict[str, Any] = {"messages": messages[-MAX_CASE_MESSAGES:]}
    if customer:
        update["last_customer_message_at"] = customer[-1].occurred_at

    # First response: the brand's first human reply after the first customer message.
    first_response_at, source = case.first_response_at, case.first_response_source
    if customer and source != "patch":
        native = next((t for t in answers if t >= customer[0].occurred_at), None)
        if native is not None and (first_response_at is None or native < first_response_at):
            first_response_at, source = native, "native"
    update.update(first_response_at=first_response_at, first_response_source=source)
    starts = [m.received_at for m in customer] + ([case.sla_started_at] if case.sla_started_at else [])
    start = min(starts) if starts else case.opened_at
    due, warning = case.sla_due_at, case.sla_warning_at
    if levels is not None and case.breached_at is None:
        minutes = levels.targets(_priority(case, customer, until=first_response_at)).first_response
        due = _Clock(minutes, calendar).due(start)
        warning = _Clock(minutes * ratio, calendar).due(start)
        update["sla_minutes"] = minutes
    update.update(sla_started_at=start, sla_due_at=due, sla_warning_at=warning)
    responded = [t for t in (first_response_at, case.resolved_at) if t is not None]
    if case.opened_resolved and case.reopened_count == 0:
        sla_met = None  # opened resolved by a rule: nobody had to answer
    elif case.breached_at is not None:
        sla_met = False
    elif responded:
        sla_met = min(responded) <= due
    else:
        sla_met = None
    update["sla_met"] = sla_met

    closing = answers + ([case.resolved_at] if case.resolved_at is not None else [])
    rounds = _rounds(case, customer, sorted(closing), levels, calendar)
    update["next_responses"] = rounds
    waiting = next((r for r in rounds if r.responded_at is None and r.met is None), None)
    if waiting is None:
        update["next_warning_at"] = None
    elif levels is not None:
        minutes = levels.targets(_priority(case, customer, until=None)).next_response
        update["next_warning_at"] = _Clock(minutes * ratio, calendar).due(waiting.started_at)

    running = case.status != "resolved" and case.resolution_breached_at is None
    if (
        case.resolution_started_at is not None
        and levels is not None
        and (running or case.resolution_due_at is None)
    ):
        resolution_start = case.resolution_started_at
        minutes = levels.targets(case.priority).resolution
        update["resolution_due_at"] = _Clock(minutes, calendar).due(resolution_start)
        update["resolution_warning_at"] = _Clock(minutes * ratio, calendar).due(resolution_start)
    resolution_due = update.get("resolution_due_at", case.resolution_due_at)
    if case.opened_resolved and case.reopened_count == 0:
        update["resolution_met"] = None
    elif case.resolution_breached_at is not None:
        update["resolution_met"] = False
    elif case.status == "resolved" and case.resolved_at is not None and resolution_due is not None:
        update["resolution_met"] = case.resolved_at <= resolution_due
    else:
        update["resolution_met"] = None
    return case.model_copy(update=update)


def _priority(case: Case, customer: list[CaseMessage], *, until: datetime | None) -> str:
    """The most urgent priority of the customer messages that asked for an answer, written up to ``until``
    (None: all of them); the case's when none says (a case stored before its messages had one)."""
    known = [
        m.priority
        for m in customer
        if m.priority and m.awaits_response and (until is None or m.occurred_at <= until)
    ]
    return min(known, key=PRIORITIES.index) if known else case.priority


def _rounds(
    case: Case,
    customer: list[CaseMessage],
    answers: list[datetime],
    levels: ServiceLevels | None,
    calendar: Any,
) -> list[ResponseRound]:
    """The next-response waits: customer messages after the brand's latest answer, until the next one,
    each timed by the priority of the messages written before it was answered."""
    if not customer:
        return []
    before = {wait.started_at: wait for wait in case.next_responses}
    timeline = sorted(
        [(m.occurred_at, 0, m) for m in customer if m.awaits_response] + [(t, 1, None) for t in answers],
        key=lambda entry: (entry[0], entry[1]),
    )
    first_customer = customer[0].occurred_at
    answered = False
    waits: list[dict[str, Any]] = []
    for at, is_answer, message in timeline:
        if at < first_customer:
            continue  # the brand spoke before the customer: nothing was waiting
        if is_answer:
            if not answered:
                answered = True
            elif waits and waits[-1]["responded_at"] is None:
                waits[-1]["responded_at"] = at
            continue
        if answered and (not waits or waits[-1]["responded_at"] is not None):
            assert message is not None
            waits.append({"started_at": message.received_at, "responded_at": None})
    rounds = []
    for wait in waits:
        old = before.get(wait["started_at"])
        if old is not None and (levels is None or (old.met is False and old.responded_at is None)):
            due = old.due_at  # no rules to time it again, or its clock already rang
        elif levels is not None:
            priority = _priority(case, customer, until=wait["responded_at"])
            due = _Clock(levels.targets(priority).next_response, calendar).due(wait["started_at"])
        else:
            continue  # no service levels to time it with (a PATCH never starts a wait)
        rounds.append(_round({**wait, "due_at": due}, before))
    return rounds


def _round(wait: dict[str, Any], before: dict[datetime, ResponseRound]) -> ResponseRound:
    old = before.get(wait["started_at"])
    breached = old is not None and old.met is False and old.responded_at is None
    responded = wait["responded_at"]
    if breached:
        met: bool | None = False
    elif responded is not None:
        met = responded <= wait["due_at"]
    else:
        met = None
    return ResponseRound(
        started_at=wait["started_at"], due_at=wait["due_at"], responded_at=responded, met=met
    )


def _order(message: CaseMessage) -> tuple[datetime, bool, str]:
    return (message.occurred_at, message.from_brand, message.interaction_ref)


def _has(case: Case, ref: str) -> bool:
    return any(m.interaction_ref == ref for m in case.messages)


def _merge(messages: Sequence[CaseMessage], more: Sequence[CaseMessage]) -> list[CaseMessage]:
    seen = {m.interaction_ref for m in messages}
    merged = list(messages) + [m for m in more if m.interaction_ref not in seen]
    return sorted(merged, key=_order)


def _union(current: Sequence[str], more: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*current, *more]))
