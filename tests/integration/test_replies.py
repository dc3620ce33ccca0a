"""Answering from socialcrm under moto, against the fake platform on loopback: the reply routes, the send
function's one call per reply through 429s, 500s and timeouts, reconciliation by echo and by reading
back, the platforms' rules, the response counted once, and automatic replies."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from moto import mock_aws

from socialcrm.local.stack import dev_platform, dev_send_secrets
from socialcrm.models import Interaction
from socialcrm.privacy.suppression import SuppressionTable
from socialcrm.replies import sender
from socialcrm.replies.runtime import build_send_runtime
from socialcrm.replies.sender import SendPorts, deliver
from socialcrm.replies.store import ReplyRepository
from socialcrm.routing.source import REPO_RULES_FILE
from socialcrm.routing.store import CaseRepository
from socialcrm.settings import SendSettings
from tests.conftest import DEV_SECRETS
from tests.support.apigw import LambdaContext, http_event
from tests.support.pipeline import PEPPER, analysed, case_of, interaction, ref
from tests.support.routing import announce, receive_all, routing_environment, store

NOW = datetime.now(tz=UTC).replace(microsecond=0)
THREAD = "dm:102938475610293:customer-42"


class Outbound:
    """The outbound queue as the send function sees it, recording each re-queue and its delay."""

    def __init__(self) -> None:
        self.queued: list[tuple[str, int, int]] = []

    def enqueue(self, reply_id: str, *, version: int, delay_seconds: int = 0) -> None:
        self.queued.append((reply_id, version, delay_seconds))


@pytest.fixture
def platform():
    with dev_platform(port=0, timeout_seconds=1.5) as fake:
        yield fake


@pytest.fixture
def aws(monkeypatch, platform, tmp_path: Path):
    with mock_aws():
        env = routing_environment()
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        document = json.loads(DEV_SECRETS.read_text())
        document["subject_pepper"] = PEPPER
        document["send"] = dev_send_secrets(platform.url)
        secrets = tmp_path / "secrets.json"
        secrets.write_text(json.dumps(document))
        monkeypatch.setenv("SOCIALCRM_SECRETS_FILE", str(secrets))
        # The repository's rules, automatic replies off (the automation tests turn them on)
        rules = tmp_path / "rules.yaml"
        rules.write_text(
            REPO_RULES_FILE.read_text().replace(
                "automation:\n  enabled: true", "automation:\n  enabled: false"
            )
        )
        monkeypatch.setenv("RULES_FILE", str(rules))
        monkeypatch.setenv("SEND_READ_TIMEOUT_SECONDS", "0.5")
        import api.handler as api_handler
        import route.handler as route_handler

        api_handler.cases_runtime.cache_clear()
        route_handler.runtime.cache_clear()
        ports = build_send_runtime(SendSettings.from_env())
        outbound = Outbound()
        ports = dataclasses.replace(
            ports, outbound=outbound, jitter=lambda top: top, breaker=sender.Breaker()
        )
        yield api_handler, route_handler, env, ports, outbound
        api_handler.cases_runtime.cache_clear()
        route_handler.runtime.cache_clear()


def customer_message(n: int, text: str, *, minutes_ago: float, platform="messenger", kind="direct_message"):
    item = analysed(interaction(n, text=text, platform=platform, conversation=THREAD), "NEGATIVE")
    at = NOW - timedelta(minutes=minutes_ago)
    return item.model_copy(update={"kind": kind, "occurred_at": at - timedelta(seconds=5), "received_at": at})


def route(route_handler, env, *items: Interaction) -> None:
    store(*items, at=NOW)
    announce(*items)
    result = route_handler.lambda_handler({"Records": receive_all(env["ROUTE_QUEUE_URL"])}, LambdaContext())
    assert result == {"batchItemFailures": []}


def call(handler, method: str, path: str, body=None, headers=None) -> tuple[int, dict]:
    all_headers = {"content-type": "application/json", **(headers or {})} if body is not None else headers
    event = http_event(method, path, body=json.dumps(body) if body is not None else None, headers=all_headers)
    response = handler.lambda_handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def opened_case(route_handler, env, n: int = 1, *, minutes_ago: float = 10, **kwargs) -> str:
    message = customer_message(
        n, "My order never arrived, this is terrible", minutes_ago=minutes_ago, **kwargs
    )
    route(route_handler, env, message)
    return case_of(f"{message.platform}:{n}", conversation=THREAD)


def drive(
    ports: SendPorts, outbound: Outbound, reply_id: str, *, start: datetime, rounds: int = 20, copies: int = 1
) -> str:
    """Deliver the reply's queue messages as SQS would (each ``copies`` times), each when its delay is
    over; its last status."""
    at = start
    outbound.queued.clear()
    version = ReplyRepository().get(reply_id).version
    for _ in range(copies):
        deliver(reply_id, ports=ports, now=at, version=version)
    for _ in range(rounds):
        if not outbound.queued:
            break
        _, version, delay = outbound.queued.pop(0)
        at += timedelta(seconds=delay)
        for _ in range(copies):
            deliver(reply_id, ports=ports, now=at, version=version)
    reply = ReplyRepository().get(reply_id)
    assert reply is not None
    return reply.status


def test_a_reply_is_sent_once_and_records_the_first_response(aws, platform):
    api, route_handler, env, ports, _outbound = aws
    case_id = opened_case(route_handler, env, 1)
    # When an agent answers the case
    status, body = call(api, "POST", f"/cases/{case_id}/replies", {"text": "Sorry! Checking now."})
    # Then the reply is queued (202) and put on the outbound queue
    assert status == 202 and body["status"] == "queued" and body["visibility"] == "private"
    queued = [json.loads(r["body"])["reply_id"] for r in receive_all(env["OUTBOUND_QUEUE_URL"])]
    assert queued == [body["reply_id"]]
    # When the send function delivers it three times (SQS at least once)
    for _ in range(3):
        deliver(body["reply_id"], ports=ports, now=NOW, version=0)
    # Then the platform received one Send API call, shaped as Meta documents it
    (request,) = platform.requests("meta")
    assert request.method == "POST" and request.path.endswith("/me/messages")
    assert request.body["recipient"] == {"id": "42"}
    assert request.body["messaging_type"] == "RESPONSE"
    assert request.body["message"] == {"text": "Sorry! Checking now.", "metadata": body["reply_id"]}
    # And the reply is sent, with the platform's id, and the case's first response is set by the send
    _, shown = call(api, "GET", f"/cases/{case_id}/replies/{body['reply_id']}")
    assert shown["status"] == "sent" and shown["platform_message_id"] and shown["sent_at"]
    case = CaseRepository().get(case_id)
    assert case is not None and case.first_response_at is not None and case.sla_met is True
    assert [m.from_brand for m in case.messages] == [False, True]
    # When the platform's echo (carrying our marker) arrives later through the pipeline
    echo = interaction(9, platform="messenger", brand=True, user="42", conversation=THREAD).model_copy(
        update={
            "native_id": shown["platform_message_id"],
            "interaction_id": f"messenger:{shown['platform_message_id']}",
            "interaction_ref": ref(f"messenger:{shown['platform_message_id']}"),
            "reply_marker": body["reply_id"],
            "occurred_at": NOW,
            "received_at": NOW,
        }
    )
    route(route_handler, env, echo)
    # Then it is not counted a second time
    again = CaseRepository().get(case_id)
    assert (
        again is not None and again.message_count == 2 and again.first_response_at == case.first_response_at
    )


def test_an_idempotency_key_returns_the_same_reply_and_a_different_body_is_refused(aws):
    api, route_handler, env, _, _ = aws
    case_id = opened_case(route_handler, env, 2)
    key = {"idempotency-key": "ticket-77"}
    first = call(api, "POST", f"/cases/{case_id}/replies", {"text": "On it"}, key)
    second = call(api, "POST", f"/cases/{case_id}/replies", {"text": "On it"}, key)
    assert first[0] == 202 and second[0] == 200 and first[1]["reply_id"] == second[1]["reply_id"]
    status, body = call(api, "POST", f"/cases/{case_id}/replies", {"text": "Something else"}, key)
    assert status == 409 and body["error"] == "idempotency_key_reused"
    _, listed = call(api, "GET", f"/cases/{case_id}/replies")
    assert [r["reply_id"] for r in listed["items"]] == [first[1]["reply_id"]]


@pytest.mark.parametrize(
    ("body", "status", "error", "names"),
    [
        ({"text": ""}, 400, None, "text"),
        ({"text": "x" * 2001}, 422, "too_long", "2001 characters"),
        ({"template": "no-such"}, 422, "unknown_template", "template"),
        ({"text": "hi", "visibility": "public"}, 422, "private_only", "privately"),
        ({"text": "hi", "template": "out-of-hours"}, 400, None, "not both"),
    ],
)
def test_bad_replies_are_refused_naming_the_field_or_rule(aws, body, status, error, names):
    api, route_handler, env, _, _ = aws
    case_id = opened_case(route_handler, env, 3)
    got, answer = call(api, "POST", f"/cases/{case_id}/replies", body)
    assert got == status, answer
    if error:
        assert answer["error"] == error
    assert names in answer["message"]
    assert receive_all(env["OUTBOUND_QUEUE_URL"]) == []


def test_unknown_cases_and_replies_are_404(aws):
    api, *_ = aws
    assert call(api, "POST", "/cases/c_" + "0" * 32 + "/replies", {"text": "hi"})[0] == 404
    assert call(api, "GET", "/cases/c_" + "0" * 32 + "/replies/r_" + "0" * 32)[0] == 404
    assert call(api, "GET", "/cases/c_" + "0" * 32 + "/replies/nope")[0] == 404


def test_the_messenger_window_is_enforced_before_sending(aws):
    api, route_handler, env, _, _ = aws
    # Given a customer who wrote three days ago
    case_id = opened_case(route_handler, env, 4, minutes_ago=3 * 24 * 60)
    # Then a person's reply goes out with the HUMAN_AGENT tag
    status, body = call(api, "POST", f"/cases/{case_id}/replies", {"text": "Sorry for the wait"})
    assert status == 202 and body["messaging_type"] == "MESSAGE_TAG" and body["tag"] == "HUMAN_AGENT"


def test_an_erased_subject_gets_no_reply(aws):
    api, route_handler, env, _, _ = aws
    case_id = opened_case(route_handler, env, 5)
    case = CaseRepository().get(case_id)
    SuppressionTable(env["SUPPRESSIONS_TABLE"]).tombstone(case.subject_id, NOW)
    status, body = call(api, "POST", f"/cases/{case_id}/replies", {"text": "hello"})
    assert status == 409 and body["error"] == "subject_suppressed"


def test_429s_and_500s_end_sent_with_one_accepted_call_where_echoes_are_known_to_arrive(aws, platform):
    api, route_handler, env, ports, outbound = aws
    case_id = opened_case(route_handler, env, 6)
    _, body = call(api, "POST", f"/cases/{case_id}/replies", {"text": "We are on it"})
    # Given Messenger echoes our replies (one came back yesterday)
    ports.echoes.echo_seen("messenger", NOW - timedelta(days=1))
    # And it rate-limits twice, then answers 500 without accepting, times out without accepting, recovers
    platform.fail("meta", "429", times=2, retry_after=7)
    platform.fail("meta", "500", times=1)
    platform.fail("meta", "timeout", times=1)
    status = drive(ports, outbound, body["reply_id"], start=NOW, rounds=200, copies=3)
    # Then the reply is sent, and the platform accepted exactly one message
    assert status == "sent"
    assert len(platform.accepted("meta")) == 1
    reply = ReplyRepository().get(body["reply_id"])
    assert reply is not None and reply.attempts == 5
    # And the waits honoured Retry-After (7 s at least after each 429)
    assert len(platform.requests("meta")) == 5


def test_a_500_where_echoes_are_not_known_to_arrive_ends_unknown_never_sent_twice(aws, platform):
    api, route_handler, env, ports, outbound = aws
    case_id = opened_case(route_handler, env, 15)
    _, body = call(api, "POST", f"/cases/{case_id}/replies", {"text": "We are on it"})
    platform.fail("meta", "accept_then_500", times=1)
    assert drive(ports, outbound, body["reply_id"], start=NOW, rounds=200) == "unknown"
    assert len(platform.requests("meta")) == 1


def test_accepted_then_timed_out_is_reconciled_by_reading_back_never_sent_twice(aws, platform):
    api, route_handler, env, ports, outbound = aws
    # Given a public X mention answered publicly
    message = customer_message(7, "@acme my parcel is late", minutes_ago=5, platform="x", kind="mention")
    route(route_handler, env, message)
    case_id = case_of("x:7", conversation=THREAD)
    _, body = call(api, "POST", f"/cases/{case_id}/replies", {"text": "Sorry, DM us your order number"})
    assert body["visibility"] == "public"
    # When X accepts the post and the answer never comes back
    platform.fail("x", "accept_then_timeout", times=1)
    status = drive(ports, outbound, body["reply_id"], start=NOW)
    # Then reading back finds it: sent, and one post only
    assert status == "sent"
    assert len(platform.accepted("x")) == 1


def test_accepted_then_timed_out_on_messenger_waits_for_the_echo_then_ends_unknown(aws, platform):
    api, route_handler, env, ports, outbound = aws
    case_id = opened_case(route_handler, env, 8)
    _, body = call(api, "POST", f"/cases/{case_id}/replies", {"text": "Checking"})
    platform.fail("meta", "accept_then_timeout", times=1)
    # When no echo ever arrives (the app is not subscribed to message_echoes)
    status = drive(ports, outbound, body["reply_id"], start=NOW, rounds=200)
    # Then the reply ends unknown with a message a person understands, and was never sent again
    assert status == "unknown"
    assert len(platform.accepted("meta")) == 1
    _, shown = call(api, "GET", f"/cases/{case_id}/replies/{body['reply_id']}")
    assert "look at the conversation" in shown["error_message"]


def test_a_permanent_refusal_fails_the_reply_at_once_with_the_platform_reason(aws, platform):
    api, route_handler, env, ports, outbound = aws
    case_id = opened_case(route_handler, env, 10)
    _, body = call(api, "POST", f"/cases/{case_id}/replies", {"text": "Hello"})
    platform.fail(
        "meta",
        "reject",
        status=400,
        body={
            "error": {
                "message": "outside window",
                "type": "OAuthException",
                "code": 10,
                "error_subcode": 2018278,
            }
        },
    )
    assert drive(ports, outbound, body["reply_id"], start=NOW) == "failed"
    reply = ReplyRepository().get(body["reply_id"])
    assert reply is not None and reply.error_code and "window" in (reply.error_message or "")
    assert reply.attempts == 1


def test_a_comment_has_one_private_reply(aws):
    api, route_handler, env, _, _ = aws
    message = customer_message(11, "where is my refund", minutes_ago=5, platform="facebook", kind="comment")
    route(route_handler, env, message)
    case_id = case_of("facebook:11", conversation=THREAD)
    first = call(api, "POST", f"/cases/{case_id}/replies", {"text": "Sent you a DM", "visibility": "private"})
    second = call(api, "POST", f"/cases/{case_id}/replies", {"text": "Another DM", "visibility": "private"})
    assert first[0] == 202
    assert second[0] == 409 and second[1]["error"] == "one_private_reply"


def test_youtube_has_nothing_to_answer(aws):
    api, route_handler, env, _, _ = aws
    message = customer_message(12, "new video", minutes_ago=5, platform="youtube", kind="post")
    route(route_handler, env, message)
    case_id = case_of("youtube:12", conversation=THREAD)
    status, body = call(api, "POST", f"/cases/{case_id}/replies", {"text": "hi"})
    assert status == 422 and body["error"] == "nothing_to_answer"


def test_no_credentials_no_reply(aws, monkeypatch, tmp_path):
    api, route_handler, env, _, _ = aws
    case_id = opened_case(route_handler, env, 13)
    document = json.loads(DEV_SECRETS.read_text())
    document["subject_pepper"] = PEPPER
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(document))
    monkeypatch.setenv("SOCIALCRM_SECRETS_FILE", str(bare))
    api.cases_runtime.cache_clear()
    status, body = call(api, "POST", f"/cases/{case_id}/replies", {"text": "hi"})
    assert status == 409 and body["error"] == "no_send_credentials"


@pytest.fixture
def automatic(aws, monkeypatch, tmp_path):
    """The repository's rules with automatic replies on."""
    monkeypatch.setenv("RULES_FILE", str(REPO_RULES_FILE))
    _, route_handler, *_ = aws
    route_handler.runtime.cache_clear()
    return aws


def queued_replies(env) -> list[str]:
    return [json.loads(r["body"])["reply_id"] for r in receive_all(env["OUTBOUND_QUEUE_URL"])]


def test_a_frequent_question_is_answered_automatically_once_per_conversation(automatic, platform):
    _api, route_handler, env, ports, outbound = automatic
    # Given a customer asking about delivery times in a Messenger conversation
    question = customer_message(20, "Hi, how long does delivery take to Pune?", minutes_ago=1)
    route(route_handler, env, question)
    case_id = case_of("messenger:20", conversation=THREAD)
    # Then one automatic reply is queued, from the rule, with the template's text
    (reply_id,) = queued_replies(env)
    reply = ReplyRepository().get(reply_id)
    assert (
        reply is not None and reply.author == "automation" and reply.requested_by == "rule:faq-delivery-times"
    )
    assert reply.text.startswith("Orders ship within one working day") and reply.messaging_type == "RESPONSE"
    # When it is sent
    assert drive(ports, outbound, reply_id, start=NOW) == "sent"
    # Then the platform received it, and the case's first response is still waiting for a person
    assert len(platform.accepted("meta")) == 1
    case = CaseRepository().get(case_id)
    assert case is not None and case.first_response_at is None
    assert [(m.from_brand, m.automated) for m in case.messages] == [(False, False), (True, True)]
    # When the customer asks again in the same conversation the same day
    route(
        route_handler, env, customer_message(21, "and what is the delivery time to Delhi?", minutes_ago=0.5)
    )
    # Then no second automatic reply is queued
    assert queued_replies(env) == []
    # And a redelivery of the first message queues nothing either
    route(route_handler, env, question)
    assert queued_replies(env) == []


def test_no_automatic_reply_during_an_open_spike_on_the_topic(automatic):
    _, route_handler, env, _, _ = automatic
    from socialcrm.routing.case import Case, spike_case_id, spike_subject_id
    from socialcrm.routing.spikes import bucket_start

    # Given a spike of questions tagged faq on Messenger, opened an hour ago and still open
    window = bucket_start(NOW, 15) - timedelta(hours=1)
    spike = Case(
        case_id=spike_case_id("tag:faq", "messenger", window),
        origin="spike",
        subject_id=spike_subject_id("tag:faq", "messenger", window),
        platform="messenger",
        teams=["pr"],
        priority="P1",
        sla_minutes=15,
        opened_at=NOW,
        sla_due_at=NOW + timedelta(minutes=15),
        sla_warning_at=NOW + timedelta(minutes=12),
        updated_at=NOW,
    )
    assert CaseRepository().open(spike)
    # When a customer asks the frequent question
    route(route_handler, env, customer_message(22, "how long does delivery take?", minutes_ago=0.1))
    # Then people answer: nothing is queued automatically
    assert queued_replies(env) == []


def test_automation_never_replies_publicly_on_x_but_moves_to_private(automatic):
    _, route_handler, env, _, _ = automatic
    # Given a public X mention that holds an order number (the move-to-private rule)
    mention = customer_message(
        23, "@acme order 12345678 never came", minutes_ago=1, platform="x", kind="mention"
    )
    route(route_handler, env, mention)
    # Then only the private message is queued (X: no automatic public reply)
    (reply_id,) = queued_replies(env)
    reply = ReplyRepository().get(reply_id)
    assert reply is not None and reply.visibility == "private" and reply.template == "move-to-private-private"


def test_three_copies_of_every_message_and_a_timeout_after_accepting_still_make_one_post(aws, platform):
    api, route_handler, env, ports, outbound = aws
    message = customer_message(30, "@acme where is my parcel", minutes_ago=5, platform="x", kind="mention")
    route(route_handler, env, message)
    case_id = case_of("x:30", conversation=THREAD)
    _, body = call(api, "POST", f"/cases/{case_id}/replies", {"text": "Sorry! Checking it now."})
    platform.fail("x", "accept_then_timeout", times=1)
    assert drive(ports, outbound, body["reply_id"], start=NOW, rounds=100, copies=3) == "sent"
    assert len(platform.accepted("x")) == 1


def test_a_send_function_that_crashed_after_the_platform_accepted_is_reconciled_not_resent(
    aws, platform, monkeypatch
):
    api, route_handler, env, ports, outbound = aws
    message = customer_message(31, "@acme my refund?", minutes_ago=5, platform="x", kind="mention")
    route(route_handler, env, message)
    case_id = case_of("x:31", conversation=THREAD)
    _, body = call(api, "POST", f"/cases/{case_id}/replies", {"text": "Refund sent today."})
    adapter = ports.adapters["x"]
    real_send = adapter.send

    def crash_after_sending(*args, **kwargs):
        real_send(*args, **kwargs)
        raise MemoryError("the function died")

    monkeypatch.setattr(adapter, "send", crash_after_sending)
    with pytest.raises(MemoryError):
        deliver(body["reply_id"], ports=ports, now=NOW, version=0)
    monkeypatch.setattr(adapter, "send", real_send)
    # When SQS delivers the same message again (at once, and after the in-flight window)
    for seconds in (1, 45, 70, 95):
        deliver(body["reply_id"], ports=ports, now=NOW + timedelta(seconds=seconds), version=0)
    status = drive(ports, outbound, body["reply_id"], start=NOW + timedelta(seconds=100), rounds=50)
    # Then the reply is found by reading back: sent, posted once
    assert status == "sent"
    assert len(platform.accepted("x")) == 1


def test_a_reply_on_a_shared_comment_thread_answers_the_cases_own_customer(aws, platform):
    api, route_handler, env, ports, outbound = aws
    # Given Alice's comment opened the thread's case, and Bob then commented in the same thread
    alice = customer_message(32, "my order is late", minutes_ago=10, platform="facebook", kind="comment")
    bob = analysed(
        interaction(33, text="mine too", platform="facebook", user="bob-77", conversation=THREAD), "NEGATIVE"
    ).model_copy(update={"kind": "comment", "occurred_at": NOW - timedelta(minutes=2), "received_at": NOW})
    route(route_handler, env, alice)
    route(route_handler, env, bob)
    case_id = case_of("facebook:32", conversation=THREAD)
    # When an agent answers Alice's case privately
    _, body = call(api, "POST", f"/cases/{case_id}/replies", {"text": "DMing you", "visibility": "private"})
    assert drive(ports, outbound, body["reply_id"], start=NOW) == "sent"
    # Then the private reply goes to Alice's comment, not Bob's
    (request,) = [r for r in platform.requests("meta") if r.path.endswith("/messages")]
    assert request.body["recipient"] == {"comment_id": "32"}


def test_a_failed_private_reply_gives_the_comment_its_private_reply_back(aws, platform):
    api, route_handler, env, ports, outbound = aws
    message = customer_message(34, "refund please", minutes_ago=5, platform="facebook", kind="comment")
    route(route_handler, env, message)
    case_id = case_of("facebook:34", conversation=THREAD)
    _, first = call(api, "POST", f"/cases/{case_id}/replies", {"text": "DM sent", "visibility": "private"})
    platform.fail("meta", "reject", status=400, body={"error": {"message": "token", "code": 190}})
    assert drive(ports, outbound, first["reply_id"], start=NOW) == "failed"
    status, _ = call(
        api, "POST", f"/cases/{case_id}/replies", {"text": "DM sent again", "visibility": "private"}
    )
    assert status == 202


def test_a_facebook_private_replys_echo_on_messenger_confirms_it(aws, platform):
    api, route_handler, env, ports, outbound = aws
    message = customer_message(35, "order 5 missing", minutes_ago=5, platform="facebook", kind="comment")
    route(route_handler, env, message)
    case_id = case_of("facebook:35", conversation=THREAD)
    _, body = call(
        api, "POST", f"/cases/{case_id}/replies", {"text": "Sent you a DM", "visibility": "private"}
    )
    # Given the platform accepts it and then times out, and Meta echoes it on Messenger with our marker
    platform.fail("meta", "accept_then_timeout", times=1)
    deliver(body["reply_id"], ports=ports, now=NOW, version=0)
    (accepted,) = platform.accepted("meta")
    echo = interaction(
        36, platform="messenger", brand=True, user="page-scoped-7", conversation="dm:x"
    ).model_copy(
        update={
            "native_id": accepted.id,
            "interaction_id": f"messenger:{accepted.id}",
            "interaction_ref": ref(f"messenger:{accepted.id}"),
            "reply_marker": body["reply_id"],
            "occurred_at": NOW,
            "received_at": NOW,
        }
    )
    route(route_handler, env, echo)
    # Then the reply is sent with the echo's id, and nothing is sent again
    assert drive(ports, outbound, body["reply_id"], start=NOW + timedelta(minutes=1)) == "sent"
    assert ReplyRepository().get(body["reply_id"]).platform_message_id == accepted.id
    assert len(platform.accepted("meta")) == 1


def test_a_replayed_event_is_routed_but_never_answered_automatically(automatic):
    _, route_handler, env, _, _ = automatic
    # Given a frequent question whose InteractionEnriched comes back from the bus's archive (a replay)
    question = customer_message(40, "Hi, how long does delivery take?", minutes_ago=1)
    store(question, at=NOW)
    announce(question)
    records = receive_all(env["ROUTE_QUEUE_URL"])
    for record in records:
        envelope = json.loads(record["body"])
        envelope["replay-name"] = "after-the-outage"
        record["body"] = json.dumps(envelope)
    assert route_handler.lambda_handler({"Records": records}, LambdaContext()) == {"batchItemFailures": []}
    # Then its case is opened as usual, and no automatic reply is queued
    assert CaseRepository().get(case_of("messenger:40", conversation=THREAD)) is not None
    assert queued_replies(env) == []


def test_a_reply_that_could_not_be_queued_is_removed_and_the_same_key_queues_it_later(aws, monkeypatch):
    from socialcrm.errors import QueueUnavailableError

    api, route_handler, env, _, _ = aws
    message = customer_message(41, "refund please", minutes_ago=5, platform="facebook", kind="comment")
    route(route_handler, env, message)
    case_id = case_of("facebook:41", conversation=THREAD)
    outbound = api.cases_runtime().replies.outbound
    real = outbound.enqueue

    def down(*args, **kwargs):
        raise QueueUnavailableError("The reply could not be queued: repeat the request.")

    # Given the outbound queue fails once
    monkeypatch.setattr(outbound, "enqueue", down)
    key = {"idempotency-key": "retry-me"}
    body = {"text": "DM sent", "visibility": "private"}
    status, answer = call(api, "POST", f"/cases/{case_id}/replies", body, key)
    # Then the caller is told to repeat (503), and nothing is left: no reply, the private reply free
    assert status == 503 and answer["error"] == "queue_unavailable"
    assert call(api, "GET", f"/cases/{case_id}/replies")[1]["items"] == []
    # When the caller repeats with the same key once the queue is back
    monkeypatch.setattr(outbound, "enqueue", real)
    status, answer = call(api, "POST", f"/cases/{case_id}/replies", body, key)
    # Then the reply is recorded and queued, once
    assert status == 202
    assert queued_replies(env) == [answer["reply_id"]]
