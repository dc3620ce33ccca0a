"""Cases per conversation under moto: messages join their conversation's case, the brand's replies (as
the platforms echo them) stop the clocks, out of order and redelivered, reopening, and a race."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from socialcrm.models import Interaction
from socialcrm.routing.sla import schedule_name
from socialcrm.routing.store import CaseRepository
from tests.support.apigw import LambdaContext
from tests.support.pipeline import analysed, capture_bus_events, case_of, drain, interaction, ref
from tests.support.routing import announce, receive_all, routing_environment, schedules, store

NOW = datetime.now(tz=UTC).replace(microsecond=0)
THREAD = "dm:page-1:customer-42"
EVENTS = ["InteractionRouted", "CaseUpdated", "SlaBreached"]


@pytest.fixture
def aws(monkeypatch):
    with mock_aws():
        env = routing_environment()
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        events_url = capture_bus_events(EVENTS)
        import route.handler as handler

        handler.runtime.cache_clear()
        yield handler, env, events_url
        handler.runtime.cache_clear()


def message(n: int, text: str, label: str = "NEUTRAL", *, minutes_ago: float, **kwargs) -> Interaction:
    """A customer's message in the test conversation (unless ``conversation`` says otherwise)."""
    kwargs.setdefault("conversation", THREAD)
    item = analysed(interaction(n, text=text, platform="messenger", **kwargs), label)
    at = NOW - timedelta(minutes=minutes_ago)
    return item.model_copy(update={"occurred_at": at - timedelta(seconds=5), "received_at": at})


def reply(n: int, *, minutes_ago: float, conversation: str = THREAD) -> Interaction:
    """The brand's reply in the conversation, as the platform echoes it back."""
    item = interaction(
        n, text="Sorry about that, we are on it", platform="messenger", brand=True, conversation=conversation
    )
    at = NOW - timedelta(minutes=minutes_ago)
    return item.model_copy(update={"occurred_at": at - timedelta(seconds=5), "received_at": at})


def deliver(handler, env, *items: Interaction) -> dict:
    """Store and announce the items as the enrich stage does, then run the route function once."""
    store(*items, at=NOW)
    announce(*items)
    return handler.lambda_handler({"Records": receive_all(env["ROUTE_QUEUE_URL"])}, LambdaContext())


def the_case(sequence: int = 1):
    return CaseRepository().get(case_of("messenger:0", conversation=THREAD, sequence=sequence))


def test_three_messages_of_a_conversation_are_one_case_in_order(aws):
    handler, env, events_url = aws
    # Given three messages of one Messenger conversation, delivered in two batches, the third out of order
    first = message(1, "Hi, I have a question about my order", minutes_ago=30)
    third = message(3, "Order 12345, it has not arrived, terrible", "NEGATIVE", minutes_ago=10)
    second = message(2, "How much is delivery to Pune?", minutes_ago=20)
    assert deliver(handler, env, first) == {"batchItemFailures": []}
    assert deliver(handler, env, third, second) == {"batchItemFailures": []}
    # Then there is one case, holding the three messages in the order they were written
    case = the_case()
    assert [m.interaction_id for m in case.messages] == ["messenger:1", "messenger:2", "messenger:3"]
    assert case.message_count == 3 and case.last_customer_message_at == third.occurred_at
    # And it gathered the teams and tags of every message, and rose to the complaint's priority
    assert {"support", "product", "sales"} <= set(case.teams) and "complaint" in case.tags
    assert case.priority == "P2" and case.sla_due_at == first.received_at + timedelta(minutes=60)
    # And no second case exists
    assert the_case(2) is None
    # And the bus heard of one routed case and of its changes (no second InteractionRouted)
    types = [e["detail-type"] for e in drain(events_url)]
    assert types.count("InteractionRouted") == 1 and "CaseUpdated" in types


def test_a_brand_echo_stops_the_first_response_clock_without_a_patch(aws):
    handler, env, events_url = aws
    # Given a complaint that opened a case with its clocks
    complaint = message(11, "My refund never arrived, this is terrible", "NEGATIVE", minutes_ago=20)
    deliver(handler, env, complaint)
    case = the_case()
    first_due = schedule_name(case.case_id, "due", case.sla_due_at)
    assert first_due in schedules()
    drain(events_url)
    # When the Page's reply comes back as a Messenger echo, 15 minutes later
    echo = reply(12, minutes_ago=5)
    assert deliver(handler, env, echo) == {"batchItemFailures": []}
    # Then the case records the first response, natively, within its SLA
    case = the_case()
    assert case.first_response_at == echo.occurred_at and case.first_response_source == "native"
    assert case.sla_met is True
    assert [m.from_brand for m in case.messages] == [False, True]
    # And the first-response clocks are deleted (the resolution clock runs on)
    names = schedules()
    assert first_due not in names and not any("-fw-" in n for n in names)
    assert any("-rd-" in n for n in names)
    # And CaseUpdated says so
    (event,) = drain(events_url)
    assert event["detail-type"] == "CaseUpdated" and event["detail"]["first_response_source"] == "native"
    # When the echo is delivered again
    deliver(handler, env, echo)
    # Then nothing is counted twice
    again = the_case()
    assert again.message_count == 2 and again.first_response_at == case.first_response_at
    assert again.next_responses == []


def test_an_echo_before_its_message_still_answers_it(aws):
    handler, env, _ = aws
    # Given the brand's reply arrives before the customer's message it answers (out of order)
    early = reply(22, minutes_ago=2)
    assert deliver(handler, env, early) == {"batchItemFailures": []}
    # Then no case exists yet, and nothing failed
    assert the_case() is None
    # When the customer's message (written before the reply) arrives
    question = message(21, "Is the blue one in stock?", minutes_ago=1)
    question = question.model_copy(update={"occurred_at": early.occurred_at - timedelta(minutes=3)})
    assert deliver(handler, env, question) == {"batchItemFailures": []}
    # Then its case opens already answered, and no first-response clock is set
    case = the_case()
    assert case.first_response_at == early.occurred_at and case.sla_met is True
    assert [m.interaction_id for m in case.messages] == ["messenger:21", "messenger:22"]
    assert not [n for n in schedules() if "-fd-" in n or "-fw-" in n]


def test_a_reply_for_a_conversation_never_seen_is_kept_without_a_case(aws):
    handler, env, _ = aws
    lonely = reply(31, minutes_ago=1, conversation="dm:page-1:someone-else")
    assert deliver(handler, env, lonely) == {"batchItemFailures": []}
    assert deliver(handler, env, lonely) == {"batchItemFailures": []}
    conversation = CaseRepository().conversation(lonely.conversation_ref)
    assert conversation.case_id is None and [m.interaction_ref for m in conversation.waiting_replies] == [
        ref("messenger:31")
    ]


def test_a_customer_writing_after_the_reply_starts_the_next_response_clock(aws):
    handler, env, _ = aws
    # Given a question, the brand's answer, then a follow-up question
    deliver(handler, env, message(41, "Where is my parcel?", minutes_ago=50))
    deliver(handler, env, reply(42, minutes_ago=45))
    follow_up = message(43, "It still says pending, what now?", minutes_ago=20)
    deliver(handler, env, follow_up)
    # Then a next-response wait runs from the follow-up, with its clock set
    case = the_case()
    (wait,) = case.next_responses
    assert wait.started_at == follow_up.received_at and wait.responded_at is None and wait.met is None
    assert schedule_name(case.case_id, "next-due", wait.due_at) in schedules()
    # When the brand answers again
    answer = reply(44, minutes_ago=10)
    deliver(handler, env, answer)
    # Then the wait is met and its clock is gone
    (wait,) = the_case().next_responses
    assert wait.responded_at == answer.occurred_at and wait.met is (answer.occurred_at <= wait.due_at)
    assert not [n for n in schedules() if "-nd-" in n]


def test_a_resolved_case_reopens_within_the_window_and_a_new_one_opens_after(aws):
    handler, env, _ = aws
    deliver(handler, env, message(51, "My order is late", "NEGATIVE", minutes_ago=60))
    repository = CaseRepository()
    case = the_case()
    # Given the case was resolved two days ago (its resolution due time long past)
    resolved = NOW - timedelta(days=2)
    past_due = NOW - timedelta(days=2, hours=1)
    repository.update(
        case.case_id,
        lambda c: c.model_copy(
            update={"status": "resolved", "resolved_at": resolved, "resolution_due_at": past_due}
        ),
    )
    # When the customer writes again
    deliver(handler, env, message(52, "It broke again, terrible", "NEGATIVE", minutes_ago=1))
    # Then the same case is open again, counted as reopened, with a new resolution clock
    case = the_case()
    assert case.status == "open" and case.reopened_count == 1 and case.message_count == 2
    assert case.resolution_due_at > NOW
    # Given it was resolved eight days ago this time
    long_ago = NOW - timedelta(days=8)
    repository.update(
        case.case_id, lambda c: c.model_copy(update={"status": "resolved", "resolved_at": long_ago})
    )
    # When the customer writes again
    deliver(handler, env, message(53, "The replacement is broken, terrible", "NEGATIVE", minutes_ago=1))
    # Then the conversation's second case opens, and the first stays resolved
    assert the_case().status == "resolved" and the_case().message_count == 2
    second = the_case(2)
    assert second is not None and [m.interaction_id for m in second.messages] == ["messenger:53"]


def test_two_consumers_opening_one_conversation_at_once_make_one_case(aws, monkeypatch):
    handler, env, _ = aws
    deliver(handler, env, message(61, "Is this available in blue?", minutes_ago=5))
    # Given a second consumer that read the conversation before the first one opened its case
    stale = {"left": 1}
    real = CaseRepository.conversation

    def slow_read(self, conversation_ref):
        if stale["left"]:
            stale["left"] -= 1
            return None
        return real(self, conversation_ref)

    monkeypatch.setattr(CaseRepository, "conversation", slow_read)
    # When it handles the conversation's next message
    assert deliver(handler, env, message(62, "And in red?", minutes_ago=4)) == {"batchItemFailures": []}
    # Then its attempt to open a case lost, and it joined the one case instead
    assert the_case().message_count == 2 and the_case(2) is None
