"""Work queues (IAM-authorised in AWS): ``GET /cases``, ``GET /cases/{case_id}``, ``PATCH /cases/{case_id}``;
answering: ``POST /cases/{case_id}/replies``, ``GET /cases/{case_id}/replies[/{reply_id}]``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, create_model

from socialcrm.api.access import record_read
from socialcrm.api.callers import TEAMS_TAG, Caller, caller_of, principal_of
from socialcrm.api.responses import JSON, documented_errors
from socialcrm.errors import BadRequestError, ConfigurationError, ForbiddenError, NotFoundError
from socialcrm.events.models import CaseStatus, Priority
from socialcrm.personas import personas_able
from socialcrm.replies.reply import INTERNAL_FIELDS as REPLY_INTERNAL_FIELDS
from socialcrm.replies.reply import Reply
from socialcrm.replies.service import ReplyPorts, ReplyRequest, request_reply
from socialcrm.routing.case import INTERNAL_FIELDS, PRIVATE_FIELDS, Case
from socialcrm.routing.runtime import CasesRuntime
from socialcrm.routing.workflow import CasePatch, update_case

MAX_PAGE = 100
_CASE_ID = re.compile(r"^[cs]_[0-9a-f]{32}$")
_REPLY_ID = re.compile(r"^r_[0-9a-f]{32}$")
# Printable ASCII, as HTTP header values are; long enough for a UUID or a ticket reference.
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")

ReplyView: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "Reply",
    __doc__=(
        "A reply on a case: queued (not sent yet), sent (the platform's message id and time), failed "
        "(the platform's code and why; nothing was sent) or unknown (the platform may have sent it and "
        "cannot tell: look before sending again)."
    ),
    **{
        name: (field.annotation, field)
        for name, field in Reply.model_fields.items()
        if name not in REPLY_INTERNAL_FIELDS
    },
)


class ReplyPage(BaseModel):
    items: list[ReplyView]  # type: ignore[valid-type]


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


def _case_or_404(runtime: CasesRuntime, case_id: str, caller: Caller) -> Case:
    """The case, or a 404 when there is none or it is not routed to one of the caller's teams (whether
    another team's case exists is not disclosed)."""
    case = runtime.cases.get(case_id) if _CASE_ID.match(case_id) else None
    if case is None or not caller.sees(case.teams):
        raise NotFoundError(f"No case '{case_id}'.")
    return case


def _may_change(caller: Caller, patch: CasePatch) -> None:
    """A 403 when the patch changes what only a team lead may (IAM sees the route, not these fields)."""
    for name, ability in (("assignee", "assign"), ("priority", "prioritise")):
        if name in patch.model_fields_set and not caller.may(ability):
            raise ForbiddenError(f"{' or '.join(personas_able(ability))} only: changing a case's {name}.")


def _people(cases: list[Case]) -> list[str]:
    """The subjects whose data a list of cases shows (a spike's subject id is derived from the spike)."""
    return [case.subject_id for case in cases if case.origin == "interaction"]


def build_router(runtime: Callable[[], CasesRuntime]) -> Router:
    router = Router()

    def read(env: CasesRuntime, route: str, cases: list[Case]) -> None:
        """The ledger entry of a route that shows cases (before they are shown)."""
        record_read(env.ledger, router.current_event, route, _people(cases))

    @router.get(
        "/cases",
        summary="A work queue: a team's cases of one status, most urgent first",
        description=(
            "Ordered by priority (P1 first), then by SLA due time (soonest first). Without `team`, the cases "
            "of every one of the caller's teams, merged (a case of two of them comes once); a team that is "
            "not the caller's is a 403. Paginated: pass the returned next_cursor as cursor to read the next "
            "page."
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
        env = runtime()
        caller = caller_of(router)
        if team is not None and team not in caller.teams:
            raise ForbiddenError(f"'{team}' is not one of your teams (your {TEAMS_TAG} tag).")
        page, next_cursor = env.cases.queue(
            team=team, status=status, priority=priority, limit=limit, cursor=cursor, teams=caller.teams
        )
        read(env, "GET /cases", page)
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
        env = runtime()
        case = _case_or_404(env, case_id, caller_of(router))
        read(env, "GET /cases/{case_id}", [case])
        return case.public()

    @router.patch(
        "/cases/<case_id>",
        summary="Assign or re-prioritise a case (team leads), change its status, record the first response",
        description=(
            "On platforms that send the brand's replies back, a reply stops the clocks by itself; elsewhere "
            "first_response_at records the first response. It, or a resolution (status resolved), stops the "
            "first-response clock and sets sla_met; a resolution also stops the resolution clock. A resolved "
            "case set back to open is reopened. Only a team lead may change assignee or priority (403 for an "
            "agent). Every change publishes CaseUpdated; a 503 means the change is stored but not yet "
            "announced: repeat the request."
        ),
        responses={
            200: {"description": "The case after the change", "content": {JSON: {"model": CaseView}}},
            **documented_errors(400, 404, 415, 503),
        },
    )
    def patch_case(case_id: str, body: Annotated[CasePatch, Body()]) -> dict[str, Any]:
        env = runtime()
        caller = caller_of(router)
        case = _case_or_404(env, case_id, caller)
        _may_change(caller, body)
        read(env, "PATCH /cases/{case_id}", [case])
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

    def reply_ports(env: CasesRuntime) -> ReplyPorts:
        if env.replies is None:
            raise ConfigurationError("The replies routes need their ports (socialcrm.routing.runtime).")
        return env.replies

    @router.post(
        "/cases/<case_id>/replies",
        summary="Answer the case's customer: queue a reply",
        description=(
            "Give text, or a template of the rules document with params; visibility public or private "
            "(left out: as the customer wrote). The platform's rules are checked first: a refusal says "
            "which (409: it may pass later, such as a closed window; 422: it never can). Answers 202 with "
            "the reply, queued; GET it to see it sent, failed or unknown. An Idempotency-Key header makes a "
            "repeated request return the same reply (a different request under the same key is a 409)."
        ),
        responses={
            202: {"description": "The reply, queued", "content": {JSON: {"model": ReplyView}}},
            200: {
                "description": "The reply an earlier request with this key created",
                "content": {JSON: {"model": ReplyView}},
            },
            **documented_errors(400, 404, 409, 415, 422, 503),
        },
    )
    def post_reply(case_id: str, body: Annotated[ReplyRequest, Body()]) -> Response[Any]:
        env = runtime()
        case = _case_or_404(env, case_id, caller_of(router))
        key = router.current_event.headers.get("idempotency-key")
        if key is not None and not _IDEMPOTENCY_KEY.match(key):
            raise BadRequestError("Idempotency-Key must be 1 to 255 printable ASCII characters.")
        read(env, "POST /cases/{case_id}/replies", [case])
        reply, created = request_reply(
            case_id,
            body,
            idempotency_key=key,
            requested_by=principal_of(router.current_event),
            ports=reply_ports(env),
            now=datetime.now(tz=UTC),
        )
        return Response(
            status_code=202 if created else 200, content_type=JSON, body=json.dumps(reply.public())
        )

    @router.get(
        "/cases/<case_id>/replies",
        summary="The case's replies, oldest first",
        responses={
            200: {"description": "The replies", "content": {JSON: {"model": ReplyPage}}},
            **documented_errors(404),
        },
    )
    def list_replies(case_id: str) -> dict[str, Any]:
        env = runtime()
        case = _case_or_404(env, case_id, caller_of(router))
        replies = reply_ports(env).replies.of_case(case.case_id, case.subject_id)
        read(env, "GET /cases/{case_id}/replies", [case])
        return {"items": [reply.public() for reply in replies]}

    @router.get(
        "/cases/<case_id>/replies/<reply_id>",
        summary="One reply: queued, sent, failed or unknown",
        responses={
            200: {"description": "The reply", "content": {JSON: {"model": ReplyView}}},
            **documented_errors(404),
        },
    )
    def get_reply(case_id: str, reply_id: str) -> dict[str, Any]:
        env = runtime()
        _case_or_404(env, case_id, caller_of(router))  # a reply is seen as its case is, first
        reply = reply_ports(env).replies.get(reply_id) if _REPLY_ID.match(reply_id) else None
        if reply is None or reply.case_id != case_id:
            raise NotFoundError(f"No reply '{reply_id}' on case '{case_id}'.")
        record_read(
            env.ledger, router.current_event, "GET /cases/{case_id}/replies/{reply_id}", [reply.subject_id]
        )
        return reply.public()

    return router
