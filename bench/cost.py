"""The whole AWS bill per million interactions, from the calls the pipeline makes on the local stack.

A run of :data:`DELIVERIES` signed webhooks (every platform in turn, each with a text of its own from the enrichment bench's workload) goes
through the local stack, which runs every function's own code against the embedded AWS. Every AWS call a
function makes is counted at the botocore layer with the function that made it (the local stack names it
in ``socialcrm.local.logs.FUNCTION``), each handler invocation is timed, and each log line is measured as
the JSON Lambda would write. The counts are priced at the list prices of :data:`PRICES` and scaled to a
million interactions, by service and by function.

What each service is billed on, and how it is counted here:

* **API Gateway (HTTP API)**: one request per webhook delivery.
* **Lambda**: one request per invocation; GB-seconds as the measured wall time of each invocation on this
  machine (the embedded AWS answers over loopback, so calls cost about what they cost in a region) times
  the function's memory (``topology.FUNCTIONS``).
* **SQS**: every request, 64 KiB of payload counting as one (SendMessageBatch, ReceiveMessage that brought
  messages, DeleteMessageBatch; the event source mappings' idle long polls are a fixed cost of about 10 requests a
  minute per queue, left out).
* **EventBridge**: each event put (64 KiB chunks); delivery to rule targets and the archive's
  processing ($0.10/GB, events of about 1 KB) are counted with it.
* **DynamoDB (on demand)**: write request units (1 KB of item per unit, twice in a transaction), on the
  larger of the item before and after the write (read from the embedded AWS around the call), plus each
  global secondary index's writes as DynamoDB propagates them (:class:`WriteBilling`); read request units
  (4 KB per unit, half for an eventually consistent read, twice in a transaction) from the sizes of the
  items returned.
* **Comprehend**: units of 100 characters, at least 3 per document, for every document sent.
* **EventBridge Scheduler**: schedules that fire (created minus deleted before their time).
* **CloudWatch Logs**: ingested bytes of the functions' JSON log lines, plus an EMF metrics document of
  about :data:`EMF_BYTES` per invocation.
* **X-Ray**: traces recorded at the default sampling rule (1 a second, then 5%): 5% of invocations.
* **KMS, Secrets Manager, AppConfig**: calls counted (the data key, the secret and the rules are cached
  for minutes, so they are nearly a fixed cost).

Run on its own: ``python bench/cost.py``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

DELIVERIES = 600
CONCURRENCY = 8
REGION = "us-east-1"
PRICES_AS_OF = "2025-11 list prices, us-east-1 (AWS pricing pages; first tiers, no free tier)"
# USD per unit named in the key.
PRICES: dict[str, float] = {
    "apigateway_request": 1.00 / 1e6,  # HTTP API, first 300 million a month
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    "sqs_request": 0.40 / 1e6,  # standard queue, per 64 KiB chunk
    "eventbridge_event": 1.00 / 1e6,  # custom events put on a bus, per 64 KiB chunk
    "eventbridge_archive_gb": 0.10,
    "dynamodb_wru": 0.625 / 1e6,  # on demand
    "dynamodb_rru": 0.125 / 1e6,
    "comprehend_unit": 0.0001,  # 100 characters, 3-unit minimum per document
    "scheduler_invocation": 1.00 / 1e6,
    "logs_ingested_gb": 0.50,
    "xray_trace": 5.00 / 1e6,
    "kms_request": 0.03 / 1e4,
    "secretsmanager_call": 0.05 / 1e4,
    "appconfig_request": 0.20 / 1e6,
}
EMF_BYTES = 600  # one metrics document per invocation of a function that records metrics
XRAY_SAMPLED = 0.05
EVENT_BYTES = 1_000


class Meter:
    """Everything counted during the run, by function."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: Counter[tuple[str, str, str]] = Counter()  # (function, service, operation)
        self.units: defaultdict[tuple[str, str], float] = defaultdict(float)  # (function, unit kind)
        self.invocations: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.log_bytes: Counter[str] = Counter()
        self.wru_by_table: defaultdict[tuple[str, str], float] = defaultdict(float)
        self.billing = threading.local()  # .seconds: time this thread spent reading items to bill them

    def billing_seconds(self) -> float:
        return float(getattr(self.billing, "seconds", 0.0))

    def add(self, function: str, kind: str, amount: float) -> None:
        with self.lock:
            self.units[(function, kind)] += amount


def _size(value: Any) -> int:
    """The size DynamoDB bills for an item (names plus values), approximated by its low-level JSON."""
    import json

    return len(json.dumps(value, separators=(",", ":"), default=str).encode())


def _count_call(
    meter: Meter, function: str, service: str, operation: str, params: dict[str, Any], result: Any
) -> None:
    with meter.lock:
        meter.calls[(function, service, operation)] += 1
    if service == "sqs":
        if operation == "ReceiveMessage" and not (result or {}).get("Messages"):
            return  # an empty long poll: the mapping's fixed cost
        if operation == "GetQueueAttributes" and function == "stack":
            return  # this bench watching the queues drain: no function makes it
        payload = sum(len(str(entry.get("MessageBody", ""))) for entry in params.get("Entries", []))
        payload += len(str(params.get("MessageBody", "")))
        if operation == "ReceiveMessage":
            payload = sum(len(m.get("Body", "")) for m in result.get("Messages", []))
        meter.add(function, "sqs_request", max(1, math.ceil(payload / 65536)))
    elif service == "eventbridge" and operation == "PutEvents":
        meter.add(
            function,
            "eventbridge_event",
            sum(max(1, math.ceil(len(e.get("Detail", "")) / 65536)) for e in params["Entries"]),
        )
    elif service == "comprehend":
        for text in params.get("TextList", []) or [params.get("Text", "")]:
            meter.add(function, "comprehend_unit", max(3, math.ceil(len(text) / 100)))
    elif service == "dynamodb":
        _count_dynamodb(meter, function, operation, params, result or {})
    elif service == "scheduler":
        meter.add(function, "scheduler_" + operation, 1)
    elif service in ("kms", "secretsmanager"):
        meter.add(function, f"{service}_{'request' if service == 'kms' else 'call'}", 1)
    elif service == "appconfigdata":
        meter.add(function, "appconfig_request", 1)


def _count_dynamodb(
    meter: Meter, function: str, operation: str, params: dict[str, Any], result: dict[str, Any]
) -> None:
    """Reads, and transactions' condition checks (writes are billed by :class:`WriteBilling`)."""

    def read(items: list[dict[str, Any]], consistent: bool, factor: float = 1.0) -> None:
        size = sum(_size(item) for item in items)
        meter.add(
            function, "dynamodb_rru", factor * (1 if consistent else 0.5) * max(1, math.ceil(size / 4096))
        )

    if operation == "TransactWriteItems":
        for entry in params["TransactItems"]:
            if "ConditionCheck" in entry:
                meter.add(function, "dynamodb_wru", 2)  # a condition check is billed as a transactional write
    elif operation == "GetItem":
        read([result["Item"]] if "Item" in result else [], bool(params.get("ConsistentRead")))
    elif operation == "BatchGetItem":
        for table, items in result.get("Responses", {}).items():
            consistent = bool(params["RequestItems"].get(table, {}).get("ConsistentRead"))
            for item in items:
                read([item], consistent)
    elif operation in ("Query", "Scan"):
        read(result.get("Items", []), bool(params.get("ConsistentRead")))
    elif operation == "TransactGetItems":
        for response in result.get("Responses", []):
            read([response.get("Item", {})], True, 2)


WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


@dataclass(frozen=True)
class _Index:
    name: str
    keys: tuple[str, ...]
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    included: tuple[str, ...]


@dataclass(frozen=True)
class _Schema:
    keys: tuple[str, ...]
    indexes: tuple[_Index, ...]


class WriteBilling:
    """Write request units of every write, to the table and to each of its global secondary indexes.

    The item before and after each write is read from the embedded AWS (``GetItem``, not counted). The
    table is billed on the larger of the two (1 KB a unit, twice in a transaction; a write refused by its
    condition is billed too); each index as DynamoDB bills its propagation: a put of the projected item when
    the item enters the index, a delete when it leaves, both when its index key changes, and one put when a
    projected attribute changes (a ``KEYS_ONLY`` index is not written when only other attributes change).
    An index write caused by a transaction is billed once, as any index write: DynamoDB propagates to
    indexes outside the transaction (its pricing page doubles the transactional writes of the table).
    """

    def __init__(self, meter: Meter, call: Any, client: Any) -> None:
        self._meter, self._call, self._client = meter, call, client
        self._schemas: dict[str, _Schema] = {}
        self._lock = threading.Lock()

    def schema(self, table: str) -> _Schema:
        with self._lock:
            if table not in self._schemas:
                described = self._call(self._client, "DescribeTable", {"TableName": table})["Table"]
                self._schemas[table] = _Schema(
                    keys=tuple(k["AttributeName"] for k in described["KeySchema"]),
                    indexes=tuple(
                        _Index(
                            index["IndexName"],
                            tuple(k["AttributeName"] for k in index["KeySchema"]),
                            index["Projection"]["ProjectionType"],
                            tuple(index["Projection"].get("NonKeyAttributes", [])),
                        )
                        for index in described.get("GlobalSecondaryIndexes", [])
                    ),
                )
            return self._schemas[table]

    def targets(
        self, operation: str, params: dict[str, Any]
    ) -> list[tuple[str, dict[str, Any], dict[str, Any] | None, int]]:
        """(table, key, item put or None, factor) of every item the write changes."""

        def put(
            table: str, item: dict[str, Any], factor: int
        ) -> tuple[str, dict[str, Any], dict[str, Any], int]:
            return table, {k: item[k] for k in self.schema(table).keys}, item, factor

        if operation == "PutItem":
            return [put(params["TableName"], params["Item"], 1)]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(params["TableName"], params["Key"], None, 1)]
        found: list[tuple[str, dict[str, Any], dict[str, Any] | None, int]] = []
        if operation == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        found.append(put(table, request["PutRequest"]["Item"], 1))
                    elif "DeleteRequest" in request:
                        found.append((table, request["DeleteRequest"]["Key"], None, 1))
        elif operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                kind, body = next(iter(entry.items()))
                if kind == "Put":
                    found.append(put(body["TableName"], body["Item"], 2))
                elif kind in ("Update", "Delete"):
                    found.append((body["TableName"], body["Key"], None, 2))
        return found

    def stored(self, table: str, key: dict[str, Any]) -> dict[str, Any]:
        """The item as the embedded AWS holds it now; the time it takes is not the function's."""
        started = time.perf_counter()
        try:
            answer = self._call(
                self._client, "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True}
            )
        finally:
            self._meter.billing.seconds = self._meter.billing_seconds() + time.perf_counter() - started
        return dict(answer.get("Item") or {})

    def bill(
        self,
        function: str,
        target: tuple[str, dict[str, Any], dict[str, Any] | None, int],
        before: dict[str, Any],
        after: dict[str, Any],
    ) -> None:
        table, _key, item, factor = target
        largest = max(_size(before), _size(after), _size(item) if item else 0)
        self._add(function, table, factor * max(1, math.ceil(largest / 1024)))
        schema = self.schema(table)
        for index in schema.indexes:
            units = _index_units(schema, index, before, after)
            if units:
                self._add(function, f"{table}.{index.name}", units)

    def _add(self, function: str, table: str, units: float) -> None:
        self._meter.add(function, "dynamodb_wru", units)
        with self._meter.lock:
            self._meter.wru_by_table[(function, table)] += units


def _index_units(schema: _Schema, index: _Index, before: dict[str, Any], after: dict[str, Any]) -> int:
    def entry(item: dict[str, Any]) -> dict[str, Any] | None:
        if not item or any(name not in item for name in index.keys):
            return None
        if index.projection == "ALL":
            return item
        names = {*schema.keys, *index.keys, *(index.included if index.projection == "INCLUDE" else ())}
        return {name: value for name, value in item.items() if name in names}

    def units(projected: dict[str, Any]) -> int:
        return max(1, math.ceil(_size(projected) / 1024))

    old, new = entry(before), entry(after)
    if old is None and new is None:
        return 0
    if old is None or new is None:
        return units(old or new)  # type: ignore[arg-type]
    if any(old[name] != new[name] for name in index.keys):
        return units(old) + units(new)
    return units(new) if old != new else 0


def _install(meter: Meter) -> Any:
    """Count every AWS call, time every invocation, measure every log line; returns an undo."""
    import boto3
    import botocore.client

    from socialcrm.local import poller as poller_module
    from socialcrm.local.app import LocalApi
    from socialcrm.local.logs import FUNCTION
    from socialcrm.observability import logger

    original_call = botocore.client.BaseClient._make_api_call
    original_invoke = poller_module.QueuePoller._invoke
    original_api = LocalApi.__call__

    billing = WriteBilling(meter, original_call, boto3.client("dynamodb"))

    def call(self: Any, operation: str, params: dict[str, Any]) -> Any:
        service = self.meta.service_model.service_name
        function = FUNCTION.get("stack")
        if service == "dynamodb" and operation in WRITES:
            targets = billing.targets(operation, params)
            before = [billing.stored(table, key) for table, key, _item, _factor in targets]
            try:
                result = original_call(self, operation, params)
            finally:  # a write refused by its condition is billed too
                for target, old in zip(targets, before, strict=True):
                    billing.bill(function, target, old, billing.stored(target[0], target[1]))
        else:
            result = original_call(self, operation, params)
        service = "eventbridge" if service == "events" else service
        _count_call(meter, function, service, operation, params, result)
        return result

    def invoke(self: Any, batch: list[dict[str, Any]]) -> None:
        started, billing = time.perf_counter(), meter.billing_seconds()
        try:
            original_invoke(self, batch)
        finally:
            elapsed = time.perf_counter() - started - (meter.billing_seconds() - billing)
            with meter.lock:
                meter.invocations[self.function.key] += 1
                meter.seconds[self.function.key] += elapsed

    async def api(self: Any, scope: Any, receive: Any, send: Any) -> None:
        started = time.perf_counter()
        await original_api(self, scope, receive, send)
        route = (
            self._route(scope.get("method", ""), scope.get("path", ""))
            if scope.get("type") == "http"
            else None
        )
        if route is not None:
            with meter.lock:
                meter.invocations[route.function] += 1
                meter.seconds[route.function] += time.perf_counter() - started

    formatter = logger.registered_handler.formatter

    class Bytes(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            size = len(formatter.format(record).encode()) + 1 if formatter else 0
            with meter.lock:
                meter.log_bytes[FUNCTION.get("stack")] += size

    counting = Bytes()
    inner = logging.getLogger(logger.name)
    saved_handlers, saved_level = inner.handlers[:], logger.log_level
    inner.handlers = [counting]
    logger.setLevel("INFO")
    botocore.client.BaseClient._make_api_call = call  # type: ignore[method-assign]
    poller_module.QueuePoller._invoke = invoke  # type: ignore[method-assign]
    LocalApi.__call__ = api  # type: ignore[method-assign]

    def undo() -> None:
        botocore.client.BaseClient._make_api_call = original_call  # type: ignore[method-assign]
        poller_module.QueuePoller._invoke = original_invoke  # type: ignore[method-assign]
        LocalApi.__call__ = original_api  # type: ignore[method-assign]
        inner.handlers = saved_handlers
        logger.setLevel(saved_level)

    return undo


def measure(deliveries: int = DELIVERIES) -> dict[str, Any]:
    from socialcrm.topology import FUNCTIONS

    meter = Meter()
    rules = _rules_without_out_of_hours_ack()
    saved_rules = os.environ.get("RULES_FILE")
    os.environ["RULES_FILE"] = str(rules)
    try:
        return _measure(meter, deliveries, FUNCTIONS)
    finally:
        if saved_rules is None:
            os.environ.pop("RULES_FILE", None)
        else:
            os.environ["RULES_FILE"] = saved_rules
        rules.unlink(missing_ok=True)


def _rules_without_out_of_hours_ack() -> Path:
    """The repository's rules, without the acknowledgement sent only at night: the bill of a run does not
    depend on the hour it runs at (the rules' other automatic replies stay on)."""
    import tempfile

    import yaml

    from socialcrm.routing.source import REPO_RULES_FILE

    document = yaml.safe_load(REPO_RULES_FILE.read_text(encoding="utf-8"))
    for rule in document["rules"]:
        if rule["id"] == "out-of-hours-ack":
            rule["enabled"] = False
    handle, name = tempfile.mkstemp(suffix=".yaml")
    os.close(handle)
    Path(name).write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return Path(name)


def _measure(meter: Meter, deliveries: int, FUNCTIONS: Any) -> dict[str, Any]:
    import boto3
    from local import _wait_drained

    from socialcrm.local.deliveries import Signer
    from socialcrm.local.stack import LocalStack

    with LocalStack(port=0) as stack:
        assert stack.secrets is not None
        undo = _install(meter)
        try:
            asyncio.run(_send(stack.url, Signer(stack.secrets), _payloads(deliveries)))
            sqs = boto3.client("sqs")
            for key in ("inbound", "route", "report"):
                _wait_drained(sqs, stack.resources.queue_urls[key])
            time.sleep(3.0)  # the last batches' events reach the report queue, and it drains again
            for key in ("route", "report"):
                _wait_drained(sqs, stack.resources.queue_urls[key])
        finally:
            undo()

    scale = 1e6 / deliveries
    by_function: defaultdict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (function, kind), amount in meter.units.items():
        by_function[function][kind] += amount
    for function, count in meter.invocations.items():
        memory_gb = FUNCTIONS[function].memory_mb / 1024 if function in FUNCTIONS else 0.5
        by_function[function]["lambda_request"] += count
        by_function[function]["lambda_gb_second_arm64"] += meter.seconds[function] * memory_gb
        by_function[function]["xray_trace"] += count * XRAY_SAMPLED
        by_function[function]["logs_ingested_gb"] += (meter.log_bytes[function] + count * EMF_BYTES) / 1e9
    by_function["ingest"]["apigateway_request"] += deliveries
    events = sum(c["eventbridge_event"] for c in by_function.values())
    by_function["bus"]["eventbridge_archive_gb"] += events * EVENT_BYTES / 1e9
    for function in list(by_function):
        created = by_function[function].pop("scheduler_CreateSchedule", 0.0)
        deleted = by_function[function].pop("scheduler_DeleteSchedule", 0.0)
        by_function[function]["scheduler_invocation"] += max(0, created - deleted)

    usd_by_function: dict[str, float] = {}
    usd_by_service: defaultdict[str, float] = defaultdict(float)
    for function, units in by_function.items():
        total = 0.0
        for kind, amount in units.items():
            usd = amount * PRICES[kind] * scale
            usd_by_service[_service(kind)] += usd
            total += usd
        usd_by_function[function] = round(total, 2)
    total = sum(usd_by_service.values())
    print(f"  {deliveries} deliveries; invocations {dict(meter.invocations)}", flush=True)
    return {
        "aws_usd_per_million_interactions": round(total, 2),
        "aws_usd_per_million_excluding_comprehend": round(total - usd_by_service["comprehend"], 2),
        "aws_usd_per_million_by_service": {
            k: round(v, 2) for k, v in sorted(usd_by_service.items(), key=lambda kv: -kv[1])
        },
        "aws_usd_per_million_by_function": dict(sorted(usd_by_function.items(), key=lambda kv: -kv[1])),
        "aws_units_per_interaction": {
            f"{function}.{kind}": round(amount / deliveries, 3)
            for function, units in sorted(by_function.items())
            for kind, amount in sorted(units.items())
            if amount
        },
        "dynamodb_wru_per_interaction_by_table": {
            f"{function}:{table.removeprefix('socialcrm-')}": round(units / deliveries, 2)
            for (function, table), units in sorted(meter.wru_by_table.items(), key=lambda kv: -kv[1])
        },
        "aws_cost_model": (
            f"{PRICES_AS_OF}. {deliveries} webhook deliveries (8 platforms in turn, distinct texts in 8 languages) "
            "through the local stack; "
            "every AWS call counted at the botocore layer by the function that made it, Lambda time as "
            "measured here, log lines as their JSON bytes; see bench/cost.py."
        ),
    }


def _payloads(count: int) -> list[Any]:
    """``count`` deliveries, every platform in turn (120 customers each), each with a text of its own from
    the enrichment bench's workload (60% English, 30% Hindi, 10% other languages, 20-280 characters)."""
    from datetime import UTC, datetime

    from enrichment import workload

    from socialcrm.local import deliveries as d

    texts = [text for _language, text in workload()]
    run = time.time_ns() % 10**12
    makers = [
        lambda n, u, t, x: d.x_mention(f"{run}{n:07d}", f"7{u}", "bench_user", f"@acme {x}", None, t),
        lambda n, u, t, x: d.generic_review(f"b-{run}-{n}", f"cust-{u}", "bench", x, t),
        lambda n, u, t, x: d.tiktok_message(f"{run}{n:07d}", f"-000bench{u}", "bench", x, t),
        lambda n, u, t, x: d.linkedin_comment(run * 10**7 + n, f"urn:li:person:bench{u}", x, t),
        lambda n, u, t, x: d.whatsapp_message(f"wamid.bench{run}{n}", f"9190000{u}", "Bench", x, t),
        lambda n, u, t, x: d.instagram_message(f"aWdfbench{run}{n}", f"1784{u}", x, t),
        lambda n, u, t, x: d.facebook_comment(f"{run}_{n}", f"7234{u}", "Bench", x, t),
        lambda n, u, t, x: d.messenger_message(f"m_bench{run}{n}", f"2551{u}", x, t),
    ]
    return [
        makers[n % len(makers)](
            n, f"{(n // len(makers)) % 120:03d}", datetime.now(tz=UTC), texts[n % len(texts)]
        )
        for n in range(count)
    ]


async def _send(url: str, signer: Any, payloads: list[Any]) -> None:
    import httpx

    queue = iter(payloads)
    refused: list[str] = []

    async def worker(client: httpx.AsyncClient) -> None:
        for payload in queue:
            delivery = signer.sign(payload)
            response = await client.post(delivery.path, content=payload.body, headers=delivery.headers)
            if response.status_code != 200:
                refused.append(f"{response.status_code} {response.text[:120]}")

    async with httpx.AsyncClient(base_url=url, timeout=60.0) as client:
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))
    if refused:
        raise RuntimeError(f"{len(refused)} deliveries refused, e.g. {refused[0]}")


def _service(kind: str) -> str:
    return kind.split("_", 1)[0]


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
