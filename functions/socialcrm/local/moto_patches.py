"""Make moto's DynamoDB transactions cost what they cost in AWS: time independent of table size.

moto snapshots every table a ``TransactWriteItems`` touches with ``copy.deepcopy`` before it runs, to
roll back on failure: each transaction costs time proportional to the table, so the local stack slows
down as it fills (the enrich stage writes each interaction and its profile in one transaction). This
patch keeps moto's own transaction code and semantics, and replaces the whole-table snapshot with a
snapshot of just the items the transaction touches, restored the same way on failure.
"""

from __future__ import annotations

import copy
from typing import Any

_applied = False


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
