"""A whole pipeline on moto for the privacy tests: signed deliveries in, enrich, routing's cases and the
report consumer's markers, the privacy API, the erase consumer, and a scan of every table (tests only)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import boto3
from moto import mock_aws

from socialcrm.dal.models import bind
from socialcrm.dal.repository import InteractionRepository
from socialcrm.dedupe import ClaimTable
from socialcrm.enrichment.batch import BatchOutcome, QueuedRecord, process_batch
from socialcrm.events.models import InteractionEnriched
from socialcrm.events.publisher import EventPublisher
from socialcrm.local.moto_patches import speed_up_transactions
from socialcrm.local.resources import LocalResources, create_resources
from socialcrm.models import Interaction, interaction_ref, subject_id
from socialcrm.platforms.generic import signed_headers
from socialcrm.privacy.suppression import DynamoSuppressionCheck, SuppressionTable
from socialcrm.queueing import InboundQueue
from socialcrm.reporting.counters import CounterRepository
from socialcrm.reporting.facts import facts_of
from socialcrm.routing.case import conversation_of, routed_event
from socialcrm.routing.conversation import open_case
from socialcrm.routing.evaluator import Decision
from socialcrm.routing.rules import parse_rules
from socialcrm.routing.store import CaseRepository
from socialcrm.routing.store import bind as bind_routing
from socialcrm.topology import BUS_NAME, TABLES
from tests.conftest import DEV_SECRETS
from tests.support.apigw import LambdaContext, http_event
from tests.support.pipeline import analysed

EARLIER_TODAY = datetime.now(tz=UTC) - timedelta(hours=1)
LEVELS = parse_rules({"teams": ["support", "pr"]})
DECISION = Decision(
    teams=("support",),
    priority="P2",
    tags=("complaint",),
    rules=("r1",),
    notify=(),
    sla_minutes=60,
    topics=(),
)


@dataclass(frozen=True)
class Person:
    """A data subject on one platform, with everything that identifies them."""

    platform: str
    user_id: str
    handle: str
    name: str

    def ref(self) -> dict[str, str]:
        return {"platform": self.platform, "user_id": self.user_id}


@dataclass
class World:
    resources: LocalResources
    pepper: str
    handlers: dict[str, Any]
    secrets: Any
    texts: dict[str, list[str]] = field(default_factory=dict)  # user_id -> texts delivered
    routed: set[str] = field(default_factory=set)  # interaction refs given a case and counted
    # One repository (one botocore client) each: building clients is what costs time on moto.
    interactions: InteractionRepository = field(default_factory=InteractionRepository)
    cases: CaseRepository = field(default_factory=CaseRepository)
    counters: CounterRepository = field(default_factory=CounterRepository)

    # -- platforms and the pipeline -----------------------------------------------------------------

    def deliver(self, person: Person, native_id: str, text: str, occurred_at: datetime) -> dict[str, int]:
        """A signed Standard Webhooks delivery (the ``generic`` platform) through the ingest function."""
        assert person.platform == "generic", "deliveries go through the generic platform"
        body = json.dumps(
            {
                "type": "interaction.created",
                "timestamp": occurred_at.isoformat(),
                "data": {
                    "native_id": native_id,
                    "kind": "review",
                    "text": text,
                    "occurred_at": occurred_at.isoformat(),
                    "author": {
                        "user_id": person.user_id,
                        "handle": person.handle,
                        "display_name": person.name,
                    },
                },
            }
        ).encode()
        headers = {
            **signed_headers(body, self.secrets.generic, time.time()),
            "content-type": "application/json",
        }
        event = http_event("POST", "/webhooks/generic", body=body, headers=headers)
        response = self.handlers["ingest"].lambda_handler(event, LambdaContext())
        assert response["statusCode"] == 200, response
        self.texts.setdefault(person.user_id, []).append(text)
        return json.loads(response["body"])  # type: ignore[no-any-return]

    def interaction(self, person: Person, n: int, text: str, occurred_at: datetime) -> Interaction:
        """An analysed interaction of the person (not stored)."""
        item = Interaction(
            interaction_id=f"{person.platform}:{person.user_id}-{n}",
            interaction_ref=interaction_ref(self.pepper, f"{person.platform}:{person.user_id}-{n}"),
            subject_id=self.subject(person),
            platform=person.platform,  # type: ignore[arg-type]
            kind="comment",
            native_id=f"{person.user_id}-{n}",
            author={"user_id": person.user_id, "handle": person.handle, "display_name": person.name},  # type: ignore[arg-type]
            text=text,
            occurred_at=occurred_at,
            received_at=datetime.now(tz=UTC),
        )
        self.texts.setdefault(person.user_id, []).append(text)
        return analysed(item)

    def store(self, person: Person, n: int, text: str, occurred_at: datetime) -> Interaction:
        """An interaction stored directly (for platforms other than generic), with its case and report facts."""
        item = self.interaction(person, n, text, occurred_at)
        assert self.interactions.store_new(item, enriched_at=datetime.now(tz=UTC))
        self.route_and_count(item)
        return item

    def route_and_count(self, item: Interaction) -> None:
        """What the route and report consumers would do with the interaction: a case, counted facts."""
        now = datetime.now(tz=UTC)
        case = open_case(item, DECISION, LEVELS, conversation_ref=conversation_of(item), sequence=1, now=now)
        self.cases.open(case)
        for detail in (InteractionEnriched.of(item), routed_event(case)):
            for fact in facts_of(detail):
                self.counters.record(fact, now=now)

    def enrich(self) -> BatchOutcome:
        """Drain the inbound queue through the enrich stage (suppression seam on the real table)."""
        records = [QueuedRecord(m["MessageId"], m["Body"]) for m in self.receive("inbound")]
        outcome = process_batch(
            records,
            enrich=lambda items: [analysed(i) for i in items],
            store=self.interactions,
            claims=ClaimTable(self.table("claims")),
            publisher=EventPublisher(BUS_NAME, "socialcrm.enrich", backoff_seconds=0),
            pending_queue=InboundQueue(self.resources.queue_urls["inbound"]),
            suppression=DynamoSuppressionCheck(SuppressionTable(self.table("suppressions")), cache_seconds=0),
            now=datetime.now(tz=UTC),
            deadline=datetime.now(tz=UTC) + timedelta(seconds=60),
        )
        for item in (Interaction.model_validate_json(r.body) for r in records):
            stored = self.interactions.get(item.interaction_ref)
            if stored is not None and item.interaction_ref not in self.routed:
                self.routed.add(item.interaction_ref)
                self.route_and_count(stored)
        return outcome

    # -- the privacy API and the erase consumer ------------------------------------------------------

    def call(
        self,
        function: str,
        method: str,
        path: str,
        body: Any = None,
        principal: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        sent = dict(headers or {})
        if body is not None:
            sent["content-type"] = "application/json"
        path, _, query = path.partition("?")
        event = http_event(
            method,
            path,
            body=None if body is None else json.dumps(body),
            headers=sent or None,
            query=dict(parse_qsl(query)),
            # None: a role allowed the route; "": no IAM principal at all
            principal="auto" if principal is None else principal or None,
        )
        response = self.handlers[function].lambda_handler(event, LambdaContext())
        return response["statusCode"], json.loads(response["body"])

    def request_erasure(self, *people: Person, reference: str = "T-42") -> str:
        status, body = self.call(
            "privacy",
            "POST",
            "/erasure-requests",
            {"subjects": [p.ref() for p in people], "reference": reference},
            principal="arn:aws:iam::123456789012:user/dpo",
        )
        assert status == 202, body
        return body["request_id"]  # type: ignore[no-any-return]

    def run_erasures(self, remaining_ms: int = 300_000) -> list[str]:
        """Feed the erasure queue (fed by the bus rule) to the erase handler, and what a run puts back on it
        to continue at once, as the queue would; returns failed message ids. A continuation that waits (a
        delayed message) is left for a later call."""
        failed = []
        for _round in range(10):
            messages = self.receive("erasure")
            if not messages:
                break
            for message in messages:
                event = {
                    "Records": [
                        {"messageId": message["MessageId"], "body": message["Body"], "eventSource": "aws:sqs"}
                    ]
                }
                result = self.handlers["erase"].lambda_handler(
                    event, LambdaContext(remaining_ms=remaining_ms)
                )
                failed += [f["itemIdentifier"] for f in result["batchItemFailures"]]
        return failed

    def erasure(self, request_id: str) -> dict[str, Any]:
        status, body = self.call("privacy", "GET", f"/erasure-requests/{request_id}")
        assert status == 200, body
        return body  # type: ignore[no-any-return]

    # -- AWS plumbing ---------------------------------------------------------------------------------

    def subject(self, person: Person) -> str:
        return subject_id(self.pepper, person.platform, person.user_id)

    def ref(self, interaction_id: str) -> str:
        """The interaction_ref of a platform id under this world's pepper."""
        return interaction_ref(self.pepper, interaction_id)

    def table(self, key: str) -> str:
        return self.resources.environment[TABLES[key].env_var]

    def receive(self, queue: str) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        url = self.resources.queue_urls[queue]
        messages: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            if not got.get("Messages"):
                return messages
            for message in got["Messages"]:
                messages.append(message)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def scan_all(self) -> dict[str, list[dict[str, Any]]]:
        """Every item of every table, as raw JSON text per item (a test's look, never the product's)."""
        client = boto3.client("dynamodb")
        out = {}
        for key in TABLES:
            items = []
            for page in client.get_paginator("scan").paginate(TableName=self.table(key)):
                items += page["Items"]
            out[key] = items
        return out

    def dead_letters(self, person: Person, n: int, text: str) -> Interaction:
        """A message of the person whose retries were spent: in the inbound DLQ, and its announcement in
        the report DLQ."""
        item = self.interaction(person, 900 + n, text, EARLIER_TODAY)
        self.dead_letter("inbound", item.model_dump_json())
        event = {
            "detail-type": "InteractionEnriched",
            "source": "socialcrm.enrich",
            "detail": InteractionEnriched.of(item).model_dump(mode="json"),
        }
        self.dead_letter("report", json.dumps(event))
        return item

    def dead_letter(self, queue: str, body: str) -> None:
        """Put a message straight into a queue's DLQ, as SQS does when its retries are spent."""
        boto3.client("sqs").send_message(QueueUrl=self.resources.dlq_urls[queue], MessageBody=body)

    def queued_everywhere(self) -> dict[str, list[str]]:
        """Every message body of every DLQ, read and made visible again (a test's look). Work queues are
        not read: each receive counts toward their redrive to the DLQ, and their messages are in flight."""
        sqs = boto3.client("sqs")
        urls = {f"{key}-dlq": url for key, url in self.resources.dlq_urls.items()}
        out: dict[str, list[str]] = {}
        for key, url in urls.items():
            received = []
            while True:
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
                if not got.get("Messages"):
                    break
                received += got["Messages"]
            for message in received:
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            out[key] = [message["Body"] for message in received]
        return out

    def traces(self, *needles: str) -> Iterator[tuple[str, str]]:
        """(store, needle) for each needle found anywhere in any item of any table or any queued message."""
        for table, items in self.scan_all().items():
            for item in items:
                text = json.dumps(item, ensure_ascii=False)
                for needle in needles:
                    if needle in text:
                        yield table, needle
        for queue, bodies in self.queued_everywhere().items():
            for body in bodies:
                text = json.dumps(json.loads(body), ensure_ascii=False)
                for needle in needles:
                    if needle in text:
                        yield f"queue:{queue}", needle


def bind_all(resources: LocalResources) -> None:
    """Point every PynamoDB model at the moto tables."""
    names = {key: resources.environment[spec.env_var] for key, spec in TABLES.items()}
    bind(names, region="eu-west-1")
    bind_routing(names, region="eu-west-1")
    CounterRepository.bound(names, region="eu-west-1")


@contextmanager
def privacy_world(monkeypatch: Any, secrets: Any, *, settle_seconds: int = 0) -> Iterator[World]:
    """The pipeline on moto with the ingest, privacy, erase and api handlers configured for it."""
    speed_up_transactions()  # moto otherwise copies every table a transaction touches (same semantics)
    with mock_aws():
        resources = create_resources()
        for name, value in resources.environment.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SOCIALCRM_SECRETS_FILE", str(DEV_SECRETS))
        monkeypatch.delenv("SECRETS_NAME", raising=False)
        monkeypatch.setenv("ERASURE_SETTLE_SECONDS", str(settle_seconds))
        monkeypatch.setenv("DLQ_SCAN_WAIT_SECONDS", "0")
        import api.handler
        import erase.handler
        import ingest.handler
        import privacy.handler

        handlers = {
            "ingest": ingest.handler,
            "privacy": privacy.handler,
            "erase": erase.handler,
            "api": api.handler,
        }
        for handler in handlers.values():
            handler.runtime.cache_clear()
        handlers["api"].runtime()  # binds the CRM models
        bind_all(resources)
        try:
            yield World(resources, secrets.subject_pepper.get_secret_value(), handlers, secrets)
        finally:
            for handler in handlers.values():
                handler.runtime.cache_clear()


def allow_sending(world: World, monkeypatch: Any, folder: Path) -> None:
    """Send credentials in the functions' secrets, so a reply can be queued (nothing is sent: no send
    function runs here). The secrets document is written to ``folder``."""
    from socialcrm.local.stack import dev_send_secrets

    document = json.loads(DEV_SECRETS.read_text())
    document["send"] = dev_send_secrets("http://127.0.0.1:9")
    secrets = folder / "secrets.json"
    secrets.write_text(json.dumps(document))
    monkeypatch.setenv("SOCIALCRM_SECRETS_FILE", str(secrets))
    world.handlers["api"].cases_runtime.cache_clear()
