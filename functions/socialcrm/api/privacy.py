"""Privacy routes (IAM-authorised in AWS): erasure requests (GDPR Art. 17) and objections (Art. 21).

``POST /erasure-requests`` records the request (pseudonymous subject ids only, the caller's IAM
principal, the ticket reference) and publishes ``ErasureRequested``; the erase consumer does the work.
The access export (Art. 15) is ``GET /subjects/{platform}/{user_id}/export`` on the CRM routes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from socialcrm.api.callers import principal_of
from socialcrm.api.path_ids import UserIdSegment, decode_path_id
from socialcrm.api.responses import JSON, ErrorBody, documented_errors
from socialcrm.customers.store import CUSTOMER_ID_PATTERN, is_customer_id
from socialcrm.errors import BadRequestError, ConfigurationError, NotFoundError, SocialCrmError
from socialcrm.events.models import ErasureRequested
from socialcrm.models import Platform
from socialcrm.observability import logger
from socialcrm.privacy.access import subject_of
from socialcrm.privacy.dynamo import iso
from socialcrm.privacy.ledger import AccessLedger, customer_key, subject_key
from socialcrm.privacy.requests import CustomerErasure, ErasureRecord, Failure, SubjectErasure
from socialcrm.privacy.runtime import PrivacyRuntime
from socialcrm.privacy.suppression import Suppression

EVENT_SOURCE = "socialcrm.privacy"
MAX_SUBJECTS = 25
# Subjects named and linked to the customers named: one request's erasure stays within a few runs.
MAX_ERASED_SUBJECTS = 100
# A ticket reference, not free text: it is kept for years with the proof, so it must not carry personal data.
REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}$"


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

    subjects: list[SubjectRef] = Field(default_factory=list, max_length=MAX_SUBJECTS)
    customers: list[Annotated[str, Field(pattern=CUSTOMER_ID_PATTERN)]] = Field(
        default_factory=list,
        max_length=MAX_SUBJECTS,
        description="Customers to erase: every identity linked to each, the links and the customer itself.",
    )
    reference: str = Field(
        pattern=REFERENCE_PATTERN,
        description="The ticket that asked for the erasure (e.g. T-42); kept with the proof, so no personal data.",
    )

    @model_validator(mode="after")
    def _someone(self) -> ErasureRequestBody:
        if not self.subjects and not self.customers:
            raise ValueError("name at least one subject or customer")
        return self


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
    customers: list[CustomerErasure] = Field(
        default_factory=list, description="Customers erased with their identities, and their own rows."
    )
    erased: dict[str, int] = Field(description="Items erased per store, over every subject.")
    verified: bool = Field(description="True only when every store was asked again and held nothing.")
    failure: Failure | None = Field(description="The store and the reason of the last failure.")
    attempts: int


class AccessEntry(BaseModel):
    """One request that returned the person's data."""

    entry_id: str
    at: str
    principal: str = Field(description="The caller's IAM principal (locally, the configured name).")
    route: str = Field(description="The route's method and template, e.g. GET /customers/{customer_id}.")
    reason: str | None = Field(description="The X-Reason the caller gave (a ticket reference).")
    customer_id: str | None = Field(description="The customer the request named, if any.")
    subject_count: int = Field(description="How many subjects' data the request returned.")
    subject_ids: list[str] | None = Field(
        default=None, description="On a customer's log: the identities (pseudonymous ids) it read."
    )


class AccessLog(BaseModel):
    key: str = Field(description="The subject id or customer id the log is about.")
    items: list[AccessEntry]
    next_cursor: str | None


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


def is_reference(value: str) -> bool:
    """Whether ``value`` is a ticket reference (``REFERENCE_PATTERN``): what a kept reason may be."""
    return re.fullmatch(REFERENCE_PATTERN, value) is not None


def identities_of(env: PrivacyRuntime, customer_id: str) -> list[str]:
    """The subject ids linked to a customer; a 404 for a customer that does not exist (any more)."""
    if env.customers is None:
        raise ConfigurationError(
            "An erasure by customer needs the customers table (socialcrm.privacy.runtime)."
        )
    customer = env.customers.get(customer_id)
    if customer is None:
        raise NotFoundError(f"No customer {customer_id}: it was never created, or it is erased already.")
    return [link.subject_id for link in customer.identities]


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
            "starts it; poll GET /erasure-requests/{request_id}. Repeating a request is harmless. A customer "
            "named in customers is erased with every identity linked to it (each listed in the proof); an "
            "unknown customer is a 404."
        ),
        responses=_responses(
            202, "Accepted: the request id, its status and its due date", ErasureAccepted, 400, 404, 415, 503
        ),
    )
    def request_erasure(body: Annotated[ErasureRequestBody, Body()]) -> Response[str]:
        env = runtime()
        pepper = env.secrets.get().subject_pepper.get_secret_value()
        subjects = [subject_of(pepper, s.platform, s.user_id) for s in body.subjects]
        customers = list(dict.fromkeys(body.customers))
        subjects += [subject for customer_id in customers for subject in identities_of(env, customer_id)]
        if len(set(subjects)) > MAX_ERASED_SUBJECTS:
            raise BadRequestError(
                f"At most {MAX_ERASED_SUBJECTS} identities in one request; split it into several."
            )
        record = ErasureRecord.new(
            env.new_id(),
            subject_ids=subjects,
            customer_ids=customers,
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

    def access_log(env: PrivacyRuntime, key: str, limit: int, cursor: str | None) -> dict[str, Any]:
        ledger: AccessLedger | None = env.ledger
        if ledger is None:
            raise ConfigurationError("The access log needs the ledger (socialcrm.privacy.runtime).")
        items, next_cursor = ledger.entries(key, limit=limit, cursor=cursor)
        return {"key": key.split("#", 1)[1], "items": items, "next_cursor": next_cursor}

    @router.get(
        "/subjects/<platform>/<user_id>/access-log",
        summary="Who read a data subject's data: principal, route, time and reason, newest first",
        description="Kept six years, and kept after an erasure. Paginated: pass next_cursor as cursor.",
        responses=_responses(200, "A page of the subject's access log", AccessLog, 400, 503),
    )
    def get_subject_access_log(
        platform: str,
        user_id: UserIdSegment,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
    ) -> dict[str, Any]:
        env = runtime()
        return access_log(env, subject_key(subject_from_path(env, platform, user_id)), limit, cursor)

    @router.get(
        "/customers/<customer_id>/access-log",
        summary="Who read a customer's data, newest first",
        description="The customer routes' reads, and its identities' reads through the subject routes while "
        "they were linked; each identity's own log holds them too. Kept six years, and kept after the "
        "customer is erased. Paginated: pass next_cursor as cursor.",
        responses=_responses(200, "A page of the customer's access log", AccessLog, 400, 503),
    )
    def get_customer_access_log(
        customer_id: str,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
    ) -> dict[str, Any]:
        if not is_customer_id(customer_id):
            raise BadRequestError(f"{customer_id!r} is not a customer id (cus_ and 24 hex digits).")
        return access_log(runtime(), customer_key(customer_id), limit, cursor)

    return router
