"""Routing on the local stack: a complaint becomes a case in the right work queues; an agent answers it."""

from __future__ import annotations

import pytest

from socialcrm.local import deliveries as d
from tests.e2e.pipeline import now, poll, unique_number, wait_until

pytestmark = pytest.mark.e2e


def test_a_hindi_complaint_reaches_support_and_product_and_its_first_response_stops_the_clock(pipeline):
    # Given a customer complaining in Hindi on X
    user = str(unique_number())
    complaint = d.x_mention(
        str(unique_number()), user, "routing_user", "@acme सेवा बहुत खराब है, मुझे रिफंड चाहिए", "hi", now()
    )
    assert pipeline.deliver(complaint).status_code == 200
    interaction_id = complaint.interaction_ids[0]

    # When the pipeline has stored, enriched and routed it
    wait_until(
        lambda: bool(pipeline.interaction(interaction_id).get("routing")), what="the interaction is routed"
    )
    routing = pipeline.interaction(interaction_id)["routing"]

    # Then it went to support and product as a complaint, within an hour, saying why
    assert routing["teams"][:2] == ["support", "product"] and routing["priority"] in {"P1", "P2"}
    assert "complaint" in routing["rules"]
    case_id = routing["case_id"]
    queue = pipeline.http.get("/cases", params={"team": "product", "limit": 100}).json()["items"]
    assert case_id in [case["case_id"] for case in queue]

    # When an agent records the first response
    answer = pipeline.http.patch(
        f"/cases/{case_id}", json={"first_response_at": now().isoformat(), "status": "pending"}
    )

    # Then the case is pending, its SLA met, and it left product's open queue
    assert answer.status_code == 200
    assert answer.json()["sla_met"] is True and answer.json()["status"] == "pending"
    case = poll(lambda: pipeline.http.get(f"/cases/{case_id}")).json()
    assert case["status"] == "pending" and case["first_response_at"]
    still_open = pipeline.http.get("/cases", params={"team": "product", "limit": 100}).json()["items"]
    assert case_id not in [c["case_id"] for c in still_open]
