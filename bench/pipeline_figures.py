"""Enrich-stage write figures: EventBridge PutEvents calls per 1,000 interactions and DynamoDB write
requests per stored interaction, counted on moto with the production code path (the SQS batch of
1,000 that the event source mapping hands one invocation)."""

from __future__ import annotations

import os
import sys
from collections import Counter
from datetime import UTC, datetime
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
    from moto import mock_aws
    from pynamodb.connection.base import Connection

    from socialcrm.dal.models import bind
    from socialcrm.dal.repository import InteractionRepository
    from socialcrm.enrich_batch import QueuedRecord, process_batch
    from socialcrm.events.publisher import EventPublisher
    from socialcrm.local.moto_patches import speed_up_transactions
    from socialcrm.local.resources import create_resources
    from socialcrm.privacy import NoSuppression
    from socialcrm.queueing import InboundQueue
    from socialcrm.topology import BUS_NAME, QUEUES
    from tests.support.pipeline import analysed, interaction

    writes: Counter[str] = Counter()
    original = Connection._make_api_call

    def counting(self: Any, operation_name: str, operation_kwargs: dict[str, Any]) -> Any:
        if operation_name == "TransactWriteItems":
            writes["items"] += len(operation_kwargs["TransactItems"])
        elif operation_name in {"PutItem", "UpdateItem", "DeleteItem"}:
            writes["items"] += 1
        return original(self, operation_name, operation_kwargs)

    speed_up_transactions()
    with mock_aws():
        resources = create_resources()
        bind({"interactions": "socialcrm-interactions", "subjects": "socialcrm-subjects"}, region="eu-west-1")
        publisher = EventPublisher(BUS_NAME, "socialcrm.enrich")
        items = [interaction(n, user=str(n % 300), minutes=n % 600) for n in range(MESSAGES)]
        batch = QUEUES["inbound"].batch_size
        Connection._make_api_call = counting  # type: ignore[method-assign]
        try:
            for start in range(0, MESSAGES, batch):
                chunk = items[start : start + batch]
                outcome = process_batch(
                    [QueuedRecord(str(i.interaction_id), i.model_dump_json()) for i in chunk],
                    enrich=lambda group: [analysed(i) for i in group],
                    store=InteractionRepository(),
                    publisher=publisher,
                    pending_queue=InboundQueue(resources.queue_urls["inbound"]),
                    suppression=NoSuppression(),
                    now=datetime.now(tz=UTC),
                )
                assert not outcome.failed, outcome.failed
        finally:
            Connection._make_api_call = original  # type: ignore[method-assign]
    return {
        "putevents_calls_per_1000": publisher.calls * 1000 // MESSAGES,
        "ddb_writes_per_interaction": round(writes["items"] / MESSAGES, 2),
    }


if __name__ == "__main__":
    print(measure())
