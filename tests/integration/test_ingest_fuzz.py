"""Whatever a caller sends to the webhook routes, the answer is never a 5xx and errors are JSON."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from socialcrm.local.resources import create_resources
from socialcrm.platforms import ROUTE_PLATFORMS
from tests.conftest import DEV_SECRETS
from tests.support.apigw import LambdaContext, http_event

HEADER_NAMES = st.sampled_from(
    [
        "x-hub-signature-256",
        "x-hub-signature",
        "x-twitter-webhooks-signature",
        "x-li-signature",
        "tiktok-signature",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "content-type",
    ]
)
HEADER_VALUES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["sha256=", "sha1=", "t=,s=", "t=1,s=ab", "v1,", "v1,bogus", "hmacsha256=zz", "=", ","]),
)
BODIES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
        ),
        max_leaves=12,
    ).map(lambda value: json.dumps(value).encode()),
    st.sampled_from(
        [
            b'{"object":"page","entry":[{"id":"1","changes":[{"field":"feed","value":null}]}]}',
            b'{"object":"whatsapp_business_account","entry":[{"changes":[{"value":{"messages":[{}]}}]}]}',
            b'{"for_user_id":"1","tweet_create_events":[{"user":[]}]}',
            b'{"type":"ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS","notifications":[null]}',
            b'{"event":"im_receive_msg","content":"{"}',
            b"<feed><entry><yt:videoId>x</yt:videoId></entry></feed>",
        ]
    ),
)
ROUTES = st.sampled_from([*ROUTE_PLATFORMS, "unknown", "META", ""])


@pytest.fixture(scope="module")
def handler():
    with mock_aws():
        resources = create_resources()
        env = {**resources.environment, "SOCIALCRM_SECRETS_FILE": str(DEV_SECRETS)}
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            import ingest.handler as module

            module.runtime.cache_clear()
            yield module
            module.runtime.cache_clear()


def assert_client_error_or_ok(response: dict) -> None:
    assert response["statusCode"] < 500, response
    if response["statusCode"] >= 400:
        body = json.loads(response["body"])
        assert set(body) == {"error", "message"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=ROUTES,
    body=BODIES,
    headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=4),
    binary=st.booleans(),
)
def test_any_post_gets_a_json_answer_below_500(handler, route, body, headers, binary):
    event = http_event(
        "POST",
        f"/webhooks/{route}",
        body=body if binary else body.decode("utf-8", "replace"),
        headers=headers,
        binary=binary,
    )
    assert_client_error_or_ok(handler.lambda_handler(event, LambdaContext()))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=ROUTES,
    query=st.dictionaries(
        st.sampled_from(
            [
                "hub.mode",
                "hub.challenge",
                "hub.verify_token",
                "hub.topic",
                "hub.lease_seconds",
                "crc_token",
                "challengeCode",
                "x",
            ]
        ),
        st.text(max_size=40),
        max_size=4,
    ),
)
def test_any_handshake_gets_an_answer_below_500(handler, route, query):
    response = handler.lambda_handler(http_event("GET", f"/webhooks/{route}", query=query), LambdaContext())
    assert_client_error_or_ok(response)
