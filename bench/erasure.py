"""Erasure figure: DynamoDB items read per item erased, for a subject with 50 interactions among 100,000
interactions of others (the goal is at most 2: index queries and key reads, never a scan).

The subject's data is written by the production code paths (the ingest deduplicator's records, the
enrich transaction, routing's case rows, the report consumer's seen-markers); the 100,000 others are
written straight into the interactions table with ``BatchWriteItem`` (the erasure must not read them).
The erase consumer's ``run_erasure`` then runs once, with the production stores, on moto. Every item a
DynamoDB response carries is counted from botocore's ``after-call`` event: ``ScannedCount`` of each
Query (items the index read, not just those returned), the items of each GetItem and BatchGetItem; a
Scan would count its ``ScannedCount`` too. The run is repeated at 10,000 others to show the figure does
not grow with the table.
"""

from __future__ import annotations

import os
import sys
import time
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

SUBJECT_INTERACTIONS = 50
OTHERS = 100_000
SMALLER = 10_000
PEPPER = "bench-pepper-0123456789abcdef"


class ItemsRead:
    """Counts the items each DynamoDB response read, and the calls by operation."""

    def __init__(self) -> None:
        self.items = 0
        self.calls: Counter[str] = Counter()

    def __call__(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        name = model.name
        self.calls[name] += 1
        if name in {"Query", "Scan"}:
            self.items += int(parsed.get("ScannedCount", 0))
        elif name == "GetItem":
            self.items += 1 if parsed.get("Item") else 0
        elif name == "BatchGetItem":
            self.items += sum(len(items) for items in parsed.get("Responses", {}).values())


def _seed_others(client: Any, table: str, count: int) -> None:
    received = datetime.now(tz=UTC).isoformat()
    for start in range(0, count, 25):
        items = []
        for n in range(start, min(start + 25, count)):
            items.append(
                {
                    "PutRequest": {
                        "Item": {
                            "interaction_ref": {"S": f"i_{n:032x}"},
                            "interaction_id": {"S": f"x:other-{n}"},
                            "subject_id": {"S": f"{n % 20_000:064x}"},  # 20,000 other people
                            "occurred_at": {"S": f"2026-11-{1 + n % 28:02d}T10:00:00Z"},
                            "received_at": {"S": received},
                            "platform": {"S": "x"},
                            "kind": {"S": "mention"},
                            "native_id": {"S": f"other-{n}"},
                            "author": {"M": {"user_id": {"S": f"u{n % 20_000}"}}},
                            "text": {"S": "someone else's words"},
                        }
                    }
                }
            )
        client.batch_write_item(RequestItems={table: items})


def _run(others: int) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from socialcrm.dal.models import bind
    from socialcrm.dal.repository import InteractionRepository
    from socialcrm.events.models import InteractionEnriched
    from socialcrm.local.moto_patches import speed_up_transactions
    from socialcrm.local.resources import create_resources
    from socialcrm.models import Author, Interaction, interaction_ref, subject_id
    from socialcrm.privacy.erasure import run_erasure
    from socialcrm.privacy.requests import ErasureRecord
    from socialcrm.privacy.runtime import erase_ports
    from socialcrm.reporting.counters import CounterRepository
    from socialcrm.reporting.facts import facts_of
    from socialcrm.routing.case import conversation_of, routed_event
    from socialcrm.routing.conversation import open_case
    from socialcrm.routing.evaluator import Decision
    from socialcrm.routing.rules import parse_rules
    from socialcrm.routing.store import CaseRepository
    from socialcrm.routing.store import bind as bind_routing
    from socialcrm.settings import EraseSettings
    from socialcrm.topology import TABLES
    from tests.support.pipeline import analysed

    speed_up_transactions()
    with mock_aws():
        resources = create_resources()
        names = {key: resources.environment[spec.env_var] for key, spec in TABLES.items()}
        bind(names, region="eu-west-1")
        bind_routing(names, region="eu-west-1")
        counters = CounterRepository.bound(names, region="eu-west-1")
        client = boto3.client("dynamodb")
        started = time.perf_counter()
        _seed_others(client, names["interactions"], others)
        seeded_in = time.perf_counter() - started

        subject = subject_id(PEPPER, "x", "subject-42")
        now = datetime.now(tz=UTC)
        interactions, cases = InteractionRepository(), CaseRepository()
        decision = Decision(("support",), "P2", (), ("r1",), (), 60, ())
        for n in range(SUBJECT_INTERACTIONS):
            item = analysed(
                Interaction(
                    interaction_id=f"x:subject-{n}",
                    interaction_ref=interaction_ref(PEPPER, f"x:subject-{n}"),
                    subject_id=subject,
                    platform="x",
                    kind="mention",
                    native_id=f"subject-{n}",
                    author=Author(user_id="subject-42", handle="subject", display_name="A Subject"),
                    text=f"message {n}",
                    occurred_at=now - timedelta(hours=n),
                    received_at=now - timedelta(hours=n),
                )
            )
            interactions.store_new(item, enriched_at=now)
            levels = parse_rules({"teams": ["support", "pr"]})
            case = open_case(
                item, decision, levels, conversation_ref=conversation_of(item), sequence=1, now=now
            )
            cases.open(case)
            for detail in (InteractionEnriched.of(item), routed_event(case)):
                for fact in facts_of(detail):
                    counters.record(fact, now=now)

        settings = EraseSettings.from_env(
            {**resources.environment, "ERASURE_SETTLE_SECONDS": "0", "DLQ_SCAN_WAIT_SECONDS": "0"}
        )
        ports = erase_ports(settings, client=client)
        record = ErasureRecord.new(
            "bench", subject_ids=[subject], reference="BENCH-1", requested_by="bench", now=now
        )
        ports.requests.create(record)
        reads = ItemsRead()
        client.meta.events.register("after-call.dynamodb", reads)
        outcome = run_erasure("bench", ports, time_left_ms=lambda: 900_000)
        client.meta.events.unregister("after-call.dynamodb", reads)
        assert outcome.result == "completed" and outcome.record is not None and outcome.record.verified, (
            outcome
        )
        erased = sum(outcome.record.erased.values())
        assert reads.calls["Scan"] == 0, "erasure must never scan"
        return {
            "others": others,
            "erased": erased,
            "read": reads.items,
            "calls": dict(reads.calls),
            "seeded_seconds": round(seeded_in),
        }


def measure() -> dict[str, Any]:
    large, small = _run(OTHERS), _run(SMALLER)
    ratio = round(large["read"] / large["erased"], 2)
    assert ratio == round(small["read"] / small["erased"], 2), (large, small)  # independent of table size
    return {
        "erasure_reads_per_erased_item": ratio,
        "erasure_items_erased_for_50_interactions": large["erased"],
        "erasure_dynamodb_calls_for_50_interactions": sum(large["calls"].values()),
    }


if __name__ == "__main__":
    for size in (SMALLER, OTHERS):
        print(_run(size))
    print(measure())
