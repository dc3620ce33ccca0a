"""Whatever a caller sends to a CRM route (any body, content type, header or path segment), the answer is
never a 5xx and an error is the API's JSON body: through the Lambda handlers, and through the local
stack's HTTP app (which receives the path percent-decoded, as uvicorn hands it over)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from socialcrm.local.resources import create_resources
from tests.conftest import DEV_SECRETS
from tests.support.apigw import LambdaContext, http_event
from tests.support.fuzz import (
    BODIES,
    CONTENT_TYPES,
    CRM_ROUTES,
    HEADERS,
    QUERIES,
    assert_json_answer_below_500,
    concrete_paths,
)

FUZZING = settings(max_examples=100, deadline=None)
ROUTE_IDS = [f"{method} {path}" for method, path, _function in CRM_ROUTES]


@pytest.fixture(scope="module")
def handlers():
    with mock_aws():
        resources = create_resources()
        env = {**resources.environment, "SOCIALCRM_SECRETS_FILE": str(DEV_SECRETS)}
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            patch.delenv("SECRETS_NAME", raising=False)
            patch.setenv("DLQ_SCAN_WAIT_SECONDS", "0")  # the export's scan of the DLQs: no long poll
            import api.handler
            import privacy.handler

            modules = {"api": api.handler, "privacy": privacy.handler}
            for module in modules.values():
                module.runtime.cache_clear()
            yield modules
            for module in modules.values():
                module.runtime.cache_clear()


@pytest.fixture(scope="module")
def local_api(handlers):
    from socialcrm.local.app import LocalApi

    return LocalApi()


def with_content_type(headers: dict[str, str], content_type: str | None) -> dict[str, str]:
    return headers if content_type is None else {**headers, "content-type": content_type}


@pytest.mark.parametrize(("method", "template", "function"), CRM_ROUTES, ids=ROUTE_IDS)
def test_any_request_to_a_crm_function_gets_a_json_answer_below_500(handlers, method, template, function):
    @FUZZING
    @given(
        path=concrete_paths(template),
        body=BODIES,
        content_type=CONTENT_TYPES,
        headers=HEADERS,
        query=QUERIES,
        binary=st.booleans(),
    )
    def answer_is_below_500(path, body, content_type, headers, query, binary):
        # Given any request API Gateway could hand the route's function
        event = http_event(
            method,
            path,
            body=body if binary else body.decode("utf-8", "replace"),
            headers=with_content_type(headers, content_type),
            query=query,
            binary=binary,
        )
        # When the function answers
        response = handlers[function].lambda_handler(event, LambdaContext())
        # Then it is below 500, and an error is the API's JSON body
        assert_json_answer_below_500(response["statusCode"], response["body"], path)

    answer_is_below_500()


def call_asgi(
    app: Any, method: str, raw_path: str, body: bytes, headers: list[tuple[bytes, bytes]]
) -> tuple[int, bytes]:
    """One request through the ASGI app, with the scope uvicorn builds (``path`` percent-decoded)."""
    scope = {
        "type": "http",
        "method": method,
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("utf-8", "surrogatepass"),
        "query_string": b"",
        "headers": headers,
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@pytest.mark.parametrize(("method", "template", "function"), CRM_ROUTES, ids=ROUTE_IDS)
def test_any_request_to_the_local_stack_gets_a_json_answer_below_500(local_api, method, template, function):
    @FUZZING
    @given(path=concrete_paths(template), body=BODIES, content_type=CONTENT_TYPES, headers=HEADERS)
    def answer_is_below_500(path, body, content_type, headers):
        # Given any request a client could send the local stack (the path as sent, escapes and all)
        raw_headers = [
            (name.encode(), value.encode("utf-8", "surrogatepass"))
            for name, value in with_content_type(headers, content_type).items()
        ]
        # When the local HTTP app answers it
        status, answer = call_asgi(local_api, method, path, body, raw_headers)
        # Then it is below 500, and an error is the API's JSON body
        assert_json_answer_below_500(status, answer, path)

    answer_is_below_500()
