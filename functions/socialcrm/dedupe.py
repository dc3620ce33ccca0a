"""Duplicates dropped downstream, a batch at a time, before anything is analysed, stored or announced.

The webhook acknowledges a delivery once it is on the inbound queue, so the queue may hold a message
more than once: a platform's retry, SQS's own at-least-once delivery, a message re-queued while its
sentiment is PENDING. The enrich stage drops the copies (``socialcrm.enrichment.batch``):

* twice in one batch: the first copy leads, the others are acknowledged;
* already stored: found with one consistent ``BatchGetItem`` on the interactions table;
* in two batches at once: each batch claims the messages it is about to analyse in the ``claims``
  table (one conditional ``TransactWriteItems`` per 100 messages); a message another batch holds is
  acknowledged here, since that batch's own copy stays on the queue until it is done with it.

A claim is leased until the invocation's deadline and released (``BatchWriteItem``) when the batch ends,
whatever its outcome, so it never outlives the batch that took it: if the invocation dies, the lease has
run out before SQS makes the message visible again (the queue's visibility timeout is six times the
function's timeout). Claims hold only the keyed ``interaction_ref``.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from socialcrm.aws import LazyClient

TRANSACTION_ITEMS = 100  # TransactWriteItems' limit
DELETE_BATCH = 25  # BatchWriteItem's limit
_ATTEMPTS = 4


@dataclass
class ClaimResult:
    claimed: list[str] = field(default_factory=list)  # now held by this batch
    held_elsewhere: list[str] = field(default_factory=list)  # another live batch holds them
    unavailable: list[str] = field(default_factory=list)  # the store failed: retry these records


class ClaimTable:
    """Leases on interaction refs in the ``claims`` table (key ``ref``, TTL ``expires_at``)."""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self._client = client

    client = LazyClient("dynamodb")

    def claim(self, refs: Sequence[str], *, until: datetime, now: datetime) -> ClaimResult:
        """Claim every ref no live lease holds, until ``until``."""
        result = ClaimResult()
        for chunk in _chunks(list(dict.fromkeys(refs)), TRANSACTION_ITEMS):
            self._claim_chunk(chunk, until, now, result)
        return result

    def _claim_chunk(self, refs: list[str], until: datetime, now: datetime, result: ClaimResult) -> None:
        now_ms, until_ms = _millis(now), _millis(until)
        expires = int((until + timedelta(days=1)).timestamp())  # TTL only tidies: the lease is the condition
        pending = list(refs)
        for attempt in range(_ATTEMPTS):
            if not pending:
                return
            items = [
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": {
                            "ref": {"S": ref},
                            "lease_until": {"N": str(until_ms)},
                            "expires_at": {"N": str(expires)},
                        },
                        "ConditionExpression": "attribute_not_exists(#r) OR lease_until < :now",
                        "ExpressionAttributeNames": {"#r": "ref"},
                        "ExpressionAttributeValues": {":now": {"N": str(now_ms)}},
                        "ReturnValuesOnConditionCheckFailure": "NONE",
                    }
                }
                for ref in pending
            ]
            try:
                self.client.transact_write_items(TransactItems=items)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    break
                reasons = exc.response.get("CancellationReasons") or []
                held = {
                    ref
                    for ref, reason in zip(pending, reasons, strict=False)
                    if (reason or {}).get("Code") == "ConditionalCheckFailed"
                }
                result.held_elsewhere += [ref for ref in pending if ref in held]
                pending = [ref for ref in pending if ref not in held]
                if not held:  # a conflict with another transaction or a throttle: back off, try again
                    time.sleep(random.uniform(0, 0.05 * 2**attempt))  # noqa: S311 (jitter, not security)
                continue
            except BotoCoreError:
                break
            result.claimed += pending
            return
        result.unavailable += pending

    def release(self, refs: Sequence[str]) -> None:
        """Delete the batch's claims. A failure leaves them to run out with their lease (the deadline)."""
        for chunk in _chunks(list(dict.fromkeys(refs)), DELETE_BATCH):
            requests = [{"DeleteRequest": {"Key": {"ref": {"S": ref}}}} for ref in chunk]
            with contextlib.suppress(ClientError, BotoCoreError):
                for _attempt in range(_ATTEMPTS):
                    response = self.client.batch_write_item(RequestItems={self.table_name: requests})
                    requests = response.get("UnprocessedItems", {}).get(self.table_name, [])
                    if not requests:
                        break


def _millis(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
