"""Make moto behave as AWS does where the local stack relies on it.

``honour_replay_windows``: moto's EventBridge ``StartReplay`` sends every archived event, whatever its
time, to every rule of the bus. AWS replays only the events that occurred between ``EventStartTime``
and ``EventEndTime``, and only to the rules named in ``Destination.FilterArns`` when it names any; the
patch does the same, so ``socialcrm events replay`` behaves locally as it does in AWS.

``speed_up_transactions``: moto's DynamoDB transactions cost what they cost in AWS: time independent
of table size.

moto snapshots every table a ``TransactWriteItems`` touches with ``copy.deepcopy`` before it runs, to
roll back on failure: each transaction costs time proportional to the table, so the local stack slows
down as it fills (the enrich stage writes each interaction and its profile in one transaction). This
patch keeps moto's own transaction code and semantics, and replaces the whole-table snapshot with a
snapshot of just the items the transaction touches, restored the same way on failure.
"""

from __future__ import annotations

import copy
import time
import uuid
from datetime import datetime
from typing import Any

_applied = False
_replays_patched = False


def speed_up_transactions() -> None:
    """Apply once per process, before moto serves requests."""
    global _applied
    if _applied:
        return
    from moto.dynamodb.models import DynamoDBBackend, Table
    from moto.dynamodb.models import copy as moto_copy  # the module moto's code calls deepcopy through
    from moto.dynamodb.models.dynamo_type import DynamoType

    original = DynamoDBBackend.transact_write_items

    class _NoTableCopies:
        """moto's ``copy`` module, except that deep copies of whole tables are the tables themselves."""

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        snapshots = []
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table_name = op.get("TableName")
            if not table_name or table_name not in self.tables:
                continue
            table = self.tables[table_name]
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op.get("Key")
            if key is None:
                continue
            try:
                before = self.get_item(table_name, key)
            except Exception:  # noqa: S112 (a malformed key: the transaction itself reports it)
                continue
            snapshots.append((table_name, key, copy.deepcopy(before)))
        import moto.dynamodb.models as models

        models.copy = _NoTableCopies()  # type: ignore[assignment]
        try:
            return original(self, transact_items)  # type: ignore[no-any-return]
        except Exception:
            for table_name, key, before in reversed(snapshots):
                table = self.tables[table_name]
                if before is None:
                    range_key = key.get(table.range_key_attr) if table.range_key_attr else None
                    table.delete_item(
                        DynamoType(key[table.hash_key_attr]), DynamoType(range_key) if range_key else None
                    )
                else:
                    table.put_item(before.to_json()["Attributes"])
            raise
        finally:
            models.copy = moto_copy  # type: ignore[assignment]

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _applied = True


def honour_replay_windows() -> None:
    """Apply once per process, before moto serves requests (see the module docstring)."""
    global _replays_patched
    if _replays_patched:
        return
    from moto.events.models import Replay, ReplayState, events_backends

    def replay_events(self: Replay, archive: Any) -> None:
        bus_name = self.destination["Arn"].split("/")[-1]
        wanted = set(self.destination.get("FilterArns") or ())
        start, end = _epoch(self.event_start_time), _epoch(self.event_end_time)
        bus = events_backends[self.account_id][self.region].describe_event_bus(bus_name)
        for event in list(archive.events):
            if not start <= _epoch(event.get("time")) <= end:
                continue
            for rule in list(bus.rules.values()):
                if wanted and rule.arn not in wanted:
                    continue
                replayed = dict(event, id=str(uuid.uuid4()), **{"replay-name": self.name})
                rule.send_to_targets(replayed, transform_input=False)  # type: ignore[arg-type]
        self.state = ReplayState.COMPLETED
        self.end_time = time.time()

    Replay.replay_events = replay_events  # type: ignore[method-assign]
    _replays_patched = True


def _epoch(value: Any) -> float:
    """Seconds since the epoch of a time moto keeps as a number, a datetime or ISO 8601 text."""
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return 0.0
