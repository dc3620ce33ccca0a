"""How one erasure request advances across invocations: the settle period, the time budget, a concurrent
delivery, an announcement that failed. The erase consumer on moto, with a clock the test moves."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from socialcrm.privacy.consumer import QueuedMessage, process_messages
from socialcrm.privacy.erasure import TIME_MARGIN_MS, run_erasure
from tests.support.privacy import Person, privacy_world

ANA = Person("x", "ana-7788", "ana_on_x", "Ana Q.")
EARLIER = datetime.now(tz=UTC) - timedelta(days=1)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(tz=UTC)

    def __call__(self) -> datetime:
        return self.now


class Requeue:
    """The erase function's own queue, recording what it was asked to send again."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []

    def send_again(self, body: str, delay_seconds: int) -> bool:
        self.sent.append((body, delay_seconds))
        return True


class Bus:
    def __init__(self, failing: bool = False) -> None:
        self.failing = failing
        self.published: list = []

    def publish(self, details, trace_header=None):
        if self.failing:
            return list(range(len(details)))
        self.published += list(details)
        return []


@pytest.fixture
def world(monkeypatch, dev_secrets):
    with privacy_world(monkeypatch, dev_secrets) as built:
        yield built


def ports_of(world, **changes):
    ports, _queue = world.handlers["erase"].runtime()
    return dataclasses.replace(ports, **changes)


def requested(world) -> tuple[str, QueuedMessage]:
    request_id = world.request_erasure(ANA)
    [message] = world.receive("erasure")
    return request_id, QueuedMessage(message["MessageId"], message["Body"])


def test_verification_waits_for_the_settle_period_through_a_delayed_continuation(world):
    # Given a deployment whose erasures settle 90 seconds before they are verified
    world.store(ANA, 0, "hello", EARLIER)
    clock, bus, requeue = Clock(), Bus(), Requeue()
    ports = ports_of(world, settle_seconds=90, now=clock, publisher=bus)
    request_id, message = requested(world)
    # When the consumer takes the request
    failed = process_messages([message], ports=ports, queue=requeue, time_left_ms=lambda: 300_000)
    # Then everything is erased, and the message is queued again for when the period ends
    assert failed == [] and requeue.sent == [(message.body, 90)]
    running = world.erasure(request_id)
    assert (
        running["status"] == "RUNNING"
        and running["verified"] is False
        and running["erased"]["interactions"] == 1
    )
    assert bus.published == []
    # When the continuation arrives after the period
    clock.now += timedelta(seconds=91)
    failed = process_messages([message], ports=ports, queue=requeue, time_left_ms=lambda: 300_000)
    # Then verification runs and the request completes, counted once
    assert failed == [] and len(requeue.sent) == 1
    done = world.erasure(request_id)
    assert done["status"] == "COMPLETED" and done["verified"] is True and done["erased"]["interactions"] == 1
    assert [event.status for event in bus.published] == ["COMPLETED"]


def test_a_run_short_of_time_saves_its_progress_and_continues_in_the_next(world):
    world.store(ANA, 0, "hello", EARLIER)
    ports = ports_of(world, publisher=Bus())
    request_id, _message = requested(world)
    # Given an invocation with time for the claim and two stores only
    budget = iter([300_000, 300_000, 300_000, TIME_MARGIN_MS - 1])
    outcome = run_erasure(request_id, ports, time_left_ms=lambda: next(budget, TIME_MARGIN_MS - 1))
    # Then it stops cleanly, asks to continue at once, and the proof shows the stores already done
    assert outcome.result == "continue" and outcome.continue_in == 0
    paused = world.erasure(request_id)
    assert paused["status"] == "RUNNING" and set(paused["erased"]) == {"report_seen", "brand_replies"}
    # When the next invocation runs
    outcome = run_erasure(request_id, ports, time_left_ms=lambda: 300_000)
    # Then it completes from there
    assert outcome.result == "completed"
    assert world.erasure(request_id)["erased"] == {
        "report_seen": 2,
        "brand_replies": 0,
        "shared_cases": 0,
        "cases": 2,
        "interactions": 1,
        "subjects": 1,
        "customers": 0,
        "inbound-dlq": 0,
        "route-dlq": 0,
        "report-dlq": 0,
    }


def test_a_second_delivery_while_a_run_holds_the_request_is_acknowledged_without_work(world):
    ports = ports_of(world, publisher=Bus())
    request_id, _message = requested(world)
    record = ports.requests.get(request_id)
    ports.requests.save(
        record.model_copy(update={"lease_until": datetime.now(tz=UTC) + timedelta(minutes=5)})
    )
    # When SQS delivers the same message to a second invocation
    outcome = run_erasure(request_id, ports, time_left_ms=lambda: 300_000)
    # Then it leaves the request to the run that holds it
    assert outcome.result == "skipped" and not outcome.retry
    assert world.erasure(request_id)["status"] == "PENDING"


def test_an_announcement_that_failed_is_published_by_the_next_delivery(world):
    bus = Bus(failing=True)
    ports = ports_of(world, publisher=bus)
    request_id, message = requested(world)
    requeue = Requeue()
    # When the erasure completes but ErasureCompleted cannot be published
    failed = process_messages([message], ports=ports, queue=requeue, time_left_ms=lambda: 300_000)
    # Then the message goes back to SQS, although the request is COMPLETED
    assert failed == [message.message_id] and world.erasure(request_id)["status"] == "COMPLETED"
    # When it comes back and the bus works
    bus.failing = False
    failed = process_messages([message], ports=ports, queue=requeue, time_left_ms=lambda: 300_000)
    # Then the announcement goes out once and nothing is erased again
    assert failed == [] and [e.request_id for e in bus.published] == [request_id]
    assert world.erasure(request_id)["attempts"] == 1
    failed = process_messages([message], ports=ports, queue=requeue, time_left_ms=lambda: 300_000)
    assert failed == [] and len(bus.published) == 1


def test_an_unreadable_message_is_handed_back_to_sqs(world):
    ports = ports_of(world, publisher=Bus())
    bad = [QueuedMessage("m-1", "not json"), QueuedMessage("m-2", json.dumps({"detail": {"request_id": 1}}))]
    assert process_messages(bad, ports=ports, queue=Requeue(), time_left_ms=lambda: 300_000) == ["m-1", "m-2"]
