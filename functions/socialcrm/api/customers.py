"""Customer routes (IAM-authorised in AWS): one person's identities linked, seen as one customer.

``POST /customers`` creates a customer from identities (``{platform, user_id}``); identities are linked
and unlinked one at a time; ``GET /customers/{customer_id}`` is the 360° view (identities, first and last
contact, counts by platform and sentiment, open cases), ``…/interactions`` the merged timeline and
``…/export`` every linked identity's access export (GDPR Art. 15).
Raw user ids are turned into pseudonymous subject ids on the way in and never stored; a reason (a ticket
reference, kept with the link) and the caller's IAM principal go with every change.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, ConfigDict, Field

from socialcrm.api.access import record_read
from socialcrm.api.callers import Caller, CaseTeams, caller_of, principal_of
from socialcrm.api.path_ids import UserIdSegment, decode_path_id
from socialcrm.api.privacy import REFERENCE_PATTERN, SubjectRef
from socialcrm.api.responses import JSON, documented_errors
from socialcrm.customers.store import (
    MAX_IDENTITIES,
    Customer,
    CustomerStore,
    Identity,
    is_customer_id,
    new_customer_id,
)
from socialcrm.customers.timeline import merged_page
from socialcrm.dal.repository import InteractionRepository, SubjectRepository
from socialcrm.errors import BadRequestError, ConfigurationError, NotFoundError
from socialcrm.observability import logger
from socialcrm.privacy.access import subject_of
from socialcrm.privacy.ledger import AccessLedger
from socialcrm.secrets import SecretsSource

MAX_PAGE = 100
SENTIMENTS = ("positive", "negative", "neutral", "mixed", "unscored")


@dataclass(frozen=True)
class CustomersRuntime:
    secrets: SecretsSource
    customers: CustomerStore
    interactions: InteractionRepository
    subjects: SubjectRepository
    # a subject's unresolved case ids, of the given teams only
    open_cases: Callable[[str, frozenset[str]], list[str]]
    # A subject's access export (GDPR Art. 15: every personal-data store, socialcrm.privacy.access).
    export: Callable[[str], dict[str, Any]] | None = None
    # Who read whose data (socialcrm.privacy.ledger): without it, no personal data is shown.
    ledger: AccessLedger | None = None
    now: Callable[[], datetime] = lambda: datetime.now(tz=UTC)
    # The teams cases are queued for now: a message is shown to its case's teams (socialcrm.api.callers).
    case_teams: CaseTeams | None = None


class CustomerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identities: list[SubjectRef] = Field(min_length=1, max_length=MAX_IDENTITIES)
    reason: str = Field(
        pattern=REFERENCE_PATTERN,
        description="Why these identities are one person: a ticket reference (e.g. T-42), kept with the links.",
    )


class LinkBody(SubjectRef):
    reason: str = Field(pattern=REFERENCE_PATTERN, description="A ticket reference, kept with the link.")


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(status_code=status, content_type=JSON, body=json.dumps(body))


def _customer_or_404(env: CustomersRuntime, customer_id: str) -> Customer:
    customer = env.customers.get(customer_id) if is_customer_id(customer_id) else None
    if customer is None:
        raise NotFoundError(f"No customer {customer_id!r}.")
    return customer


def _subject_ids(customer: Customer) -> list[str]:
    return [link.subject_id for link in customer.identities]


def _identities(customer: Customer) -> list[dict[str, Any]]:
    return [asdict(link) for link in customer.identities]


def _view(env: CustomersRuntime, customer: Customer, caller: Caller) -> dict[str, Any]:
    """The 360° view, from the identities' profiles (one read each) and their open cases."""
    by_platform: dict[str, int] = {}
    by_sentiment = dict.fromkeys(SENTIMENTS, 0)
    first, last = None, None
    open_cases: list[str] = []
    for link in customer.identities:
        profile = env.subjects.get(link.subject_id) or {}
        count = int(profile.get("interactions") or 0)
        by_platform[link.platform] = by_platform.get(link.platform, 0) + count
        for sentiment in SENTIMENTS:
            by_sentiment[sentiment] += int(profile.get(sentiment) or 0)
        seen_first, seen_last = profile.get("first_seen"), profile.get("last_seen")
        first = seen_first if seen_first and (first is None or seen_first < first) else first
        last = seen_last if seen_last and (last is None or seen_last > last) else last
        open_cases += env.open_cases(link.subject_id, caller.teams)
    return {
        "customer_id": customer.customer_id,
        "created_at": customer.created_at,
        "created_by": customer.created_by,
        "reason": customer.reason,
        "identities": _identities(customer),
        "first_contact": first,
        "last_contact": last,
        "interactions": sum(by_platform.values()),
        "by_platform": by_platform,
        "by_sentiment": by_sentiment,
        "open_cases": open_cases,
        "segments": list(customer.segments),
    }


def build_router(runtime: Callable[[], CustomersRuntime]) -> Router:
    router = Router()

    def read(env: CustomersRuntime, route: str, customer_id: str, subjects: list[str]) -> None:
        """The ledger entry of a route that shows the customer's data (before it is shown)."""
        record_read(env.ledger, router.current_event, route, subjects, customer_id=customer_id, at=env.now())

    def identity(env: CustomersRuntime, platform: str, user_id: str) -> Identity:
        pepper = env.secrets.get().subject_pepper.get_secret_value()
        return Identity(platform, subject_of(pepper, platform, user_id))

    @router.post(
        "/customers",
        summary="Create a customer from one or more platform identities",
        description="An identity belongs to one customer at most: one linked elsewhere is a 409 naming its "
        "customer. Identities we have not seen yet may be linked.",
        responses={201: {"description": "The customer"}, **documented_errors(400, 409, 415, 503)},
    )
    def create_customer(body: Annotated[CustomerBody, Body()]) -> Response[str]:
        env = runtime()
        identities = [identity(env, ref.platform, ref.user_id) for ref in body.identities]
        if len({i.subject_id for i in identities}) != len(identities):
            raise BadRequestError("The same identity is named twice.")
        customer_id = new_customer_id()
        read(env, "POST /customers", customer_id, [i.subject_id for i in identities])
        env.customers.create(
            customer_id, identities, reason=body.reason, by=principal_of(router.current_event), at=env.now()
        )
        logger.info("customer created", customer_id=customer_id, identities=len(identities))
        return _json(201, _view(env, _customer_or_404(env, customer_id), caller_of(router)))

    @router.get(
        "/customers/<customer_id>",
        summary=(
            "A customer: identities, first and last contact, counts by platform and sentiment, open cases "
            "(of the caller's teams)"
        ),
        responses={200: {"description": "The customer"}, **documented_errors(404)},
    )
    def get_customer(customer_id: str) -> dict[str, Any]:
        env = runtime()
        customer = _customer_or_404(env, customer_id)
        read(env, "GET /customers/{customer_id}", customer_id, _subject_ids(customer))
        return _view(env, customer, caller_of(router))

    @router.get(
        "/customers/<customer_id>/interactions",
        summary="A customer's timeline across every linked identity, newest first",
        description=(
            "Paginated: pass the returned next_cursor as cursor to read the next page. The caller sees the "
            "messages of their teams' cases and those in no team's queue (a page may then hold fewer than "
            "`limit`)."
        ),
        responses={200: {"description": "A page of interactions"}, **documented_errors(400, 404)},
    )
    def get_customer_timeline(
        customer_id: str,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 25,
        cursor: Annotated[str | None, Query(max_length=8192)] = None,
    ) -> dict[str, Any]:
        env = runtime()
        customer = _customer_or_404(env, customer_id)
        read(env, "GET /customers/{customer_id}/interactions", customer_id, _subject_ids(customer))
        page = merged_page(
            customer_id,
            _subject_ids(customer),
            read=env.interactions.timeline_after,
            occurred_at=env.interactions.index_time,
            limit=limit,
            cursor=cursor,
        )
        caller = caller_of(router)
        return {
            "customer_id": customer_id,
            "items": [i.model_dump(mode="json") for i in caller.visible(page.items, env.case_teams)],
            "next_cursor": page.next_cursor,
        }

    @router.get(
        "/customers/<customer_id>/export",
        summary="Everything held about a customer (GDPR Art. 15): the customer and each linked identity's export",
        responses={200: {"description": "The customer and every identity's data"}, **documented_errors(404)},
    )
    def export_customer(customer_id: str) -> dict[str, Any]:
        env = runtime()
        customer = _customer_or_404(env, customer_id)
        if env.export is None:
            raise ConfigurationError("The export needs the personal-data stores (socialcrm.privacy.runtime).")
        read(env, "GET /customers/{customer_id}/export", customer_id, _subject_ids(customer))
        subjects = [env.export(link.subject_id) for link in customer.identities]
        logger.info("customer export", customer_id=customer_id, identities=len(subjects))
        return {
            "customer_id": customer.customer_id,
            "generated_at": env.now().isoformat().replace("+00:00", "Z"),
            "customer": {
                "created_at": customer.created_at,
                "created_by": customer.created_by,
                "reason": customer.reason,
                "identities": _identities(customer),
            },
            "subjects": subjects,
        }

    @router.post(
        "/customers/<customer_id>/identities",
        summary="Link a platform identity to a customer",
        responses={
            201: {"description": "Linked: the customer"},
            200: {"description": "It was linked already: the customer"},
            **documented_errors(400, 404, 409, 415, 503),
        },
    )
    def link_identity(customer_id: str, body: Annotated[LinkBody, Body()]) -> Response[str]:
        env = runtime()
        new = identity(env, body.platform, body.user_id)
        before = _customer_or_404(env, customer_id)
        read(
            env,
            "POST /customers/{customer_id}/identities",
            customer_id,
            [*_subject_ids(before), new.subject_id],
        )
        linked = env.customers.link(
            customer_id,
            new,
            reason=body.reason,
            by=principal_of(router.current_event),
            at=env.now(),
            customer=before,
        )
        logger.info("identity linked", customer_id=customer_id, platform=body.platform, changed=linked)
        return _json(
            201 if linked else 200, _view(env, _customer_or_404(env, customer_id), caller_of(router))
        )

    @router.delete(
        "/customers/<customer_id>/identities/<platform>/<user_id>",
        summary="Unlink a platform identity from a customer",
        description="The reason (a ticket reference) is required as the `reason` query parameter.",
        responses={200: {"description": "Unlinked: the customer"}, **documented_errors(400, 404, 503)},
    )
    def unlink_identity(
        customer_id: str,
        platform: str,
        user_id: UserIdSegment,
        reason: Annotated[str, Query(pattern=REFERENCE_PATTERN)],
    ) -> dict[str, Any]:
        env = runtime()
        before = _customer_or_404(env, customer_id)
        gone = identity(env, platform, decode_path_id(user_id, "user id"))
        route = "DELETE /customers/{customer_id}/identities/{platform}/{user_id}"
        read(env, route, customer_id, _subject_ids(before))
        env.customers.unlink(
            customer_id, gone, reason=reason, by=principal_of(router.current_event), at=env.now()
        )
        logger.info("identity unlinked", customer_id=customer_id, platform=platform)
        return _view(env, _customer_or_404(env, customer_id), caller_of(router))

    return router
