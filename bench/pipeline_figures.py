"""Enrich-stage write figures: EventBridge PutEvents calls per 1,000 interactions, DynamoDB items written
per stored interaction (the interaction and its profile, the duplicate check's claim and its release)
and items read in batches (the duplicate check), counted at the botocore layer on moto with the
production code path (the SQS batch of 1,000 that the event source mapping hands one invocation)."""

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


def measure() -> dict[str, Any]:
    import botocore.client
    from moto import mock_aws

    from socialcrm.dal.models import bind
    from socialcrm.dal.repository import InteractionRepository
    from socialcrm.dedupe import ClaimTable
    from socialcrm.enrich_batch import QueuedRecord, process_batch
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
        if operation_name == "TransactWriteItems":
            writes["items"] += len(operation_kwargs["TransactItems"])
        elif operation_name in {"PutItem", "UpdateItem", "DeleteItem"}:
            writes["items"] += 1
        elif operation_name == "BatchWriteItem":
            writes["items"] += sum(len(r) for r in operation_kwargs["RequestItems"].values())
        elif operation_name == "BatchGetItem":
            writes["reads"] += sum(len(r["Keys"]) for r in operation_kwargs["RequestItems"].values())

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
        "putevents_calls_per_1000": publisher.calls * 1000 // MESSAGES,
        "ddb_writes_per_interaction": round(writes["items"] / MESSAGES, 2),
        "ddb_batch_reads_per_interaction": round(writes["reads"] / MESSAGES, 2),
    }


if __name__ == "__main__":
    print(measure())
