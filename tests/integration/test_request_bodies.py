"""The CRM routes that take a body take JSON only: any other content type is a 415, an unreadable body a
400, both with the API's JSON error body, never a 5xx. The webhook routes are not concerned: platforms
send their own content types, and their bodies are checked by signature."""

from __future__ import annotations

import json

import pytest

from socialcrm.api.openapi import openapi_document
from tests.support.apigw import LambdaContext, http_event
from tests.support.privacy import World, privacy_world

UNKNOWN_CASE = "c_" + "0" * 32
UNKNOWN_CUSTOMER = "cus_" + "0" * 24
# Every route that takes a body: (function, method, path, a valid body, the answer it gets when accepted).
BODY_ROUTES = [
    (
        "privacy",
        "POST",
        "/erasure-requests",
        {"subjects": [{"platform": "x", "user_id": "1"}], "reference": "T-1"},
        202,
    ),
    ("privacy", "PUT", "/subjects/x/1/objection", {"reference": "T-2"}, 200),
    ("api", "PATCH", f"/cases/{UNKNOWN_CASE}", {"status": "pending"}, 404),  # 404: the body was read
    ("api", "POST", f"/cases/{UNKNOWN_CASE}/replies", {"text": "hello"}, 404),
    # 201 the first time; after that the identity has its customer: 409, the body was read
    (
        "api",
        "POST",
        "/customers",
        {"identities": [{"platform": "x", "user_id": "1"}], "reason": "T-3"},
        (201, 409),
    ),
    (
        "api",
        "POST",
        f"/customers/{UNKNOWN_CUSTOMER}/identities",
        {"platform": "x", "user_id": "2", "reason": "T-4"},
        404,
    ),
]
ROUTE_IDS = [f"{method} {path.split('/')[1]}" for _, method, path, _, _ in BODY_ROUTES]
WRONG_TYPES = [
    "text/plain",
    "text/plain; charset=utf-8",
    "application/xml",
    "multipart/form-data; boundary=----x",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
    "application/jsonp",
    "application/json; charset=iso-8859-1",
    "application/json, text/plain",
    "",
]
JSON_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    'Application/JSON; charset="UTF-8"',
    "application/merge-patch+json",
    "application/vnd.socialcrm+json; version=1",
]


@pytest.fixture(scope="module")
def world(dev_secrets):
    with pytest.MonkeyPatch.context() as patch, privacy_world(patch, dev_secrets) as built:
        yield built


def send(
    world: World,
    function: str,
    method: str,
    path: str,
    body: bytes | str | None,
    content_type: str | None,
    *,
    binary: bool = False,
) -> tuple[int, dict]:
    headers = {} if content_type is None else {"content-type": content_type}
    event = http_event(method, path, body=body, headers=headers, binary=binary)
    response = world.handlers[function].lambda_handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_the_routes_checked_here_are_every_route_that_takes_a_body():
    # Given the API's routes as the OpenAPI document describes them
    taking_a_body = {
        (method.upper(), path)
        for path, operations in openapi_document()["paths"].items()
        for method, operation in operations.items()
        if "requestBody" in operation
    }
    # Then the routes these tests send bodies to are all of them
    assert taking_a_body == {
        ("POST", "/erasure-requests"),
        ("PUT", "/subjects/{platform}/{user_id}/objection"),
        ("PATCH", "/cases/{case_id}"),
        ("POST", "/cases/{case_id}/replies"),
        ("POST", "/customers"),
        ("POST", "/customers/{customer_id}/identities"),
    }
    assert [method for _, method, _, _, _ in BODY_ROUTES] == ["POST", "PUT", "PATCH", "POST", "POST", "POST"]


@pytest.mark.parametrize("content_type", WRONG_TYPES)
@pytest.mark.parametrize(("function", "method", "path", "body", "_accepted"), BODY_ROUTES, ids=ROUTE_IDS)
def test_a_body_of_another_content_type_is_a_415(
    world, function, method, path, body, _accepted, content_type
):
    # When a valid JSON document is sent under another content type
    status, answer = send(world, function, method, path, json.dumps(body), content_type)
    # Then it is refused as an unsupported media type, saying what to send
    assert status == 415, answer
    assert answer["error"] == "unsupported_media_type" and "application/json" in answer["message"]


@pytest.mark.parametrize(("function", "method", "path", "body", "_accepted"), BODY_ROUTES, ids=ROUTE_IDS)
def test_a_body_without_a_content_type_is_a_415(world, function, method, path, body, _accepted):
    status, answer = send(world, function, method, path, json.dumps(body), None)
    assert status == 415 and answer["error"] == "unsupported_media_type"
    assert answer["message"] == "The body has no Content-Type: send JSON as application/json."


@pytest.mark.parametrize("content_type", JSON_TYPES)
@pytest.mark.parametrize(("function", "method", "path", "body", "accepted"), BODY_ROUTES, ids=ROUTE_IDS)
def test_json_is_accepted_with_parameters_and_as_a_structured_json_type(
    world, function, method, path, body, accepted, content_type
):
    status, answer = send(world, function, method, path, json.dumps(body), content_type)
    assert status in (accepted if isinstance(accepted, tuple) else (accepted,)), answer


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{nope", "The body is not valid JSON: Expecting property name enclosed in double quotes"),
        ('{"reference": "T-1"', "The body is not valid JSON: Expecting ',' delimiter"),
        ("[" * 1_000 + "]" * 1_000, "The body nests JSON arrays or objects too deeply."),
        ("[" * 100_000 + "]" * 100_000, "The body nests JSON arrays or objects too deeply."),
        ('{"a":' * 100_000, "The body nests JSON arrays or objects too deeply."),
    ],
    ids=["malformed", "truncated", "1,000 nested arrays", "100,000 nested arrays", "100,000 nested objects"],
)
@pytest.mark.parametrize(("function", "method", "path", "_body", "_accepted"), BODY_ROUTES, ids=ROUTE_IDS)
def test_a_body_that_is_not_readable_json_is_a_400_saying_why(
    world, function, method, path, _body, _accepted, raw, message
):
    status, answer = send(world, function, method, path, raw, "application/json")
    assert status == 400 and answer["error"] == "unparseable_body"
    assert answer["message"].startswith(message)


@pytest.mark.parametrize(("function", "method", "path", "_body", "_accepted"), BODY_ROUTES, ids=ROUTE_IDS)
def test_a_body_that_is_not_utf8_is_a_400(world, function, method, path, _body, _accepted):
    # When API Gateway hands over the body base64-encoded, and it is not UTF-8
    status, answer = send(
        world, function, method, path, b'{"reference": "\xff"}', "application/json", binary=True
    )
    assert status == 400 and answer == {"error": "unparseable_body", "message": "The body is not UTF-8 text."}


def test_a_route_that_requires_a_body_and_gets_none_is_a_400_naming_the_fields(world):
    status, answer = send(world, "privacy", "POST", "/erasure-requests", None, None)
    assert status == 400 and answer["error"] == "invalid_request" and "body" in answer["message"]


def test_a_route_that_takes_no_body_ignores_one(world):
    # When an objection is lifted with a stray text body
    status, answer = send(world, "privacy", "DELETE", "/subjects/x/7/objection", "lift it", "text/plain")
    # Then the route answers as it does without one
    assert status == 200 and answer["objection"] is False


@pytest.mark.parametrize(
    ("platform", "content_type", "body"),
    [
        ("generic", "text/plain", b"hello"),
        ("youtube", "application/atom+xml", b"<feed/>"),
        ("meta", "application/x-www-form-urlencoded", b"a=b"),
        ("x", None, b"{}"),
    ],
)
def test_the_webhook_routes_take_any_content_type_and_check_the_signature(
    world, platform, content_type, body
):
    # When a platform route gets a body of its own content type, unsigned
    status, answer = send(world, "ingest", "POST", f"/webhooks/{platform}", body, content_type)
    # Then it is the signature check that refuses it, not the JSON body rule
    assert status == 401 and answer["error"] == "invalid_signature"
