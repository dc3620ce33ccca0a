"""Enrich-stage write figures: EventBridge PutEvents calls per 1,000 interactions, DynamoDB items written
per stored interaction (the interaction and its profile, the duplicate check's claim and its release)
and items read in batches (the duplicate check), counted at the botocore layer on moto with the
production code path (the SQS batch of 1,000 that the event source mapping hands one invocation).

With redelivery: the enrichment bench's 1,000 messages (distinct texts in 8 languages) analysed by the
production Comprehend adapter against the offline analyser, once as they are, once with 10% of them
delivered twice (half of the copies in the same SQS batch as their original, half in the next batch,
after the original is stored), as platforms' retries and SQS itself deliver them. Both runs hand the
originals to the stage in the same batches, so only the copies differ. Comprehend calls and DynamoDB
items written are counted for both; duplicates must cost nothing."""

from __future__ import annotations

import os
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
for _name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    os.environ.setdefault(_name, "bench")

MESSAGES = 1000


def count_dynamodb(counted: Counter[str], operation: str, params: dict[str, Any]) -> None:
    """Add a DynamoDB call's items written (``items``) and items read in batches (``reads``)."""
    if operation == "TransactWriteItems":
        counted["items"] += len(params["TransactItems"])
    elif operation in {"PutItem", "UpdateItem", "DeleteItem"}:
        counted["items"] += 1
    elif operation == "BatchWriteItem":
        counted["items"] += sum(len(r) for r in params["RequestItems"].values())
    elif operation == "BatchGetItem":
        counted["reads"] += sum(len(r["Keys"]) for r in params["RequestItems"].values())


def measure() -> dict[str, Any]:
    import botocore.client
    from moto import mock_aws

    from socialcrm.dal.models import bind
    from socialcrm.dal.repository import InteractionRepository
    from socialcrm.dedupe import ClaimTable
    from socialcrm.enrichment.batch import QueuedRecord, process_batch
    from socialcrm.events.publisher import EventPublisher
    from socialcrm.local.moto_patches import speed_up_transactions
    from socialcrm.local.resources import create_resources
    from socialcrm.privacy import NoSuppression
    from socialcrm.queueing import InboundQueue
    from socialcrm.topology import BUS_NAME, QUEUES
    from tests.support.pipeline import analysed, interaction

    writes: Counter[str] = Counter()
    original_boto = botocore.client.BaseClient._make_api_call

    def count(operation_name: str, operation_kwargs: dict[str, Any]) -> None:
        count_dynamodb(writes, operation_name, operation_kwargs)

    def counting_boto(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            count(operation_name, api_params)
        return original_boto(self, operation_name, api_params)

    speed_up_transactions()
    with mock_aws():
        resources = create_resources()
        bind({"interactions": "socialcrm-interactions", "subjects": "socialcrm-subjects"}, region="eu-west-1")
        publisher = EventPublisher(BUS_NAME, "socialcrm.enrich")
        items = [interaction(n, user=str(n % 300), minutes=n % 600) for n in range(MESSAGES)]
        batch = QUEUES["inbound"].batch_size
        botocore.client.BaseClient._make_api_call = counting_boto  # type: ignore[method-assign]
        try:
            for start in range(0, MESSAGES, batch):
                chunk = items[start : start + batch]
                outcome = process_batch(
                    [QueuedRecord(str(i.interaction_id), i.model_dump_json()) for i in chunk],
                    enrich=lambda group: [analysed(i) for i in group],
                    store=InteractionRepository(),
                    claims=ClaimTable("socialcrm-claims"),
                    publisher=publisher,
                    pending_queue=InboundQueue(resources.queue_urls["inbound"]),
                    suppression=NoSuppression(),
                    now=datetime.now(tz=UTC),
                    deadline=datetime.now(tz=UTC) + timedelta(seconds=60),
                )
                assert not outcome.failed, outcome.failed
        finally:
            botocore.client.BaseClient._make_api_call = original_boto  # type: ignore[method-assign]
    return {
        **measure_redelivery(),
        "putevents_calls_per_1000": publisher.calls * 1000 // MESSAGES,
        "ddb_writes_per_interaction": round(writes["items"] / MESSAGES, 2),
        "ddb_batch_reads_per_interaction": round(writes["reads"] / MESSAGES, 2),
    }


def measure_redelivery() -> dict[str, Any]:
    """Comprehend calls and DynamoDB items written for 1,000 messages, without and with 10% redelivered."""
    from enrichment import _interactions

    from socialcrm.local.comprehend_offline import serve
    from socialcrm.local.moto_patches import speed_up_transactions

    items = _interactions(hinted=False)
    copies = items[: len(items) // 10]
    in_batch, later = copies[: len(copies) // 2], copies[len(copies) // 2 :]
    originals, tail = items[: len(items) - len(later)], items[len(items) - len(later) :]
    # The first SQS batch: the originals with half of the copies among them; the next: the rest of the
    # originals, then the copies of messages the first batch stored.
    padded = [*in_batch, *([None] * len(originals))]
    first = [item for pair in zip(originals, padded, strict=False) for item in pair if item is not None]
    redelivered = [first, [*tail, *later]]
    plain = [originals, tail]  # the same batches without the copies: only the duplicates differ

    server = serve("127.0.0.1", 0)
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    speed_up_transactions()
    try:
        plain_calls, plain_items = _redelivery_run(plain, endpoint, expected=len(items))
        again_calls, again_items = _redelivery_run(redelivered, endpoint, expected=len(items))
    finally:
        server.shutdown()
        server.server_close()
    per_1000 = 1000 / len(items)
    return {
        "comprehend_calls_per_1000_without_redelivery": round(plain_calls * per_1000),
        "comprehend_calls_per_1000_with_10pct_redelivered": round(again_calls * per_1000),
        "ddb_items_written_per_interaction_without_redelivery": round(plain_items / len(items), 2),
        "ddb_items_written_per_interaction_with_10pct_redelivered": round(again_items / len(items), 2),
    }


def _redelivery_run(batches: list[list[Any]], endpoint: str, *, expected: int) -> tuple[int, int]:
    """Run the enrich stage over ``batches`` on a fresh moto; (Comprehend requests, DynamoDB items written)."""
    import boto3
    import botocore.client
    from enrichment import comprehend_client
    from moto import mock_aws

    from socialcrm.dal.models import bind
    from socialcrm.dal.repository import InteractionRepository
    from socialcrm.dedupe import ClaimTable
    from socialcrm.enrichment.batch import QueuedRecord, process_batch
    from socialcrm.enrichment.comprehend import ComprehendAnalyser
    from socialcrm.enrichment.language import LanguageIdentifier
    from socialcrm.enrichment.service import enrich
    from socialcrm.events.publisher import EventPublisher
    from socialcrm.local.resources import create_resources
    from socialcrm.privacy import NoSuppression
    from socialcrm.queueing import InboundQueue
    from socialcrm.topology import BUS_NAME

    counted: Counter[str] = Counter()
    original_boto = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            count_dynamodb(counted, operation, params)
        return original_boto(self, operation, params)

    def count_comprehend(**_: Any) -> None:
        counted["comprehend"] += 1

    with mock_aws():
        resources = create_resources()
        bind({"interactions": "socialcrm-interactions", "subjects": "socialcrm-subjects"}, region="eu-west-1")
        client = comprehend_client(endpoint)
        client.meta.events.register("before-send.comprehend", count_comprehend)
        analyser, identifier = ComprehendAnalyser(client=client), LanguageIdentifier()
        botocore.client.BaseClient._make_api_call = counting  # type: ignore[method-assign]
        try:
            for number, batch in enumerate(batches):
                outcome = process_batch(
                    [QueuedRecord(f"{number}-{n}", i.model_dump_json()) for n, i in enumerate(batch)],
                    enrich=lambda group: enrich(group, analyser, identifier),
                    store=InteractionRepository(),
                    claims=ClaimTable("socialcrm-claims"),
                    publisher=EventPublisher(BUS_NAME, "socialcrm.enrich"),
                    pending_queue=InboundQueue(resources.queue_urls["inbound"]),
                    suppression=NoSuppression(),
                    now=datetime.now(tz=UTC),
                    deadline=datetime.now(tz=UTC) + timedelta(seconds=60),
                )
                assert not outcome.failed, outcome.failed
        finally:
            botocore.client.BaseClient._make_api_call = original_boto  # type: ignore[method-assign]
        stored = len(boto3.client("dynamodb").scan(TableName="socialcrm-interactions")["Items"])
        assert stored == expected, stored
    return counted["comprehend"], counted["items"]


if __name__ == "__main__":
    print(measure())
    print(measure_redelivery())
