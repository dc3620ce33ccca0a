"""SLA clocks without polling: one-time schedules at a case's warning and due times.

``SlaScheduler`` is the interface: ``schedule(case)`` sets both clocks, ``cancel(case_id)`` removes them
once the case is answered. In AWS, :class:`EventBridgeSlaScheduler` creates one-time EventBridge
Scheduler schedules that invoke the ``sla`` function; locally, :class:`InProcessTimer` calls the same
domain function, :func:`fire`, in a background thread. ``fire`` decides from the stored case, so a
clock that could not be cancelled (or fires twice) changes nothing once the case was answered.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from socialcrm.errors import SocialCrmError
from socialcrm.events.models import Clock
from socialcrm.events.ports import Publisher
from socialcrm.observability import logger
from socialcrm.routing.case import Case, CaseStore, breached_event, updated_event
from socialcrm.routing.notify import Notifier

Check = Literal["warning", "due", "next-warning", "next-due", "resolution-warning", "resolution-due"]
CHECKS: tuple[Check, ...] = Check.__args__  # type: ignore[attr-defined]
# Each check: the clock it belongs to, and its code in schedule names.
_CHECKS: dict[str, tuple[Clock, str]] = {
    "warning": ("first_response", "fw"),
    "due": ("first_response", "fd"),
    "next-warning": ("next_response", "nw"),
    "next-due": ("next_response", "nd"),
    "resolution-warning": ("resolution", "rw"),
    "resolution-due": ("resolution", "rd"),
}
# A schedule is never set sooner than this from now (a due time already past fires at once, nearly).
MIN_LEAD = timedelta(seconds=30)
# A clock that rings this much before the due time its case now has is an old one: it does nothing.
EARLY = timedelta(seconds=1)


class SchedulerError(SocialCrmError):
    """A clock could not be set (the message is retried)."""

    status = 503
    code = "scheduler_unavailable"


class SlaPublishError(SocialCrmError):
    """The breach is recorded but its events could not be published (the invocation is retried)."""

    status = 503
    code = "events_unavailable"


@dataclass(frozen=True, order=True)
class CaseClock:
    """One clock of a case: when it rings and what it checks. Its name holds the time, so a clock moved
    (a priority rose) is a new schedule and the old one, if it could not be deleted, finds nothing due."""

    at: datetime
    case_id: str
    check: Check

    @property
    def name(self) -> str:
        """``c_…-fd-1764070000``: unique within the schedule group, at most 64 characters."""
        return f"{self.case_id}-{_CHECKS[self.check][1]}-{int(self.at.timestamp())}"


def clocks_of(case: Case, now: datetime) -> list[CaseClock]:
    """The clocks a case needs now: a warning only while it is still ahead, each due time until met."""
    wanted: list[tuple[datetime | None, Check]] = []
    if case.responded_at is None and case.breached_at is None:
        wanted += [(case.sla_warning_at, "warning"), (case.sla_due_at, "due")]
    index = case.open_round
    if index is not None and case.status != "resolved":
        wanted += [(case.next_warning_at, "next-warning"), (case.next_responses[index].due_at, "next-due")]
    if (
        case.status != "resolved"
        and case.resolution_breached_at is None
        and case.resolution_due_at is not None
    ):
        wanted += [
            (case.resolution_warning_at, "resolution-warning"),
            (case.resolution_due_at, "resolution-due"),
        ]
    return [
        CaseClock(at, case.case_id, check)
        for at, check in wanted
        if at is not None and (not check.endswith("warning") or at > now)
    ]


class SlaScheduler(Protocol):
    def schedule(self, case: Case, *, since: Case | None = None) -> None:
        """Set the case's clocks (idempotent); ``since``: the case before a change, whose clocks are
        already set (only the new ones are created) and whose clocks no longer needed are deleted."""
        ...

    def cancel(self, case: Case) -> bool:
        """Remove every clock of the case; False when that failed (harmless: a late clock finds nothing due)."""
        ...


def schedule_name(case_id: str, check: Check, at: datetime) -> str:
    return CaseClock(at, case_id, check).name


class EventBridgeSlaScheduler:
    """One-time EventBridge Scheduler schedules (``at(...)``, UTC) that invoke the ``sla`` function
    with ``{"case_id": …, "check": "warning"|"due"}`` and delete themselves after they ran."""

    def __init__(
        self,
        group: str,
        *,
        target_arn: str | None = None,
        role_arn: str | None = None,
        client: Any | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
    ) -> None:
        self.group = group
        self.target_arn = target_arn
        self.role_arn = role_arn
        self._client = client
        self._clock = clock

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("scheduler")
        return self._client

    def schedule(self, case: Case, *, since: Case | None = None) -> None:
        now = self._clock()
        wanted = clocks_of(case, now)
        before = clocks_of(since, now) if since is not None else []
        new = [clock for clock in wanted if clock not in before]
        if new and not (self.target_arn and self.role_arn):
            raise SchedulerError("The SLA scheduler has no target or role (SLA_TARGET_ARN, SLA_ROLE_ARN).")
        for clock in new:
            self._create(clock, max(clock.at, now + MIN_LEAD))
        self._delete([clock for clock in before if clock not in wanted])

    def _create(self, clock: CaseClock, at: datetime) -> None:
        at = at.astimezone(UTC)
        if at.microsecond:
            at = at.replace(microsecond=0) + timedelta(seconds=1)  # never before the due time
        try:
            self.client.create_schedule(
                Name=clock.name,
                GroupName=self.group,
                Description=f"socialcrm {clock.check} of case {clock.case_id}",
                ScheduleExpression=f"at({at:%Y-%m-%dT%H:%M:%S})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={
                    "Arn": self.target_arn,
                    "RoleArn": self.role_arn,
                    "Input": json.dumps({"case_id": clock.case_id, "check": clock.check}),
                    "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600},
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConflictException":
                return  # already scheduled (a retried message)
            raise SchedulerError(
                f"Could not schedule the {clock.check} clock of case {clock.case_id}."
            ) from exc
        except BotoCoreError as exc:
            raise SchedulerError(
                f"Could not schedule the {clock.check} clock of case {clock.case_id}."
            ) from exc

    def cancel(self, case: Case) -> bool:
        return self._delete(clocks_of(case, datetime.min.replace(tzinfo=UTC)))

    def _delete(self, clocks: list[CaseClock]) -> bool:
        cancelled = True
        for clock in clocks:
            try:
                self.client.delete_schedule(Name=clock.name, GroupName=self.group)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    logger.warning("could not cancel an SLA clock", case_id=clock.case_id, check=clock.check)
                    cancelled = False
            except BotoCoreError:
                logger.warning("could not cancel an SLA clock", case_id=clock.case_id, check=clock.check)
                cancelled = False
        return cancelled


class InProcessTimer:
    """The local stack's scheduler: a heap of clocks and one daemon thread that fires them.

    ``start(fire)`` begins firing (``fire(case_id, check)``); clocks set before that wait. Tests call
    :meth:`run_due` instead of starting the thread, with the time they want.
    """

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC)) -> None:
        self._clock = clock
        self._heap: list[tuple[datetime, int, str, Check]] = []
        self._order = itertools.count()
        self._condition = threading.Condition()
        self._fire: Callable[[str, Check], object] | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def started(self) -> bool:
        return self._thread is not None

    def schedule(self, case: Case, *, since: Case | None = None) -> None:
        with self._condition:
            now = self._clock()
            wanted = clocks_of(case, now)
            stale = {c.name for c in clocks_of(since, now)} - {c.name for c in wanted} if since else set()
            if stale:
                self._remove(lambda entry: CaseClock(entry[0], entry[2], entry[3]).name in stale)
            present = {CaseClock(at, c, k).name for at, _, c, k in self._heap}
            for clock in wanted:
                if clock.name not in present:
                    heapq.heappush(self._heap, (clock.at, next(self._order), clock.case_id, clock.check))
            self._condition.notify()

    def cancel(self, case: Case) -> bool:
        with self._condition:
            self._remove(lambda entry: entry[2] == case.case_id)
        return True

    def _remove(self, matches: Callable[[tuple[datetime, int, str, Check]], bool]) -> None:
        self._heap = [entry for entry in self._heap if not matches(entry)]
        heapq.heapify(self._heap)

    def pending(self) -> list[tuple[datetime, str, Check]]:
        """The clocks not yet fired, soonest first."""
        with self._condition:
            return [(at, case_id, check) for at, _, case_id, check in sorted(self._heap)]

    def start(self, fire: Callable[[str, Check], object]) -> None:
        """Fire due clocks from now on, in a daemon thread (idempotent)."""
        with self._condition:
            self._fire = fire
            if self._thread is None:
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name="sla-timer", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def run_due(self, now: datetime | None = None, fire: Callable[[str, Check], object] | None = None) -> int:
        """Fire every clock due at ``now``; returns how many fired."""
        due = self._take_due(now or self._clock())
        for case_id, check in due:
            self._call(fire or self._fire, case_id, check)
        return len(due)

    def _take_due(self, now: datetime) -> list[tuple[str, Check]]:
        with self._condition:
            due = []
            while self._heap and self._heap[0][0] <= now:
                _, _, case_id, check = heapq.heappop(self._heap)
                due.append((case_id, check))
            return due

    def _call(self, fire: Callable[[str, Check], object] | None, case_id: str, check: Check) -> None:
        if fire is None:
            return
        try:
            fire(case_id, check)
        except Exception:  # the local clock keeps running; the failure is logged
            logger.exception("SLA clock failed", case_id=case_id, check=check)

    def _run(self) -> None:
        while True:
            with self._condition:
                if self._stopping:
                    return
                wait = 1.0
                if self._heap:
                    wait = max(0.0, min(wait, (self._heap[0][0] - self._clock()).total_seconds()))
                self._condition.wait(timeout=wait)
                if self._stopping:
                    return
            self.run_due()


def fire(
    case_id: str,
    check: Check,
    *,
    cases: CaseStore,
    publisher: Publisher,
    notifier: Notifier,
    now: datetime,
    trace_header: str | None = None,
) -> str:
    """What a clock does when it rings, decided from the stored case (a clock that could not be deleted,
    rings twice or rings for a due time that has since moved changes nothing). A warning tells the
    case's teams while the clock still runs. A due clock records the breach once (``sla_met`` false for
    the first response; the wait's ``met`` false; ``resolution_met`` false), tells the teams and
    publishes ``SlaBreached`` and ``CaseUpdated``. Returns what happened; raises
    :class:`SlaPublishError` if the events could not be published (the retry publishes them)."""
    if check.endswith("warning"):
        return _warn(case_id, check, cases=cases, notifier=notifier, now=now)
    clock = _CHECKS[check][0]

    def breach(current: Case) -> Case | None:
        due = _due(current, clock)
        if due is None or now < due - EARLY:
            return None
        if clock == "first_response":
            return current.model_copy(update={"breached_at": now, "sla_met": False, "updated_at": now})
        if clock == "next_response":
            waiting = current.open_round
            assert waiting is not None
            rounds = list(current.next_responses)
            rounds[waiting] = rounds[waiting].model_copy(update={"met": False})
            return current.model_copy(
                update={"next_responses": rounds, "next_warning_at": None, "updated_at": now}
            )
        return current.model_copy(
            update={"resolution_breached_at": now, "resolution_met": False, "updated_at": now}
        )

    result = cases.update(case_id, breach)
    case = result.after
    if case is None:
        return "gone"
    # The breach just recorded, or one recorded by an attempt whose events failed (this is its retry).
    index = _unannounced(case, clock)
    if index is None:
        return _already(case, clock)
    if result.written:
        for team in case.teams:
            notifier.notify(team, case, "sla_breached")
    wait = index if clock == "next_response" else None
    if publisher.publish([breached_event(case, clock, wait), updated_event(case)], trace_header):
        raise SlaPublishError(f"SlaBreached of case {case_id} could not be published.")
    if clock == "first_response":
        cases.mark(case_id, breach_announced=True)
    else:
        key = _breach_key(case, clock, wait)
        cases.update(
            case_id, lambda c: c.model_copy(update={"breaches_announced": [*c.breaches_announced, key]})
        )
    logger.info(
        "sla breached", case_id=case_id, subject_id=case.subject_id, priority=case.priority, clock=clock
    )
    return "breached"


def _due(case: Case, clock: Clock) -> datetime | None:
    """The due time the clock checks, while it is still running; None when met, breached or stopped."""
    if clock == "first_response":
        return case.sla_due_at if case.responded_at is None and case.breached_at is None else None
    if case.status == "resolved":
        return None
    if clock == "next_response":
        waiting = case.open_round
        return case.next_responses[waiting].due_at if waiting is not None else None
    return case.resolution_due_at if case.resolution_breached_at is None else None


def _breach_key(case: Case, clock: Clock, index: int | None) -> str:
    return f"{clock}:{index if clock == 'next_response' else case.reopened_count}"


def _unannounced(case: Case, clock: Clock) -> int | None:
    """A breach of the clock that is recorded but not yet announced (its wait's index; 0 otherwise)."""
    if clock == "first_response":
        return 0 if case.breached_at is not None and not case.breach_announced else None
    if clock == "resolution":
        recorded = case.resolution_breached_at is not None
        return 0 if recorded and _breach_key(case, clock, None) not in case.breaches_announced else None
    breached = [
        index
        for index, wait in enumerate(case.next_responses)
        if wait.met is False
        and wait.responded_at is None  # breached by its clock, still unanswered
        and _breach_key(case, clock, index) not in case.breaches_announced
    ]
    return breached[-1] if breached else None


def _already(case: Case, clock: Clock) -> str:
    """Why a due clock changed nothing."""
    if clock == "first_response":
        if case.breached_at is None:
            return "answered in time" if case.responded_at is not None else "not yet due"
        return "already announced"
    return "nothing to do"


def _warn(case_id: str, check: Check, *, cases: CaseStore, notifier: Notifier, now: datetime) -> str:
    case = cases.get(case_id)
    if case is None:
        return "nothing to do"
    clock = _CHECKS[check][0]
    warn_at = {
        "first_response": case.sla_warning_at,
        "next_response": case.next_warning_at,
        "resolution": case.resolution_warning_at,
    }[clock]
    if _due(case, clock) is None or warn_at is None or now < warn_at - EARLY:
        return "nothing to do"
    for team in case.teams:
        notifier.notify(team, case, "sla_warning")
    logger.info("sla warning", case_id=case_id, priority=case.priority, clock=clock)
    return "warned"
