"""Customer figures, measured through the API's own handler on moto (in process).

* ``customer_timeline_items_read_per_item_returned``: a customer with 5 identities and 500 interactions
  (interleaved in time) among 100,000 interactions of other people, its whole timeline paged through
  ``GET /customers/{customer_id}/interactions`` 50 at a time; items the interactions index handed back,
  divided by the items the pages returned. 1.0 is the least possible; a scan would be about 200.
* ``access_ledger_writes_per_read``: write calls to the access ledger (``TransactWriteItems`` naming its
  table, counted where botocore makes them) per API request that returned a person's data, over the
  requests above and one of each other customer and subject read (the view, the exports, a subject's
  timeline, one interaction); ``access_ledger_items_per_entry`` is the items those writes held (one per
  subject and customer each request returned).

Run on its own: ``python bench/customers.py``.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

IDENTITIES = 5
PER_IDENTITY = 100
OTHERS = 100_000
PAGE = 50
BASE = datetime(2026, 1, 1, tzinfo=UTC)


def measure(others: int = OTHERS) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from socialcrm.local.moto_tables import speed_up_and_serialise_tables

    speed_up_and_serialise_tables()  # queries read their partition, as in DynamoDB
    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }.items():
        os.environ.setdefault(name, value)
    with mock_aws():
        return _measure(boto3, others)


def _measure(boto3: Any, others: int) -> dict[str, Any]:
    from socialcrm.dal.repository import InteractionRepository
    from socialcrm.local.resources import create_resources
    from socialcrm.models import subject_id
    from socialcrm.secrets import load_secrets_file

    resources = create_resources()
    os.environ.update(resources.environment)
    secrets_file = ROOT / "config" / "dev-secrets.json"
    os.environ["SOCIALCRM_SECRETS_FILE"] = str(secrets_file)
    pepper = load_secrets_file(secrets_file).subject_pepper.get_secret_value()
    table = resources.environment["INTERACTIONS_TABLE"]
    client = boto3.client("dynamodb")
    mine = [("x", f"bench-{n}") for n in range(IDENTITIES)]
    _write(client, table, pepper, mine, PER_IDENTITY, spread_minutes=IDENTITIES)
    _write(client, table, pepper, [("generic", f"other-{n}") for n in range(others // 100)], 100, 1)

    import api.handler as handler

    for cached in (handler.runtime, handler.cases_runtime, handler.customers_runtime):
        cached.cache_clear()
    read = {"items": 0}
    original = InteractionRepository.timeline_after

    def counting(self: Any, subject: str, after: Any, limit: int) -> Any:
        page, stopped = original(self, subject, after, limit)
        read["items"] += len(page)
        return page, stopped

    InteractionRepository.timeline_after = counting  # type: ignore[method-assign,assignment]
    ledger_table = resources.environment["ACCESS_LEDGER_TABLE"]
    ledger = {"writes": 0, "items": 0}

    def count_ledger(params: dict[str, Any], **_: Any) -> None:
        puts = [i["Put"] for i in params.get("TransactItems", []) if "Put" in i]
        if puts and all(put["TableName"] == ledger_table for put in puts):
            ledger["writes"] += 1
            ledger["items"] += len(puts)

    boto3.DEFAULT_SESSION.events.register("provide-client-params.dynamodb.TransactWriteItems", count_ledger)
    reads = 0
    try:
        body = {"identities": [{"platform": p, "user_id": u} for p, u in mine], "reason": "BENCH-1"}
        created = _call(handler, "POST", "/customers", body)
        customer = created["customer_id"]
        returned, cursor, reads = 0, None, 1
        while True:
            query = {"limit": str(PAGE), **({"cursor": cursor} if cursor else {})}
            page = _call(handler, "GET", f"/customers/{customer}/interactions", query=query)
            returned += len(page["items"])
            reads += 1
            cursor = page["next_cursor"]
            if not cursor:
                break
        platform, user = mine[0]
        for path in (
            f"/customers/{customer}",
            f"/customers/{customer}/export",
            f"/subjects/{platform}/{user}/interactions",
            f"/subjects/{platform}/{user}/export",
            f"/interactions/{platform}:{user}-0",
        ):
            _call(handler, "GET", path)
            reads += 1
    finally:
        InteractionRepository.timeline_after = original  # type: ignore[method-assign]
    expected = IDENTITIES * PER_IDENTITY
    if returned != expected or {subject_id(pepper, p, u) for p, u in mine} != set(
        link["subject_id"] for link in created["identities"]
    ):
        raise RuntimeError(f"the timeline returned {returned} of {expected} interactions")
    return {
        "customer_timeline_items_read_per_item_returned": round(read["items"] / returned, 2),
        "access_ledger_writes_per_read": round(ledger["writes"] / reads, 2),
        "access_ledger_items_per_entry": round(ledger["items"] / max(1, ledger["writes"]), 2),
        "access_ledger_reads_measured": reads,
    }


def _write(
    client: Any, table: str, pepper: str, people: list[tuple[str, str]], each: int, spread_minutes: int
) -> None:
    """``each`` interactions per person, person ``k``'s ``n``-th at minute ``n * spread + k``, stored as
    the enrich stage stores them (batched: the profiles are not needed here)."""
    from socialcrm.dal.repository import InteractionRepository
    from socialcrm.models import interaction_ref, subject_id
    from tests.support.pipeline import analysed, interaction

    batch: list[dict[str, Any]] = []
    for k, (platform, user) in enumerate(people):
        subject = subject_id(pepper, platform, user)
        for n in range(each):
            native = f"{user}-{n}"
            item = interaction(n, user=user, platform=platform, text=f"message {n}").model_copy(
                update={
                    "interaction_id": f"{platform}:{native}",
                    "interaction_ref": interaction_ref(pepper, f"{platform}:{native}"),
                    "native_id": native,
                    "subject_id": subject,
                    "occurred_at": BASE + timedelta(minutes=n * spread_minutes + k),
                }
            )
            stored = InteractionRepository._to_item(analysed(item), BASE)
            batch.append({"PutRequest": {"Item": stored.serialize()}})
            if len(batch) == 25:
                client.batch_write_item(RequestItems={table: batch})
                batch = []
    if batch:
        client.batch_write_item(RequestItems={table: batch})


def _call(handler: Any, method: str, path: str, body: Any = None, query: Any = None) -> Any:
    from tests.support.apigw import call_json

    status, answer = call_json(handler, method, path, body, query)
    if status >= 300:
        raise RuntimeError(f"{method} {path}: {status} {answer}")
    return answer


if __name__ == "__main__":
    print(json.dumps(measure()))
