"""Conversations under attack, on moto: forged and malformed brand replies, faults at every step of the
route consumer, and what an erasure leaves of a customer's conversations.

The whole pipeline runs here: signed webhooks through the ingest function, the enrich stage (sentiment
faked), the route and report consumers fed by their queues, the privacy API and the erase consumer.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.client
import pytest
from botocore.exceptions import ClientError

from socialcrm.dal.repository import InteractionRepository
from socialcrm.dedupe import ClaimTable
from socialcrm.enrichment.batch import QueuedRecord as EnrichRecord
from socialcrm.enrichment.batch import process_batch
from socialcrm.events.models import InteractionEnriched
from socialcrm.events.publisher import EventPublisher
from socialcrm.local.moto_patches import speed_up_transactions
from socialcrm.models import Author, Interaction, conversation_ref, interaction_ref, subject_id
from socialcrm.observability import logger
from socialcrm.platforms import Delivery, adapter_for, generic, linkedin, meta, tiktok, x
from socialcrm.privacy.suppression import DynamoSuppressionCheck, SuppressionTable
from socialcrm.queueing import InboundQueue
from socialcrm.routing.case import Case, case_id_for
from socialcrm.routing.service import QueuedRecord, route_batch
from socialcrm.routing.sla import clocks_of
from socialcrm.routing.store import CaseRepository
from socialcrm.secrets import GenericSecret, LinkedInSecret, MetaSecret, TikTokSecret, XSecret
from socialcrm.topology import BUS_NAME, SLA_SCHEDULE_GROUP
from tests.support.apigw import LambdaContext, http_event
from tests.support.pipeline import analysed, capture_bus_events
from tests.support.privacy import Person, World, privacy_world
from tests.support.routing import receive_all, routing_environment

EVENTS = Path(__file__).resolve().parents[1] / "events"
PAGE = "102938475610293"  # the brand's Facebook Page (Messenger and feed)
INSTAGRAM = "17841405726653026"
NOW = datetime.now(tz=UTC).replace(microsecond=0)
SIGNERS: dict[str, Callable[..., dict[str, str]]] = {
    "meta": meta.signed_headers,
    "x": x.signed_headers,
    "linkedin": linkedin.signed_headers,
    "tiktok": tiktok.signed_headers,
    "generic": generic.signed_headers,
}
# A key of the right shape that is not the deployment's: what an outsider can sign with.
ATTACKER_KEYS: dict[str, Any] = {
    "meta": MetaSecret(app_secret="attacker-app-secret", verify_token="t"),
    "x": XSecret(consumer_secret="attacker-consumer-secret"),
    "linkedin": LinkedInSecret(client_secret="attacker-client-secret"),
    "tiktok": TikTokSecret(client_secret="attacker-client-secret"),
    "generic": GenericSecret(
        webhook_secret="whsec_" + base64.b64encode(b"attacker-key-0123456789ab").decode()
    ),
}


def millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


# -- the pipeline -------------------------------------------------------------------------------------


@dataclasses.dataclass
class Stack:
    """The privacy World (ingest, privacy, erase handlers) with the route and report consumers added."""

    world: World
    route: Any
    report: Any
    secrets: Any

    def post(self, route: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict]:
        """POST a webhook; ``headers`` None: signed as the platform signs it (now)."""
        if headers is None:
            headers = {**SIGNERS[route](body, self.secrets.for_platform(route), time.time())}
        headers = {"content-type": "application/json", **headers}
        event = http_event("POST", f"/webhooks/{route}", body=body, headers=headers)
        response = self.world.handlers["ingest"].lambda_handler(event, LambdaContext())
        return response["statusCode"], json.loads(response["body"])

    def inbound(self) -> list[dict[str, Any]]:
        """What waits on the inbound queue (read, then made visible again)."""
        sqs = boto3.client("sqs")
        url = self.world.resources.queue_urls["inbound"]
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]

    def enrich(self) -> int:
        """The enrich stage over the inbound queue (customers' messages analysed as NEUTRAL)."""
        world = self.world
        records = [EnrichRecord(m["MessageId"], m["Body"]) for m in world.receive("inbound")]
        if not records:
            return 0
        outcome = process_batch(
            records,
            enrich=lambda items: [analysed(i, "NEUTRAL") for i in items],
            store=world.interactions,
            claims=ClaimTable(world.table("claims")),
            publisher=EventPublisher(BUS_NAME, "socialcrm.enrich", backoff_seconds=0),
            pending_queue=InboundQueue(world.resources.queue_urls["inbound"]),
            suppression=DynamoSuppressionCheck(
                SuppressionTable(world.table("suppressions")), cache_seconds=0
            ),
            now=datetime.now(tz=UTC),
            deadline=datetime.now(tz=UTC) + timedelta(seconds=60),
        )
        assert outcome.failed == [], outcome
        return len(records)

    def consume(self, queue: str, handler: Any) -> int:
        records = receive_all(self.world.resources.queue_urls[queue])
        if records:
            result = handler.lambda_handler({"Records": records}, LambdaContext())
            assert result == {"batchItemFailures": []}, result
        return len(records)

    def settle(self) -> None:
        """Run enrich, route and report until every work queue is empty."""
        while self.enrich() + self.consume("route", self.route) + self.consume("report", self.report):
            pass

    def case(self, key: str, platform: str, sequence: int = 1) -> Case | None:
        return CaseRepository().get(case_id_for(conversation_ref(self.world.pepper, platform, key), sequence))

    def conversation(self, key: str, platform: str):
        return CaseRepository().conversation(conversation_ref(self.world.pepper, platform, key))


@pytest.fixture
def stack(monkeypatch, dev_secrets):
    with privacy_world(monkeypatch, dev_secrets) as world:
        for name, value in routing_environment().items():
            monkeypatch.setenv(name, value)
        import report.handler
        import route.handler

        for handler in (route.handler, report.handler):
            handler.runtime.cache_clear()
        yield Stack(world, route.handler, report.handler, dev_secrets)
        for handler in (route.handler, report.handler):
            handler.runtime.cache_clear()


# -- Meta bodies ----------------------------------------------------------------------------------------


def messaging(*events: dict[str, Any], product: str = "page", account: str = PAGE) -> bytes:
    entry = {"id": account, "time": millis(NOW), "messaging": list(events)}
    return json.dumps({"object": product, "entry": [entry]}).encode()


def dm(mid: str, customer: str, text: str, at: datetime, *, account: str = PAGE) -> dict[str, Any]:
    """A customer's message to the Page."""
    return {
        "sender": {"id": customer},
        "recipient": {"id": account},
        "timestamp": millis(at),
        "message": {"mid": mid, "text": text},
    }


def echo(mid: str, customer: str, text: str, at: datetime, *, account: str = PAGE) -> dict[str, Any]:
    """The Page's own message to the customer, as Messenger echoes it (``message_echoes``)."""
    return {
        "sender": {"id": account},
        "recipient": {"id": customer},
        "timestamp": millis(at),
        "message": {"mid": mid, "is_echo": True, "app_id": 263902037430900, "text": text},
    }


def feed_comment(
    comment_id: str, user_id: str, name: str, text: str, at: datetime, *, parent: str | None = None
) -> bytes:
    """A comment on the Page's post 1 (or a reply to ``parent``), by a person or by the Page itself."""
    post = f"{PAGE}_1"
    value = {
        "from": {"id": user_id, "name": name},
        "message": text,
        "post_id": post,
        "comment_id": comment_id,
        "parent_id": parent or post,
        "created_time": int(at.timestamp()),
        "item": "comment",
        "verb": "add",
    }
    entry = {"id": PAGE, "time": int(at.timestamp()), "changes": [{"field": "feed", "value": value}]}
    return json.dumps({"object": "page", "entry": [entry]}).encode()


def generic_brand_reply(native_id: str, customer: str, conversation: str, text: str) -> bytes:
    stamp = NOW.isoformat().replace("+00:00", "Z")
    data = {
        "native_id": native_id,
        "kind": "brand_reply",
        "text": text,
        "occurred_at": stamp,
        "author": {"user_id": "acme-brand", "handle": "acme"},
        "conversation_id": conversation,
        "customer_id": customer,
    }
    return json.dumps({"type": "interaction.created", "timestamp": stamp, "data": data}).encode()


def case_schedules(case_id: str, client: Any = None) -> set[str]:
    """The names of the SLA schedules of one case."""
    client = client or boto3.client("scheduler")
    listed = client.list_schedules(GroupName=SLA_SCHEDULE_GROUP, NamePrefix=case_id)
    return {s["Name"] for s in listed["Schedules"]}


def fixture(route: str, name: str) -> bytes:
    return (EVENTS / route / name).read_bytes()


def xaa_brand_reply() -> bytes:
    """X's post.create sample made a reply of the brand's to a customer's mention."""
    payload = json.loads(fixture("x", "xaa_post_create.json"))
    payload["data"]["payload"].update(
        in_reply_to_user_id="2222222222222222222",
        referenced_tweets=[{"type": "replied_to", "id": "2080765813578191303"}],
        conversation_id="2080765813578191303",
    )
    return json.dumps(payload).encode()


# Bodies that, signed by the platform, are (or carry) the brand's own replies.
BRAND_REPLY_BODIES: list[tuple[str, str, Callable[[], bytes]]] = [
    ("meta", "messenger echo", lambda: messaging(echo("m_forged_1", "6100000000000042", "Sorted!", NOW))),
    ("meta", "instagram echoes", lambda: fixture("meta", "instagram_echoes.json")),
    ("meta", "page comment reply", lambda: feed_comment("1_9", PAGE, "Acme", "Sorted", NOW, parent="1_8")),
    ("meta", "whatsapp sent status", lambda: fixture("meta", "whatsapp_sent_statuses.json")),
    ("meta", "whatsapp business app echo", lambda: fixture("meta", "whatsapp_smb_message_echoes.json")),
    ("x", "AAA brand reply", lambda: fixture("x", "aaa_tweet_brand_reply.json")),
    ("x", "XAA dm.sent", lambda: fixture("x", "xaa_dm_sent.json")),
    ("x", "XAA post.create replying", lambda: xaa_brand_reply()),
    ("linkedin", "ADMIN_COMMENT", lambda: fixture("linkedin", "batch.json")),
    ("tiktok", "im_send_msg", lambda: fixture("tiktok", "im_send_msg.json")),
    ("generic", "brand_reply", lambda: generic_brand_reply("g-1", "cust-1", "order-77", "Refund sent")),
]


def _changed(value: str) -> str:
    """The signature with one character of its digest changed (to another value in any letter case)."""
    at = len(value) - 10
    return value[:at] + ("0" if value[at].lower() != "0" else "1") + value[at + 1 :]


def forgeries(route: str, body: bytes, secrets: Any) -> Iterator[tuple[str, dict[str, str]]]:
    """Every way an outsider without the deployment's secret can dress the body."""
    sign = SIGNERS[route]
    genuine = sign(body, secrets.for_platform(route), time.time())
    yield "unsigned", {}
    yield "signed by another key", sign(body, ATTACKER_KEYS[route], time.time())
    yield "signature of other bytes", sign(body + b" ", secrets.for_platform(route), time.time())
    yield (
        "the genuine signature with one digit changed",
        {name: _changed(value) if "signature" in name else value for name, value in genuine.items()},
    )
    if route in ("generic", "tiktok"):
        yield "stale timestamp", sign(body, secrets.for_platform(route), time.time() - 3600)
    if route == "meta":
        yield "legacy sha1 header only", {"x-hub-signature": "sha1=" + "0" * 40}


def test_a_forged_or_unsigned_brand_reply_is_refused_on_every_route_and_stops_no_clock(stack):
    # Given a Messenger customer whose question opened a case with a running first-response clock
    customer = "6100000000000042"
    status, _ = stack.post("meta", messaging(dm("m_q1", customer, "Do you ship to Pune?", NOW)))
    assert status == 200
    stack.settle()
    key = f"dm:{PAGE}:{customer}"
    before = stack.case(key, "messenger")
    assert before is not None and before.first_response_at is None
    clocks = case_schedules(before.case_id)
    assert any("-fd-" in name for name in clocks)
    # (each body below, were it signed by its platform, carries a brand reply: the Messenger one answers
    # this very customer)
    for route, label, build in BRAND_REPLY_BODIES:
        assert "brand_reply" in {d.kind for d in adapter_for(route).normalise(Delivery(build()))}, label
    # When an outsider posts, on every route that carries brand replies, a brand reply dressed in every
    # way they can (no signature, their own key, a signature of other bytes, a stale one, …)
    answers = []
    for route, label, build in BRAND_REPLY_BODIES:
        body = build()
        for how, headers in forgeries(route, body, stack.secrets):
            status, error = stack.post(route, body, headers)
            answers.append((route, label, how, status, error.get("error")))
    # Then every one is refused as unauthenticated, and nothing reaches the queue
    assert {a for a in answers if a[3] != 401} == set()
    assert stack.inbound() == []
    # And the case is as it was: no response, its first-response clock still set
    stack.settle()
    after = stack.case(key, "messenger")
    assert (after.first_response_at, after.message_count, after.version) == (None, 1, before.version)
    assert clocks <= case_schedules(before.case_id)
    # When the Page's genuine echo arrives, signed by Meta (the control)
    status, body = stack.post("meta", messaging(echo("m_a1", customer, "Yes, 3 days", NOW)))
    assert (status, body) == (200, {"received": 1, "queued": 1, "refused": 0})
    stack.settle()
    # Then it, and only it, stops the clock
    answered = stack.case(key, "messenger")
    assert answered.first_response_at == NOW and answered.first_response_source == "native"
    assert not [n for n in case_schedules(before.case_id) if "-fd-" in n]


def test_what_a_customer_controls_never_makes_their_message_a_brand_reply(stack):
    # Given a customer who writes, in their own messages, everything they control: text that looks like
    # an echo, a name and handle that are the brand's, a reply to the brand's own message
    customer = "6100000000000077"
    page_name = "Acme"
    disguised_text = json.dumps({"is_echo": True, "sender": {"id": PAGE}}) + " thanks, sorted!"
    forged_echo_flag = dm("m_c2", customer, "is this an echo?", NOW)
    forged_echo_flag["message"]["is_echo"] = True  # the shape a customer cannot produce: Meta writes it
    bodies = [
        ("meta", messaging(dm("m_c1", customer, disguised_text, NOW - timedelta(minutes=3)))),
        ("meta", messaging(forged_echo_flag)),
        ("meta", feed_comment("1_50", "7000000000000077", page_name, "Sorted, thanks", NOW, parent="1_49")),
    ]
    tweet = json.loads(fixture("x", "aaa_tweet_brand_reply.json"))
    customer_tweet = tweet["tweet_create_events"][0]
    customer_tweet["user"] = {
        **customer_tweet["user"],
        "id": 1500000000000000077,
        "id_str": "1500000000000000077",
    }
    customer_tweet["id_str"], customer_tweet["id"] = "1925000000000000077", 1925000000000000077
    customer_tweet["text"] = "@XDevelopers we are XDevelopers too, consider this answered"
    bodies.append(("x", json.dumps(tweet).encode()))
    # When Meta and X deliver them, signed
    for route, body in bodies:
        status, _ = stack.post(route, body)
        assert status == 200
    queued = stack.inbound()
    # Then none of them is the brand's reply: the ones the platform says the customer wrote are theirs,
    # and a messaging event flagged is_echo whose sender is not the Page is not read at all
    assert sorted((m["interaction_id"], m["kind"]) for m in queued) == [
        ("facebook:1_50", "reply"),
        ("messenger:m_c1", "direct_message"),
        ("x:1925000000000000077", "reply"),
    ]
    stack.settle()
    case = stack.case(f"dm:{PAGE}:{customer}", "messenger")
    assert case is not None and case.first_response_at is None
    assert [m.from_brand for m in case.messages] == [False]


# -- one malformed echo among good messages -------------------------------------------------------------

LONG = "7" * 5000


def _malformed(kind: str, customer: str) -> dict[str, Any]:
    bad = echo(f"m_bad_{customer}", customer, "A reply", NOW - timedelta(minutes=1))
    if kind == "missing recipient":
        del bad["recipient"]
    elif kind == "newline in its id":
        bad["message"]["mid"] = "m_bad\nX-Injected: 1"
    elif kind == "5,000-character customer id":
        bad["recipient"]["id"] = LONG
    elif kind == "5,000-character id":
        bad["message"]["mid"] = "m_" + LONG
    return bad


MALFORMED = {
    "missing recipient": {"received": 4, "queued": 4, "refused": 0},  # skipped: it answers nobody
    "newline in its id": {"received": 5, "queued": 4, "refused": 1},
    "5,000-character customer id": {"received": 5, "queued": 4, "refused": 1},
    "5,000-character id": {"received": 5, "queued": 4, "refused": 1},
}


def test_one_malformed_echo_costs_only_itself_and_the_rest_is_stored_and_routed(stack):
    # Given deliveries of five messaging events each: two customers' questions, the Page's echoes
    # answering them, and one malformed echo (a different fault in each delivery)
    answers, conversations = {}, []
    for n, kind in enumerate(MALFORMED):
        ana, bob = f"61000000000001{n}1", f"61000000000002{n}2"
        events = [
            dm(f"m_a1_{n}", ana, "Is the blue one back?", NOW - timedelta(minutes=9)),
            dm(f"m_b1_{n}", bob, "Where is my parcel?", NOW - timedelta(minutes=8)),
            _malformed(kind, ana),
            echo(f"m_a2_{n}", ana, "Yes, since Monday", NOW - timedelta(minutes=4)),
            echo(f"m_b2_{n}", bob, "It ships today", NOW - timedelta(minutes=3)),
        ]
        # When Meta delivers it, signed
        answers[kind] = stack.post("meta", messaging(*events))
        conversations += [(ana, f"m_a1_{n}", f"m_a2_{n}"), (bob, f"m_b1_{n}", f"m_b2_{n}")]
    # Then each delivery is accepted, its malformed echo alone refused (or skipped) and counted
    assert answers == {kind: (200, answer) for kind, answer in MALFORMED.items()}
    stack.settle()
    # And every conversation has its case, answered by its own echo
    for customer, question, reply in conversations:
        case = stack.case(f"dm:{PAGE}:{customer}", "messenger")
        assert [m.interaction_id for m in case.messages] == [f"messenger:{question}", f"messenger:{reply}"]
        assert case.first_response_source == "native"


def test_an_echo_whose_ids_hold_a_lone_surrogate_is_never_stored_under_a_repaired_id(stack):
    # Given five messaging events, two of them echoes whose ids carry half a surrogate pair (escaped JSON)
    ana = "6100000000000303"
    events = [
        dm("m_s1", ana, "Hello?", NOW - timedelta(minutes=9)),
        echo("m_s2", ana, "Hi!", NOW - timedelta(minutes=8)),
        echo("m_sX", ana, "first", NOW - timedelta(minutes=7)),
        echo("m_sY", ana, "second", NOW - timedelta(minutes=6)),
        echo("m_s3", "6100000000000304", "to someone", NOW - timedelta(minutes=5)),
    ]
    body = messaging(*events).decode()
    body = body.replace('"m_sX"', '"m_s\\ud800"').replace('"m_sY"', '"m_s\\udbff"')
    body = body.replace('"6100000000000304"', '"6100000000000304\\udc00"')
    # When Meta delivers it
    status, answer = stack.post("meta", body.encode())
    # Then no 5xx (this holds) …
    assert status == 200
    # … and the items with a lone surrogate in an id are never stored: not repaired into one id that
    # would merge two messages ("m_s\ud800" and "m_s\udbff" both "m_s\ufffd"), nor filed under a
    # recipient id that is nobody's; an id no encoder can write cannot be a model field, so the adapter
    # skips the event (as X does) or the ingest refuses it; the good two are queued
    assert answer["queued"] == 2 and answer["received"] - answer["refused"] == 2


# -- a fault at every position of the route consumer ----------------------------------------------------

CHECK_CODES = {"fw": "warning", "fd": "due", "nw": "next-warning", "nd": "next-due"}
CHECK_CODES |= {"rw": "resolution-warning", "rd": "resolution-due"}


@dataclasses.dataclass
class Faults:
    """Every AWS call the process makes (DynamoDB, Scheduler, EventBridge, SNS), and one that fails."""

    calls: list[str] = dataclasses.field(default_factory=list)
    fail_at: int | None = None
    crash: bool = False  # every call from fail_at on fails too (the invocation dies there)
    failed: str | None = None

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real = botocore.client.BaseClient._make_api_call
        faults = self

        def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            name = f"{client.meta.service_model.service_name}.{operation}"
            index = len(faults.calls)
            faults.calls.append(name)
            if faults.fail_at is not None and (
                index == faults.fail_at or (faults.crash and index > faults.fail_at)
            ):
                faults.failed = faults.failed or name
                error = {"Error": {"Code": "InternalServerError", "Message": "injected"}}
                raise ClientError(error, operation)  # type: ignore[arg-type]
            return real(client, operation, params)

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)

    @contextmanager
    def at(self, position: int | None, *, crash: bool = False) -> Iterator[Faults]:
        self.calls, self.fail_at, self.crash, self.failed = [], position, crash, None
        try:
            yield self
        finally:
            self.fail_at, self.crash = None, False


@dataclasses.dataclass
class Rig:
    """The route consumer's ports on moto, the bus's events, the fault injector, and one client each
    for what the test itself reads and writes (building clients is what costs time on moto)."""

    ports: Any
    events_url: str
    faults: Faults
    interactions: InteractionRepository = dataclasses.field(default_factory=InteractionRepository)
    cases: CaseRepository = dataclasses.field(default_factory=CaseRepository)
    scheduler: Any = dataclasses.field(default_factory=lambda: boto3.client("scheduler"))
    sqs: Any = dataclasses.field(default_factory=lambda: boto3.client("sqs"))

    def events(self) -> list[dict[str, Any]]:
        out = []
        while got := self.sqs.receive_message(QueueUrl=self.events_url, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            for message in got:
                out.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.events_url, ReceiptHandle=message["ReceiptHandle"])
        return out


@pytest.fixture
def routing(monkeypatch):
    speed_up_transactions()
    from moto import mock_aws

    with mock_aws():
        for name, value in routing_environment().items():
            monkeypatch.setenv(name, value)
        events_url = capture_bus_events(["InteractionRouted", "CaseUpdated"])
        import route.handler as handler

        handler.runtime.cache_clear()
        ports = handler.runtime()
        ports = dataclasses.replace(
            ports, publisher=EventPublisher(BUS_NAME, "socialcrm.route", backoff_seconds=0)
        )
        faults = Faults()
        faults.install(monkeypatch)
        yield Rig(ports, events_url, faults)
        handler.runtime.cache_clear()


PEPPER = "test-pepper-0123456789abcdef"  # routing_environment's deployment reads nothing else


def item(n: int, who: str, *, brand: bool, minutes_ago: float, text: str = "Hello there") -> Interaction:
    """Message ``n`` of the conversation with ``who`` on Messenger (the Page's echo with ``brand``)."""
    at = datetime.now(tz=UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)
    native = f"m_{who}_{n}"
    made = Interaction(
        interaction_id=f"messenger:{native}",
        interaction_ref=interaction_ref(PEPPER, f"messenger:{native}"),
        subject_id=subject_id(PEPPER, "messenger", who),
        platform="messenger",
        kind="brand_reply" if brand else "direct_message",
        native_id=native,
        author=Author(user_id=PAGE if brand else who),
        text="Sorry, on it" if brand else text,
        occurred_at=at - timedelta(seconds=2),
        received_at=at,
        conversation_ref=conversation_ref(PEPPER, "messenger", f"dm:{PAGE}:{who}"),
    )
    return made if brand else analysed(made, "NEUTRAL")


def record_of(made: Interaction, message_id: str) -> QueuedRecord:
    body = {
        "version": "0",
        "detail-type": "InteractionEnriched",
        "source": "socialcrm.enrich",
        "detail": json.loads(InteractionEnriched.of(made).model_dump_json()),
    }
    return QueuedRecord(message_id, json.dumps(body))


def route(ports: Any, made: Interaction, message_id: str) -> list[str]:
    """One SQS record through the route consumer; the ids it asks SQS to retry (all, if it raised)."""
    try:
        return route_batch([record_of(made, message_id)], ports=ports, now=datetime.now(tz=UTC)).failed
    except Exception:  # the whole invocation failed: SQS retries the batch
        return [message_id]


@dataclasses.dataclass
class Scenario:
    """Messages routed before the fault, the message the fault hits, and what must hold after."""

    name: str
    before: Callable[[str], list[Interaction]]
    hit: Callable[[str], Interaction]
    check: Callable[[Case, dict[str, Interaction]], None]


def _reply_answers_the_question(case: Case, items: dict[str, Interaction]) -> None:
    assert [m.interaction_ref for m in case.messages] == [
        items["c1"].interaction_ref,
        items["b1"].interaction_ref,
    ]
    assert case.first_response_at == items["b1"].occurred_at and case.next_responses == []


def _follow_up_waits(case: Case, items: dict[str, Interaction]) -> None:
    assert [m.interaction_ref for m in case.messages] == [
        items[k].interaction_ref for k in ("c1", "b1", "c2")
    ]
    assert case.first_response_at == items["b1"].occurred_at
    [wait] = case.next_responses
    assert (wait.started_at, wait.responded_at, wait.met) == (items["c2"].received_at, None, None)


SCENARIOS = {
    # a brand reply recorded on an open case: it stops the first-response clock
    "reply": Scenario(
        "reply",
        lambda who: [item(1, who, brand=False, minutes_ago=10)],
        lambda who: item(2, who, brand=True, minutes_ago=5),
        _reply_answers_the_question,
    ),
    # a customer message joining an answered case: it starts a next-response wait
    "join": Scenario(
        "join",
        lambda who: [item(1, who, brand=False, minutes_ago=10), item(2, who, brand=True, minutes_ago=5)],
        lambda who: item(3, who, brand=False, minutes_ago=2, text="And one more thing"),
        _follow_up_waits,
    ),
    # a customer message opening a case already answered by an echo that arrived before it
    "open answered": Scenario(
        "open answered",
        lambda who: [item(2, who, brand=True, minutes_ago=5)],
        lambda who: item(1, who, brand=False, minutes_ago=10),
        _reply_answers_the_question,
    ),
}
NAMES = {
    "reply": {1: "c1", 2: "b1"},
    "join": {1: "c1", 2: "b1", 3: "c2"},
    "open answered": {1: "c1", 2: "b1"},
}


@dataclasses.dataclass
class Run:
    position: int | None
    calls: list[str]
    failed_call: str | None
    retried: bool
    case: Case | None
    events: list[str]
    missing_clocks: set[str]
    leftover_clocks: set[str]
    leftover_fired: dict[str, str]
    case_clocks: set[str]


def run_with_fault(rig: Rig, scenario: Scenario, position: int | None, crash: bool) -> Run:
    """A fresh conversation: route what comes before, the hit message with a fault at ``position``
    (None: no fault; ``crash``: every later call fails too), then the same SQS record again without
    it if SQS would retry it."""
    ports, faults = rig.ports, rig.faults
    who = f"p{position}-{scenario.name.replace(' ', '')}-{time.monotonic_ns()}"
    items = {}
    for made in scenario.before(who):
        rig.interactions.store_new(made, enriched_at=datetime.now(tz=UTC))
        assert route(ports, made, f"setup-{made.native_id}") == []
        items[NAMES[scenario.name][int(made.native_id.rsplit("_", 1)[1])]] = made
    hit = scenario.hit(who)
    items[NAMES[scenario.name][int(hit.native_id.rsplit("_", 1)[1])]] = hit
    rig.interactions.store_new(hit, enriched_at=datetime.now(tz=UTC))
    rig.events()
    with faults.at(position, crash=crash):
        failed = route(ports, hit, "the-record")
        failed_call, calls = faults.failed, list(faults.calls)
    if failed:
        assert route(ports, hit, "the-record") == []  # the retry of the same SQS message
    case_id = case_id_for(hit.conversation_ref, 1)
    case = rig.cases.get(case_id)
    events = [e["detail-type"] for e in rig.events() if e["detail"].get("case_id") == case_id]
    names = case_schedules(case_id, rig.scheduler)
    wanted = {c.name for c in clocks_of(case, datetime.now(tz=UTC))} if case else set()
    fired = {}
    for name in names - wanted:  # a clock the case no longer needs: when it rings, it must do nothing
        from socialcrm.routing.notify import LogNotifier
        from socialcrm.routing.runtime import SlaRuntime

        _, code, epoch = name.rsplit("-", 2)
        sla = SlaRuntime(cases=rig.cases, publisher=ports.publisher, notifier=LogNotifier())
        fired[name] = sla.fire(case_id, CHECK_CODES[code], now=datetime.fromtimestamp(int(epoch), tz=UTC))
    after = rig.cases.get(case_id)
    assert after == case or after.version == case.version, "a stale clock changed the case"
    if case is not None:
        scenario.check(case, items)
    return Run(
        position, calls, failed_call, bool(failed), case, events, wanted - names, names - wanted, fired, names
    )


def every_position(rig: Rig, scenario: Scenario, mode: str) -> list[Run]:
    """The scenario without a fault, then with one at each of the calls the clean run made."""
    crash = mode == CRASH
    clean = run_with_fault(rig, scenario, None, crash)
    assert len(clean.calls) > 3 and clean.missing_clocks == set() and clean.leftover_clocks == set()
    return [clean] + [run_with_fault(rig, scenario, n, crash) for n in range(len(clean.calls))]


ONE_CALL, CRASH = "one call fails", "every call fails from there"
_RUNS: dict[tuple[str, str], list[Run]] = {}  # what a test found, for the next test to read again


def runs_of(routing: Rig, name: str, mode: str) -> list[Run]:
    if (name, mode) not in _RUNS:
        _RUNS[name, mode] = every_position(routing, SCENARIOS[name], mode)
    return _RUNS[name, mode]


HARMLESS = {"nothing to do", "answered in time", "not yet due"}


def assert_finished(runs: list[Run], events: set[str]) -> None:
    """After the retry: the clocks the case needs are set, the events out, and a clock left behind
    (only ever one whose deletion failed) does nothing when it rings."""
    for run in runs:
        where = (run.position, run.failed_call)
        assert run.case is not None, where
        assert run.missing_clocks == set(), where
        assert events <= set(run.events), (where, run.events)
        assert set(run.leftover_fired.values()) <= HARMLESS, (where, run.leftover_fired)
        if run.leftover_clocks:
            assert run.failed_call == "scheduler.DeleteSchedule", where


@pytest.mark.parametrize("mode", [ONE_CALL, CRASH])
def test_a_brand_reply_hit_by_a_fault_at_any_step_is_recorded_once_by_the_retry(routing, mode):
    # Given an open case with its first-response clock, When the Page's echo is routed with a fault at
    # each of the calls it makes in turn (then retried by SQS without it)
    runs = runs_of(routing, "reply", mode)
    # Then every fault position was tried: reads, the case write, the clock deletions, PutEvents
    assert set(runs[0].calls) == {
        "dynamodb.GetItem",
        "dynamodb.TransactWriteItems",
        "scheduler.DeleteSchedule",
        "events.PutEvents",
    }
    # And after the retry the reply is on the case once, it is the first response (checked per run),
    # the resolution clock runs, CaseUpdated was published, and a first-response clock whose deletion
    # failed rings for nothing
    assert_finished(runs, {"CaseUpdated"})


@pytest.mark.parametrize("mode", [ONE_CALL, CRASH])
def test_a_follow_up_hit_by_a_fault_at_any_step_joins_once_and_its_wait_is_clocked(routing, mode):
    # Given a case the Page answered, When the customer's follow-up is routed with a fault at each of
    # the calls it makes in turn (then retried by SQS without it)
    runs = runs_of(routing, "join", mode)
    assert "scheduler.CreateSchedule" in runs[0].calls and "dynamodb.Query" in runs[0].calls
    # Then the follow-up is on the case once, the first response is the Page's reply, one next-response
    # wait runs from the follow-up (checked per run), its clocks and the resolution's are set, and
    # CaseUpdated was published
    assert_finished(runs, {"CaseUpdated"})
    for run in runs:
        assert {n.split("-")[1] for n in run.case_clocks} >= {"nd", "rd"}, run.position


@pytest.mark.parametrize("mode", [ONE_CALL, CRASH])
def test_a_case_opened_already_answered_survives_a_fault_at_any_step(routing, mode):
    # Given the Page's echo arrived first and waits on the conversation, When the customer's message
    # that opens the case is routed with a fault at each of the calls it makes in turn (then retried)
    runs = runs_of(routing, "open answered", mode)
    # Then one case holds both messages once, answered by the echo (checked per run), no first-response
    # clock is set, the resolution clock is, and InteractionRouted was published
    assert_finished(runs, {"InteractionRouted"})
    for run in runs:
        assert not [n for n in run.case_clocks if "-fd-" in n or "-fw-" in n], run.position


@pytest.mark.parametrize("mode", [ONE_CALL, CRASH])
def test_a_case_opened_already_answered_announces_its_first_response_after_a_fault(routing, mode):
    runs = runs_of(routing, "open answered", mode)
    lost = [(run.position, run.failed_call) for run in runs if "CaseUpdated" not in run.events]
    # e.g. [(4, 'scheduler.CreateSchedule'), (5, 'scheduler.CreateSchedule'), (6, 'dynamodb.UpdateItem')]
    assert lost == []


# -- what an erasure leaves of a customer's conversations -----------------------------------------------

ANA_MESSENGER = Person("messenger", "6100000000000999", "", "")
ANA_INSTAGRAM = Person("instagram", "1234567890123999", "", "")
ANA_FACEBOOK = Person("facebook", "7000000000000999", "", "Ana Lima-Quixote")
BOB_FACEBOOK = Person("facebook", "7000000000000555", "", "Bob Droptable")
THREAD_POST = f"{PAGE}_12345"


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Every line the functions log, at every level, as the Lambda runtime would ship it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    underlying = logger._logger
    level = underlying.level
    underlying.addHandler(handler)
    logger.setLevel("DEBUG")
    try:
        yield stream
    finally:
        underlying.removeHandler(handler)
        underlying.setLevel(level)


def thread_comment(comment_id: str, who: Person | None, text: str, at: datetime, parent: str | None) -> bytes:
    """A comment in the thread under the Page's post 12345 (``who`` None: the Page itself)."""
    user, name = (PAGE, "Acme") if who is None else (who.user_id, who.name)
    value = {
        "from": {"id": user, "name": name},
        "message": text,
        "post_id": THREAD_POST,
        "comment_id": comment_id,
        "parent_id": parent or THREAD_POST,
        "created_time": int(at.timestamp()),
        "item": "comment",
        "verb": "add",
    }
    entry = {"id": PAGE, "time": int(at.timestamp()), "changes": [{"field": "feed", "value": value}]}
    return json.dumps({"object": "page", "entry": [entry]}).encode()


def every_queue(stack: Stack) -> dict[str, list[str]]:
    """Every message body on every queue of the app (work queues and DLQs) and on the test's team
    queues (what SNS delivered to the teams)."""
    sqs = boto3.client("sqs")
    urls = {
        **stack.world.resources.queue_urls,
        **{f"{k}-dlq": u for k, u in stack.world.resources.dlq_urls.items()},
    }
    urls |= {f"team-{t}": sqs.get_queue_url(QueueName=f"team-{t}")["QueueUrl"] for t in ("support", "pr")}
    out: dict[str, list[str]] = {}
    for name, url in urls.items():
        bodies = []
        while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get(
            "Messages"
        ):
            bodies += [m["Body"] for m in got]
        out[name] = bodies
    return out


def traces(stack: Stack, logs: str, needles: dict[str, str]) -> dict[str, set[str]]:
    """Where each needle (label → text) is found: every item of every table, every queue, the logs."""
    places: dict[str, list[str]] = {}
    for table, items in stack.world.scan_all().items():
        places[f"table:{table}"] = [json.dumps(item, ensure_ascii=False) for item in items]
    for queue, bodies in every_queue(stack).items():
        places[f"queue:{queue}"] = bodies
    places["logs"] = logs.splitlines()
    found: dict[str, set[str]] = {}
    for place, texts in places.items():
        for label, needle in needles.items():
            if any(needle in text for text in texts):
                found.setdefault(label, set()).add(place)
    return found


def test_erasing_a_customer_leaves_nothing_of_her_conversations_or_of_the_replies_to_her(stack):
    t = NOW - timedelta(hours=2)
    pepper = stack.world.pepper
    with captured_logs() as logs:
        # Given Ana on Messenger: the Page wrote first (its echo arrives before any case and waits),
        # then her three messages and a second echo
        ana = ANA_MESSENGER.user_id
        e1 = echo("m_ana_e1", ana, "page-reply-e1 Hi Ana, your order 7781 has shipped", t)
        assert stack.post("meta", messaging(e1))[0] == 200
        stack.settle()
        waiting = stack.conversation(f"dm:{PAGE}:{ana}", "messenger")
        assert waiting is not None and waiting.case_id is None and len(waiting.waiting_replies) == 1
        first = dm("m_ana_1", ana, "ana-text-1 it has not arrived", t + timedelta(minutes=10))
        second = dm("m_ana_2", ana, "ana-text-2 tracking says lost", t + timedelta(minutes=11))
        assert stack.post("meta", messaging(first, second))[0] == 200
        stack.settle()
        e2 = echo(
            "m_ana_e2", ana, "page-reply-e2 So sorry, a new one is on its way", t + timedelta(minutes=20)
        )
        assert stack.post("meta", messaging(e2))[0] == 200
        stack.settle()
        third = dm(
            "m_ana_3", ana, "ana-text-3 ok thanks, my address is 5 Rua Augusta", t + timedelta(minutes=25)
        )
        assert stack.post("meta", messaging(third))[0] == 200
        # And on Instagram, the account wrote to her and she never answered (the echo waits, no case)
        ig = echo(
            "ig_ana_e1", ANA_INSTAGRAM.user_id, "page-reply-ig Ana, your code is 4411", t, account=INSTAGRAM
        )
        assert stack.post("meta", messaging(ig, product="instagram", account=INSTAGRAM))[0] == 200
        # And on the Page's post she commented, and the Page replied in her thread without naming her
        ana_comment = thread_comment("12345_70001", ANA_FACEBOOK, "ana-fb-text the zip broke", t, None)
        assert stack.post("meta", ana_comment)[0] == 200
        stack.settle()
        page_reply = thread_comment(
            "12345_70002",
            None,
            "page-reply-fb We are on it, check your inbox",
            t + timedelta(minutes=5),
            "12345_70001",
        )
        assert stack.post("meta", page_reply)[0] == 200
        stack.settle()
        case = stack.case(f"dm:{PAGE}:{ana}", "messenger")
        assert [m.interaction_id.split(":")[1] for m in case.messages] == [
            "m_ana_e1",
            "m_ana_1",
            "m_ana_2",
            "m_ana_e2",
            "m_ana_3",
        ]
        thread = stack.case("comments:12345_70001", "facebook")
        assert thread.first_response_source == "native" and len(thread.messages) == 2
        assert stack.conversation(f"dm:{INSTAGRAM}:{ANA_INSTAGRAM.user_id}", "instagram").waiting_replies

        ids = {
            "messenger": ["m_ana_e1", "m_ana_1", "m_ana_2", "m_ana_e2", "m_ana_3"],
            "instagram": ["ig_ana_e1"],
            "facebook": ["12345_70001", "12345_70002"],
        }
        needles = {
            "messenger user id": ana,
            "instagram user id": ANA_INSTAGRAM.user_id,
            "facebook user id": ANA_FACEBOOK.user_id,
            "name": ANA_FACEBOOK.name,
        }
        for text in ("ana-text-1", "ana-text-2", "ana-text-3", "5 Rua Augusta", "ana-fb-text"):
            needles[f"her text {text}"] = text
        for text in ("page-reply-e1", "page-reply-e2", "page-reply-ig", "page-reply-fb"):
            needles[f"the Page's reply {text}"] = text
        for platform, natives in ids.items():
            for native in natives:
                needles[f"id {platform}:{native}"] = f"{platform}:{native}"
                needles[f"ref of {platform}:{native}"] = interaction_ref(pepper, f"{platform}:{native}")
        # (the scan finds what it looks for: every needle is somewhere before the erasure, except her
        # Instagram id: only the account's echo to her came, and it keeps her id only as hashes)
        before = traces(stack, logs.getvalue(), needles)
        assert set(before) == set(needles) - {"instagram user id"}

        # When Ana's erasure runs for the three accounts
        request_id = stack.world.request_erasure(ANA_MESSENGER, ANA_INSTAGRAM, ANA_FACEBOOK, reference="T-77")
        assert stack.world.run_erasures() == []
        proof = stack.world.erasure(request_id)
        stack.settle()
    assert proof["status"] == "COMPLETED" and proof["verified"] is True, proof
    # Then no table and no queue holds anything of her, or of what the Page wrote to her
    left = traces(stack, logs.getvalue(), needles)
    stored = {label: places - {"logs"} for label, places in left.items() if places - {"logs"}}
    assert stored == {}
    # And the logs hold no id, name or text of hers, nor the Page's words; only the keyed refs that
    # logs carry by design (pseudonymous: HMAC under the pepper), kept for the log group's retention
    in_logs = {label for label, places in left.items() if "logs" in places}
    assert {label for label in in_logs if not label.startswith("ref of ")} == set()


def test_erasing_someone_who_wrote_in_another_customers_thread_leaves_nothing_of_them_on_her_case(stack):
    t = NOW - timedelta(hours=1)
    # Given Ana's comment, the Page's reply, and Bob's reply in her thread (which joins her case)
    assert (
        stack.post("meta", thread_comment("12345_80001", ANA_FACEBOOK, "ana: zip broke", t, None))[0] == 200
    )
    stack.settle()
    reply = thread_comment("12345_80002", None, "We are on it", t + timedelta(minutes=3), "12345_80001")
    bob = thread_comment(
        "12345_80003", BOB_FACEBOOK, "bob: mine too!", t + timedelta(minutes=6), "12345_80001"
    )
    assert stack.post("meta", reply)[0] == stack.post("meta", bob)[0] == 200
    stack.settle()
    case = stack.case("comments:12345_80001", "facebook")
    assert [m.interaction_id for m in case.messages][-1] == "facebook:12345_80003"
    # When Bob's erasure runs
    request_id = stack.world.request_erasure(BOB_FACEBOOK, reference="T-78")
    assert stack.world.run_erasures() == []
    assert stack.world.erasure(request_id)["verified"] is True
    # Then his interaction is gone, and Ana's case (which stays) no longer lists his message
    # (docs/decisions.md still calls this "left as it is"; the shared_cases store now removes it)
    bob_ref = interaction_ref(stack.world.pepper, "facebook:12345_80003")
    assert InteractionRepository().get(bob_ref) is None
    after = stack.case("comments:12345_80001", "facebook")
    assert after is not None and after.first_response_source == "native"
    assert [m.interaction_id for m in after.messages] == ["facebook:12345_80001", "facebook:12345_80002"]
    assert bob_ref not in json.dumps(after.model_dump(mode="json"))
