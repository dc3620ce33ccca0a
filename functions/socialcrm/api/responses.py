"""Error responses, mapped in one place: every error body is ``{"error": code, "message": text}``.

Request bodies are read here too, once for every route that takes one: as JSON only (``application/json``
or ``application/*+json``; anything else, or a body without a Content-Type, is a 415), parsed so that
no body (malformed, not UTF-8, nested too deeply for the parser) can fail with anything but a 400.
Routes that take no body (the webhooks read theirs raw and check its signature) are not concerned.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
from pydantic import BaseModel

from socialcrm.errors import SocialCrmError, UnparseableError, UnsupportedMediaTypeError
from socialcrm.observability import logger

JSON = "application/json"
# application/json and the structured-syntax +json types (RFC 6839), e.g. application/merge-patch+json.
_JSON_MEDIA_TYPE = re.compile(r"application/(?:[a-z0-9][a-z0-9!#$&^_.+-]*\+)?json")
_UTF8 = ("utf-8", "utf8")


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
        409: "Refused for now: the error names the rule (a window closed, a one-time reply taken)",
        415: "A body that is not JSON: send it with Content-Type: application/json",
        422: "Cannot be done as asked: the error names the rule or the field",
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


def is_json_media_type(content_type: str) -> bool:
    """True for ``application/json`` or ``application/*+json``, with no charset or a UTF-8 one.

    >>> [is_json_media_type(t) for t in ("application/json; charset=UTF-8", "application/merge-patch+json")]
    [True, True]
    >>> [is_json_media_type(t) for t in ("text/plain", "application/jsonp", "application/json; charset=latin-1")]
    [False, False, False]
    """
    media_type, *parameters = content_type.split(";")
    if not _JSON_MEDIA_TYPE.fullmatch(media_type.strip().lower()):
        return False
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in _UTF8:
            return False
    return True


def json_body(event: BaseProxyEvent) -> Any:
    """The request's body as JSON (``None`` when there is none): a 415 unless it says it is JSON, a 400
    unless it is UTF-8 JSON that the parser can read (``json.loads`` raises ``RecursionError`` near a
    thousand levels of nesting)."""
    body = event.body
    if not body:
        return None
    content_type = event.headers.get("content-type")
    if content_type is None:
        raise UnsupportedMediaTypeError("The body has no Content-Type: send JSON as application/json.")
    if not is_json_media_type(content_type):
        raise UnsupportedMediaTypeError(
            f"This route takes JSON (Content-Type: application/json), not {content_type[:100]!r}."
        )
    try:
        raw = base64.b64decode(body, validate=True) if event.is_base64_encoded else body.encode("utf-8")
        text = raw.decode("utf-8")
    except (binascii.Error, UnicodeError) as exc:
        raise UnparseableError("The body is not UTF-8 text.") from exc
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise UnparseableError("The body nests JSON arrays or objects too deeply.") from exc
    except ValueError as exc:
        raise UnparseableError(f"The body is not valid JSON: {exc}.") from exc


def register_error_handlers(app: ApiGatewayResolver) -> None:
    """Map domain errors, unmatched routes and request validation to JSON errors; anything else is a 500.

    On a resolver that validates requests it also installs ``socialcrm.api.validation.JsonBodyValidation``, so every route
    with a body takes JSON only (the Lambda handlers and the local stack both call this).
    """
    if getattr(app, "_enable_validation", False):
        # Imported here: Powertools' validation middleware pulls in its OpenAPI models, which a function
        # that validates nothing (the webhook) need not load at a cold start.
        from socialcrm.api.validation import install_json_body_validation

        install_json_body_validation(app)

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

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported_body(exc: RequestUnsupportedContentType) -> Response:
        return error_response(
            415, UnsupportedMediaTypeError.code, "This route takes JSON (application/json)."
        )

    @app.not_found
    def _no_route(exc: RouteNotFoundError) -> Response:
        return error_response(404, "not_found", "No such route.")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unexpected error")
        return error_response(500, "internal_error", "Something went wrong on our side; retry later.")
