"""Verification handshakes, answered over HTTP as each platform performs them."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from socialcrm.local import deliveries as d
from socialcrm.local.stack import LOCAL_YOUTUBE_CHANNEL
from socialcrm.subscriptions.websub import topic_of
from tests.e2e.pipeline import now, unique_number

pytestmark = pytest.mark.e2e


def test_meta_gets_its_challenge_back_for_the_right_verify_token(pipeline, stack):
    # Given the verify token configured for Meta
    token = stack.secrets.meta.verify_token.get_secret_value()

    # When Meta verifies the callback URL
    response = pipeline.http.get(
        "/webhooks/meta",
        params={"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": token},
    )

    # Then the challenge comes back verbatim as text
    assert response.status_code == 200
    assert response.text == "1158201444"
    assert response.headers["content-type"].startswith("text/plain")


def test_meta_is_refused_with_403_for_a_wrong_verify_token(pipeline):
    # Given a verify token that is not ours
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "guess"}

    # When someone tries to subscribe our callback with it
    response = pipeline.http.get("/webhooks/meta", params=query)

    # Then the answer is 403 with the API's error body
    assert response.status_code == 403
    assert response.json()["error"] == "invalid_verify_token"


def test_x_crc_is_answered_with_the_hmac_of_the_token(pipeline, stack):
    # Given X's CRC token
    crc_token = "9b4507b3-9040-4669-9ca3-6b94edb50553"

    # When X sends its challenge-response check
    response = pipeline.http.get("/webhooks/x", params={"crc_token": crc_token})

    # Then the response token is sha256=base64(HMAC(consumer secret, token)), as X computes it
    secret = stack.secrets.x.consumer_secret.get_secret_value().encode()
    expected = (
        "sha256=" + base64.b64encode(hmac.new(secret, crc_token.encode(), hashlib.sha256).digest()).decode()
    )
    assert response.status_code == 200
    assert response.json() == {"response_token": expected}


def test_linkedin_validation_is_answered_with_the_hex_hmac_of_the_challenge(pipeline, stack):
    # Given LinkedIn's challenge code
    code = "890e4665-4dfe-4ab1-b689-ed553bceeed0"

    # When LinkedIn validates the webhook URL
    response = pipeline.http.get("/webhooks/linkedin", params={"challengeCode": code})

    # Then the answer carries the code and its hex HMAC with the client secret
    secret = stack.secrets.linkedin.client_secret.get_secret_value().encode()
    assert response.status_code == 200
    assert response.json() == {
        "challengeCode": code,
        "challengeResponse": hmac.new(secret, code.encode(), hashlib.sha256).hexdigest(),
    }


def test_the_followed_youtube_channel_is_subscribed_verified_and_its_notifications_arrive(pipeline, stack):
    # Given the stack started: its websub run asked the hub to subscribe the configured channel
    topic = topic_of(LOCAL_YOUTUBE_CHANNEL)
    assert stack.hub.wait_verified(topic), stack.hub.subscriptions()
    # Then the hub's verification went through the webhook route and got its challenge back (200)
    (subscription,) = [s for s in stack.hub.subscriptions() if s.topic == topic]
    assert subscription.verification_status == 200
    assert subscription.callback.startswith(f"{stack.url}/webhooks/youtube?key=")
    # And the hub holds the hub secret of the secrets file, so what it publishes is accepted
    video = d.youtube_upload(f"vid{unique_number()}", LOCAL_YOUTUBE_CHANNEL, "Reviews", "A review", now())
    assert stack.hub.publish(topic, video.body) == [200]
    stored = pipeline.interaction(video.interaction_ids[0])
    assert stored["platform"] == "youtube" and stored["kind"] == "post"
    # And the next hourly run leaves the fresh lease alone
    assert stack.websub.run() == {"asked": 0, "current": 1}


def test_a_youtube_verification_nobody_asked_for_is_404_and_echoes_nothing(pipeline):
    query = {
        "hub.mode": "subscribe",
        "hub.topic": topic_of("UC0123456789abcdefghijkl"),
        "hub.challenge": "14395213598451417372",
        "hub.lease_seconds": "432000",
    }
    response = pipeline.http.get("/webhooks/youtube", params=query)
    assert response.status_code == 404 and "14395213598451417372" not in response.text


@pytest.mark.parametrize("platform", ["tiktok", "generic"])
def test_platforms_without_a_handshake_answer_405(pipeline, platform):
    # Given a platform whose protocol has no GET verification
    # When something GETs its route
    response = pipeline.http.get(f"/webhooks/{platform}", params={"hub.challenge": "1"})

    # Then the answer says the method is not part of that protocol
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_a_handshake_for_an_unknown_platform_is_a_404(pipeline):
    # When a handshake arrives for a platform we do not support
    response = pipeline.http.get("/webhooks/friendster", params={"hub.challenge": "1"})

    # Then the route does not exist for it
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_platform"
