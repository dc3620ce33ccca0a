"""Privacy routes (IAM-authorised in AWS): erasure requests (GDPR Art. 17) and objections (Art. 21).

``POST /erasure-requests`` records the request (pseudonymous subject ids only, the caller's IAM
principal, the ticket reference) and publishes ``ErasureRequested``; the erase consumer does the work.
The access export (Art. 15) is ``GET /subjects/{platform}/{user_id}/export`` on the CRM routes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel, ConfigDict, Field

from socialcrm.api.path_ids import UserIdSegment, decode_path_id
from socialcrm.api.responses import JSON, ErrorBody, documented_errors
from socialcrm.errors import NotFoundError, SocialCrmError
from socialcrm.events.models import ErasureRequested
from socialcrm.models import Platform
from socialcrm.observability import logger
from socialcrm.privacy.access import subject_of
from socialcrm.privacy.dynamo import iso
from socialcrm.privacy.requests import ErasureRecord, Failure, SubjectErasure
from socialcrm.privacy.runtime import PrivacyRuntime
from socialcrm.privacy.suppression import Suppression

EVENT_SOURCE = "socialcrm.privacy"
MAX_SUBJECTS = 25
# A ticket reference, not free text: it is kept for years with the proof, so it must not carry personal data.
REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}$"
# Who asked, when the request did not come through API Gateway's IAM authoriser (the local stack).
LOCAL_PRINCIPAL = "local-stack (unauthenticated loopback)"


class ConflictError(SocialCrmError):
    status = 409
    code = "conflict"


class ErasureNotStartedError(SocialCrmError):
    """The request is recorded but its event could not be published: retry it."""

    status = 503
    code = "erasure_not_started"


class SubjectRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform: Platform
    user_id: str = Field(min_length=1, max_length=256, description="The platform's id of the person.")


class ErasureRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subjects: list[SubjectRef] = Field(min_length=1, max_length=MAX_SUBJECTS)
    reference: str = Field(
        pattern=REFERENCE_PATTERN,
        description="The ticket that asked for the erasure (e.g. T-42); kept with the proof, so no personal data.",
    )


class ObjectionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: str = Field(pattern=REFERENCE_PATTERN, description="The ticket that recorded the objection.")


_OWN_ERRORS = {
    409: "Not possible in the request's current status",
    503: "Recorded, but the erasure could not be started: retry it (POST /erasure-requests/{id}/retry)",
}


class ErasureAccepted(BaseModel):
    request_id: str
    status: str
    subject_count: int
    due_at: str = Field(description="30 days after the request (GDPR Art. 12(3)).")


class ErasureView(BaseModel):
    """An erasure request as ``GET /erasure-requests/{id}`` shows it: its status and its proof."""

    request_id: str
    status: str = Field(description="PENDING, RUNNING, COMPLETED or FAILED.")
    reference: str
    requested_by: str = Field(description="The IAM principal that asked.")
    requested_at: str
    due_at: str
    started_at: str | None
    completed_at: str | None
    erased_at: str | None = Field(description="Tombstone time: messages that occurred up to it stay out.")
    subject_count: int
    subjects: list[SubjectErasure]
    erased: dict[str, int] = Field(description="Items erased per store, over every subject.")
    verified: bool = Field(description="True only when every store was asked again and held nothing.")
    failure: Failure | None = Field(description="The store and the reason of the last failure.")
    attempts: int


class ObjectionView(BaseModel):
    subject_id: str
    objection: bool
    objected_at: str | None
    erased_at: str | None


def _responses(ok: int, description: str, model: type[BaseModel] | None, *errors: int) -> dict[int, Any]:
    out: dict[int, Any] = {ok: {"description": description}}
    if model is not None:
        out[ok]["content"] = {JSON: {"model": model}}
    out |= documented_errors(*[e for e in errors if e not in _OWN_ERRORS])
    for status in (e for e in errors if e in _OWN_ERRORS):
        out[status] = {"description": _OWN_ERRORS[status], "content": {JSON: {"model": ErrorBody}}}
    return out


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(status_code=status, content_type=JSON, body=json.dumps(body))


def _objection_view(subject: str, found: Suppression | None) -> dict[str, Any]:
    return {
        "subject_id": subject,
        "objection": bool(found and found.objected_at),
        "objected_at": iso(found.objected_at) if found and found.objected_at else None,
        "erased_at": iso(found.erased_at) if found and found.erased_at else None,
    }


def subject_from_path(env: PrivacyRuntime, platform: str, user_id_segment: str) -> str:
    """The subject_id of a ``/subjects/{platform}/{user_id}`` path (``user_id`` in the path-id encoding)."""
    pepper = env.secrets.get().subject_pepper.get_secret_value()
    return subject_of(pepper, platform, decode_path_id(user_id_segment, "user id"))


def principal_of(event: Any) -> str:
    """The caller's IAM principal (API Gateway's IAM authoriser), or the local stack's name for it."""
    context = getattr(event, "request_context", None)
    try:
        arn = context.authorizer.iam.user_arn if context is not None else ""
    except (AttributeError, KeyError, TypeError):
        arn = ""
    return arn or LOCAL_PRINCIPAL


def build_router(runtime: Callable[[], PrivacyRuntime]) -> Router:
    router = Router()

    def principal() -> str:
        return principal_of(router.current_event)

    def start(env: PrivacyRuntime, record: ErasureRecord) -> None:
        event = ErasureRequested(
            request_id=record.request_id, subject_count=len(record.subjects), requested_at=record.requested_at
        )
        if env.publisher.publish([event]):
            failure = Failure(store="bus", reason="ErasureRequested could not be published", at=env.now())
            env.requests.save(record.model_copy(update={"status": "FAILED", "failure": failure}))
            raise ErasureNotStartedError(
                f"Erasure request {record.request_id} is recorded but could not be started; "
                f"retry it with POST /erasure-requests/{record.request_id}/retry."
            )

    @router.post(
        "/erasure-requests",
        summary="Request the erasure of one or more data subjects (GDPR Art. 17)",
        description=(
            "Records the request (pseudonymous subject ids, the caller's IAM principal, the reference) and "
            "starts it; poll GET /erasure-requests/{request_id}. Repeating a request is harmless."
        ),
        responses=_responses(
            202, "Accepted: the request id, its status and its due date", ErasureAccepted, 400, 415, 503
        ),
    )
    def request_erasure(body: Annotated[ErasureRequestBody, Body()]) -> Response[str]:
        env = runtime()
        pepper = env.secrets.get().subject_pepper.get_secret_value()
        subjects = [subject_of(pepper, s.platform, s.user_id) for s in body.subjects]
        record = ErasureRecord.new(
            env.new_id(),
            subject_ids=subjects,
            reference=body.reference,
            requested_by=principal(),
            now=env.now(),
        )
        env.requests.create(record)
        start(env, record)
        logger.info("erasure requested", request_id=record.request_id, subjects=len(record.subjects))
        return _json(
            202,
            {
                "request_id": record.request_id,
                "status": record.status,
                "subject_count": len(record.subjects),
                "due_at": iso(record.due_at),
            },
        )

    @router.get(
        "/erasure-requests/<request_id>",
        summary="An erasure request: status, counts erased per store, verification, times",
        responses=_responses(200, "The request and its proof", ErasureView, 404),
    )
    def get_erasure(request_id: str) -> dict[str, Any]:
        record = runtime().requests.get(request_id)
        if record is None:
            raise NotFoundError(f"No erasure request '{request_id}'.")
        return record.view()

    @router.post(
        "/erasure-requests/<request_id>/retry",
        summary="Start a FAILED (or never started) erasure request again; it continues where it stopped",
        responses=_responses(202, "Restarted: the request as it stands", ErasureView, 404, 409, 503),
    )
    def retry_erasure(request_id: str) -> Response[str]:
        env = runtime()
        record = env.requests.get(request_id)
        if record is None:
            raise NotFoundError(f"No erasure request '{request_id}'.")
        if record.status not in ("FAILED", "PENDING"):
            raise ConflictError(
                f"Erasure request {request_id} is {record.status}; only FAILED or PENDING restart."
            )
        start(env, record)
        logger.info("erasure retried", request_id=request_id)
        return _json(202, record.view())

    @router.get(
        "/subjects/<platform>/<user_id>/objection",
        summary="Whether a data subject objected to processing (GDPR Art. 21), and any erasure tombstone",
        responses=_responses(200, "The subject's suppression state", ObjectionView, 400),
    )
    def get_objection(platform: str, user_id: UserIdSegment) -> dict[str, Any]:
        env = runtime()
        subject = subject_from_path(env, platform, user_id)
        return _objection_view(subject, env.suppressions.get(subject))

    @router.put(
        "/subjects/<platform>/<user_id>/objection",
        summary="Record an objection (GDPR Art. 21): none of the subject's messages is stored until lifted",
        responses=_responses(200, "The objection stands", ObjectionView, 400, 415),
    )
    def put_objection(
        platform: str, user_id: UserIdSegment, body: Annotated[ObjectionBody, Body()]
    ) -> dict[str, Any]:
        env = runtime()
        subject = subject_from_path(env, platform, user_id)
        found = env.suppressions.object(
            subject, at=env.now(), reference=body.reference, requested_by=principal()
        )
        logger.info("objection recorded", subject_id=subject)
        return _objection_view(subject, found)

    @router.delete(
        "/subjects/<platform>/<user_id>/objection",
        summary="Lift an objection: the subject's new messages are processed again",
        responses=_responses(
            200, "The objection is lifted (an erasure tombstone, if any, stays)", ObjectionView, 400
        ),
    )
    def delete_objection(platform: str, user_id: UserIdSegment) -> dict[str, Any]:
        env = runtime()
        subject = subject_from_path(env, platform, user_id)
        found = env.suppressions.lift_objection(subject)
        logger.info("objection lifted", subject_id=subject)
        return _objection_view(subject, found)

    return router
