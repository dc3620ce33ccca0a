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
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from socialcrm.errors import SocialCrmError
from socialcrm.observability import logger
from socialcrm.routing.case import Case, CaseStore, Publisher, breached_event, updated_event
from socialcrm.routing.notify import Notifier

Check = Literal["warning", "due"]
CHECKS: tuple[Check, ...] = ("warning", "due")
# A schedule is never set sooner than this from now (a due time already past fires at once, nearly).
MIN_LEAD = timedelta(seconds=30)


class SchedulerError(SocialCrmError):
    """A clock could not be set (the message is retried)."""

    status = 503
    code = "scheduler_unavailable"


class SlaPublishError(SocialCrmError):
    """The breach is recorded but its events could not be published (the invocation is retried)."""

    status = 503
    code = "events_unavailable"


class SlaScheduler(Protocol):
    def schedule(self, case: Case) -> None:
        """Set the case's warning and due clocks (idempotent)."""
        ...

    def cancel(self, case_id: str) -> bool:
        """Remove the case's clocks; False when that failed (harmless: a late firing finds it answered)."""
        ...


def schedule_name(case_id: str, check: Check) -> str:
    """``c_…-due``: names are unique within the schedule group, at most 64 characters."""
    return f"{case_id}-{check}"


def _clocks(case: Case, now: datetime) -> list[tuple[datetime, Check]]:
    """The clocks to set: the warning only while it is still ahead; the due one always."""
    clocks: list[tuple[datetime, Check]] = []
    if case.sla_warning_at > now:
        clocks.append((case.sla_warning_at, "warning"))
    clocks.append((case.sla_due_at, "due"))
    return clocks


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

    def schedule(self, case: Case) -> None:
        if not (self.target_arn and self.role_arn):
            raise SchedulerError("The SLA scheduler has no target or role (SLA_TARGET_ARN, SLA_ROLE_ARN).")
        now = self._clock()
        for at, check in _clocks(case, now):
            self._create(case.case_id, check, max(at, now + MIN_LEAD))

    def _create(self, case_id: str, check: Check, at: datetime) -> None:
        at = at.astimezone(UTC)
        if at.microsecond:
            at = at.replace(microsecond=0) + timedelta(seconds=1)  # never before the due time
        try:
            self.client.create_schedule(
                Name=schedule_name(case_id, check),
                GroupName=self.group,
                Description=f"socialcrm SLA {check} of case {case_id}",
                ScheduleExpression=f"at({at:%Y-%m-%dT%H:%M:%S})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={
                    "Arn": self.target_arn,
                    "RoleArn": self.role_arn,
                    "Input": json.dumps({"case_id": case_id, "check": check}),
                    "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600},
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConflictException":
                return  # already scheduled (a retried message)
            raise SchedulerError(f"Could not schedule the SLA {check} of case {case_id}.") from exc
        except BotoCoreError as exc:
            raise SchedulerError(f"Could not schedule the SLA {check} of case {case_id}.") from exc

    def cancel(self, case_id: str) -> bool:
        cancelled = True
        for check in CHECKS:
            try:
                self.client.delete_schedule(Name=schedule_name(case_id, check), GroupName=self.group)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                    logger.warning("could not cancel an SLA clock", case_id=case_id, check=check)
                    cancelled = False
            except BotoCoreError:
                logger.warning("could not cancel an SLA clock", case_id=case_id, check=check)
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

    def schedule(self, case: Case) -> None:
        with self._condition:
            present = {(c, k) for _, _, c, k in self._heap}
            for at, check in _clocks(case, self._clock()):
                if (case.case_id, check) not in present:
                    heapq.heappush(self._heap, (at, next(self._order), case.case_id, check))
            self._condition.notify()

    def cancel(self, case_id: str) -> bool:
        with self._condition:
            self._heap = [entry for entry in self._heap if entry[2] != case_id]
            heapq.heapify(self._heap)
        return True

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
    """What a clock does when it rings. ``warning``: tell the case's teams, if still unanswered.
    ``due``: mark the case breached (``sla_met`` false), tell the teams, publish ``SlaBreached`` and
    ``CaseUpdated``. Returns what happened; raises :class:`SlaPublishError` if the events could not
    be published (the retry publishes them; the breach itself is recorded once)."""
    if check == "warning":
        case = cases.get(case_id)
        if case is None or case.responded_at is not None or case.breached_at is not None:
            return "nothing to do"
        for team in case.teams:
            notifier.notify(team, case, "sla_warning")
        logger.info("sla warning", case_id=case_id, priority=case.priority)
        return "warned"

    def breach(current: Case) -> Case | None:
        if current.responded_at is not None or current.breached_at is not None:
            return None
        return current.model_copy(update={"breached_at": now, "sla_met": False, "updated_at": now})

    case, changed = cases.update(case_id, breach)
    if case is None:
        return "gone"
    if case.breached_at is None:
        return "answered in time"
    if case.breach_announced:
        return "already announced"
    if changed:
        for team in case.teams:
            notifier.notify(team, case, "sla_breached")
    if publisher.publish([breached_event(case), updated_event(case)], trace_header):
        raise SlaPublishError(f"SlaBreached of case {case_id} could not be published.")
    cases.mark(case_id, breach_announced=True)
    logger.info("sla breached", case_id=case_id, subject_id=case.subject_id, priority=case.priority)
    return "breached"
