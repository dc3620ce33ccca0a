"""The counters repository: records facts idempotently and reads counter cells back by day.

Recording a fact is one DynamoDB transaction: a seen marker put on condition that the fact is new,
and an atomic ``ADD`` on each counter cell the fact touches. Either all of it happens or none, so a
retry after a partial failure can never count twice, and a fact announced again (same key) is
refused by the marker's condition. Transaction conflicts on a hot cell are retried with jittered
backoff; whatever still fails is raised as :class:`CounterStoreError` (the SQS record is retried).

Reading a range is a ``Query`` per day (a day is one partition), two when the team cross product is
skipped: the items read are the cells of those days, bounded by the dimensions' cardinality, never by
how many interactions were counted.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from socialcrm.dal.report_models import ReportCounterItem, ReportSeenItem, bind_reports
from socialcrm.errors import SocialCrmError
from socialcrm.reporting.dimensions import (
    COUNT_ATTRIBUTES,
    PENDING,
    ROUTED_AFTER,
    ROUTED_FIRST,
    Cell,
    CellKey,
    days_between,
    decode,
)
from socialcrm.reporting.facts import Delta, Fact
from socialcrm.topology import RETENTION_DAYS

# Cancellation reasons and error codes worth another attempt: another transaction held an item, or
# DynamoDB asked us to slow down.
_RETRYABLE = frozenset(
    {
        "TransactionConflict",
        "TransactionInProgressException",
        "ThrottlingError",
        "ThrottlingException",
        "ProvisionedThroughputExceeded",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
    }
)


class CounterStoreError(SocialCrmError):
    """The report counters could not be read or written (the record or the request is retried)."""

    status = 503
    code = "report_store_unavailable"


class Recorded(StrEnum):
    COUNTED = "counted"  # a new fact, counted
    COMPLETED = "completed"  # a PENDING interaction's count moved to its final sentiment
    DUPLICATE = "duplicate"  # already counted: nothing changed


@dataclass(frozen=True)
class CounterSnapshot:
    """The cells of a range of days, and how many DynamoDB items were read to get them."""

    cells: list[Cell]
    items_read: int


def counter_expiry(day: str) -> datetime:
    """When a counter cell of ``day`` expires (TTL): the day plus the counters' retention."""
    return datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=RETENTION_DAYS["report_counters"])


def _values(item: ReportCounterItem) -> dict[str, int]:
    values = {}
    for name in COUNT_ATTRIBUTES:
        value = getattr(item, name)
        if value is not None:
            values[name] = int(value)
    return values


class CounterRepository:
    """Records facts into the counters and reads cells back; see the module docstring."""

    def __init__(
        self,
        *,
        attempts: int = 6,
        backoff_seconds: float = 0.02,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._connection: Connection | None = None
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._sleep = sleep

    @classmethod
    def bound(
        cls, table_names: dict[str, str], *, region: str | None, host: str | None = None
    ) -> CounterRepository:
        """A repository on the named tables (``report_counters``, and ``report_seen`` to record facts)."""
        bind_reports(table_names, region=region, host=host)
        return cls()

    @property
    def connection(self) -> Connection:
        """One connection (one botocore client) for the transactions, built on first use."""
        if self._connection is None:
            self._connection = Connection(
                region=ReportCounterItem.Meta.region, host=ReportCounterItem.Meta.host
            )
        return self._connection

    # -- writing -----------------------------------------------------------------------------------

    def record(self, fact: Fact, *, now: datetime) -> Recorded:
        """Count ``fact`` once: COUNTED when new, COMPLETED when it gave a PENDING interaction its
        sentiment, DUPLICATE when it had been counted already."""
        marker = ReportSeenItem(fact.key, expires_at=now + timedelta(days=RETENTION_DAYS["report_seen"]))
        if fact.kind == "interaction":
            marker.day, marker.dimension = fact.deltas[0].key.day, fact.deltas[0].key.dimension

        def write(tx: TransactWrite) -> None:
            tx.save(marker, condition=ReportSeenItem.fact.does_not_exist())
            for delta in fact.deltas:
                self._add(tx, delta)

        if self._transact(write):
            return Recorded.COUNTED
        if fact.completes_pending:
            return self._complete_pending(fact)
        return Recorded.DUPLICATE

    def add(self, delta: Delta) -> None:
        """Add to one cell with no seen marker (for backfills and the benchmark, never the consumer)."""
        item = ReportCounterItem(delta.key.day, delta.key.dimension)
        try:
            item.update(actions=self._actions(delta))
        except PynamoDBException as exc:
            raise CounterStoreError("Could not update the report counters.") from exc

    def _complete_pending(self, fact: Fact) -> Recorded:
        """Move an interaction counted as PENDING to the cell of its final sentiment, once."""
        try:
            marker = ReportSeenItem.get(fact.key, consistent_read=True)
        except ReportSeenItem.DoesNotExist:
            return Recorded.DUPLICATE  # expired between the two calls: it was counted long ago
        except PynamoDBException as exc:
            raise CounterStoreError("Could not read the report seen-markers.") from exc
        new = fact.deltas[0].key
        old_dimension = marker.dimension
        if old_dimension is None or old_dimension == new.dimension or decode(old_dimension)[1][1] != PENDING:
            return Recorded.DUPLICATE
        old = CellKey(marker.day or new.day, old_dimension)

        def write(tx: TransactWrite) -> None:
            tx.update(
                ReportSeenItem(fact.key),
                actions=[ReportSeenItem.day.set(new.day), ReportSeenItem.dimension.set(new.dimension)],
                condition=ReportSeenItem.dimension == old_dimension,
            )
            self._add(tx, Delta(old, {"n": -1}))
            self._add(tx, Delta(new, {"n": 1}))

        return Recorded.COMPLETED if self._transact(write) else Recorded.DUPLICATE

    def _add(self, tx: TransactWrite, delta: Delta) -> None:
        tx.update(ReportCounterItem(delta.key.day, delta.key.dimension), actions=self._actions(delta))

    @staticmethod
    def _actions(delta: Delta) -> list[Any]:
        actions: list[Any] = [
            getattr(ReportCounterItem, name).add(amount) for name, amount in delta.amounts.items()
        ]
        actions.append(ReportCounterItem.expires_at.set(counter_expiry(delta.key.day)))
        return actions

    def _transact(self, write: Callable[[TransactWrite], None]) -> bool:
        """Run one transaction; False when its first item's condition failed (already recorded)."""
        for attempt in range(self._attempts):
            try:
                with TransactWrite(connection=self.connection) as tx:
                    write(tx)
                return True
            except TransactWriteError as exc:
                codes = [reason.code if reason else None for reason in exc.cancellation_reasons]
                if codes and codes[0] == "ConditionalCheckFailed":
                    return False
                retryable = exc.cause_response_code in _RETRYABLE or _RETRYABLE.intersection(
                    filter(None, codes)
                )
                if not retryable or attempt == self._attempts - 1:
                    raise CounterStoreError("Could not update the report counters.") from exc
                self._sleep(self._backoff * (2**attempt) * (0.5 + random.random()))  # noqa: S311 - jitter
            except PynamoDBException as exc:
                raise CounterStoreError("Could not update the report counters.") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    # -- reading -----------------------------------------------------------------------------------

    def load(self, first: date, last: date, *, routed: bool = True) -> CounterSnapshot:
        """Every cell of the days from ``first`` to ``last`` inclusive: one Query per day, or two that
        skip the ``routed`` cells when ``routed`` is False (only a team's summary needs them)."""
        cells: list[Cell] = []
        items_read = 0
        ranges: tuple[Any, ...] = (
            (None,)
            if routed
            else (ReportCounterItem.dimension < ROUTED_FIRST, ReportCounterItem.dimension >= ROUTED_AFTER)
        )
        try:
            for day in days_between(first, last):
                for condition in ranges:
                    results = ReportCounterItem.query(day, condition)
                    cells += [Cell(item.day, item.dimension, _values(item)) for item in results]
                    items_read += results.page_iter.total_scanned_count
        except PynamoDBException as exc:
            raise CounterStoreError("Could not read the report counters.") from exc
        return CounterSnapshot(cells, items_read)
