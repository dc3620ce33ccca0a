"""Signed deliveries from every platform, through the local stack, read back through the CRM routes."""

from __future__ import annotations

import pytest

from socialcrm.local import deliveries as d
from tests.e2e.pipeline import now, unique_number

pytestmark = pytest.mark.e2e

SENTIMENTS = {"POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"}


def facebook() -> d.Payload:
    return d.facebook_comment(
        f"{unique_number()}_{unique_number()}",
        "7234567890123456",
        "Aisyah Rahman",
        "Where is my order?",
        now(),
    )


def instagram() -> d.Payload:
    return d.instagram_message(
        f"aWdfZAG1{unique_number()}",
        "1234567890123456",
        "Hello, do you ship to Canada and how long does it take?",
        now(),
    )


def whatsapp() -> d.Payload:
    return d.whatsapp_message(
        f"wamid.HBgL{unique_number()}",
        "16505551234",
        "Sheena Nelson",
        "Does it come in another colour?",
        now(),
    )


def x_mention() -> d.Payload:
    return d.x_mention(
        str(unique_number()), "3001969357", "furiouscamper", "@acme my parcel is late", "en", now()
    )


def x_dm() -> d.Payload:
    return d.x_direct_message(
        str(unique_number()), "3001969357", "furiouscamper", "Is the store open today?", now()
    )


def linkedin() -> d.Payload:
    return d.linkedin_comment(
        unique_number(), "urn:li:person:zLqTygBP8S", "Congratulations on the launch!", now()
    )


def tiktok() -> d.Payload:
    return d.tiktok_message(
        str(unique_number()), "-000buyerOpenId", "buyer_handle", "Is this available?", now()
    )


def youtube() -> d.Payload:
    return d.youtube_upload(
        f"v{unique_number()}",
        "UCbuyerChannel01",
        "Rahul Reviews",
        "Unboxing the Acme X200 and my honest review after thirty days",
        now(),
    )


def generic() -> d.Payload:
    return d.generic_review(
        f"r-{unique_number()}",
        "cust-42",
        "shopper1",
        "The parcel arrived quickly and the quality is great, thank you.",
        now(),
    )


EVERY_PLATFORM = [facebook, instagram, whatsapp, x_mention, x_dm, linkedin, tiktok, youtube, generic]


@pytest.mark.parametrize("make", EVERY_PLATFORM, ids=lambda make: make.__name__)
def test_a_signed_delivery_is_accepted_then_readable_enriched_through_the_api(pipeline, make):
    # Given a delivery the platform signed
    payload = make()

    # When the platform posts it
    response = pipeline.deliver(payload)

    # Then it is accepted at once, and soon readable with its language and sentiment
    assert response.status_code == 200
    assert response.json() == {"received": 1, "queued": 1, "refused": 0}
    (interaction_id,) = payload.interaction_ids
    stored = pipeline.interaction(interaction_id)
    assert stored["interaction_id"] == interaction_id
    assert stored["platform"] == interaction_id.split(":")[0]
    assert stored["sentiment_status"] == "ANALYSED"
    assert stored["sentiment"]["label"] in SENTIMENTS
    assert stored["language"] == "en"


def test_the_same_delivery_twice_is_acknowledged_twice_and_stored_once(pipeline):
    # Given an X mention the pipeline has taken in
    user = str(unique_number())
    payload = d.x_mention(str(unique_number()), user, "repeat_sender", "@acme hello again", "en", now())
    first = pipeline.deliver(payload)

    # When X delivers it again (a retry)
    again = pipeline.deliver(payload)

    # Then both answers are 200 (each delivery is queued: the copy is dropped downstream, before
    # analysis), and the customer's timeline holds it once
    assert first.json() == {"received": 1, "queued": 1, "refused": 0}
    assert again.status_code == 200
    assert again.json() == {"received": 1, "queued": 1, "refused": 0}
    pipeline.interaction(payload.interaction_ids[0])
    items = pipeline.timeline("x", user).json()["items"]
    assert [item["interaction_id"] for item in items] == list(payload.interaction_ids)


@pytest.mark.parametrize("make", EVERY_PLATFORM, ids=lambda make: make.__name__)
def test_a_delivery_with_a_bad_signature_is_refused_and_never_stored(pipeline, make):
    # Given a delivery whose signature was made over other bytes
    refused = make()
    forged = pipeline.signer.forged(refused)

    # When it is posted, followed by a genuine delivery of the same platform
    response = pipeline.deliver(refused, headers=forged.headers)
    genuine = make()
    pipeline.deliver(genuine)

    # Then it is refused with 401 and the API's error body, and only the genuine one is stored
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == "invalid_signature"
    pipeline.interaction(genuine.interaction_ids[0])
    assert pipeline.http.get(f"/interactions/{refused.interaction_ids[0]}").status_code == 404


def test_a_delivery_without_its_signature_header_is_refused(pipeline):
    # Given a LinkedIn delivery with no X-LI-Signature
    payload = linkedin()

    # When it is posted unsigned
    response = pipeline.deliver(payload, headers={"content-type": "application/json"})

    # Then it is refused
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_signature"


def test_a_standard_webhook_signed_ten_minutes_ago_is_refused_as_stale(pipeline):
    # Given a review signed with a timestamp ten minutes old (a replay)
    payload = generic()
    old = pipeline.signer.sign(payload, now=now().timestamp() - 600)

    # When it is posted
    response = pipeline.deliver(payload, headers=old.headers)

    # Then it is refused as stale
    assert response.status_code == 401
    assert response.json()["error"] == "stale_timestamp"


def test_hindi_is_recognised_whether_the_platform_says_so_or_not(pipeline):
    # Given an X mention that X tagged "hi" and a Facebook comment with no language hint, both in Hindi
    tagged = d.x_mention(
        str(unique_number()),
        "3001969357",
        "furiouscamper",
        "@acme आपका ऐप बहुत धीमा है, कृपया ठीक करें",
        "hi",
        now(),
    )
    untagged = d.facebook_comment(
        f"{unique_number()}_{unique_number()}",
        "7234567890123456",
        "Aisyah Rahman",
        "मेरा ऑर्डर दो हफ्ते से नहीं आया, बहुत निराश हूँ",
        now(),
    )

    # When both are delivered (X sends UTF-8, Meta escapes non-ASCII)
    responses = [pipeline.deliver(tagged), pipeline.deliver(untagged)]

    # Then both are stored as Hindi, with the text intact
    assert [r.status_code for r in responses] == [200, 200]
    for payload, text in ((tagged, "आपका ऐप"), (untagged, "मेरा ऑर्डर")):
        stored = pipeline.interaction(payload.interaction_ids[0])
        assert stored["language"] == "hi"
        assert text in stored["text"]


def test_english_praise_reads_positive_and_a_complaint_negative(pipeline):
    # Given a delighted Instagram DM and an angry review
    praise = d.instagram_message(
        f"aWdfZAG1{unique_number()}",
        "1234567890123456",
        "Just got my order and I absolutely love it, thank you so much!",
        now(),
    )
    complaint = d.generic_review(
        f"r-{unique_number()}",
        "cust-7",
        "shopper7",
        "Terrible service, the box arrived crushed and nobody answers. Awful.",
        now(),
    )

    # When both are delivered
    for payload in (praise, complaint):
        assert pipeline.deliver(payload).status_code == 200

    # Then the CRM shows their sentiment
    assert pipeline.interaction(praise.interaction_ids[0])["sentiment"]["label"] == "POSITIVE"
    assert pipeline.interaction(complaint.interaction_ids[0])["sentiment"]["label"] == "NEGATIVE"


def test_a_whatsapp_read_receipt_is_acknowledged_with_nothing_queued(pipeline):
    # Given a status update (not something a customer said)
    receipt = d.whatsapp_read_receipt("wamid.HBgLreceipt", "16505551234", now())

    # When Meta delivers it
    response = pipeline.deliver(receipt)

    # Then it is acknowledged and nothing is queued
    assert response.status_code == 200
    assert response.json() == {"received": 0, "queued": 0, "refused": 0}


def test_a_body_that_is_not_utf8_gets_a_json_400_not_a_500(pipeline):
    # Given bytes that are not UTF-8, correctly signed
    payload = d.Payload("meta", b'{"object": "page", "entry": [\xff\xfe]}', ())

    # When they are posted
    response = pipeline.deliver(payload)

    # Then the answer is a 400 with the API's error body
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
    assert "UTF-8" in response.json()["message"]


def test_a_header_that_is_not_utf8_gets_a_json_400_not_a_500(pipeline):
    # Given a delivery whose signature header holds a byte that is not UTF-8
    payload = x_mention()

    # When it is posted
    response = pipeline.deliver(payload, headers={"x-twitter-webhooks-signature": b"sha256=\xe9"})  # type: ignore[dict-item]

    # Then the answer is a 400 with the API's error body
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


def test_a_body_over_six_megabytes_is_refused_with_413(pipeline):
    # Given a body one byte over Lambda's limit
    payload = d.Payload("generic", b"x" * (6 * 1024 * 1024 + 1), ())

    # When it is posted
    response = pipeline.deliver(payload, headers={"content-type": "application/json"})

    # Then it is refused as too large
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_an_unknown_platform_is_a_404(pipeline):
    # Given a platform the pipeline does not know
    payload = d.Payload("myspace", b"{}", ())

    # When something posts to its route
    response = pipeline.deliver(payload, headers={"content-type": "application/json"})

    # Then the answer is 404 with the API's error body
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_platform"
