"""Working a case: assignee, status (open → pending → resolved) and the first response.

The first response (or a resolution, whichever comes first) stops the SLA clock: its schedules are
deleted and ``sla_met`` is set once, for good. Every change publishes ``CaseUpdated`` so reporting can
count first-response times and SLA compliance.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from socialcrm.errors import BadRequestError, NotFoundError, SocialCrmError
from socialcrm.events.models import CaseStatus
from socialcrm.observability import logger
from socialcrm.routing.case import Case, CaseStore, Publisher, updated_event
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
    first_response_at: AwareDatetime | None = Field(
        default=None, description="When the customer was first answered (ISO-8601 with a time zone)."
    )

    @model_validator(mode="after")
    def _changes_something(self) -> CasePatch:
        if not self.model_fields_set:
            raise ValueError("give at least one of assignee, status, first_response_at")
        if "status" in self.model_fields_set and self.status is None:
            raise ValueError("status cannot be null")
        return self


def apply_patch(case: Case, patch: CasePatch, now: datetime) -> Case | None:
    """The case after the patch, or None when the patch changes nothing."""
    update: dict[str, Any] = {}
    if "assignee" in patch.model_fields_set and patch.assignee != case.assignee:
        update["assignee"] = patch.assignee
    if patch.status is not None and patch.status != case.status:
        update["status"] = patch.status
        if patch.status == "resolved":
            update["resolved_at"] = now
        elif case.status == "resolved":
            update["resolved_at"] = None  # reopened
    if patch.first_response_at is not None and case.first_response_at is None:
        if patch.first_response_at > now + CLOCK_SKEW:
            raise BadRequestError("first_response_at is in the future.")
        update["first_response_at"] = patch.first_response_at
    if not update:
        return None
    changed = case.model_copy(update={**update, "updated_at": now})
    if changed.sla_met is None:
        if changed.breached_at is not None:
            changed = changed.model_copy(update={"sla_met": False})
        elif changed.responded_at is not None:
            changed = changed.model_copy(update={"sla_met": changed.responded_at <= changed.sla_due_at})
    return changed


def update_case(
    case_id: str,
    patch: CasePatch,
    *,
    cases: CaseStore,
    scheduler: SlaScheduler,
    publisher: Publisher,
    now: datetime,
    trace_header: str | None = None,
) -> Case:
    """Apply ``patch``, stop the SLA clock once answered, announce ``CaseUpdated``; the case after it."""
    case, changed = cases.update(case_id, lambda current: apply_patch(current, patch, now))
    if case is None:
        raise NotFoundError(f"No case '{case_id}'.")
    if changed and case.responded_at is not None:
        scheduler.cancel(case_id)
    if publisher.publish([updated_event(case)], trace_header):
        raise EventsUnavailableError("The case was updated but the update could not be announced; repeat it.")
    logger.info("case updated", case_id=case_id, status=case.status, sla_met=case.sla_met, changed=changed)
    return case
