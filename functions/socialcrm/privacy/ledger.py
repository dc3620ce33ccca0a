"""The access ledger: who read whose personal data, when, through which route, and why.

Every API request that returns a person's data (an interaction, a timeline, a customer, an export, a
case, its replies) writes one entry before it answers, and so do CLI commands that read the tables
themselves (``rules dry-run``). An entry is one ``TransactWriteItems``: one item per subject whose data the
request returned (``s#<subject id>``) and one for the customer it named (``c#<customer id>``), each
sorted by time (``<time>#<entry id>``), so ``GET /subjects/{platform}/{user_id}/access-log`` and
``GET /customers/{customer_id}/access-log`` are one ``Query`` each. If the entry cannot be written, the
read fails with a 503 and shows nothing (:class:`AccessLedgerUnavailableError`).

An entry holds pseudonymous ids, the caller's IAM principal, the route's template (never the path, which
carries a raw user id), the time and the reference the caller gave (``X-Reason``, a ticket reference): no
raw id and no content. It is kept six years (``topology.RETENTION_DAYS``) and kept on erasure, so a
compliance officer can still say who read a person's data after the person is gone.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from socialcrm.aws import LazyClient
from socialcrm.dal.cursors import decode_cursor, encode_cursor
from socialcrm.errors import SocialCrmError
from socialcrm.topology import RETENTION_DAYS

# TransactWriteItems' limit: an entry naming more subjects (a CLI command over many) takes several.
MAX_ITEMS_PER_WRITE = 100
_KEY_NAMES = frozenset({"pk", "sk"})

# The routes that return a person's data: each writes one ledger entry per request, naming every subject
# (and the customer) whose data it returned. Keyed like ``topology.ROUTES`` (method and path template).
READS_PERSONAL_DATA: frozenset[str] = frozenset(
    {
        "GET /interactions/{interaction_id}",
        "GET /subjects/{platform}/{user_id}/interactions",
        "GET /subjects/{platform}/{user_id}/export",
        "GET /cases",
        "GET /cases/{case_id}",
        "PATCH /cases/{case_id}",
        "POST /cases/{case_id}/replies",
        "GET /cases/{case_id}/replies",
        "GET /cases/{case_id}/replies/{reply_id}",
        "POST /customers",
        "GET /customers/{customer_id}",
        "GET /customers/{customer_id}/interactions",
        "GET /customers/{customer_id}/export",
        "POST /customers/{customer_id}/identities",
        "DELETE /customers/{customer_id}/identities/{platform}/{user_id}",
    }
)
# Every other route, and why it writes no entry (a test keeps the two complete over topology.ROUTES).
NO_PERSONAL_DATA: dict[str, str] = {
    "GET /webhooks/{platform}": "the platforms' subscription handshakes",
    "POST /webhooks/{platform}": "the platforms' deliveries: answers only an acknowledgement",
    "POST /erasure-requests": "answers the request's id, status and due date",
    "GET /erasure-requests/{request_id}": "the proof of an erasure: pseudonymous ids and counts, no data",
    "POST /erasure-requests/{request_id}/retry": "the proof of an erasure: pseudonymous ids and counts",
    "GET /subjects/{platform}/{user_id}/objection": "the privacy state the compliance officer set: "
    "whether processing is objected to and the erasure tombstone, no data of the person's",
    "PUT /subjects/{platform}/{user_id}/objection": "records an objection: answers its state",
    "DELETE /subjects/{platform}/{user_id}/objection": "lifts an objection: answers its state",
    "GET /subjects/{platform}/{user_id}/access-log": "the ledger itself: principals, routes and times",
    "GET /customers/{customer_id}/access-log": "the ledger itself: principals, routes and times",
    "GET /reports/summary": "counts per day and dimension, no id of anyone",
    "GET /health/platforms": "the platforms' delivery and send health, no id of anyone",
}


class AccessLedgerUnavailableError(SocialCrmError):
    """The ledger could not be written: the read shows nothing (retry it)."""

    status = 503
    code = "access_ledger_unavailable"


@dataclass(frozen=True)
class Access:
    """One request that returned personal data."""

    principal: str
    route: str  # the route's template, e.g. "GET /customers/{customer_id}"
    subjects: Sequence[str]
    customer_id: str | None = None
    reason: str | None = None


def new_entry_id() -> str:
    return f"acc_{secrets.token_hex(12)}"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def subject_key(subject_id: str) -> str:
    return f"s#{subject_id}"


def customer_key(customer_id: str) -> str:
    return f"c#{customer_id}"


class AccessLedger:
    client = LazyClient("dynamodb")

    def __init__(self, table_name: str, *, client: Any | None = None) -> None:
        self.table_name = table_name
        self._client = client
        self.writes = 0  # write calls made (bench: ledger writes per read)

    def record(self, access: Access, *, at: datetime) -> str:
        """Write one entry (one transaction per 100 of its items); its id. Raises
        :class:`AccessLedgerUnavailableError` when it cannot be written."""
        entry_id = new_entry_id()
        keys = [subject_key(s) for s in dict.fromkeys(access.subjects)]
        if access.customer_id is not None:
            keys.append(customer_key(access.customer_id))
        if not keys:
            return entry_id
        expires = int((at + timedelta(days=RETENTION_DAYS["access_ledger"])).timestamp())
        when = _iso(at)
        common: dict[str, Any] = {
            "entry_id": {"S": entry_id},
            "at": {"S": when},
            "principal": {"S": access.principal},
            "route": {"S": access.route},
            "subject_count": {"N": str(len(keys) - (access.customer_id is not None))},
            "expires_at": {"N": str(expires)},
        }
        if access.reason:
            common["reason"] = {"S": access.reason}
        if access.customer_id is not None:
            common["customer_id"] = {"S": access.customer_id}
        items = []
        for pk in keys:
            item = {"pk": {"S": pk}, "sk": {"S": f"{when}#{entry_id}"}, **common}
            if pk.startswith("c#"):  # the customer's entry lists the identities read
                item["subject_ids"] = {"L": [{"S": s} for s in dict.fromkeys(access.subjects)]}
            items.append({"Put": {"TableName": self.table_name, "Item": item}})
        try:
            for start in range(0, len(items), MAX_ITEMS_PER_WRITE):
                self.writes += 1
                self.client.transact_write_items(TransactItems=items[start : start + MAX_ITEMS_PER_WRITE])
        except (ClientError, BotoCoreError) as exc:
            raise AccessLedgerUnavailableError(
                "The access ledger could not be written, so nothing is shown; retry the request."
            ) from exc
        return entry_id

    def entries(
        self, key: str, *, limit: int, cursor: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the entries under ``key`` (``subject_key``/``customer_key``), newest first."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": key}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = decode_cursor(cursor, key_names=_KEY_NAMES, scope=("pk", key), what="access log")
        if start:
            request["ExclusiveStartKey"] = start
        try:
            page = self.client.query(**request)
        except (ClientError, BotoCoreError) as exc:
            raise AccessLedgerUnavailableError("The access ledger could not be read; retry.") from exc
        items = [_entry(item) for item in page.get("Items", [])]
        last = page.get("LastEvaluatedKey")
        return items, encode_cursor(last)


def _entry(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "entry_id": item["entry_id"]["S"],
        "at": item["at"]["S"],
        "principal": item["principal"]["S"],
        "route": item["route"]["S"],
        "reason": item.get("reason", {}).get("S"),
        "customer_id": item.get("customer_id", {}).get("S"),
        "subject_count": int(item["subject_count"]["N"]),
    }
    if "subject_ids" in item:
        out["subject_ids"] = [value["S"] for value in item["subject_ids"]["L"]]
    return out
