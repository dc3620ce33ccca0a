"""Erasure tombstones and objections, one item per subject in the suppressions table.

- **Tombstone** (GDPR Art. 17): ``erased_at``. An interaction of the subject that occurred at or before it
  is never stored again: a platform's retry of an erased message, or a message already queued when the
  erasure ran. Later messages are processed as usual. It expires ``RETENTION_DAYS["suppressions"]`` days
  after the erasure.
- **Objection** (GDPR Art. 21): ``objected_at``. Nothing of the subject is stored until it is lifted; it
  never expires (the item loses its TTL while an objection stands).

The enrich function asks :class:`DynamoSuppressionCheck` (the seam of ``socialcrm.privacy``) before it
stores anything; any other consumer that writes subject data asks :meth:`SuppressionTable.blocks`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from socialcrm.aws import LazyClient
from socialcrm.models import Interaction
from socialcrm.privacy.dynamo import calling, iso, plain
from socialcrm.topology import RETENTION_DAYS

STORE = "suppressions"


@dataclass(frozen=True)
class Suppression:
    """What stops a subject's messages from being stored."""

    subject_id: str
    erased_at: datetime | None = None
    objected_at: datetime | None = None

    def blocks(self, occurred_at: datetime) -> bool:
        """True when a message that occurred at ``occurred_at`` must not be stored.

        >>> from datetime import UTC
        >>> t = datetime(2026, 1, 1, tzinfo=UTC)
        >>> Suppression("s", erased_at=t).blocks(t), Suppression("s", erased_at=t).blocks(t + timedelta(seconds=1))
        (True, False)
        """
        if self.objected_at is not None:
            return True
        return self.erased_at is not None and occurred_at <= self.erased_at


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class SuppressionTable:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self._client = client

    client = LazyClient("dynamodb")

    def _key(self, subject_id: str) -> dict[str, Any]:
        return {"subject_id": {"S": subject_id}}

    def get(self, subject_id: str) -> Suppression | None:
        """The subject's suppression, read strongly consistent (a tombstone counts from the moment it is written)."""
        response = calling(
            STORE,
            "GetItem",
            lambda: self.client.get_item(
                TableName=self.table_name, Key=self._key(subject_id), ConsistentRead=True
            ),
        )
        item = response.get("Item")
        if item is None:
            return None
        return Suppression(
            subject_id=subject_id,
            erased_at=_time(item.get("erased_at")),
            objected_at=_time(item.get("objected_at")),
        )

    def blocks(self, subject_id: str, occurred_at: datetime) -> bool:
        """True when a message of ``subject_id`` that occurred at ``occurred_at`` must not be stored."""
        found = self.get(subject_id)
        return found is not None and found.blocks(occurred_at)

    def _update(self, subject_id: str, **request: Any) -> dict[str, Any] | None:
        """One UpdateItem; None when its condition failed."""
        try:
            return calling(  # type: ignore[no-any-return]
                STORE,
                "UpdateItem",
                lambda: _raising_conditions(
                    lambda: self.client.update_item(
                        TableName=self.table_name, Key=self._key(subject_id), **request
                    )
                ),
            )
        except _ConditionFailed:
            return None

    def tombstone(self, subject_id: str, erased_at: datetime) -> None:
        """Record an erasure at ``erased_at`` (a later erasure moves it forward, never back)."""
        values = {":t": {"S": iso(erased_at)}}
        newer = "(attribute_not_exists(erased_at) OR erased_at < :t)"
        expires = int((erased_at + timedelta(days=RETENTION_DAYS["suppressions"])).timestamp())
        written = self._update(
            subject_id,
            UpdateExpression="SET erased_at = :t, expires_at = :e",
            ConditionExpression=f"{newer} AND attribute_not_exists(objected_at)",
            ExpressionAttributeValues={**values, ":e": {"N": str(expires)}},
        )
        if written is None:  # an objection stands (the item keeps no expiry), or a later tombstone exists
            self._update(
                subject_id,
                UpdateExpression="SET erased_at = :t",
                ConditionExpression=f"{newer} AND attribute_exists(objected_at)",
                ExpressionAttributeValues=values,
            )

    def object(self, subject_id: str, *, at: datetime, reference: str, requested_by: str) -> Suppression:
        """Stop all processing of the subject until lifted (an existing objection keeps its first time)."""
        response = self._update(
            subject_id,
            UpdateExpression=(
                "SET objected_at = if_not_exists(objected_at, :t), objection_reference = :r, "
                "objection_requested_by = :p REMOVE expires_at"
            ),
            ExpressionAttributeValues={
                ":t": {"S": iso(at)},
                ":r": {"S": reference},
                ":p": {"S": requested_by},
            },
            ReturnValues="ALL_NEW",
        )
        attributes = (response or {}).get("Attributes", {})
        return Suppression(
            subject_id, _time(attributes.get("erased_at")), _time(attributes.get("objected_at"))
        )

    def lift_objection(self, subject_id: str) -> Suppression | None:
        """Lift the subject's objection; what still suppresses it afterwards (a tombstone), if anything."""
        response = self._update(
            subject_id,
            UpdateExpression="REMOVE objected_at, objection_reference, objection_requested_by",
            ConditionExpression="attribute_exists(objected_at)",
            ReturnValues="ALL_NEW",
        )
        if response is None:  # there was no objection
            return self.get(subject_id)
        erased_at = _time(response.get("Attributes", {}).get("erased_at"))
        if erased_at is None:
            try:
                calling(
                    STORE,
                    "DeleteItem",
                    lambda: _raising_conditions(
                        lambda: self.client.delete_item(
                            TableName=self.table_name,
                            Key=self._key(subject_id),
                            ConditionExpression="attribute_not_exists(objected_at) AND attribute_not_exists(erased_at)",
                        )
                    ),
                )
            except _ConditionFailed:  # objected again, or erased, in between: the item stays
                return self.get(subject_id)
            return None
        expires = int((erased_at + timedelta(days=RETENTION_DAYS["suppressions"])).timestamp())
        self._update(
            subject_id,
            UpdateExpression="SET expires_at = :e",
            ConditionExpression="attribute_not_exists(objected_at)",
            ExpressionAttributeValues={":e": {"N": str(expires)}},
        )
        return Suppression(subject_id, erased_at=erased_at)

    def export(self, subject_id: str) -> dict[str, Any] | None:
        """The subject's suppression item as held (for the access export)."""
        response = calling(
            STORE,
            "GetItem",
            lambda: self.client.get_item(TableName=self.table_name, Key=self._key(subject_id)),
        )
        item = response.get("Item")
        return None if item is None else plain(item, ttl_attribute="expires_at")


class _ConditionFailed(Exception):
    pass


def _raising_conditions(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except ClientError as exc:
        if _conditional_failed(exc):
            raise _ConditionFailed from exc
        raise


def _time(value: dict[str, Any] | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value["S"])


class DynamoSuppressionCheck:
    """The suppression seam backed by the suppressions table.

    One consistent read per subject; the answer is remembered for ``cache_seconds`` so a batch of many
    messages from one subject reads once. The erasure's verification waits longer than that (its settle
    period) before it looks again, so a cached "not suppressed" cannot outlive it. A read failure raises:
    the enrich batch is retried rather than anything stored unchecked.
    """

    def __init__(
        self,
        table: SuppressionTable,
        *,
        cache_seconds: float = 5.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = table
        self.cache_seconds = cache_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._cache: dict[str, tuple[float, Suppression | None]] = {}

    def lookup(self, subject_id: str) -> Suppression | None:
        now = self._clock()
        cached = self._cache.get(subject_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        if len(self._cache) >= self.max_entries:
            self._cache.clear()
        found = self.table.get(subject_id)
        self._cache[subject_id] = (now + self.cache_seconds, found)
        return found

    def suppressed(self, interaction: Interaction) -> bool:
        found = self.lookup(interaction.subject_id)
        return found is not None and found.blocks(interaction.occurred_at)

    def objects(self, subject_id: str) -> bool:
        """True when the subject objects to processing (GDPR Art. 21)."""
        found = self.lookup(subject_id)
        return found is not None and found.objected_at is not None

    def erased_at(self, subject_id: str) -> datetime | None:
        """The subject's erasure tombstone, if any (an objection does not count: it erases nothing)."""
        found = self.lookup(subject_id)
        return None if found is None else found.erased_at
