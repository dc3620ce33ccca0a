"""The dry run: replay stored interactions against a candidate rules document and say what would change.

Nothing is written. Each interaction is evaluated as the route consumer would have (business hours at
the time it was received, the subject's history as stored) and compared with its baseline: the case
it actually has, or what another rules document decides.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from socialcrm.models import Interaction
from socialcrm.routing.case import Case
from socialcrm.routing.evaluator import CompiledRules, Decision, HistoryReader


@dataclass(frozen=True)
class Outcome:
    """What a case looks like for this comparison: teams, priority, SLA, tags and why."""

    teams: tuple[str, ...]
    priority: str
    sla_minutes: int
    tags: tuple[str, ...]
    rules: tuple[str, ...]

    @classmethod
    def of_decision(cls, decision: Decision) -> Outcome:
        return cls(
            tuple(sorted(decision.teams)),
            decision.priority,
            decision.sla_minutes,
            tuple(sorted(decision.tags)),
            decision.rules,
        )

    @classmethod
    def of_case(cls, case: Case) -> Outcome:
        return cls(
            tuple(sorted(case.teams)),
            case.priority,
            case.sla_minutes,
            tuple(sorted(case.tags)),
            tuple(case.rules),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "teams": list(self.teams),
            "priority": self.priority,
            "sla_minutes": self.sla_minutes,
            "tags": list(self.tags),
            "rules": list(self.rules),
        }


@dataclass(frozen=True)
class Change:
    interaction_id: str
    before: Outcome | None
    after: Outcome

    @property
    def aspects(self) -> list[str]:
        """What differs: ``new case``, ``teams``, ``priority``, ``sla``, ``tags``, ``rules``."""
        if self.before is None:
            return ["new case"]
        pairs = {
            "teams": (self.before.teams, self.after.teams),
            "priority": (self.before.priority, self.after.priority),
            "sla": (self.before.sla_minutes, self.after.sla_minutes),
            "tags": (self.before.tags, self.after.tags),
            "rules": (self.before.rules, self.after.rules),
        }
        return [name for name, (a, b) in pairs.items() if a != b]


@dataclass
class ReplayReport:
    candidate: str
    baseline: str
    days: int
    replayed: int = 0
    skipped_pending: int = 0
    unchanged: int = 0
    changes: list[Change] = field(default_factory=list)
    priority_before: Counter[str] = field(default_factory=Counter)
    priority_after: Counter[str] = field(default_factory=Counter)
    teams_before: Counter[str] = field(default_factory=Counter)
    teams_after: Counter[str] = field(default_factory=Counter)
    rules_after: Counter[str] = field(default_factory=Counter)

    def changed(self, aspect: str) -> int:
        return sum(1 for change in self.changes if aspect in change.aspects)

    def as_json(self, limit: int | None = None) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "baseline": self.baseline,
            "days": self.days,
            "replayed": self.replayed,
            "skipped_pending": self.skipped_pending,
            "cases_opened": self.replayed,
            "unchanged": self.unchanged,
            "changed": {
                a: self.changed(a) for a in ("new case", "teams", "priority", "sla", "tags", "rules")
            },
            "priority": {"before": dict(self.priority_before), "after": dict(self.priority_after)},
            "teams": {"before": dict(self.teams_before), "after": dict(self.teams_after)},
            "rules_matched": dict(self.rules_after),
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
    """Evaluate each interaction against ``candidate`` and compare it with ``baseline``."""
    report = ReplayReport(candidate=candidate_name, baseline=baseline_name, days=days)
    for interaction in sorted(interactions, key=lambda i: (i.received_at, i.interaction_id)):
        if interaction.sentiment_status == "PENDING":
            report.skipped_pending += 1
            continue
        after = Outcome.of_decision(
            candidate.evaluate(interaction, at=interaction.received_at, history=history)
        )
        before = baseline(interaction)
        report.replayed += 1
        report.priority_after[after.priority] += 1
        report.teams_after.update(after.teams)
        report.rules_after.update(after.rules)
        if before is not None:
            report.priority_before[before.priority] += 1
            report.teams_before.update(before.teams)
        if before == after:
            report.unchanged += 1
        else:
            report.changes.append(Change(interaction.interaction_id, before, after))
    return report


def render(report: ReplayReport, *, limit: int) -> str:
    """The report as text for a terminal."""
    lines = [
        f"Dry run of {report.candidate} against {report.baseline}, interactions of the last {report.days} days.",
        "Nothing was written.",
        "",
        f"interactions replayed  {report.replayed}"
        + (f"  (skipped, sentiment pending: {report.skipped_pending})" if report.skipped_pending else ""),
        f"cases it would open    {report.replayed}",
        f"unchanged              {report.unchanged}",
        f"changed                {len(report.changes)}",
    ]
    for aspect in ("new case", "teams", "priority", "sla", "tags", "rules"):
        count = report.changed(aspect)
        if count:
            lines.append(f"  {aspect:<20} {count}")
    lines += ["", f"{'priority':<12}{'before':>8}{'after':>8}"]
    for priority in ("P1", "P2", "P3", "P4"):
        lines.append(
            f"  {priority:<10}{report.priority_before[priority]:>8}{report.priority_after[priority]:>8}"
        )
    lines += ["", f"{'team':<12}{'before':>8}{'after':>8}"]
    for team in sorted(set(report.teams_before) | set(report.teams_after)):
        lines.append(f"  {team:<10}{report.teams_before[team]:>8}{report.teams_after[team]:>8}")
    if report.changes:
        shown = report.changes[:limit]
        lines += ["", f"changes (first {len(shown)} of {len(report.changes)}; --limit shows more):"]
        for change in shown:
            lines.append(f"  {change.interaction_id}")
            lines.extend(f"    {line}" for line in _describe(change))
    return "\n".join(lines) + "\n"


def _describe(change: Change) -> list[str]:
    after, before = change.after, change.before
    if before is None:
        return [
            f"new case: teams {','.join(after.teams)}  {after.priority}  SLA {after.sla_minutes} min  "
            f"rules {','.join(after.rules) or '-'}"
        ]
    out = []
    if before.teams != after.teams:
        out.append(f"teams     {','.join(before.teams)} → {','.join(after.teams)}")
    if before.priority != after.priority:
        out.append(f"priority  {before.priority} → {after.priority}")
    if before.sla_minutes != after.sla_minutes:
        out.append(f"SLA       {before.sla_minutes} → {after.sla_minutes} min")
    if before.tags != after.tags:
        out.append(f"tags      {','.join(before.tags) or '-'} → {','.join(after.tags) or '-'}")
    if before.rules != after.rules:
        out.append(f"rules     {','.join(before.rules) or '-'} → {','.join(after.rules) or '-'}")
    return out
