"""Build API Gateway HTTP API (payload format 2.0) events and a Lambda context, as AWS sends them."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode


class LambdaContext:
    function_name = "socialcrm-ingest"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:socialcrm-ingest"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    def __init__(self, remaining_ms: int = 10_000) -> None:
        self._remaining = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining


def http_event(
    method: str,
    path: str,
    *,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    binary: bool = False,
    principal: str | None = "auto",
) -> dict[str, Any]:
    """An HTTP API v2 proxy event; ``binary`` base64-encodes the body as API Gateway does for binary media.

    ``principal``: the IAM principal API Gateway's authoriser passes (``"auto"``: a role of the first
    persona the route allows, ``tests.support.principals``; None: none, as on a webhook route)."""
    if principal == "auto":
        from tests.support.principals import principal_for

        principal = principal_for(method, path)
    raw = body.encode() if isinstance(body, str) else body
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "t",
            },
            "requestId": "req-1",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "23/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795428000000,
        },
        "isBase64Encoded": binary,
    }
    if principal:
        event["requestContext"]["authorizer"] = {"iam": {"userArn": principal}}
    if query:
        event["queryStringParameters"] = dict(query)
    if raw is not None:
        event["body"] = base64.b64encode(raw).decode() if binary else raw.decode("utf-8")
    return event


def call_json(
    handler: Any, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
) -> tuple[int, Any]:
    """Invoke a function's ``lambda_handler`` with a JSON body (if any): its status and decoded body."""
    event = http_event(
        method,
        path,
        body=json.dumps(body) if body is not None else None,
        headers={"content-type": "application/json"} if body is not None else None,
        query=query,
    )
    response = handler.lambda_handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None
