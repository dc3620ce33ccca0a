"""Ingest figures: in-process latency of a 2 KB Meta delivery, its overhead over a bare handler, the
handler module's import time over ``import boto3`` alone, the AWS calls a delivery of 1, 10 and 1,000
items costs, the time to acknowledge 3,000 comments when every AWS call takes 10 ms, and the claims a
failure at each position of a 10-item delivery leaves behind.

AWS is replaced by an in-memory SQS client (``SendMessageBatch``) so the latency figures measure this
project's code and Powertools', not the network; the "10 ms" figures make the same client wait 10 ms per
call, as a round trip inside a region does. The bare handler only checks the HMAC and parses the JSON:
the floor any webhook receiver pays.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]

SECRETS = ROOT / "config" / "dev-secrets.json"
REQUESTS = 3000
WARMUP = 300


class InMemorySqs:
    """SendMessageBatch that accepts everything; ``latency`` seconds a call (0: as fast as Python)."""

    def __init__(self, latency: float = 0.0) -> None:
        self.calls = 0
        self.latency = latency
        self._lock = threading.Lock()

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            self.calls += 1
        if self.latency:
            time.sleep(self.latency)
        return {"Successful": [{"Id": e["Id"], "MessageId": e["Id"]} for e in Entries], "Failed": []}


def meta_comments(count: int, *, start: int = 0, text: str = "Is the blue one in stock?") -> bytes:
    """One Page delivery with ``count`` small comments (Meta batches many changes in one request)."""
    changes = [
        {
            "field": "feed",
            "value": {
                "from": {"id": f"72345678901{n:05d}", "name": "A Person"},
                "message": text,
                "post_id": "102938475610293_12345",
                "comment_id": f"12345_{n}",
                "parent_id": "102938475610293_12345",
                "created_time": 1755599999,
                "item": "comment",
                "verb": "add",
            },
        }
        for n in range(start, start + count)
    ]
    body = {"object": "page", "entry": [{"id": "102938475610293", "time": 1755600001, "changes": changes}]}
    return json.dumps(body).encode()


def meta_delivery(n: int) -> bytes:
    """A realistic Page comment delivery of about 2 KB, with a unique comment id."""
    value = {
        "from": {"id": "7234567890123456", "name": "Aisyah Rahman"},
        "post": {
            "status_type": "added_photos",
            "is_published": True,
            "updated_time": "2025-08-19T10:00:00+0000",
            "permalink_url": "https://www.facebook.com/102938475610293/posts/12345",
            "promotion_status": "inactive",
            "id": "102938475610293_12345",
        },
        "message": "कितने का है? How much is the blue one, and do you ship to Pune? " * 12,
        "post_id": "102938475610293_12345",
        "comment_id": f"12345_{n}",
        "parent_id": "102938475610293_12345",
        "created_time": 1755599999,
        "item": "comment",
        "verb": "add",
    }
    body = {
        "object": "page",
        "entry": [
            {"id": "102938475610293", "time": 1755600001, "changes": [{"field": "feed", "value": value}]}
        ],
    }
    return json.dumps(body).encode()


def _event(body: bytes, signature: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "POST /webhooks/{platform}",
        "rawPath": "/webhooks/meta",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "x-hub-signature-256": signature},
        "requestContext": {
            "http": {"method": "POST", "path": "/webhooks/meta", "sourceIp": "192.0.2.1"},
            "requestId": "r",
            "stage": "$default",
            "routeKey": "POST /webhooks/{platform}",
        },
        "pathParameters": {"platform": "meta"},
        "body": body.decode(),
        "isBase64Encoded": False,
    }


class Context:
    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _time_requests(handle, events: list[dict[str, Any]]) -> list[float]:
    """Per-request milliseconds; stdout (the EMF metrics line Lambda would ship) goes to /dev/null."""
    context = Context()
    samples = []
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        for event in events:
            start = time.perf_counter()
            handle(event, context)
            samples.append((time.perf_counter() - start) * 1000)
    return samples


def _bare_handler(secret: bytes):
    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raw = event["body"].encode()
        expected = "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, event["headers"].get("x-hub-signature-256", "")):
            return {"statusCode": 401}
        json.loads(raw)
        return {"statusCode": 200}

    return handle


def measure_latency() -> dict[str, Any]:
    _environment()
    import ingest.handler as handler

    from socialcrm.ingest.runtime import IngestRuntime
    from socialcrm.platforms.meta import signed_headers
    from socialcrm.queueing import InboundQueue
    from socialcrm.secrets import load_secrets_file

    secrets = load_secrets_file(SECRETS)
    assert secrets.meta is not None, "the dev secrets configure Meta"
    sqs = InMemorySqs()
    runtime = IngestRuntime(
        secrets=handler.runtime().secrets,
        queue=InboundQueue("https://sqs.local/bench", client=sqs),
        on_outcome=handler.record_metrics,
    )
    # The handler's app, rebuilt around the in-memory clients (the handler calls the module's `app`).
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    from socialcrm.api.responses import register_error_handlers
    from socialcrm.api.webhooks import build_router

    app = APIGatewayHttpResolver()
    app.include_router(build_router(lambda: runtime))
    register_error_handlers(app)
    handler.app = app

    bodies = [meta_delivery(n) for n in range(WARMUP + REQUESTS)]
    size = len(bodies[0])
    events = [_event(b, signed_headers(b, secrets.meta, time.time())["x-hub-signature-256"]) for b in bodies]
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        first = handler.lambda_handler(events[0], Context())
    assert first["statusCode"] == 200, first
    _time_requests(handler.lambda_handler, events[1:WARMUP])
    ours = _time_requests(handler.lambda_handler, events[WARMUP:])
    bare = _bare_handler(secrets.meta.app_secret.get_secret_value().encode())
    _time_requests(bare, events[1:WARMUP])
    floor = _time_requests(bare, events[WARMUP:])
    p50 = statistics.median(ours)
    return {
        "ingest_p50_ms": round(p50, 3),
        "ingest_p99_ms": round(_percentile(ours, 0.99), 3),
        "ingest_overhead_ratio": round(p50 / statistics.median(floor), 2),
        "ingest_bare_p50_ms": round(statistics.median(floor), 4),
        "ingest_delivery_bytes": size,
    }


def _environment() -> None:
    os.environ.update(
        {
            "SOCIALCRM_SECRETS_FILE": str(SECRETS),
            "INBOUND_QUEUE_URL": "https://sqs.local/bench",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "AWS_DEFAULT_REGION": "eu-west-1",
        }
    )


def _acknowledge(body: bytes, sqs: InMemorySqs) -> tuple[float, Any]:
    """Milliseconds to verify, normalise and queue one delivery (the webhook's answer), and its outcome."""
    from datetime import UTC, datetime

    from socialcrm.ingest.service import ingest_delivery
    from socialcrm.platforms import Delivery
    from socialcrm.platforms.meta import signed_headers
    from socialcrm.queueing import InboundQueue
    from socialcrm.secrets import load_secrets_file

    secrets = load_secrets_file(SECRETS)
    assert secrets.meta is not None, "the dev secrets configure Meta"
    delivery = Delivery(body=body, headers=signed_headers(body, secrets.meta, time.time()))
    queue = InboundQueue("https://sqs.local/bench", client=sqs)
    start = time.perf_counter()
    outcome = ingest_delivery(
        "meta", delivery, secrets=secrets, queue=queue, received_at=datetime.now(tz=UTC)
    )
    return (time.perf_counter() - start) * 1000, outcome


def measure_calls_and_size() -> dict[str, Any]:
    """AWS calls per delivery of 1, 10 and 1,000 comments (goal: one SendMessageBatch per ten), and the
    time to acknowledge 3,000 comments (about 1 MB) against one, each AWS call taking 10 ms."""
    _environment()
    calls = {}
    for size in (1, 10, 1000):
        sqs = InMemorySqs()
        _ms, outcome = _acknowledge(meta_comments(size), sqs)
        assert outcome.queued == size, outcome
        calls[str(size)] = sqs.calls
    # About the most small comments a 6 MB body (Lambda's synchronous limit) holds
    per_comment = len(meta_comments(2, start=100_000)) - len(meta_comments(1, start=100_000))
    largest = int(6 * 1024 * 1024 * 0.98) // per_comment
    timings = {}
    for size in (1, 3000, largest):
        runs = []
        for attempt in range(5 if size < largest else 2):
            sqs = InMemorySqs(latency=0.010)
            body = meta_comments(size, start=100_000 + attempt * size)
            ms, outcome = _acknowledge(body, sqs)
            assert outcome.queued == size, outcome
            runs.append(ms)
        timings[size] = (statistics.median(runs), len(body))
    return {
        "ingest_aws_calls_per_delivery": calls,
        "ingest_ms_1_item": round(timings[1][0], 1),
        "ingest_ms_3000_items": round(timings[3000][0], 1),
        "ingest_3000_items_bytes": timings[3000][1],
        "ingest_ms_6mb_delivery": round(timings[largest][0], 1),
        "ingest_6mb_delivery_items": largest,
    }


def measure_faults() -> dict[str, Any]:
    """Claims left, and comments lost, after a queueing failure at each position of a 10-comment delivery
    followed by the platform's retry and a store failure at the same position in the enrich stage."""
    _environment()
    from datetime import UTC, datetime, timedelta

    import boto3
    from moto import mock_aws

    from socialcrm.dal.models import bind
    from socialcrm.dal.repository import InteractionRepository
    from socialcrm.dedupe import ClaimTable
    from socialcrm.enrichment.batch import QueuedRecord, process_batch
    from socialcrm.errors import QueueUnavailableError
    from socialcrm.events.publisher import EventPublisher
    from socialcrm.ingest.service import ingest_delivery
    from socialcrm.local.moto_patches import speed_up_transactions
    from socialcrm.local.resources import create_resources
    from socialcrm.models import Interaction
    from socialcrm.platforms import Delivery
    from socialcrm.platforms.meta import signed_headers
    from socialcrm.privacy import NoSuppression
    from socialcrm.queueing import InboundQueue
    from socialcrm.secrets import load_secrets_file
    from socialcrm.topology import BUS_NAME

    secrets = load_secrets_file(SECRETS)
    assert secrets.meta is not None, "the dev secrets configure Meta"
    leaked = lost = 0
    speed_up_transactions()
    for position in range(10):
        with mock_aws():
            resources = create_resources()
            bind(
                {"interactions": "socialcrm-interactions", "subjects": "socialcrm-subjects"},
                region="eu-west-1",
            )
            url = resources.queue_urls["inbound"]
            body = meta_comments(10, start=100 * position)
            delivery = Delivery(body=body, headers=signed_headers(body, secrets.meta, time.time()))
            target = f'"native_id":"12345_{100 * position + position}"'

            class Flaky:
                def __init__(self, real: Any, target: str) -> None:
                    self.real, self.failing, self.target = real, True, target

                def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
                    bad = [e for e in Entries if self.failing and self.target in e["MessageBody"]]
                    good = [e for e in Entries if e not in bad]
                    sent = self.real.send_message_batch(QueueUrl=QueueUrl, Entries=good) if good else {}
                    failed = [{"Id": e["Id"], "Code": "InternalError", "SenderFault": False} for e in bad]
                    return {"Successful": sent.get("Successful", []), "Failed": failed}

            flaky = Flaky(boto3.client("sqs"), target)
            now = datetime.now(tz=UTC)
            with contextlib.suppress(QueueUnavailableError):
                ingest_delivery(
                    "meta", delivery, secrets=secrets, queue=InboundQueue(url, client=flaky), received_at=now
                )
            flaky.failing = False
            ingest_delivery(
                "meta", delivery, secrets=secrets, queue=InboundQueue(url, client=flaky), received_at=now
            )

            class FailOnce:
                def __init__(self, suffix: str) -> None:
                    self.real, self.failed, self.suffix = InteractionRepository(), False, suffix

                def stored(self, refs: Any) -> Any:
                    return self.real.stored(refs)

                def store_new(self, interaction: Interaction, *, enriched_at: datetime) -> bool:
                    if not self.failed and interaction.native_id.endswith(self.suffix):
                        self.failed = True
                        raise RuntimeError("injected")
                    return self.real.store_new(interaction, enriched_at=enriched_at)

                def complete_pending(self, interaction: Interaction, *, enriched_at: datetime) -> bool:
                    return self.real.complete_pending(interaction, enriched_at=enriched_at)

            store = FailOnce(f"_{100 * position + position}")
            sqs = boto3.client("sqs")
            for _round in range(3):  # SQS hands failed records back: a few rounds drain the queue
                records = []
                while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
                    for message in got:
                        records.append(QueuedRecord(message["MessageId"], message["Body"]))
                        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                outcome = process_batch(
                    records,
                    enrich=lambda items: items,
                    store=store,
                    claims=ClaimTable("socialcrm-claims"),
                    publisher=EventPublisher(BUS_NAME, "socialcrm.enrich", backoff_seconds=0),
                    pending_queue=InboundQueue(url),
                    suppression=NoSuppression(),
                    now=now,
                    deadline=now + timedelta(seconds=60),
                )
                retry = {r.message_id for r in records if r.message_id in set(outcome.failed)}
                for record in records:
                    if record.message_id in retry:
                        sqs.send_message(QueueUrl=url, MessageBody=record.body)
            leaked += len(boto3.client("dynamodb").scan(TableName="socialcrm-claims")["Items"])
            stored = len(boto3.client("dynamodb").scan(TableName="socialcrm-interactions")["Items"])
            lost += 10 - stored
    return {"ingest_claims_leaked_after_fault": leaked, "ingest_items_lost_after_fault": lost}


def _import_ms(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'functions'}"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip())


def measure_import(runs: int = 7, others: int = 3) -> dict[str, Any]:
    """The ingest handler's cold import against boto3's (interleaved, fresh interpreters), and every other
    function's handler's cold import (its own code and what it imports at load: what a cold start pays
    before the first event)."""
    from socialcrm.topology import FUNCTIONS

    ours, boto = [], []
    for _ in range(runs):  # interleaved, in fresh interpreters
        boto.append(_import_ms("import boto3"))
        ours.append(_import_ms("import ingest.handler"))
    per_function = {
        key: round(
            statistics.median(_import_ms(f"import {spec.handler.rsplit('.', 1)[0]}") for _ in range(others)),
            1,
        )
        for key, spec in FUNCTIONS.items()
    }
    per_function["ingest"] = round(statistics.median(ours), 1)
    return {
        "ingest_import_ms": round(statistics.median(ours), 1),
        "boto3_import_ms": round(statistics.median(boto), 1),
        "ingest_import_ratio": round(statistics.median(ours) / statistics.median(boto), 2),
        "import_ms": dict(sorted(per_function.items())),
    }


def measure() -> dict[str, Any]:
    return {**measure_latency(), **measure_calls_and_size(), **measure_faults(), **measure_import()}


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
