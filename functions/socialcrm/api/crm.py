"""CRM routes (IAM-authorised in AWS): an interaction, a customer's timeline, a subject's export."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from socialcrm.api.responses import documented_errors
from socialcrm.dal.repository import InteractionRepository, SubjectRepository
from socialcrm.errors import BadRequestError, NotFoundError
from socialcrm.models import PLATFORMS, subject_id
from socialcrm.observability import logger
from socialcrm.secrets import SecretsSource

MAX_PAGE = 100


@dataclass(frozen=True)
class CrmRuntime:
    secrets: SecretsSource
    interactions: InteractionRepository
    subjects: SubjectRepository


def _subject(runtime: CrmRuntime, platform: str, user_id: str) -> str:
    if platform not in PLATFORMS:
        raise BadRequestError(f"'{platform}' is not a platform; use one of {', '.join(PLATFORMS)}.")
    if not user_id:
        raise BadRequestError("The user id is empty.")
    return subject_id(runtime.secrets.get().subject_pepper.get_secret_value(), platform, user_id)


def build_router(runtime: Callable[[], CrmRuntime]) -> Router:
    router = Router()

    @router.get(
        "/interactions/<interaction_id>",
        summary="One enriched interaction",
        responses={200: {"description": "The interaction"}, **documented_errors(404)},
    )
    def get_interaction(interaction_id: str) -> dict[str, Any]:
        interaction = runtime().interactions.get(interaction_id)
        if interaction is None:
            raise NotFoundError(f"No interaction '{interaction_id}'.")
        return interaction.model_dump(mode="json")

    @router.get(
        "/subjects/<platform>/<user_id>/interactions",
        summary="A customer's timeline, newest first",
        description="Paginated: pass the returned next_cursor as cursor to read the next page.",
        responses={200: {"description": "A page of interactions"}, **documented_errors(400)},
    )
    def get_timeline(
        platform: str,
        user_id: str,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 25,
        cursor: Annotated[str | None, Query(max_length=2048)] = None,
    ) -> dict[str, Any]:
        env = runtime()
        page, next_cursor = env.interactions.timeline(
            _subject(env, platform, user_id), limit=limit, cursor=cursor
        )
        return {"items": [i.model_dump(mode="json") for i in page], "next_cursor": next_cursor}

    @router.get(
        "/subjects/<platform>/<user_id>/export",
        summary="Everything held about a data subject (GDPR Art. 15)",
        responses={200: {"description": "The subject's data from every store"}, **documented_errors(400)},
    )
    def export_subject(platform: str, user_id: str) -> dict[str, Any]:
        env = runtime()
        subject = _subject(env, platform, user_id)
        interactions = env.interactions.all_for_subject(subject)
        logger.info("export", subject_id=subject, interactions=len(interactions))
        return {
            "subject_id": subject,
            "generated_at": datetime.now(tz=UTC).isoformat(),
            "stores": {
                "subjects": env.subjects.get(subject),
                "interactions": [i.model_dump(mode="json") for i in interactions],
            },
        }

    return router
