"""Ingest figures: in-process latency of a 2 KB Meta delivery, its overhead over a bare handler, and
the handler module's import time over ``import boto3`` alone.

AWS is replaced by in-memory clients (SQS ``SendMessageBatch``, DynamoDB ``PutItem``/``UpdateItem``
for the idempotency records) so the figures measure this project's code and Powertools', not the
network. The bare handler only checks the HMAC and parses the JSON: the floor any webhook receiver pays.
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
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]

SECRETS = ROOT / "config" / "dev-secrets.json"
REQUESTS = 3000
WARMUP = 300


class InMemorySqs:
    def __init__(self) -> None:
        self.calls = 0

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        return {"Successful": [{"Id": e["Id"], "MessageId": e["Id"]} for e in Entries], "Failed": []}


class InMemoryDynamoDb:
    """Enough of DynamoDB for Powertools' idempotency records: conditional put, update, delete."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.calls = 0

    def put_item(self, TableName: str, Item: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.calls += 1
        self.items[Item["id"]["S"]] = Item
        return {}

    def update_item(self, TableName: str, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.calls += 1
        return {}

    def delete_item(self, TableName: str, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.calls += 1
        self.items.pop(Key["id"]["S"], None)
        return {}


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
    os.environ.update(
        {
            "SOCIALCRM_SECRETS_FILE": str(SECRETS),
            "IDEMPOTENCY_TABLE": "bench",
            "INBOUND_QUEUE_URL": "https://sqs.local/bench",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "AWS_DEFAULT_REGION": "eu-west-1",
        }
    )
    import ingest.handler as handler
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from socialcrm.api.webhooks import IngestRuntime
    from socialcrm.dedupe import Deduplicator
    from socialcrm.platforms.meta import signed_headers
    from socialcrm.queueing import InboundQueue
    from socialcrm.secrets import load_secrets_file

    secrets = load_secrets_file(SECRETS)
    sqs, ddb = InMemorySqs(), InMemoryDynamoDb()
    runtime = IngestRuntime(
        secrets=handler.runtime().secrets,
        dedupe=Deduplicator(DynamoDBPersistenceLayer(table_name="bench", boto3_client=ddb)),
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
        "ingest_aws_calls_per_delivery": round((sqs.calls + ddb.calls) / (REQUESTS + WARMUP), 2),
    }


def _import_ms(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print((time.perf_counter() - t) * 1000)"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'functions'}"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.strip())


def measure_import(runs: int = 7) -> dict[str, Any]:
    ours, boto = [], []
    for _ in range(runs):  # interleaved, in fresh interpreters
        boto.append(_import_ms("import boto3"))
        ours.append(_import_ms("import ingest.handler"))
    return {
        "ingest_import_ms": round(statistics.median(ours), 1),
        "boto3_import_ms": round(statistics.median(boto), 1),
        "ingest_import_ratio": round(statistics.median(ours) / statistics.median(boto), 2),
    }


def measure() -> dict[str, Any]:
    return {**measure_latency(), **measure_import()}


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
