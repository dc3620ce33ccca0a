"""The dry run: replay stored interactions against a candidate rules document and say what would change.

Nothing is written. Messages are replayed in the order they occurred, conversation by conversation,
as the route consumer handles them: the brand's replies are never routed; a customer's message is
evaluated (business hours at the time it was received, the subject's history as stored); the first
one of a conversation whose case action is ``open`` or ``resolved`` opens the conversation's case
(``resolved``: opened already resolved), one whose action is ``record`` is only recorded, and every
later message of a conversation that has a case joins it. Reopen windows are ignored: within the
replayed days a conversation has at most one case (the dry run knows no agent's resolutions).

Each message's outcome is compared with its baseline: the case that actually holds it, or what
another rules document decides for it, replayed the same way. A case's teams and priority are those
of the message that opens it; a joined or recorded message is compared on what happened to it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from socialcrm.models import Interaction
from socialcrm.replies.automation import planned
from socialcrm.routing.case import Case, Conversation, case_id_for, conversation_of
from socialcrm.routing.evaluator import CompiledRules, Decision, HistoryReader
from socialcrm.routing.rules import CaseAction

# What happened to a customer's message: it opened its conversation's case (perhaps already resolved),
# joined the case the conversation has, or was only recorded (no case).
Fate = Literal["opened", "opened_resolved", "joined", "recorded"]
OPENING: frozenset[str] = frozenset({"opened", "opened_resolved"})
ASPECTS = ("new case", "case", "teams", "priority", "sla", "tags", "rules")


@dataclass(frozen=True)
class Outcome:
    """What became of one message: its fate and, when it opened a case, the case's teams, priority,
    SLA, tags and why (a joined or recorded message is compared on its fate alone)."""

    fate: Fate
    teams: tuple[str, ...] = ()
    priority: str | None = None
    sla_minutes: int | None = None
    tags: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()

    @property
    def opens(self) -> bool:
        return self.fate in OPENING

    @classmethod
    def of(cls, made: Decision | Case, fate: Fate) -> Outcome:
        """The outcome of a message of this ``fate``, described by the decision made for it or the case
        stored for it (only when it opened that case)."""
        if fate not in OPENING:
            return cls(fate)
        return cls(
            fate,
            tuple(sorted(made.teams)),
            made.priority,
            made.sla_minutes,
            tuple(sorted(made.tags)),
            tuple(made.rules),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "case": self.fate,
            "teams": list(self.teams),
            "priority": self.priority,
            "sla_minutes": self.sla_minutes,
            "tags": list(self.tags),
            "rules": list(self.rules),
        }


class Conversations:
    """Which conversations have a case so far, in one replay.

    >>> seen = Conversations()
    >>> [seen.fate("v_1", "record"), seen.fate("v_1", "open"), seen.fate("v_1", "record")]
    ['recorded', 'opened', 'joined']
    """

    def __init__(self) -> None:
        self._with_case: set[str] = set()

    def fate(self, conversation_ref: str, action: CaseAction) -> Fate:
        if conversation_ref in self._with_case:
            return "joined"
        if action == "record":
            return "recorded"
        self._with_case.add(conversation_ref)
        return "opened_resolved" if action == "resolved" else "opened"


class Replayed:
    """What a rules document makes of each message, called in the order the messages occurred (it
    keeps the conversations' state): the candidate of a dry run, or the document it is compared with."""

    def __init__(self, rules: CompiledRules, history: HistoryReader | None) -> None:
        self.rules, self.history = rules, history
        self.conversations = Conversations()
        self._answered: dict[str, datetime] = {}  # conversation ref → its last automatic reply

    def decide(self, interaction: Interaction) -> tuple[Decision, Outcome]:
        decision = self.rules.evaluate(interaction, at=interaction.received_at, history=self.history)
        fate = self.conversations.fate(conversation_of(interaction), decision.case_action)
        return decision, Outcome.of(decision, fate)

    def automatic_replies(self, interaction: Interaction, decision: Decision, fate: str) -> list[str]:
        """The automatic replies the document would send to this message (``rule → template
        (visibility)``), with automation's guards that need no platform: enabled, a case to answer on,
        once per conversation per period, no public automatic reply on X. The platforms' windows are
        checked only when a reply is really sent."""
        automation = self.rules.document.automation
        if not automation.enabled or fate not in ("opened", "joined"):
            return []
        steps = [
            step
            for step in planned(decision.answer, interaction.platform)
            if not (interaction.platform == "x" and step.visibility != "private")
        ]
        if not steps:
            return []
        conversation = conversation_of(interaction)
        last = self._answered.get(conversation)
        if last is not None and interaction.received_at - last < timedelta(
            hours=automation.once_per_conversation_hours
        ):
            return []
        self._answered[conversation] = interaction.received_at
        return [f"{step.rule} → {step.template} ({step.visibility or 'as written'})" for step in steps]

    def __call__(self, interaction: Interaction) -> Outcome:
        return self.decide(interaction)[1]


class CaseReader(Protocol):
    """The reads a stored baseline needs (``socialcrm.routing.store.CaseRepository``)."""

    def get(self, case_id: str) -> Case | None: ...

    def conversation(self, conversation_ref: str) -> Conversation | None: ...


class StoredCases:
    """The baseline of the cases actually stored: the case of the message's conversation that holds
    it (opened by it, or joined); None when no case holds it (never routed, or only recorded)."""

    def __init__(self, cases: CaseReader) -> None:
        self.cases = cases
        self._conversations: dict[str, list[Case]] = {}

    def __call__(self, interaction: Interaction) -> Outcome | None:
        ref = interaction.interaction_ref
        for case in self._cases_of(conversation_of(interaction)):
            if case.interaction_ref == ref:
                return Outcome.of(case, "opened_resolved" if case.opened_resolved else "opened")
            if any(message.interaction_ref == ref for message in case.messages):
                return Outcome.of(case, "joined")
        return None

    def _cases_of(self, conversation_ref: str) -> list[Case]:
        if conversation_ref not in self._conversations:
            state = self.cases.conversation(conversation_ref)
            count = state.sequence if state is not None else 0
            found = (self.cases.get(case_id_for(conversation_ref, n)) for n in range(1, count + 1))
            self._conversations[conversation_ref] = [case for case in found if case is not None]
        return self._conversations[conversation_ref]


@dataclass(frozen=True)
class Change:
    interaction_id: str
    before: Outcome | None
    after: Outcome

    @property
    def aspects(self) -> list[str]:
        """What differs: ``new case`` (no case held it; now it opens one), ``case`` (opened, joined,
        recorded), and for a message that opens a case either way ``teams``, ``priority``, ``sla``,
        ``tags``, ``rules``. A message no case held that is now only recorded is unchanged."""
        before, after = self.before, self.after
        if before is None:
            if after.opens:
                return ["new case"]
            return [] if after.fate == "recorded" else ["case"]
        aspects = ["case"] if before.fate != after.fate else []
        if before.opens and after.opens:
            pairs = {
                "teams": (before.teams, after.teams),
                "priority": (before.priority, after.priority),
                "sla": (before.sla_minutes, after.sla_minutes),
                "tags": (before.tags, after.tags),
                "rules": (before.rules, after.rules),
            }
            aspects += [name for name, (a, b) in pairs.items() if a != b]
        return aspects


@dataclass
class ReplayReport:
    candidate: str
    baseline: str
    days: int
    replayed: int = 0
    skipped_pending: int = 0
    brand_replies: int = 0
    unchanged: int = 0
    changes: list[Change] = field(default_factory=list)
    fates_before: Counter[str] = field(default_factory=Counter)  # "none": no case held the message
    fates_after: Counter[str] = field(default_factory=Counter)
    priority_before: Counter[str] = field(default_factory=Counter)  # of the cases opened
    priority_after: Counter[str] = field(default_factory=Counter)
    teams_before: Counter[str] = field(default_factory=Counter)
    teams_after: Counter[str] = field(default_factory=Counter)
    rules_after: Counter[str] = field(default_factory=Counter)  # of every message replayed
    automatic_replies: Counter[str] = field(default_factory=Counter)  # "rule → template (visibility)"

    def changed(self, aspect: str) -> int:
        return sum(1 for change in self.changes if aspect in change.aspects)

    def cases(self, fates: Counter[str]) -> dict[str, int]:
        """Cases opened (of which opened resolved), messages joined, messages recorded without a case."""
        return {
            "opened": fates["opened"] + fates["opened_resolved"],
            "opened_resolved": fates["opened_resolved"],
            "joined": fates["joined"],
            "not_opened": fates["recorded"],
        }

    def as_json(self, limit: int | None = None) -> dict[str, Any]:
        after = self.cases(self.fates_after)
        return {
            "candidate": self.candidate,
            "baseline": self.baseline,
            "days": self.days,
            "replayed": self.replayed,
            "skipped_pending": self.skipped_pending,
            "brand_replies": self.brand_replies,
            "cases_opened": after["opened"],
            "opened_resolved": after["opened_resolved"],
            "joined": after["joined"],
            "not_opened": after["not_opened"],
            "cases": {
                "before": self.cases(self.fates_before) | {"no_case": self.fates_before["none"]},
                "after": after,
            },
            "unchanged": self.unchanged,
            "changed": {a: self.changed(a) for a in ASPECTS},
            "priority": {"before": dict(self.priority_before), "after": dict(self.priority_after)},
            "teams": {"before": dict(self.teams_before), "after": dict(self.teams_after)},
            "rules_matched": dict(self.rules_after),
            "automatic_replies": dict(self.automatic_replies),
            "changes": [
                {
                    "interaction_id": c.interaction_id,
                    "changed": c.aspects,
                    "before": c.before.as_json() if c.before else None,
                    "after": c.after.as_json(),
                }
                for c in self.changes[:limit]
            ],
        }


def replay(
    interactions: Iterable[Interaction],
    candidate: CompiledRules,
    *,
    baseline: Callable[[Interaction], Outcome | None],
    history: HistoryReader | None,
    candidate_name: str,
    baseline_name: str,
    days: int,
) -> ReplayReport:
    """Replay each customer message against ``candidate``, in the order they occurred, and compare it
    with ``baseline`` (called in the same order: :class:`Replayed` of another document keeps its own
    conversations; None means no case holds the message)."""
    report = ReplayReport(candidate=candidate_name, baseline=baseline_name, days=days)
    replaying = Replayed(candidate, history)
    for interaction in sorted(interactions, key=lambda i: (i.occurred_at, i.received_at, i.interaction_id)):
        if interaction.from_brand:
            report.brand_replies += 1
            continue
        if interaction.sentiment_status == "PENDING":
            report.skipped_pending += 1
            continue
        decision, after = replaying.decide(interaction)
        before = baseline(interaction)
        report.replayed += 1
        report.rules_after.update(decision.rules)
        report.automatic_replies.update(replaying.automatic_replies(interaction, decision, after.fate))
        report.fates_after[after.fate] += 1
        report.fates_before[before.fate if before is not None else "none"] += 1
        if after.opens:
            report.priority_after[after.priority or ""] += 1
            report.teams_after.update(after.teams)
        if before is not None and before.opens:
            report.priority_before[before.priority or ""] += 1
            report.teams_before.update(before.teams)
        change = Change(interaction.interaction_id, before, after)
        if change.aspects:
            report.changes.append(change)
        else:
            report.unchanged += 1
    return report


def render(report: ReplayReport, *, limit: int) -> str:
    """The report as text for a terminal."""
    skipped = [
        f"brand replies, never routed: {report.brand_replies}" if report.brand_replies else "",
        f"sentiment pending: {report.skipped_pending}" if report.skipped_pending else "",
    ]
    skipped_text = "; ".join(s for s in skipped if s)
    before, after = report.cases(report.fates_before), report.cases(report.fates_after)
    lines = [
        f"Dry run of {report.candidate} against {report.baseline}, interactions of the last {report.days} days.",
        "Nothing was written but the access log (whose messages were read, by whom).",
        "",
        f"interactions replayed  {report.replayed}"
        + (f"  (skipped: {skipped_text})" if skipped_text else ""),
        f"cases it would open    {after['opened']}",
        "",
        f"{'messages':<26}{'before':>8}{'after':>8}",
        f"  {'opened a case':<24}{before['opened']:>8}{after['opened']:>8}",
        f"  {'  of which resolved':<24}{before['opened_resolved']:>8}{after['opened_resolved']:>8}",
        f"  {'joined their case':<24}{before['joined']:>8}{after['joined']:>8}",
        f"  {'not opened (recorded)':<24}{before['not_opened']:>8}{after['not_opened']:>8}",
    ]
    if report.fates_before["none"]:
        lines.append(f"  {'in no case':<24}{report.fates_before['none']:>8}{'-':>8}")
    lines += [
        "",
        f"unchanged              {report.unchanged}",
        f"changed                {len(report.changes)}",
    ]
    for aspect in ASPECTS:
        count = report.changed(aspect)
        if count:
            lines.append(f"  {aspect:<20} {count}")
    lines += ["", f"{'cases by priority':<20}{'before':>8}{'after':>8}"]
    for priority in ("P1", "P2", "P3", "P4"):
        lines.append(
            f"  {priority:<18}{report.priority_before[priority]:>8}{report.priority_after[priority]:>8}"
        )
    lines += ["", f"{'cases by team':<20}{'before':>8}{'after':>8}"]
    for team in sorted(set(report.teams_before) | set(report.teams_after)):
        lines.append(f"  {team:<18}{report.teams_before[team]:>8}{report.teams_after[team]:>8}")
    total = sum(report.automatic_replies.values())
    lines += ["", f"automatic replies it would send  {total}"]
    for what, count in report.automatic_replies.most_common():
        lines.append(f"  {what:<40}{count:>6}")
    if report.changes:
        shown = report.changes[:limit]
        lines += ["", f"changes (first {len(shown)} of {len(report.changes)}; --limit shows more):"]
        for change in shown:
            lines.append(f"  {change.interaction_id}")
            lines.extend(f"    {line}" for line in _describe(change))
    return "\n".join(lines) + "\n"


_FATE_TEXT = {
    "opened": "opens a case",
    "opened_resolved": "opens a case resolved",
    "joined": "joins its case",
    "recorded": "recorded, no case",
}


def _describe(change: Change) -> list[str]:
    after, before = change.after, change.before
    out = []
    if before is None or before.fate != after.fate:
        was = "in no case" if before is None else _FATE_TEXT[before.fate]
        out.append(f"case      {was} → {_FATE_TEXT[after.fate]}")
    if after.opens and (before is None or not before.opens):
        out.append(
            f"new case  teams {','.join(after.teams)}  {after.priority}  SLA {after.sla_minutes} min  "
            f"rules {','.join(after.rules) or '-'}"
        )
    if before is None:
        return out
    aspects = change.aspects  # teams, priority, sla, tags, rules only when both open a case
    if "teams" in aspects:
        out.append(f"teams     {','.join(before.teams)} → {','.join(after.teams)}")
    if "priority" in aspects:
        out.append(f"priority  {before.priority} → {after.priority}")
    if "sla" in aspects:
        out.append(f"SLA       {before.sla_minutes} → {after.sla_minutes} min")
    if "tags" in aspects:
        out.append(f"tags      {','.join(before.tags) or '-'} → {','.join(after.tags) or '-'}")
    if "rules" in aspects:
        out.append(f"rules     {','.join(before.rules) or '-'} → {','.join(after.rules) or '-'}")
    return out
