"""The in-process SLA timer (the local stack's scheduler) and what a firing clock does to a case."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from socialcrm.routing.case import Case, CaseChange
from socialcrm.routing.sla import InProcessTimer, SlaPublishError, fire

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SUBJECT = "a" * 64


def case(case_id="c_" + "1" * 32, minutes=60, **update) -> Case:
    return Case(
        case_id=case_id,
        interaction_id="x:1",
        subject_id=SUBJECT,
        platform="x",
        kind="mention",
        teams=["support", "product"],
        priority="P2",
        sla_minutes=minutes,
        opened_at=T0,
        sla_due_at=T0 + timedelta(minutes=minutes),
        sla_warning_at=T0 + timedelta(minutes=minutes * 0.8),
        updated_at=T0,
    ).model_copy(update=update)


class MemoryCases:
    def __init__(self, *cases: Case) -> None:
        self.cases = {c.case_id: c for c in cases}

    def get(self, case_id):
        return self.cases.get(case_id)

    def update(self, case_id, change, *, current=None):
        current = self.cases.get(case_id)
        if current is None:
            return CaseChange(None, None, False)
        changed = change(current)
        if changed is None:
            return CaseChange(current, current, False)
        self.cases[case_id] = changed
        return CaseChange(current, changed, True)

    def mark(self, case_id, **flags):
        self.cases[case_id] = self.cases[case_id].model_copy(update=flags)


class Publisher:
    def __init__(self, fail: bool = False) -> None:
        self.events, self.fail = [], fail

    def publish(self, details, trace_header=None):
        if self.fail:
            return list(range(len(details)))
        self.events += details
        return []


class Notifier:
    def __init__(self) -> None:
        self.sent = []

    def notify(self, team, case, reason):
        self.sent.append((team, case.case_id, reason))
        return True


def test_the_timer_fires_the_warning_at_80_percent_then_the_due_clock():
    # Given a timer holding a 60-minute case's clocks
    timer = InProcessTimer(clock=lambda: T0)
    timer.schedule(case())
    fired = []
    # When time passes to 48 minutes, then to 60
    assert timer.run_due(T0 + timedelta(minutes=47), fire=lambda *a: fired.append(a)) == 0
    timer.run_due(T0 + timedelta(minutes=48), fire=lambda *a: fired.append(a))
    timer.run_due(T0 + timedelta(minutes=60), fire=lambda *a: fired.append(a))
    # Then the warning rang first, then the due clock
    assert fired == [("c_" + "1" * 32, "warning"), ("c_" + "1" * 32, "due")]
    assert timer.pending() == []


def test_a_cancelled_case_never_rings_and_scheduling_twice_sets_each_clock_once():
    timer = InProcessTimer(clock=lambda: T0)
    timer.schedule(case())
    timer.schedule(case())
    assert [check for _, _, check in timer.pending()] == ["warning", "due"]
    timer.cancel(case())
    assert timer.run_due(T0 + timedelta(days=1), fire=lambda *a: None) == 0


def test_a_warning_already_past_is_not_set_but_the_due_clock_is():
    timer = InProcessTimer(clock=lambda: T0 + timedelta(minutes=50))
    timer.schedule(case())
    assert [check for _, _, check in timer.pending()] == ["due"]


def test_the_started_timer_fires_in_its_own_thread():
    # Given a started timer and a case already due
    timer = InProcessTimer()
    rang = threading.Event()
    timer.start(lambda case_id, check: rang.set() if check == "due" else None)
    try:
        overdue = case(sla_due_at=datetime.now(tz=UTC) - timedelta(seconds=1))
        # When the case is scheduled
        timer.schedule(overdue)
        # Then the thread fires it without anyone polling
        assert rang.wait(timeout=5)
    finally:
        timer.stop()


def test_the_due_clock_breaches_an_unanswered_case_once_and_announces_it():
    # Given an open, unanswered case
    cases, publisher, notifier = MemoryCases(case()), Publisher(), Notifier()
    due = T0 + timedelta(minutes=60)
    # When its due clock rings (twice: a retried invocation)
    first = fire("c_" + "1" * 32, "due", cases=cases, publisher=publisher, notifier=notifier, now=due)
    second = fire("c_" + "1" * 32, "due", cases=cases, publisher=publisher, notifier=notifier, now=due)
    # Then it is breached once, SLA not met, announced once, each team told once
    stored = cases.get("c_" + "1" * 32)
    assert (first, second) == ("breached", "already announced")
    assert stored.breached_at == due and stored.sla_met is False and stored.breach_announced
    assert [e.detail_type for e in publisher.events] == ["SlaBreached", "CaseUpdated"]
    assert publisher.events[1].sla_met is False
    assert sorted(t for t, _, r in notifier.sent if r == "sla_breached") == ["product", "support"]


def test_an_answered_case_is_not_breached_when_a_late_clock_rings():
    answered = case(first_response_at=T0 + timedelta(minutes=10), sla_met=True)
    cases, publisher, notifier = MemoryCases(answered), Publisher(), Notifier()
    result = fire(
        answered.case_id,
        "due",
        cases=cases,
        publisher=publisher,
        notifier=notifier,
        now=T0 + timedelta(hours=1),
    )
    assert result == "answered in time" and publisher.events == [] and notifier.sent == []
    assert cases.get(answered.case_id).breached_at is None


def test_a_breach_whose_events_fail_is_announced_by_the_retry():
    cases, notifier = MemoryCases(case()), Notifier()
    due = T0 + timedelta(minutes=60)
    with pytest.raises(SlaPublishError):  # the invocation fails, so it is retried
        fire(case().case_id, "due", cases=cases, publisher=Publisher(fail=True), notifier=notifier, now=due)
    retry = Publisher()
    assert fire(case().case_id, "due", cases=cases, publisher=retry, notifier=notifier, now=due) == "breached"
    assert [e.detail_type for e in retry.events] == ["SlaBreached", "CaseUpdated"]
    assert len([s for s in notifier.sent if s[2] == "sla_breached"]) == 2  # teams told once, not again


def test_the_warning_tells_the_teams_only_while_the_case_is_unanswered():
    cases, notifier = MemoryCases(case()), Notifier()
    warn = T0 + timedelta(minutes=48)
    early = fire(case().case_id, "warning", cases=cases, publisher=Publisher(), notifier=notifier, now=T0)
    assert early == "nothing to do" and notifier.sent == []  # an old clock, from before the case moved
    assert (
        fire(case().case_id, "warning", cases=cases, publisher=Publisher(), notifier=notifier, now=warn)
        == "warned"
    )
    assert sorted(t for t, _, _ in notifier.sent) == ["product", "support"]
    cases.mark(case().case_id, first_response_at=T0)
    assert (
        fire(case().case_id, "warning", cases=cases, publisher=Publisher(), notifier=notifier, now=warn)
        == "nothing to do"
    )
