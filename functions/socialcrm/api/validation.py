"""Powertools' request validation with socialcrm's JSON body rule, for the functions that validate requests.

Kept apart from ``socialcrm.api.responses`` so that a function that validates nothing (the webhook) does
not import Powertools' OpenAPI validation at a cold start.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
)

from socialcrm.api.responses import json_body


class JsonBodyValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, reading the body of a route that takes one with :func:`json_body`.

    Powertools calls ``_get_body`` only for routes that declare a body, so the webhook routes (which read
    theirs raw) never reach it.
    """

    def _get_body(self, app: Any) -> Any:
        return json_body(app.current_event)


def install_json_body_validation(app: Any) -> None:
    """Make ``app`` (a resolver with ``enable_validation``) read every body it validates as JSON only."""
    if not hasattr(app, "_request_validation_middleware") or not callable(
        getattr(OpenAPIRequestValidationMiddleware, "_get_body", None)
    ):  # pragma: no cover - a Powertools release that moved them: fail at start, not per request
        raise RuntimeError("Powertools' request validation changed: JsonBodyValidation needs updating")
    app._request_validation_middleware = JsonBodyValidation()
