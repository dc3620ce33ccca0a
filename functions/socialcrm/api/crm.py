"""CRM routes (IAM-authorised in AWS): an interaction, a customer's timeline, a subject's export."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from socialcrm.api.access import record_read
from socialcrm.api.callers import CaseTeams, caller_of
from socialcrm.api.path_ids import InteractionIdSegment, UserIdSegment, decode_path_id
from socialcrm.api.responses import documented_errors
from socialcrm.dal.repository import InteractionRepository, SubjectRepository
from socialcrm.errors import ConfigurationError, NotFoundError
from socialcrm.models import interaction_ref
from socialcrm.observability import logger
from socialcrm.privacy.access import export_subject as export_subject_data
from socialcrm.privacy.access import subject_of
from socialcrm.privacy.ledger import AccessLedger
from socialcrm.privacy.stores import StoreRegistry
from socialcrm.privacy.suppression import SuppressionTable
from socialcrm.secrets import SecretsSource

MAX_PAGE = 100


@dataclass(frozen=True)
class CrmRuntime:
    secrets: SecretsSource
    interactions: InteractionRepository
    subjects: SubjectRepository
    # The personal-data stores and the suppression state, read by the export (socialcrm.privacy.runtime).
    stores: StoreRegistry | None = None
    suppressions: SuppressionTable | None = None
    # The customers the subjects belong to (socialcrm.customers.store): a timeline names its customer.
    customer_of: Callable[[str], str | None] | None = None
    # Who read whose data (socialcrm.privacy.ledger): without it, no personal data is shown.
    ledger: AccessLedger | None = None
    # The teams cases are queued for now: a message is shown to its case's teams (socialcrm.api.callers).
    case_teams: CaseTeams | None = None


def _subject(runtime: CrmRuntime, platform: str, user_id_segment: str) -> str:
    """The subject_id of a ``/subjects/{platform}/{user_id}`` path (``user_id`` in the path-id encoding)."""
    pepper = runtime.secrets.get().subject_pepper.get_secret_value()
    return subject_of(pepper, platform, decode_path_id(user_id_segment, "user id"))


def build_router(runtime: Callable[[], CrmRuntime]) -> Router:
    router = Router()

    @router.get(
        "/interactions/<interaction_id>",
        summary="One enriched interaction",
        responses={200: {"description": "The interaction"}, **documented_errors(400, 404)},
    )
    def get_interaction(interaction_id: InteractionIdSegment) -> dict[str, Any]:
        env = runtime()
        wanted = decode_path_id(interaction_id, "interaction id")
        pepper = env.secrets.get().subject_pepper.get_secret_value()
        interaction = env.interactions.get(interaction_ref(pepper, wanted))
        if interaction is None or not caller_of(router).visible([interaction], env.case_teams):
            # none, or another team's: whether it exists is not disclosed
            raise NotFoundError(f"No interaction {wanted!r}.")
        record_read(
            env.ledger, router.current_event, "GET /interactions/{interaction_id}", [interaction.subject_id]
        )
        return interaction.model_dump(mode="json")

    @router.get(
        "/subjects/<platform>/<user_id>/interactions",
        summary="A customer's timeline, newest first",
        description=(
            "Paginated: pass the returned next_cursor as cursor to read the next page. An agent or team lead "
            "sees the messages of their teams' cases and those in no team's queue (a page may then hold "
            "fewer than `limit`)."
        ),
        responses={200: {"description": "A page of interactions"}, **documented_errors(400)},
    )
    def get_timeline(
        platform: str,
        user_id: UserIdSegment,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 25,
        cursor: Annotated[str | None, Query(max_length=2048)] = None,
    ) -> dict[str, Any]:
        env = runtime()
        subject = _subject(env, platform, user_id)
        page, next_cursor = env.interactions.timeline(subject, limit=limit, cursor=cursor)
        customer_id = env.customer_of(subject) if env.customer_of else None
        route = "GET /subjects/{platform}/{user_id}/interactions"
        # filed under its customer too: the customer's access log shows its identities' reads
        record_read(env.ledger, router.current_event, route, [subject], customer_id=customer_id)
        caller = caller_of(router)
        return {
            "items": [i.model_dump(mode="json") for i in caller.visible(page, env.case_teams)],
            "next_cursor": next_cursor,
            "customer_id": customer_id,
        }

    @router.get(
        "/subjects/<platform>/<user_id>/export",
        summary="Everything held about a data subject (GDPR Art. 15)",
        description="One JSON document: each personal-data store, and the subject's suppression state.",
        responses={200: {"description": "The subject's data from every store"}, **documented_errors(400)},
    )
    def export_subject(platform: str, user_id: UserIdSegment) -> dict[str, Any]:
        env = runtime()
        subject = _subject(env, platform, user_id)
        if env.stores is None or env.suppressions is None:
            raise ConfigurationError("The export needs the personal-data stores (socialcrm.privacy.runtime).")
        document = export_subject_data(subject, stores=env.stores, suppressions=env.suppressions)
        customer_id = env.customer_of(subject) if env.customer_of else None
        route = "GET /subjects/{platform}/{user_id}/export"
        record_read(env.ledger, router.current_event, route, [subject], customer_id=customer_id)
        logger.info("export", subject_id=subject, interactions=len(document["stores"]["interactions"]))
        return document

    return router
