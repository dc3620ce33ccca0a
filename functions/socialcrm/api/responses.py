"""Error responses, mapped in one place: every error body is ``{"error": code, "message": text}``."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel

from socialcrm.errors import SocialCrmError
from socialcrm.observability import logger

JSON = "application/json"


class ErrorBody(BaseModel):
    error: str
    message: str


def documented_errors(*statuses: int) -> dict[int, Any]:
    """OpenAPI ``responses`` entries for the error statuses a route can answer."""
    meaning = {
        400: "Unparseable or invalid request",
        401: "Missing, bad or stale signature",
        403: "Wrong verify token",
        404: "Unknown platform, unconfigured platform, or no such item",
        405: "The platform has no handshake",
        413: "Body over 6 MB",
        503: "Queueing failed: retry the delivery",
    }
    return {
        status: {"description": meaning[status], "content": {JSON: {"model": ErrorBody}}}
        for status in statuses
    }


def error_response(status: int, code: str, message: str) -> Response:
    return Response(
        status_code=status, content_type=JSON, body=json.dumps({"error": code, "message": message})
    )


def register_error_handlers(app: ApiGatewayResolver) -> None:
    """Map domain errors, unmatched routes and request validation to JSON errors; anything else is a 500."""

    @app.exception_handler(SocialCrmError)
    def _domain_error(exc: SocialCrmError) -> Response:
        if exc.status >= 500:
            logger.warning("request failed", error=exc.code, cause=type(exc.__cause__).__name__)
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
            for err in exc.errors()
        )
        return error_response(400, "invalid_request", problems or "The request is invalid.")

    @app.not_found
    def _no_route(exc: RouteNotFoundError) -> Response:
        return error_response(404, "not_found", "No such route.")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unexpected error")
        return error_response(500, "internal_error", "Something went wrong on our side; retry later.")
