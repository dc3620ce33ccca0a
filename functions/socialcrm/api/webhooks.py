"""``GET`` and ``POST /webhooks/{platform}``: handshakes and deliveries, for Lambda and the local stack."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from socialcrm.api.responses import documented_errors
from socialcrm.errors import BadRequestError
from socialcrm.ingest.runtime import IngestRuntime
from socialcrm.ingest.service import answer_handshake, ingest_delivery
from socialcrm.observability import logger
from socialcrm.platforms import Delivery


def build_router(runtime: Callable[[], IngestRuntime]) -> Router:
    router = Router()

    @router.get(
        "/webhooks/<platform>",
        summary="Answer a platform's verification handshake",
        description="Meta and WebSub: the challenge echoed as text/plain (WebSub: only for a subscription request "
        "this deployment made and that is pending, else 404). X and LinkedIn: a JSON challenge response.",
        responses={200: {"description": "Handshake answered"}, **documented_errors(400, 403, 404, 405)},
    )
    def verify_subscription(platform: str) -> Response[str]:
        query = router.current_event.query_string_parameters or {}
        env = runtime()
        reply = answer_handshake(platform, query, env.secrets.get(), intents=env.intents)
        logger.info("handshake answered", platform=platform)
        return Response(status_code=reply.status, content_type=reply.content_type, body=reply.body)

    @router.post(
        "/webhooks/<platform>",
        summary="Receive a platform's signed delivery",
        description="Verifies the signature over the raw body, normalises every interaction and queues them; "
        "an item that cannot be taken in on its own (an id over 256 characters or with control characters, "
        "over 256 KiB) is refused alone and counted.",
        responses={
            200: {"description": "Accepted: counts of received, queued and refused interactions"},
            **documented_errors(400, 401, 404, 413, 503),
        },
    )
    def receive(platform: str) -> Response[str]:
        event = router.current_event
        env = runtime()
        delivery = Delivery(
            body=_raw_body(event.body, bool(event.is_base64_encoded)),
            headers={k.lower(): v for k, v in (event.headers or {}).items()},
            query=event.query_string_parameters or {},
        )
        outcome = ingest_delivery(
            platform,
            delivery,
            secrets=env.secrets.get(),
            queue=env.queue,
            received_at=datetime.now(tz=UTC),
        )
        if env.on_outcome is not None:
            env.on_outcome(platform, outcome)
        logger.info(
            "received",
            platform=platform,
            interactions=outcome.received,
            queued=outcome.queued,
            refused=outcome.refused,
            repaired=outcome.repaired,
        )
        return Response(
            status_code=200,
            content_type="application/json",
            body=f'{{"received":{outcome.received},"queued":{outcome.queued},"refused":{outcome.refused}}}',
        )

    return router


def _raw_body(body: str | None, is_base64: bool) -> bytes:
    """The exact bytes the platform signed: API Gateway hands text as str, binary as base64."""
    if not body:
        return b""
    if is_base64:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequestError("The body is not valid base64.") from exc
    return body.encode("utf-8", "surrogatepass")
