"""The ingest function end to end under moto: API Gateway event in, SQS messages out."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
from moto import mock_aws

from socialcrm.dal.models import bind
from socialcrm.dal.repository import InteractionRepository
from socialcrm.dedupe import ClaimTable
from socialcrm.enrichment.batch import BatchOutcome, QueuedRecord, process_batch
from socialcrm.events.publisher import EventPublisher
from socialcrm.local.resources import create_resources
from socialcrm.models import interaction_ref
from socialcrm.privacy import NoSuppression
from socialcrm.queueing import InboundQueue
from socialcrm.schemas import SCHEMA_DIR
from socialcrm.topology import BUS_NAME
from tests.conftest import DEV_SECRETS
from tests.support.apigw import LambdaContext, http_event
from tests.support.pipeline import analysed

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
    assert json.loads(response["body"]) == {"received": 1, "queued": 1, "refused": 0}
    [message] = queued(resources)
    assert message["interaction_id"] == "facebook:12345_98765"
    assert message["interaction_ref"] == interaction_ref(
        dev_secrets.subject_pepper.get_secret_value(), "facebook:12345_98765"
    )
    assert message["text"] == "कितने का है? How much?"
    assert message["author"]["user_id"] == "7234567890123456"
    from socialcrm.models import subject_id

    pepper = dev_secrets.subject_pepper.get_secret_value()
    assert message["subject_id"] == subject_id(pepper, "facebook", "7234567890123456")
    # And the message is valid against the published Interaction schema
    jsonschema.validate(message, json.loads((SCHEMA_DIR / "interaction.schema.json").read_text()))


def enrich_queued(resources) -> BatchOutcome:
    """Feed what the inbound queue holds to the enrich stage, as one batch."""
    bind({"interactions": "socialcrm-interactions", "subjects": "socialcrm-subjects"}, region="eu-west-1")
    now = datetime.now(tz=UTC)
    return process_batch(
        [QueuedRecord(f"m-{n}", json.dumps(body)) for n, body in enumerate(queued(resources))],
        enrich=lambda items: [analysed(i) for i in items],
        store=InteractionRepository(),
        claims=ClaimTable("socialcrm-claims"),
        publisher=EventPublisher(BUS_NAME, "socialcrm.enrich", backoff_seconds=0),
        pending_queue=InboundQueue(resources.queue_urls["inbound"]),
        suppression=NoSuppression(),
        now=now,
        deadline=now + timedelta(seconds=60),
    )


def test_a_delivery_retried_three_times_is_acknowledged_each_time_and_stored_once(pipeline, dev_secrets):
    handler, resources = pipeline
    body = comment_delivery()
    # When the platform delivers the same comment, then retries it three times
    answers = [post_meta(handler, body, dev_secrets) for _ in range(4)]
    # Then every answer is 200 with the comment queued (the webhook waits on the queue alone)
    assert [a["statusCode"] for a in answers] == [200] * 4
    assert all(json.loads(a["body"])["queued"] == 1 for a in answers)
    # And the enrich stage stores it once and drops the three copies before analysing them
    outcome = enrich_queued(resources)
    assert outcome.stored == 1 and outcome.duplicates == 3 and outcome.analysed == 1


def test_the_same_message_in_another_delivery_is_stored_once(pipeline, dev_secrets):
    handler, resources = pipeline
    post_meta(handler, comment_delivery(), dev_secrets)
    enrich_queued(resources)
    # Given a different delivery (another entry time) that repeats the same comment, later
    payload = json.loads(comment_delivery())
    payload["entry"][0]["time"] += 60
    response = post_meta(handler, json.dumps(payload).encode(), dev_secrets)
    assert response["statusCode"] == 200
    # Then the enrich stage finds it stored and neither analyses nor stores it again
    outcome = enrich_queued(resources)
    assert outcome.stored == 0 and outcome.duplicates == 1 and outcome.analysed == 0


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
    assert json.loads(response["body"]) == {"received": 25, "queued": 25, "refused": 0}
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


# --- signed timestamps are checked against the clock of the request ------------------------------------

TEN_MINUTES = 600
EVENTS = DEV_SECRETS.parents[1] / "tests" / "events"  # DEV_SECRETS is <root>/config/dev-secrets.json


def post_signed(handler, platform: str, body: bytes, headers: dict[str, str]) -> dict:
    event = http_event(
        "POST", f"/webhooks/{platform}", body=body, headers={**headers, "content-type": "application/json"}
    )
    return handler.lambda_handler(event, LambdaContext())


def tiktok_delivery(dev_secrets, signed_at: float) -> tuple[bytes, dict[str, str]]:
    from socialcrm.platforms.tiktok import signed_headers

    body = (EVENTS / "tiktok" / "im_receive_msg.json").read_bytes()
    return body, signed_headers(body, dev_secrets.tiktok, signed_at)


def generic_delivery(dev_secrets, signed_at: float) -> tuple[bytes, dict[str, str]]:
    from socialcrm.platforms.generic import signed_headers

    body = (EVENTS / "generic" / "review.json").read_bytes()
    return body, signed_headers(body, dev_secrets.generic, signed_at, msg_id="msg_clock_test")


DELIVERIES = [
    pytest.param("tiktok", tiktok_delivery, id="tiktok"),
    pytest.param("generic", generic_delivery, id="generic (Standard Webhooks)"),
]


@pytest.mark.parametrize(("platform", "delivery"), DELIVERIES)
@pytest.mark.parametrize("age", [TEN_MINUTES, -TEN_MINUTES], ids=["ten minutes old", "ten minutes ahead"])
def test_a_delivery_signed_ten_minutes_away_from_now_is_refused_with_401_and_nothing_queued(
    pipeline, dev_secrets, platform, delivery, age
):
    # Given a delivery correctly signed, but with a signed timestamp ten minutes from the real clock
    handler, resources = pipeline
    body, headers = delivery(dev_secrets, time.time() - age)
    # When the platform's route receives it
    response = post_signed(handler, platform, body, headers)
    # Then it is refused as stale, with the API's JSON error, and nothing is queued
    assert response["statusCode"] == 401
    assert response["headers"]["Content-Type"].startswith("application/json")
    assert json.loads(response["body"])["error"] == "stale_timestamp"
    assert queued(resources) == []


@pytest.mark.parametrize(("platform", "delivery"), DELIVERIES)
def test_a_delivery_signed_just_now_is_accepted_and_queued(pipeline, dev_secrets, platform, delivery):
    # Given the same delivery signed a moment ago
    handler, resources = pipeline
    body, headers = delivery(dev_secrets, time.time() - 5)
    # When the platform's route receives it
    response = post_signed(handler, platform, body, headers)
    # Then it is accepted and its one interaction is on the inbound queue
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["queued"] == 1
    assert [message["platform"] for message in queued(resources)] == [platform]


def generic_with(dev_secrets, **data: object) -> tuple[bytes, dict[str, str]]:
    from socialcrm.platforms.generic import signed_headers

    payload = json.loads((EVENTS / "generic" / "review.json").read_bytes())
    payload["data"].update(data)
    body = json.dumps(payload).encode()  # json.dumps writes a lone surrogate as the escape "\ud83d"
    return body, signed_headers(body, dev_secrets.generic, time.time(), msg_id="msg_poison")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"native_id": "r-981\nqueued: forged"}, "data.native_id"),
        ({"native_id": "r-" + "9" * 5000}, "data.native_id"),
        ({"thread_id": "t-1\t"}, "data.thread_id"),
        ({"author": {"user_id": "cust-\ud83d"}}, "data.author.user_id"),
    ],
    ids=["newline in the id", "5,000-character id", "tab in the thread id", "half an emoji in the user id"],
)
def test_a_generic_item_that_breaks_its_schema_is_a_400_naming_the_field(pipeline, dev_secrets, data, field):
    # Given a Standard Webhooks sender (one item a delivery) whose item breaks the published schema
    handler, resources = pipeline
    body, headers = generic_with(dev_secrets, **data)
    # When it posts it
    response = post_signed(handler, "generic", body, headers)
    # Then it is told at once which field, never with a 5xx, and nothing is queued
    assert response["statusCode"] == 400
    answer = json.loads(response["body"])
    assert answer["error"] == "bad_request" and answer["message"].startswith(field)
    assert queued(resources) == []


def test_half_an_emoji_in_a_text_is_repaired_not_refused(pipeline, dev_secrets):
    handler, resources = pipeline
    body, headers = generic_with(dev_secrets, text="box crushed \ud83d")
    response = post_signed(handler, "generic", body, headers)
    assert json.loads(response["body"]) == {"received": 1, "queued": 1, "refused": 0}
    [message] = queued(resources)
    assert message["text"] == "box crushed \ufffd"


def test_each_webhook_post_counts_a_delivery_by_platform_and_outcome(capsys, monkeypatch):
    import json as _json

    import ingest.handler as handler

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # the tests' default is off

    # Given a delivery refused for its signature, and a POST to a platform that does not exist
    handler.record_delivery(
        {"rawPath": "/webhooks/meta", "requestContext": {"http": {"method": "POST"}}}, 401
    )
    handler.record_delivery(
        {"rawPath": "/webhooks/meta", "requestContext": {"http": {"method": "POST"}}}, 200
    )
    handler.record_delivery(
        {"rawPath": "/webhooks/evil", "requestContext": {"http": {"method": "POST"}}}, 404
    )
    handler.record_delivery({"rawPath": "/webhooks/x", "requestContext": {"http": {"method": "GET"}}}, 200)
    lines = [_json.loads(line) for line in capsys.readouterr().out.splitlines() if '"Deliveries"' in line]
    # Then the meta deliveries are counted, one refused and one accepted; the made-up platform and the
    # handshake are not (an outsider cannot add a dimension)
    assert [(line["platform"], line["outcome"]) for line in lines] == [
        ("meta", "refused"),
        ("meta", "accepted"),
    ]
