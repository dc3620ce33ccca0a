"""A CRM user reading the pipeline's results over HTTP: one interaction, a timeline, an export."""

from __future__ import annotations

from datetime import timedelta

import pytest

from socialcrm.local import deliveries as d
from socialcrm.topology import ROUTES
from tests.e2e.pipeline import now, unique_number

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
