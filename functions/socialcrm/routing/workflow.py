"""Working a case by hand: assignee, status (open → pending → resolved, or reopened) and, on platforms
that do not send the brand's replies back, the first response.

A first response (or a resolution, whichever comes first) stops the first-response clock; a resolution
stops the resolution clock and any next-response wait: their schedules are deleted and the outcome is
set once, for good. Every change publishes ``CaseUpdated`` so reporting can count response times and
service levels.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from socialcrm.errors import BadRequestError, NotFoundError, SocialCrmError
from socialcrm.events.models import CaseStatus, Priority
from socialcrm.events.ports import Publisher
from socialcrm.observability import logger
from socialcrm.routing.case import Case, CaseStore, updated_event
from socialcrm.routing.conversation import ServiceLevels, reopening, settle
from socialcrm.routing.sla import SlaScheduler

# How far in the future a reported first response may be (clock skew between an agent and us).
CLOCK_SKEW = timedelta(minutes=5)


class EventsUnavailableError(SocialCrmError):
    """The change is stored but could not be announced; repeating the request announces it."""

    status = 503
    code = "events_unavailable"


class CasePatch(BaseModel):
    """A change to a case. ``assignee: null`` unassigns it; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    assignee: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[\w.@+:/-]+$", description="An agent's id."
    )
    status: CaseStatus | None = None
    priority: Priority | None = Field(
        default=None,
        description=(
            "Re-prioritise (team leads): moves the case in its queues and times its resolution clock; the "
            "response clocks stay timed by what the customer's messages asked."
        ),
    )
    first_response_at: AwareDatetime | None = Field(
        default=None, description="When the customer was first answered (ISO-8601 with a time zone)."
    )

    @model_validator(mode="after")
    def _changes_something(self) -> CasePatch:
        if not self.model_fields_set:
            raise ValueError("give at least one of assignee, status, priority, first_response_at")
        for name in ("status", "priority"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


def apply_patch(
    case: Case, patch: CasePatch, now: datetime, levels: ServiceLevels | None = None
) -> Case | None:
    """The case after the patch, or None when the patch changes nothing. A first response set here
    answers the case as a brand reply would (it counts as answered through the API, not natively)."""
    update: dict[str, Any] = {}
    if "assignee" in patch.model_fields_set and patch.assignee != case.assignee:
        update["assignee"] = patch.assignee
    if patch.priority is not None and patch.priority != case.priority:
        update["priority"] = patch.priority
    if patch.status is not None and patch.status != case.status:
        update["status"] = patch.status
        if patch.status == "resolved":
            update["resolved_at"] = now
        elif case.status == "resolved":  # reopened by an agent
            update.update({**reopening(case, at=now), "status": patch.status})
    if patch.first_response_at is not None and case.first_response_at is None:
        if patch.first_response_at > now + CLOCK_SKEW:
            raise BadRequestError("first_response_at is in the future.")
        update.update(
            first_response_at=patch.first_response_at,
            first_response_source="patch",
            answered_marks=[*update.get("answered_marks", case.answered_marks), patch.first_response_at],
        )
    if not update:
        return None
    return settle(case.model_copy(update={**update, "updated_at": now}), levels, now=now)


def update_case(
    case_id: str,
    patch: CasePatch,
    *,
    cases: CaseStore,
    scheduler: SlaScheduler,
    publisher: Publisher,
    now: datetime,
    levels: ServiceLevels | None = None,
    trace_header: str | None = None,
) -> Case:
    """Apply ``patch``, stop the clocks it meets (and start the resolution clock of a case it reopens,
    timed by ``levels``), announce ``CaseUpdated``; the case after it."""
    result = cases.update(case_id, lambda current: apply_patch(current, patch, now, levels))
    case, changed = result.after, result.written
    if case is None:
        raise NotFoundError(f"No case '{case_id}'.")
    if changed:
        scheduler.schedule(case, since=result.before)
    if publisher.publish([updated_event(case)], trace_header):
        raise EventsUnavailableError("The case was updated but the update could not be announced; repeat it.")
    logger.info("case updated", case_id=case_id, status=case.status, sla_met=case.sla_met, changed=changed)
    return case
