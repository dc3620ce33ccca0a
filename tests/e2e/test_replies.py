"""Answering through the local stack: the reply route, the send function, the fake platform, its echo
back through the webhook, the CLI, automatic replies, and a platform that fails for a while."""

from __future__ import annotations

import pytest

from socialcrm.cli import main
from socialcrm.local import deliveries as d
from tests.e2e.pipeline import now, unique_number, wait_until

pytestmark = pytest.mark.e2e


def messenger_case(pipeline, text: str) -> tuple[str, str]:
    """A customer's Messenger message, routed; (its case id, the customer's PSID)."""
    customer = str(unique_number())
    message = d.messenger_message(f"m_reply-{customer}", customer, text, now())
    assert pipeline.deliver(message).status_code == 200
    wait_until(
        lambda: pipeline.interaction(message.interaction_ids[0]).get("routing"), what="the message is routed"
    )
    return pipeline.interaction(message.interaction_ids[0])["routing"]["case_id"], customer


def reply_of(pipeline, case_id: str, reply_id: str) -> dict:
    return pipeline.http.get(f"/cases/{case_id}/replies/{reply_id}").json()


def test_an_agent_reply_is_sent_once_and_its_echo_is_not_counted_twice(stack, pipeline):
    case_id, customer = messenger_case(pipeline, "My parcel is damaged, terrible service.")
    before = len(stack.platform.requests("meta"))
    # When an agent answers the case
    answer = pipeline.http.post(
        f"/cases/{case_id}/replies",
        json={"text": "So sorry! Sending a new one today."},
        headers={"idempotency-key": "k-1"},
    )
    assert answer.status_code == 202, answer.text
    reply_id = answer.json()["reply_id"]
    # Then it is sent, with the platform's message id
    wait_until(lambda: reply_of(pipeline, case_id, reply_id)["status"] == "sent", what="the reply is sent")
    sent = reply_of(pipeline, case_id, reply_id)
    # And the fake platform received one Send API call for this customer, carrying our marker
    calls = [
        r
        for r in stack.platform.requests("meta")[before:]
        if (r.body or {}).get("recipient") == {"id": customer}
    ]
    assert len(calls) == 1 and calls[0].body["message"]["metadata"] == reply_id
    # And the case's first response was set by the send; the echo posted back by the platform is
    # stored as the brand's message and not counted a second time
    echo_id = f"messenger:{sent['platform_message_id']}"
    wait_until(
        lambda: pipeline.http.get(f"/interactions/{echo_id}").status_code == 200, what="the echo is stored"
    )
    wait_until(
        lambda: pipeline.interaction(echo_id).get("kind") == "brand_reply", what="the echo is a brand reply"
    )
    case = pipeline.http.get(f"/cases/{case_id}").json()
    assert case["first_response_at"] is not None and case["sla_met"] is True
    assert [m["from_brand"] for m in case["messages"]] == [False, True]
    # And a repeated request with the same key is the same reply, sent once
    again = pipeline.http.post(
        f"/cases/{case_id}/replies",
        json={"text": "So sorry! Sending a new one today."},
        headers={"idempotency-key": "k-1"},
    )
    assert again.status_code == 200 and again.json()["reply_id"] == reply_id
    calls = [
        r
        for r in stack.platform.requests("meta")[before:]
        if (r.body or {}).get("recipient") == {"id": customer}
    ]
    assert len(calls) == 1


def test_a_platform_failing_for_a_while_still_gets_each_reply_once(stack, pipeline):
    case_id, customer = messenger_case(pipeline, "Where is my refund? This is awful.")
    # Given the platform refuses the next two calls with 429, asking for a second's wait
    stack.platform.fail("meta", "429", times=2, retry_after=1)
    answer = pipeline.http.post(f"/cases/{case_id}/replies", json={"text": "Checking your refund now."})
    reply_id = answer.json()["reply_id"]
    # Then the reply ends sent, and the platform accepted it once
    wait_until(lambda: reply_of(pipeline, case_id, reply_id)["status"] == "sent", what="the reply is sent")
    accepted = [a for a in stack.platform.accepted("meta") if a.recipient == customer]
    assert len(accepted) == 1
    assert reply_of(pipeline, case_id, reply_id)["attempts"] == 3


def test_a_frequent_question_is_answered_automatically(stack, pipeline):
    case_id, customer = messenger_case(pipeline, "Hi! How long does delivery take to Pune?")
    # Then the automatic answer reaches the platform, and the case still waits for a person
    wait_until(
        lambda: any(a.recipient == customer for a in stack.platform.accepted("meta")),
        what="the automatic answer is sent",
    )
    wait_until(
        lambda: len(pipeline.http.get(f"/cases/{case_id}").json()["messages"]) == 2,
        what="the automatic answer is on the case",
    )
    case = pipeline.http.get(f"/cases/{case_id}").json()
    assert case["first_response_at"] is None
    assert [(m["from_brand"], m["automated"]) for m in case["messages"]] == [(False, False), (True, True)]
    (reply,) = pipeline.http.get(f"/cases/{case_id}/replies").json()["items"]
    assert reply["author"] == "automation" and reply["requested_by"] == "rule:faq-delivery-times"


def test_the_cli_answers_a_case_and_shows_its_replies(pipeline, capsys):
    url = str(pipeline.http.base_url).rstrip("/")
    local = ("--local", "--api-url", url)
    case_id, _ = messenger_case(pipeline, "The app crashes when I pay, useless.")
    assert main(["cases", "reply", case_id, "--text", "Thanks, a fix is on its way.", *local]) == 0
    out, _ = capsys.readouterr()
    assert " private  sent at " in out
    assert main(["cases", "show", case_id, *local]) == 0
    out, _ = capsys.readouterr()
    assert "replies: 1" in out and "person" in out and "Thanks, a fix" not in out
    # And a refusal is one clear line
    assert main(["cases", "reply", case_id, "--text", "hi", "--public", *local]) == 2
    _, err = capsys.readouterr()
    assert "privately" in err and len(err.strip().splitlines()) == 1
