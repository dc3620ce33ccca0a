"""The route consumer under moto: bus → route queue → cases, SLA schedules, events, spikes, idempotency."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import boto3
import jsonschema
import pytest
from moto import mock_aws

from socialcrm.dal.repository import InteractionRepository
from socialcrm.events.models import InteractionEnriched
from socialcrm.events.publisher import EventPublisher
from socialcrm.routing.calendar import in_business_hours
from socialcrm.routing.rules import parse_rules, parse_rules_text
from socialcrm.routing.service import QueuedRecord, route_batch
from socialcrm.routing.sla import schedule_name
from socialcrm.routing.source import REPO_RULES_FILE
from socialcrm.routing.spikes import bucket_start
from socialcrm.routing.store import CaseRepository
from socialcrm.schemas import SCHEMA_DIR
from socialcrm.topology import BUS_NAME
from tests.support.apigw import LambdaContext
from tests.support.pipeline import analysed, capture_bus_events, case_of, drain, interaction, ref
from tests.support.routing import announce, receive_all, routing_environment, schedules, store, team_queue

NOW = datetime.now(tz=UTC).replace(microsecond=0)
ROUTED_EVENTS = ["InteractionRouted", "SpikeDetected", "CaseUpdated", "SlaBreached"]


def schema(detail_type: str) -> dict:
    return json.loads((SCHEMA_DIR / "events" / f"{detail_type}.schema.json").read_text())


@pytest.fixture
def aws(monkeypatch):
    with mock_aws():
        env = routing_environment()
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        events_url = capture_bus_events(ROUTED_EVENTS)
        import route.handler as handler

        handler.runtime.cache_clear()
        yield handler, env, events_url
        handler.runtime.cache_clear()


def recent(n: int, text: str, label: str = "NEUTRAL", *, minutes_ago: float = 1, **kwargs):
    item = analysed(interaction(n, text=text, **kwargs), label)
    at = NOW - timedelta(minutes=minutes_ago)
    return item.model_copy(update={"occurred_at": at - timedelta(seconds=5), "received_at": at})


def during_business_hours(at: datetime) -> bool:
    """Whether the shipped rules' calendar counts ``at`` as business hours."""
    raw = parse_rules_text(REPO_RULES_FILE.read_text(encoding="utf-8"), origin="rules.yaml", yaml_syntax=True)
    document = parse_rules(raw, origin="rules.yaml")
    assert document.business_hours is not None
    return in_business_hours(at, document.business_hours)


def run_handler(handler, env) -> dict:
    records = receive_all(env["ROUTE_QUEUE_URL"])
    return handler.lambda_handler({"Records": records}, LambdaContext())


def test_an_enriched_complaint_opens_one_case_with_clocks_and_events(aws):
    handler, env, events_url = aws
    # Given a stored, enriched complaint announced on the bus (the bus routes it to the route queue)
    complaint = recent(1, "The app is broken and I want a refund", "NEGATIVE")
    store(complaint, at=NOW)
    announce(complaint)
    # When the route function consumes its queue
    response = run_handler(handler, env)
    # Then nothing failed and one case is open for support and product at P2, saying why
    assert response == {"batchItemFailures": []}
    case = CaseRepository().get(case_of("x:1"))
    assert case.teams == ["support", "product"] and case.priority == "P2"
    # (outside the shipped business hours, support's on-call rule matches too: the test runs at any hour)
    after_hours = [] if during_business_hours(complaint.received_at) else ["after-hours-negative"]
    assert case.rules == ["complaint", "complaint-negative", *after_hours] and "complaint" in case.tags
    # And its SLA is 60 minutes from when we received the message, with a warning at 80%
    assert case.sla_due_at == complaint.received_at + timedelta(minutes=60)
    assert case.sla_warning_at == complaint.received_at + timedelta(minutes=48)
    # And one-time schedules are set at those times, in UTC, and at the resolution's (warning and due)
    assert case.resolution_due_at > case.sla_due_at

    def at(when: datetime) -> str:
        return f"at({when.astimezone(UTC):%Y-%m-%dT%H:%M:%S})"

    due_name = schedule_name(case.case_id, "due", case.sla_due_at)
    assert schedules() == {
        schedule_name(case.case_id, "warning", case.sla_warning_at): at(case.sla_warning_at),
        due_name: at(case.sla_due_at),
        schedule_name(case.case_id, "resolution-warning", case.resolution_warning_at): at(
            case.resolution_warning_at
        ),
        schedule_name(case.case_id, "resolution-due", case.resolution_due_at): at(case.resolution_due_at),
    }
    scheduler = boto3.client("scheduler")
    target = scheduler.get_schedule(Name=due_name, GroupName=env["SLA_SCHEDULE_GROUP"])["Target"]
    assert target["Arn"] == env["SLA_TARGET_ARN"] and json.loads(target["Input"]) == {
        "case_id": case.case_id,
        "check": "due",
    }
    # And the interaction now shows its routing
    stored = InteractionRepository().get(ref("x:1"))
    assert stored.routing.teams == ["support", "product"] and stored.routing.rules == case.rules
    # And InteractionRouted is on the bus, valid for its schema, with no text, name or handle
    (event,) = drain(events_url)
    assert event["source"] == "socialcrm.route" and event["detail-type"] == "InteractionRouted"
    jsonschema.validate(event["detail"], schema("InteractionRouted"))
    assert event["detail"]["case_id"] == case.case_id and event["detail"]["rules"] == case.rules
    flat = json.dumps(event)
    assert "broken" not in flat and "shopper" not in flat and "A Person" not in flat


def test_duplicate_events_never_open_a_second_case(aws):
    handler, env, events_url = aws
    # Given one interaction announced three times (EventBridge and SQS deliver at least once)
    item = recent(2, "How much is the premium plan?")
    store(item, at=NOW)
    announce(item)
    announce(item)
    run_handler(handler, env)
    announce(item)
    run_handler(handler, env)
    # Then exactly one case exists for it, announced once
    rows = boto3.client("dynamodb").scan(TableName=env["CASES_TABLE"])["Items"]
    assert sorted(r["row"]["S"] for r in rows) == [
        "case",
        "conversation",
        "team",
        "team",
    ]  # the case, queued for sales and marketing, and its conversation
    assert [e["detail"]["interaction_ref"] for e in drain(events_url)] == [ref("x:2")]
    assert len(schedules()) == 4  # first response and resolution: a warning and a due time each


def test_an_angry_influencer_notifies_pr_without_personal_data(aws):
    handler, env, _ = aws
    item = recent(
        3,
        "Worst service ever, never flying with you again",
        "NEGATIVE",
        followers=180_000,
        handle="celebrity",
    )
    store(item, at=NOW)
    announce(item)
    run_handler(handler, env)
    case = CaseRepository().get(case_of("x:3"))
    assert case.priority == "P1" and "pr" in case.teams
    (notification,) = drain(team_queue("pr"))
    assert notification["reason"] == "opened" and notification["case_id"] == case.case_id
    assert notification["priority"] == "P1" and "influencer-negative" in notification["rules"]
    assert "celebrity" not in json.dumps(notification) and "Worst" not in json.dumps(notification)
    assert drain(team_queue("sales")) == []


def test_an_interaction_whose_sentiment_is_pending_waits_for_its_second_announcement(aws):
    handler, env, events_url = aws
    # Given an interaction stored while Comprehend was unavailable, announced as PENDING
    analysed_item = recent(4, "refund please", "NEGATIVE")
    pending = analysed_item.model_copy(update={"sentiment": None, "sentiment_status": "PENDING"})
    store(pending, at=NOW)
    announce(pending)
    # When routed, Then no case opens yet: sentiment-aware rules cannot judge it
    assert run_handler(handler, env) == {"batchItemFailures": []}
    assert CaseRepository().get(case_of("x:4")) is None
    assert drain(events_url) == []

    # When it is enriched later and announced again
    assert InteractionRepository().complete_pending(analysed_item, enriched_at=NOW)
    announce(analysed_item)
    assert run_handler(handler, env) == {"batchItemFailures": []}
    # Then one case opens, judged on the sentiment that arrived, and is announced once
    case = CaseRepository().get(case_of("x:4"))
    assert case is not None and case.sentiment == "NEGATIVE" and "complaint" in case.rules
    routed = [e for e in drain(events_url) if e["detail-type"] == "InteractionRouted"]
    assert [e["detail"]["case_id"] for e in routed] == [case.case_id]

    # When that announcement is redelivered, Then nothing new: the same case, no second announcement
    announce(analysed_item)
    assert run_handler(handler, env) == {"batchItemFailures": []}
    assert CaseRepository().get(case_of("x:4")) == case
    assert [e for e in drain(events_url) if e["detail-type"] == "InteractionRouted"] == []


def _ports(env):
    import route.handler as handler

    return handler.runtime()


def record(item, message_id: str | None = None) -> QueuedRecord:
    body = json.dumps(
        {
            "version": "0",
            "detail-type": "InteractionEnriched",
            "source": "socialcrm.enrich",
            "detail": json.loads(InteractionEnriched.of(item).model_dump_json()),
        }
    )
    return QueuedRecord(message_id or f"m-{item.interaction_id}", body)


class FailingOnce:
    def __init__(self, publisher):
        self.publisher, self.failed = publisher, False

    def publish(self, details, trace_header=None):
        if not self.failed:
            self.failed = True
            return list(range(len(details)))
        return self.publisher.publish(details, trace_header)


def test_a_case_whose_event_could_not_be_published_is_announced_by_the_retry(aws):
    _, env, events_url = aws
    ports = _ports(env)
    item = recent(5, "refund now")
    store(item, at=NOW)
    flaky = FailingOnce(EventPublisher(BUS_NAME, "socialcrm.route", backoff_seconds=0))
    ports_with_flaky = dataclasses.replace(ports, publisher=flaky)
    # When the first attempt cannot publish, the record fails (SQS retries it)
    first = route_batch([record(item)], ports=ports_with_flaky, now=NOW)
    assert first.failed == ["m-x:5"] and first.opened == 1
    # And the retry finishes the work without opening another case
    second = route_batch([record(item)], ports=ports_with_flaky, now=NOW)
    assert second.failed == [] and second.opened == 0
    assert [e["detail"]["case_id"] for e in drain(events_url)] == [case_of("x:5")]
    assert CaseRepository().get(case_of("x:5")).announced


def test_a_duplicate_processed_while_the_first_copy_is_unfinished_never_announces_the_case(aws):
    _, env, events_url = aws
    ports = _ports(env)
    item = recent(6, "refund now")
    store(item, at=NOW)
    flaky = dataclasses.replace(ports, publisher=FailingOnce(ports.publisher))
    # Given the first copy opened the case but could not announce it (SQS will retry it)
    assert route_batch([record(item, "copy-1")], ports=flaky, now=NOW).failed == ["copy-1"]
    # When a second copy of the same event arrives meanwhile (another invocation)
    second = route_batch([record(item, "copy-2")], ports=ports, now=NOW)
    # Then it is a duplicate: acknowledged, nothing announced
    assert second.failed == [] and second.duplicates == 1 and drain(events_url) == []
    # And the first copy's retry announces the case, once
    assert route_batch([record(item, "copy-1")], ports=flaky, now=NOW).failed == []
    assert [e["detail"]["case_id"] for e in drain(events_url)] == [case_of("x:6")]


def test_a_burst_of_negative_messages_is_one_spike_and_one_pr_case_per_topic(aws):
    _, env, events_url = aws
    ports = _ports(env)
    window = bucket_start(NOW, 15)
    # Given a quiet baseline: one negative complaint in each of the previous eight windows
    quiet = [
        recent(
            100 + n,
            "my parcel never arrived",
            "NEGATIVE",
            user=f"q{n}",
            minutes_ago=(NOW - window).total_seconds() / 60 + 15 * n,
        )
        for n in range(1, 9)
    ]
    store(*quiet, at=NOW)
    assert route_batch([record(i) for i in quiet], ports=ports, now=NOW).failed == []
    drain(events_url)
    # When twelve different customers complain about it within the current window
    burst = [
        recent(
            200 + n,
            "parcel never arrived!!",
            "NEGATIVE",
            user=f"b{n}",
            minutes_ago=(NOW - window).total_seconds() / 60 - n / 60,
        )
        for n in range(12)
    ]
    store(*burst, at=NOW)
    outcomes = [route_batch([record(i) for i in burst[k : k + 4]], ports=ports, now=NOW) for k in (0, 4, 8)]
    # Then one spike is detected for the topic (floor 10 and > 3 x baseline 1), once for the window
    assert sum(o.spikes for o in outcomes) == 2  # the complaint tag and the matched phrase, one each
    events = drain(events_url)
    spikes = [e["detail"] for e in events if e["detail-type"] == "SpikeDetected"]
    assert sorted(s["topic"] for s in spikes) == ["phrase:never arrived", "tag:complaint"]
    for spike in spikes:
        jsonschema.validate(spike, schema("SpikeDetected"))
        assert spike["count"] == 10 and spike["baseline"] == 1.0 and spike["window_minutes"] == 15
        # And each opened one P1 case for PR
        case = CaseRepository().get(spike["case_id"])
        assert case.origin == "spike" and case.teams == ["pr"] and case.priority == "P1"
        assert case.topics == [spike["topic"]] and case.rules == ["spikes"]
    assert len([n for n in drain(team_queue("pr")) if n["reason"] == "spike"]) == 2


def replayed(records: list[dict]) -> list[dict]:
    """The records as a replay of the bus's archive delivers them: each event names its replay."""
    for record in records:
        envelope = json.loads(record["body"])
        envelope["replay-name"] = "after-the-outage"
        record["body"] = json.dumps(envelope)
    return records


def route_at(handler, env, now: datetime, *, replay: bool = False):
    records = receive_all(env["ROUTE_QUEUE_URL"])
    if replay:
        records = replayed(records)
    queued = [QueuedRecord(record["messageId"], record["body"]) for record in records]
    return route_batch(queued, ports=handler.runtime(), now=now)


def test_a_replay_never_adds_an_old_message_to_the_conversations_later_case(aws):
    handler, env, _ = aws
    thread = "dm:replay-thread"
    # Given a complaint routed ten days ago, its case resolved, and a new message that opened the next case
    first = recent(21, "The app is broken", "NEGATIVE", minutes_ago=14400, conversation=thread)
    store(first, at=NOW - timedelta(days=10))
    announce(first)
    assert route_at(handler, env, NOW - timedelta(days=10)).opened == 1
    earlier = case_of("x:21", conversation=thread)
    resolved = CaseRepository().update(
        earlier,
        lambda case: case.model_copy(update={"status": "resolved", "resolved_at": NOW - timedelta(days=9)}),
    )
    assert resolved.written
    later_message = recent(22, "Still broken", "NEGATIVE", conversation=thread)
    store(later_message, at=NOW)
    announce(later_message)
    assert route_at(handler, env, NOW).opened == 1
    later = case_of("x:22", conversation=thread, sequence=2)
    before = CaseRepository().get(later)
    # When the bus's archive replays the first message's event
    announce(first)
    outcome = route_at(handler, env, NOW, replay=True)
    # Then it is recognised as routed: the later case is untouched and no third case is opened
    assert (outcome.opened, outcome.joined, outcome.duplicates, outcome.failed) == (0, 0, 1, [])
    assert CaseRepository().get(later) == before
    assert CaseRepository().get(case_of("x:21", conversation=thread, sequence=3)) is None


def test_a_replay_routes_what_was_never_routed_but_not_for_an_objecting_or_erased_subject(aws):
    from socialcrm.privacy.suppression import SuppressionTable

    handler, env, _ = aws
    # Given three complaints whose events the route queue never received (lost in an outage)
    lost = [recent(n, "The app is broken", "NEGATIVE", user=f"u{n}") for n in (31, 32, 33)]
    store(*lost, at=NOW)
    suppressions = SuppressionTable(env["SUPPRESSIONS_TABLE"])
    # … and since then the second subject objected, and the third was erased
    suppressions.object(lost[1].subject_id, at=NOW, reference="T-1", requested_by="dpo")
    suppressions.tombstone(lost[2].subject_id, NOW + timedelta(seconds=1))
    # When the archive replays them
    announce(*lost)
    outcome = route_at(handler, env, NOW + timedelta(minutes=1), replay=True)
    # Then only the first is routed (its case opened); the others are skipped, not failed
    assert (outcome.opened, outcome.suppressed, outcome.failed) == (1, 2, [])
    assert CaseRepository().get(case_of("x:31")) is not None
    assert CaseRepository().get(case_of("x:32")) is None
    assert CaseRepository().get(case_of("x:33")) is None


def test_a_replayed_brand_reply_of_an_earlier_round_is_not_added_to_the_later_case(aws):
    handler, env, _ = aws
    thread = "dm:replay-brand"
    # Given a complaint and the brand's reply ten days ago, that case resolved, and a new case since
    first = recent(41, "The app is broken", "NEGATIVE", minutes_ago=14400, conversation=thread)
    store(first, at=NOW - timedelta(days=10))
    announce(first)
    assert route_at(handler, env, NOW - timedelta(days=10)).opened == 1
    reply = recent(42, "Sorry, fixed now", "NEUTRAL", minutes_ago=14390, conversation=thread, brand=True)
    store(reply, at=NOW - timedelta(days=10))
    announce(reply)
    assert route_at(handler, env, NOW - timedelta(days=10)).replies == 1
    CaseRepository().update(
        case_of("x:41", conversation=thread),
        lambda case: case.model_copy(update={"status": "resolved", "resolved_at": NOW - timedelta(days=9)}),
    )
    later_message = recent(43, "Broken again", "NEGATIVE", conversation=thread)
    store(later_message, at=NOW)
    announce(later_message)
    assert route_at(handler, env, NOW).opened == 1
    later = case_of("x:43", conversation=thread, sequence=2)
    before = CaseRepository().get(later)
    # When the archive replays the old reply's event
    announce(reply)
    outcome = route_at(handler, env, NOW, replay=True)
    # Then the later case is as it was
    assert (outcome.replies, outcome.duplicates, outcome.failed) == (0, 1, [])
    assert CaseRepository().get(later) == before


def test_a_lost_message_written_before_its_case_was_resolved_is_recorded_not_reopening_it(aws):
    handler, env, _ = aws
    thread = "dm:replay-reopen"
    # Given a message whose event never reached the route queue, and a later one whose case was resolved since
    lost = recent(51, "Where is my order", "NEGATIVE", minutes_ago=600, conversation=thread)
    store(lost, at=NOW - timedelta(hours=10))
    later = recent(52, "Hello?", "NEGATIVE", minutes_ago=60, conversation=thread)
    store(later, at=NOW - timedelta(hours=1))
    announce(later)
    assert route_at(handler, env, NOW - timedelta(hours=1)).opened == 1
    case_id = case_of("x:52", conversation=thread)
    CaseRepository().update(
        case_id,
        lambda case: case.model_copy(
            update={"status": "resolved", "resolved_at": NOW - timedelta(minutes=5)}
        ),
    )
    before = CaseRepository().get(case_id)
    # When the archive replays the lost message
    announce(lost)
    outcome = route_at(handler, env, NOW, replay=True)
    # Then it is recorded (its routing shown on it), and the resolved case is neither reopened nor changed
    assert (outcome.recorded, outcome.joined, outcome.reopened, outcome.opened) == (1, 0, 0, 0)
    assert CaseRepository().get(case_id) == before
    stored_lost = InteractionRepository().get(lost.interaction_ref)
    assert stored_lost is not None and stored_lost.routing is not None and stored_lost.routing.case_id is None


def _rules_with(tmp_path, monkeypatch, extra_rules: list[dict], segments: dict | None = None) -> None:
    import yaml

    document = yaml.safe_load(REPO_RULES_FILE.read_text(encoding="utf-8"))
    document["rules"] = extra_rules + document["rules"]
    if segments is not None:
        document["segments"] = segments
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    monkeypatch.setenv("RULES_FILE", str(path))


def test_a_customer_complaining_on_two_channels_is_segmented_and_routed_by_its_segments(
    aws, tmp_path, monkeypatch
):
    from socialcrm.customers.store import CustomerStore, Identity, new_customer_id

    handler, env, _events_url = aws
    # Given a rule for repeat complainers, and one customer known on X and on WhatsApp
    _rules_with(
        tmp_path,
        monkeypatch,
        [
            {
                "id": "repeat",
                "when": {"segments": ["repeat-complainer"]},
                "then": {"teams": ["pr"], "priority": "P1"},
            }
        ],
        segments={"at_risk": {"negative_at_least": 3, "within_days": 14}},
    )
    handler.runtime.cache_clear()
    on_x = recent(1, "the app is broken", "NEGATIVE", user="ana-x", minutes_ago=30)
    on_whatsapp = recent(
        2, "still broken", "NEGATIVE", user="34600000000", platform="whatsapp", minutes_ago=10
    )
    customers = CustomerStore(env["CUSTOMERS_TABLE"])
    customer_id = new_customer_id()
    customers.create(
        customer_id,
        [Identity("x", on_x.subject_id), Identity("whatsapp", on_whatsapp.subject_id)],
        reason="T-1",
        by="agent",
        at=NOW - timedelta(days=1),
    )
    # When her X complaint is routed
    store(on_x, at=NOW)
    announce(on_x)
    assert run_handler(handler, env) == {"batchItemFailures": []}
    first = CaseRepository().get(case_of("x:1"))
    # Then one channel is not yet repeat complaining
    assert first.segments == [] and "repeat" not in first.rules
    # When she complains on WhatsApp too
    store(on_whatsapp, at=NOW)
    announce(on_whatsapp)
    assert run_handler(handler, env) == {"batchItemFailures": []}
    second = CaseRepository().get(case_of("whatsapp:2"))
    # Then the case knows her history across both channels: she is a repeat complainer, P1 for PR
    assert second.segments == ["repeat-complainer"]
    assert "repeat" in second.rules and second.priority == "P1" and "pr" in second.teams
    # And the customer carries the segment
    assert customers.get(customer_id).segments == ("repeat-complainer",)
    # When a third negative message arrives on X, she is at risk as well
    third = recent(3, "nobody answers", "NEGATIVE", user="ana-x", minutes_ago=5)
    store(third, at=NOW)
    announce(third)
    assert run_handler(handler, env) == {"batchItemFailures": []}
    assert customers.get(customer_id).segments == ("at-risk", "repeat-complainer")


def test_history_across_channels_counts_every_linked_identity(aws, tmp_path, monkeypatch):
    from socialcrm.customers.store import CustomerStore, Identity, new_customer_id

    handler, env, _events_url = aws
    _rules_with(
        tmp_path,
        monkeypatch,
        [
            {
                "id": "angry-everywhere",
                "when": {"history": {"negative_at_least": 2, "within_days": 7, "across_channels": True}},
                "then": {"tags": ["angry-everywhere"]},
            }
        ],
        segments={"enabled": False},
    )
    handler.runtime.cache_clear()
    on_x = recent(11, "broken", "NEGATIVE", user="bo-x", minutes_ago=30)
    on_ig = recent(12, "broken again", "NEGATIVE", user="bo-ig", platform="instagram", minutes_ago=5)
    lone = recent(13, "broken", "NEGATIVE", user="someone-else", platform="instagram", minutes_ago=4)
    CustomerStore(env["CUSTOMERS_TABLE"]).create(
        new_customer_id(),
        [Identity("x", on_x.subject_id), Identity("instagram", on_ig.subject_id)],
        reason="T-2",
        by="agent",
        at=NOW - timedelta(days=1),
    )
    for item in (on_x, on_ig, lone):
        store(item, at=NOW)
        announce(item)
        assert run_handler(handler, env) == {"batchItemFailures": []}
    # Then her Instagram message counts her X complaint; a stranger's single message does not
    assert "angry-everywhere" in CaseRepository().get(case_of("instagram:12")).tags
    assert "angry-everywhere" not in CaseRepository().get(case_of("instagram:13")).tags
    # And with segments off, no segment is stored or shown
    assert CaseRepository().get(case_of("instagram:12")).segments == []


def _with_phone(item, phone: str):
    """The message as ingest completes it: a WhatsApp sender's own number, or a number a generic sender
    verified."""
    from socialcrm.models import Author, InteractionDraft, identity_keys
    from tests.support.pipeline import PEPPER

    whatsapp = item.platform == "whatsapp"
    draft = InteractionDraft(
        platform=item.platform,
        kind="direct_message" if whatsapp else "review",
        native_id="n",
        author=Author(user_id=phone if whatsapp else "u"),
        occurred_at=NOW,
        phone=None if whatsapp else phone,
    )
    return item.model_copy(update={"identity_keys": identity_keys(PEPPER, draft)})


def test_a_whatsapp_number_and_the_same_number_on_a_web_review_are_linked_into_one_customer(aws):
    from socialcrm.customers.linking import AUTO_LINKER, AUTO_REASON
    from socialcrm.customers.store import CustomerStore

    handler, env, _events_url = aws
    customers = CustomerStore(env["CUSTOMERS_TABLE"])
    # Given Ana writing on WhatsApp from +34 600 000 000, then a web review giving that number
    on_whatsapp = _with_phone(
        recent(21, "hola", user="34600000000", platform="whatsapp", minutes_ago=30), "34600000000"
    )
    on_web = _with_phone(
        recent(22, "great shop", "POSITIVE", user="ana-web", platform="generic"), "+34 600 000 000"
    )
    stranger = _with_phone(recent(23, "meh", user="someone", platform="generic"), "+44 7700 900000")
    for item in (on_whatsapp, on_web, stranger):
        store(item, at=NOW)
        announce(item)
        assert run_handler(handler, env) == {"batchItemFailures": []}
    # Then the two are one customer, linked by socialcrm for the reason "same phone number"
    customer_id = customers.owner_of(on_web.subject_id)
    assert customer_id is not None and customers.owner_of(on_whatsapp.subject_id) == customer_id
    customer = customers.get(customer_id)
    assert {(link.platform, link.linked_by, link.reason) for link in customer.identities} == {
        ("whatsapp", AUTO_LINKER, AUTO_REASON),
        ("generic", AUTO_LINKER, AUTO_REASON),
    }
    # And a different number links nobody
    assert customers.owner_of(stranger.subject_id) is None
    # And the table holds no phone number, only keyed hashes
    rows = json.dumps(boto3.client("dynamodb").scan(TableName=env["CUSTOMERS_TABLE"])["Items"])
    assert "34600000000" not in rows and "600 000 000" not in rows
    # When the same messages come again (a replay), nothing changes
    announce(on_web)
    assert run_handler(handler, env) == {"batchItemFailures": []}
    assert len(customers.get(customer_id).identities) == 2


def test_identities_of_two_customers_are_not_merged_and_a_shared_number_links_no_one(aws):
    from socialcrm.customers.linking import MAX_CARRIERS
    from socialcrm.customers.store import CustomerStore, Identity, new_customer_id

    handler, env, _events_url = aws
    customers = CustomerStore(env["CUSTOMERS_TABLE"])
    # Given two identities with one number that already belong to two different customers
    first = _with_phone(recent(31, "a", user="p1", platform="generic", minutes_ago=20), "+34 611 111 111")
    second = _with_phone(recent(32, "b", user="p2", platform="generic", minutes_ago=10), "+34 611 111 111")
    owners = {}
    for item in (first, second):
        owners[item.subject_id] = new_customer_id()
        customers.create(
            owners[item.subject_id], [Identity("generic", item.subject_id)], reason="T-1", by="agent", at=NOW
        )
    for item in (first, second):
        store(item, at=NOW)
        announce(item)
        assert run_handler(handler, env) == {"batchItemFailures": []}
    # Then each stays with its customer: a person decides
    assert {s: customers.owner_of(s) for s in owners} == owners
    # Given a switchboard number many people give
    shared = [
        _with_phone(
            recent(40 + n, "hi", user=f"caller-{n}", platform="generic", minutes_ago=9 - n), "+34 900 000 000"
        )
        for n in range(MAX_CARRIERS + 1)
    ]
    for item in shared:
        store(item, at=NOW)
        announce(item)
        assert run_handler(handler, env) == {"batchItemFailures": []}
    # Then the one past the limit is linked to no one
    assert customers.owner_of(shared[-1].subject_id) is None


def test_an_unlinked_identity_is_not_linked_again_and_an_older_message_keeps_newer_segments(aws):
    from socialcrm.customers.store import CustomerStore, Identity

    handler, env, _events_url = aws
    customers = CustomerStore(env["CUSTOMERS_TABLE"])
    on_whatsapp = _with_phone(
        recent(51, "hola", user="34622222222", platform="whatsapp", minutes_ago=9), "34622222222"
    )
    on_web = _with_phone(
        recent(52, "hello", user="web-52", platform="generic", minutes_ago=8), "+34 622 222 222"
    )
    for item in (on_whatsapp, on_web):
        store(item, at=NOW)
        announce(item)
        assert run_handler(handler, env) == {"batchItemFailures": []}
    customer_id = customers.owner_of(on_web.subject_id)
    assert customer_id is not None
    # When an agent separates them, and the person writes again from both
    customers.unlink(customer_id, Identity("generic", on_web.subject_id), reason="T-5", by="agent", at=NOW)
    again = _with_phone(
        recent(53, "me again", user="web-52", platform="generic", minutes_ago=1), "+34 622 222 222"
    )
    store(again, at=NOW)
    announce(again)
    assert run_handler(handler, env) == {"batchItemFailures": []}
    # Then the person's decision stands
    assert customers.owner_of(on_web.subject_id) is None and customers.kept_apart(on_web.subject_id)
    # And segments stored for a newer message are not replaced by an older one's
    customers.set_segments(customer_id, ["at-risk"], at=NOW)
    customers.set_segments(customer_id, [], at=NOW - timedelta(hours=1))
    assert customers.get(customer_id).segments == ("at-risk",)


def test_a_message_is_routed_without_its_customer_when_the_customers_table_fails(aws, monkeypatch):
    from socialcrm.customers.store import CustomerStore, CustomerStoreError

    handler, env, _events_url = aws

    def down(*_args, **_kwargs):
        raise CustomerStoreError("throttled")

    monkeypatch.setattr(CustomerStore, "owner_of", down)
    monkeypatch.setattr(CustomerStore, "carriers", down)
    item = _with_phone(
        recent(61, "the app is broken", "NEGATIVE", user="34633333333", platform="whatsapp"), "34633333333"
    )
    store(item, at=NOW)
    announce(item)
    assert run_handler(handler, env) == {"batchItemFailures": []}
    case = CaseRepository().get(case_of("whatsapp:61"))
    assert case is not None and case.segments == []
