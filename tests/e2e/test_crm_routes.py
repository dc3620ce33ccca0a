"""A CRM user reading the pipeline's results over HTTP: one interaction, a timeline, an export."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from socialcrm.api.path_ids import encode_path_id
from socialcrm.local import deliveries as d
from socialcrm.topology import ROUTES
from tests.e2e.pipeline import now, unique_number, wait_until

pytestmark = pytest.mark.e2e


def test_a_customers_timeline_spans_their_posts_and_messages_newest_first(pipeline):
    # Given a customer who mentioned the brand on X, then wrote to it in a DM
    user = str(unique_number())
    earlier = d.x_mention(
        str(unique_number()),
        user,
        "timeline_user",
        "@acme where is my parcel?",
        "en",
        now() - timedelta(minutes=5),
    )
    later = d.x_direct_message(
        str(unique_number()), user, "timeline_user", "Any news about my parcel please?", now()
    )
    for payload in (earlier, later):
        assert pipeline.deliver(payload).status_code == 200
    for payload in (earlier, later):
        pipeline.interaction(payload.interaction_ids[0])

    # When the CRM user opens the customer's timeline
    response = pipeline.timeline("x", user)

    # Then both are there, the newest first, with their kind
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["interaction_id"], i["kind"]) for i in items] == [
        (later.interaction_ids[0], "direct_message"),
        (earlier.interaction_ids[0], "mention"),
    ]


def test_a_timeline_is_paged_with_a_cursor(pipeline):
    # Given a customer with three reviews
    user = f"cust-{unique_number()}"
    payloads = [
        d.generic_review(
            f"r-{unique_number()}",
            user,
            "pager",
            f"Review number {n} of the blue kettle I bought.",
            now() - timedelta(minutes=n),
        )
        for n in range(3)
    ]
    for payload in payloads:
        assert pipeline.deliver(payload).status_code == 200
    for payload in payloads:
        pipeline.interaction(payload.interaction_ids[0])

    # When the timeline is read two at a time
    first = pipeline.timeline("generic", user, limit=2).json()
    second = pipeline.timeline("generic", user, limit=2, cursor=first["next_cursor"]).json()

    # Then the pages hold every review once, newest first
    read = [i["interaction_id"] for i in first["items"] + second["items"]]
    assert read == [p.interaction_ids[0] for p in payloads]
    assert second["next_cursor"] is None


def test_an_export_holds_what_the_pipeline_stored_about_the_subject(pipeline):
    # Given a customer who wrote on WhatsApp twice
    phone = f"91{unique_number()}"
    payloads = [
        d.whatsapp_message(f"wamid.HBgL{unique_number()}", phone, "Priya Sharma", text, now())
        for text in ("Hi, is the blue kurta available in size M?", "Also, how much is delivery to Pune?")
    ]
    for payload in payloads:
        assert pipeline.deliver(payload).status_code == 200
    for payload in payloads:
        pipeline.interaction(payload.interaction_ids[0])

    # When a compliance officer exports the subject's data
    response = pipeline.export("whatsapp", phone)

    # Then the export names the pseudonymous subject and holds both messages
    assert response.status_code == 200
    document = response.json()
    assert len(document["subject_id"]) == 64
    exported = {i["interaction_id"] for i in document["stores"]["interactions"]}
    assert exported == {p.interaction_ids[0] for p in payloads}


def test_an_interaction_that_does_not_exist_is_a_json_404(pipeline):
    # When the CRM asks for an interaction nobody sent
    response = pipeline.http.get("/interactions/x:0")

    # Then the answer is 404 with the API's error body
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_a_timeline_of_an_unknown_platform_is_a_400(pipeline):
    # When the CRM asks for a customer on a platform that does not exist
    response = pipeline.timeline("bebo", "42")

    # Then the request is refused as invalid
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


def test_a_timeline_page_size_out_of_range_is_a_400(pipeline):
    # When the CRM asks for a page of 1,000
    response = pipeline.timeline("x", "42", limit=1000)

    # Then request validation refuses it with the API's error body
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _function, _iam in ROUTES])
def test_every_route_of_the_topology_is_served_locally(pipeline, method, path):
    # Given a route the CDK app declares
    concrete = (
        path.replace("{platform}", "x")
        .replace("{user_id}", "42")
        .replace("{interaction_id}", "x:0")
        .replace("{request_id}", "00000000-0000-0000-0000-000000000000")
        .replace("{case_id}", "00000000-0000-0000-0000-000000000000")
    )

    # When it is called (with no valid input)
    response = pipeline.http.request(method, concrete)

    # Then a function answered it (its own answer, not the gateway's "No such route")
    assert response.status_code < 500
    assert response.json().get("message") != "No such route."


def test_a_path_no_route_declares_is_a_json_404(pipeline):
    # When something calls a path outside the API
    response = pipeline.http.get("/admin")

    # Then it is a 404 with the API's error body
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "message": "No such route."}


# Standard Webhooks user ids that no plain path segment can carry.
AWKWARD_USER_IDS = {
    "slash": "shop/ana",
    "hash": "ana#1",
    "question mark": "ana?x=1",
    "double quote": 'ana "the" customer',
    "backslash": "dom\\ana",
    "tab": "ana\tq",
    "combining accent": "jose\u0301",
    "emoji": "ana 🛍️",
    "leading tilde": "~ana",
    "256 characters": "é/" * 128,
}


@pytest.mark.parametrize("kind", list(AWKWARD_USER_IDS))
def test_a_customer_with_any_user_id_is_reached_by_timeline_export_and_objection(pipeline, kind):
    # Given a customer of a Standard Webhooks sender whose user id holds characters a path cannot carry
    user_id = AWKWARD_USER_IDS[kind]
    payload = d.generic_review(
        f"r-{unique_number()}", user_id, "awkward", "The lid of my kettle broke.", now()
    )
    assert pipeline.deliver(payload).status_code == 200
    base = f"/subjects/generic/{encode_path_id(user_id)}"

    # When the CRM reads the timeline with the id in the path-id encoding
    def stored() -> bool:
        return bool(pipeline.http.get(f"{base}/interactions").json().get("items"))

    wait_until(stored, what="the review in the timeline")
    timeline = pipeline.http.get(f"{base}/interactions").json()
    # Then it is the customer's review
    assert [i["interaction_id"] for i in timeline["items"]] == list(payload.interaction_ids)
    assert timeline["items"][0]["author"]["user_id"] == user_id

    # And the export is theirs
    export = pipeline.http.get(f"{base}/export")
    assert export.status_code == 200
    assert [i["author"]["user_id"] for i in export.json()["stores"]["interactions"]] == [user_id]
    subject = export.json()["subject_id"]

    # And an objection is recorded, shown and lifted for that same subject
    recorded = pipeline.http.put(f"{base}/objection", json={"reference": "T-7"})
    shown = pipeline.http.get(f"{base}/objection")
    lifted = pipeline.http.delete(f"{base}/objection")
    for response, objection in ((recorded, True), (shown, True), (lifted, False)):
        assert response.status_code == 200, response.text
        assert response.json()["subject_id"] == subject and response.json()["objection"] is objection


def test_an_interaction_whose_native_id_holds_a_slash_is_read_by_its_encoded_id(pipeline):
    # Given a review whose native id holds a slash and a question mark
    native_id = f"shop/reviews/{unique_number()}?v=2"
    payload = d.generic_review(native_id, f"cust-{unique_number()}", "slashy", "Great kettle.", now())
    assert pipeline.deliver(payload).status_code == 200
    path = f"/interactions/{encode_path_id(payload.interaction_ids[0])}"

    # When the CRM reads it by its encoded id
    wait_until(lambda: pipeline.http.get(path).status_code == 200, what="the review")
    response = pipeline.http.get(path)

    # Then it is that interaction
    assert response.json()["native_id"] == native_id


def test_a_tilde_segment_that_is_not_base64url_is_a_400_saying_so(pipeline):
    response = pipeline.http.get("/subjects/generic/~not*base64/export")
    assert response.status_code == 400
    assert (
        response.json()["message"]
        == "The user id segment starts with '~' but is not base64url (RFC 4648 §5)."
    )


@pytest.mark.parametrize(
    ("method", "path", "content_type", "body"),
    [
        ("POST", "/erasure-requests", "text/plain", '{"subjects":[{"platform":"x","user_id":"1"}],"reference":"T-1"}'),
        ("PUT", "/subjects/x/42/objection", "application/xml", "<reference>T-1</reference>"),
        ("PATCH", "/cases/c_" + "0" * 32, "multipart/form-data; boundary=b", '--b\r\n\r\n{"status":"open"}\r\n--b--'),
        ("PATCH", "/cases/c_" + "0" * 32, "application/x-www-form-urlencoded", "status=resolved"),
        ("POST", "/erasure-requests", None, '{"subjects":[{"platform":"x","user_id":"1"}],"reference":"T-1"}'),
    ],
)  # fmt: skip
def test_a_body_that_is_not_json_is_a_json_415(pipeline, method, path, content_type, body):
    # When a CRM route that takes JSON gets another content type (or none)
    headers = {} if content_type is None else {"content-type": content_type}
    response = pipeline.http.request(method, path, content=body.encode(), headers=headers)

    # Then it is a 415 with the API's error body
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_is_a_json_400(pipeline, depth):
    response = pipeline.http.post(
        "/erasure-requests",
        content=("[" * depth + "]" * depth).encode(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "unparseable_body",
        "message": "The body nests JSON arrays or objects too deeply.",
    }


def test_json_with_a_charset_is_accepted(pipeline):
    response = pipeline.http.put(
        "/subjects/x/42/objection",
        content=json.dumps({"reference": "T-8"}).encode(),
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200 and response.json()["objection"] is True
    assert pipeline.http.delete("/subjects/x/42/objection").status_code == 200


def test_a_webhook_route_takes_the_platforms_content_type(pipeline):
    # When a platform route gets a text body, unsigned
    response = pipeline.http.post(
        "/webhooks/generic", content=b"hello", headers={"content-type": "text/plain"}
    )

    # Then the signature check answers, not the JSON body rule
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_signature"
