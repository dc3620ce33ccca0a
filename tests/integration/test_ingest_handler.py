"""The ingest function end to end under moto: API Gateway event in, SQS messages out."""

from __future__ import annotations

import json
import time

import jsonschema
import pytest
from moto import mock_aws

from socialcrm.local.resources import create_resources
from socialcrm.schemas import SCHEMA_DIR
from tests.conftest import DEV_SECRETS
from tests.support.apigw import LambdaContext, http_event

COMMENT = {
    "object": "page",
    "entry": [
        {
            "id": "102938475610293",
            "time": 1755600001,
            "changes": [
                {
                    "field": "feed",
                    "value": {
                        "from": {"id": "7234567890123456", "name": "Aisyah Rahman"},
                        "message": "कितने का है? How much?",
                        "post_id": "102938475610293_12345",
                        "comment_id": "12345_98765",
                        "parent_id": "102938475610293_12345",
                        "created_time": 1755599999,
                        "item": "comment",
                        "verb": "add",
                    },
                }
            ],
        }
    ],
}


def comment_delivery(comment_id: str = "12345_98765", text: str = "कितने का है? How much?") -> bytes:
    payload = json.loads(json.dumps(COMMENT))
    value = payload["entry"][0]["changes"][0]["value"]
    value["comment_id"], value["message"] = comment_id, text
    return json.dumps(payload).encode()  # json.dumps escapes non-ASCII as \\uXXXX, as Meta does


@pytest.fixture
def pipeline(monkeypatch):
    with mock_aws():
        resources = create_resources()
        for name, value in resources.environment.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SOCIALCRM_SECRETS_FILE", str(DEV_SECRETS))
        monkeypatch.delenv("SECRETS_NAME", raising=False)
        import ingest.handler as handler

        handler.runtime.cache_clear()
        yield handler, resources
        handler.runtime.cache_clear()


def queued(resources) -> list[dict]:
    import boto3

    sqs = boto3.client("sqs")
    bodies = []
    while True:
        got = sqs.receive_message(QueueUrl=resources.queue_urls["inbound"], MaxNumberOfMessages=10)
        if not got.get("Messages"):
            return bodies
        for message in got["Messages"]:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(
                QueueUrl=resources.queue_urls["inbound"], ReceiptHandle=message["ReceiptHandle"]
            )


def post_meta(
    handler, body: bytes, dev_secrets, *, binary: bool = False, signature: str | None = None
) -> dict:
    from socialcrm.platforms.meta import signed_headers

    headers = signed_headers(body, dev_secrets.meta, time.time())
    if signature is not None:
        headers = {"x-hub-signature-256": signature}
    headers["content-type"] = "application/json"
    event = http_event("POST", "/webhooks/meta", body=body, headers=headers, binary=binary)
    return handler.lambda_handler(event, LambdaContext())


def test_a_signed_delivery_is_queued_as_a_normalised_interaction(pipeline, dev_secrets):
    # Given a signed Facebook comment in Hindi and English
    handler, resources = pipeline
    # When Meta posts it
    response = post_meta(handler, comment_delivery(), dev_secrets)
    # Then it is accepted and one interaction is on the inbound queue, keyed and pseudonymised
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"received": 1, "queued": 1, "duplicates": 0}
    [message] = queued(resources)
    assert message["interaction_id"] == "facebook:12345_98765"
    assert message["text"] == "कितने का है? How much?"
    assert message["author"]["user_id"] == "7234567890123456"
    from socialcrm.models import subject_id

    pepper = dev_secrets.subject_pepper.get_secret_value()
    assert message["subject_id"] == subject_id(pepper, "facebook", "7234567890123456")
    # And the message is valid against the published Interaction schema
    jsonschema.validate(message, json.loads((SCHEMA_DIR / "interaction.schema.json").read_text()))


def test_a_retried_delivery_is_acknowledged_and_queued_once(pipeline, dev_secrets):
    handler, resources = pipeline
    body = comment_delivery()
    first = post_meta(handler, body, dev_secrets)
    # When the platform retries the very same delivery
    second = post_meta(handler, body, dev_secrets)
    # Then both are 200 and only the first reached the queue
    assert first["statusCode"] == second["statusCode"] == 200
    assert json.loads(second["body"]) == {"received": 1, "queued": 0, "duplicates": 1}
    assert len(queued(resources)) == 1


def test_the_same_message_in_another_delivery_is_queued_once(pipeline, dev_secrets):
    handler, resources = pipeline
    post_meta(handler, comment_delivery(), dev_secrets)
    # Given a different delivery (another entry time) that repeats the same comment
    payload = json.loads(comment_delivery())
    payload["entry"][0]["time"] += 60
    response = post_meta(handler, json.dumps(payload).encode(), dev_secrets)
    assert json.loads(response["body"])["duplicates"] == 1
    assert len(queued(resources)) == 1


def test_a_base64_encoded_body_is_verified_over_its_decoded_bytes(pipeline, dev_secrets):
    handler, resources = pipeline
    response = post_meta(handler, comment_delivery(), dev_secrets, binary=True)
    assert response["statusCode"] == 200
    assert len(queued(resources)) == 1


@pytest.mark.parametrize(
    ("signature", "code"),
    [
        ("sha256=" + "0" * 64, "invalid_signature"),
        ("sha1=530159bfa6ffab6ba6a0ec0d5dc46c62c46af016", "invalid_signature"),
        ("", "invalid_signature"),
    ],
)
def test_a_bad_signature_is_refused_with_401_and_nothing_is_queued(pipeline, dev_secrets, signature, code):
    handler, resources = pipeline
    response = post_meta(handler, comment_delivery(), dev_secrets, signature=signature)
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"] == code
    assert queued(resources) == []


def test_an_unknown_platform_is_404_with_a_json_error(pipeline):
    handler, _ = pipeline
    response = handler.lambda_handler(http_event("POST", "/webhooks/myspace", body=b"{}"), LambdaContext())
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"] == "unknown_platform"


def test_a_platform_without_a_configured_secret_is_404(pipeline, tmp_path, monkeypatch):
    handler, _ = pipeline
    # Given a deployment that configured Meta only
    document = json.loads(DEV_SECRETS.read_text())
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"meta": document["meta"], "subject_pepper": document["subject_pepper"]}))
    monkeypatch.setenv("SOCIALCRM_SECRETS_FILE", str(secrets))
    handler.runtime.cache_clear()
    # When X posts to its route
    response = handler.lambda_handler(http_event("POST", "/webhooks/x", body=b"{}"), LambdaContext())
    # Then the route does not exist here
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"] == "platform_not_configured"


def test_a_body_over_6_mb_is_413(pipeline, dev_secrets):
    handler, resources = pipeline
    body = b'{"object":"page","entry":[],"pad":"' + b"x" * (6 * 1024 * 1024) + b'"}'
    response = post_meta(handler, body, dev_secrets)
    assert response["statusCode"] == 413
    assert json.loads(response["body"])["error"] == "payload_too_large"
    assert queued(resources) == []


def test_when_queueing_fails_the_answer_is_5xx_and_the_retry_is_queued(pipeline, dev_secrets, monkeypatch):
    handler, resources = pipeline
    # Given the inbound queue is unreachable
    monkeypatch.setenv("INBOUND_QUEUE_URL", resources.queue_urls["inbound"] + "-missing")
    handler.runtime.cache_clear()
    body = comment_delivery()
    failed = post_meta(handler, body, dev_secrets)
    # Then the platform is told to retry
    assert failed["statusCode"] == 503
    assert json.loads(failed["body"])["error"] == "queue_unavailable"
    # And when the queue is back, the platform's retry is queued, not taken for a duplicate
    monkeypatch.setenv("INBOUND_QUEUE_URL", resources.queue_urls["inbound"])
    handler.runtime.cache_clear()
    retried = post_meta(handler, body, dev_secrets)
    assert retried["statusCode"] == 200
    assert json.loads(retried["body"])["queued"] == 1
    assert len(queued(resources)) == 1


def test_a_delivery_of_25_comments_is_queued_whole_in_batches(pipeline, dev_secrets):
    handler, resources = pipeline
    payload = json.loads(comment_delivery())
    change = payload["entry"][0]["changes"][0]
    payload["entry"][0]["changes"] = [
        {**change, "value": {**change["value"], "comment_id": f"12345_{n}", "message": f"comment {n}"}}
        for n in range(25)
    ]
    response = post_meta(handler, json.dumps(payload).encode(), dev_secrets)
    assert json.loads(response["body"]) == {"received": 25, "queued": 25, "duplicates": 0}
    assert sorted(m["native_id"] for m in queued(resources)) == sorted(f"12345_{n}" for n in range(25))


def test_the_meta_handshake_echoes_the_challenge_as_plain_text(pipeline, dev_secrets):
    handler, _ = pipeline
    query = {
        "hub.mode": "subscribe",
        "hub.challenge": "1158201444",
        "hub.verify_token": "dev-meta-verify-token",
    }
    response = handler.lambda_handler(http_event("GET", "/webhooks/meta", query=query), LambdaContext())
    assert response["statusCode"] == 200
    assert response["body"] == "1158201444"
    assert response["headers"]["Content-Type"].startswith("text/plain")


def test_a_handshake_with_the_wrong_verify_token_is_403(pipeline):
    handler, _ = pipeline
    query = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "guess"}
    response = handler.lambda_handler(http_event("GET", "/webhooks/meta", query=query), LambdaContext())
    assert response["statusCode"] == 403
    assert json.loads(response["body"])["error"] == "invalid_verify_token"
