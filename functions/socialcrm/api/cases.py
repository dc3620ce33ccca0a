"""Work queues (IAM-authorised in AWS): ``GET /cases``, ``GET /cases/{case_id}``, ``PATCH /cases/{case_id}``."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, create_model

from socialcrm.api.responses import JSON, documented_errors
from socialcrm.errors import NotFoundError
from socialcrm.events.models import CaseStatus, Priority
from socialcrm.routing.case import INTERNAL_FIELDS, PRIVATE_FIELDS, Case
from socialcrm.routing.runtime import CasesRuntime
from socialcrm.routing.workflow import CasePatch, update_case

MAX_PAGE = 100
_CASE_ID = re.compile(r"^[cs]_[0-9a-f]{32}$")

# The case as the API shows it (the stored case minus delivery bookkeeping).
CaseView: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "Case",
    __doc__=(
        "A routed case: one conversation (its customer and brand messages in order, by id), teams, "
        "priority, tags, the rules that matched, and its clocks: first response (sla_due_at, sla_met), "
        "next responses (each wait) and resolution (no names, handles or text)."
    ),
    **{
        name: (field.annotation, field)
        for name, field in Case.model_fields.items()
        if name not in INTERNAL_FIELDS | PRIVATE_FIELDS
    },
)


class CasePage(BaseModel):
    items: list[CaseView]  # type: ignore[valid-type]
    next_cursor: str | None


def _case_or_404(runtime: CasesRuntime, case_id: str) -> Case:
    case = runtime.cases.get(case_id) if _CASE_ID.match(case_id) else None
    if case is None:
        raise NotFoundError(f"No case '{case_id}'.")
    return case


def build_router(runtime: Callable[[], CasesRuntime]) -> Router:
    router = Router()

    @router.get(
        "/cases",
        summary="A work queue: a team's cases of one status, most urgent first",
        description=(
            "Ordered by priority (P1 first), then by SLA due time (soonest first). Without `team`, every "
            "team's cases. Paginated: pass the returned next_cursor as cursor to read the next page."
        ),
        responses={
            200: {"description": "A page of cases", "content": {JSON: {"model": CasePage}}},
            **documented_errors(400),
        },
    )
    def list_cases(
        team: Annotated[
            str | None, Query(pattern=r"^[a-z][a-z0-9_-]{0,39}$", description="Only this team's queue")
        ] = None,
        status: Annotated[CaseStatus, Query(description="Cases of this status")] = "open",
        priority: Annotated[Priority | None, Query(description="Only this priority")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 25,
        cursor: Annotated[str | None, Query(max_length=2048)] = None,
    ) -> dict[str, Any]:
        page, next_cursor = runtime().cases.queue(
            team=team, status=status, priority=priority, limit=limit, cursor=cursor
        )
        return {"items": [case.public() for case in page], "next_cursor": next_cursor}

    @router.get(
        "/cases/<case_id>",
        summary="One case",
        responses={
            200: {"description": "The case", "content": {JSON: {"model": CaseView}}},
            **documented_errors(404),
        },
    )
    def get_case(case_id: str) -> dict[str, Any]:
        return _case_or_404(runtime(), case_id).public()

    @router.patch(
        "/cases/<case_id>",
        summary="Assign a case, change its status, record the first response",
        description=(
            "On platforms that send the brand's replies back, a reply stops the clocks by itself; elsewhere "
            "first_response_at records the first response. It, or a resolution (status resolved), stops the "
            "first-response clock and sets sla_met; a resolution also stops the resolution clock. A resolved "
            "case set back to open is reopened. Every change publishes CaseUpdated; a 503 means the change is "
            "stored but not yet announced: repeat the request."
        ),
        responses={
            200: {"description": "The case after the change", "content": {JSON: {"model": CaseView}}},
            **documented_errors(400, 404, 415, 503),
        },
    )
    def patch_case(case_id: str, body: Annotated[CasePatch, Body()]) -> dict[str, Any]:
        env = runtime()
        _case_or_404(env, case_id)
        case = update_case(
            case_id,
            body,
            cases=env.cases,
            scheduler=env.scheduler,
            publisher=env.publisher,
            now=datetime.now(tz=UTC),
            levels=env.rules().document,
        )
        return case.public()

    return router
