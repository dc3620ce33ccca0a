"""Make moto's DynamoDB answer as DynamoDB does under load: in time independent of table size, and one
request at a time per table state.

* **Queries read one partition.** moto answers every ``Query`` by sorting every item of the table and
  keeping those of the asked partition; on an index it also walks the whole table. In DynamoDB a query
  reads only its partition, so the local stack slowed down as its tables filled (13.5 deliveries/s over
  10,000 against 23.7/s over 500). Here a table query starts from the partition itself, and an index
  query from the items that ever held the asked index key: a per-index map kept up to date by every put
  and update (the only ways an item gains attributes; a failed update is noted too, as moto may have
  applied part of it), built once by a walk the first time an index is queried. An entry whose item has
  gone or moved to another key is dropped when a query meets it, so a query reads what its key holds now;
  moto's own query code still checks every candidate against the key conditions, so answers are moto's.
* **One request at a time.** moto serves each request on its own thread and its tables are plain
  dictionaries: a query walking a table while another thread wrote to it failed with ``RuntimeError:
  dictionary changed size during iteration``, and a transaction could be seen half applied. DynamoDB
  requests now run one at a time (a lock around moto's DynamoDB dispatch). Other services are not
  serialised: an SQS long poll must not hold up the tables.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Hashable
from typing import Any

_applied = False
_scope = threading.local()  # .candidates: (table, items) for the query running on this thread
_MEMBERS = (
    "_socialcrm_index_members"  # on each moto Table: {index name: (index, {key values: {primary key}})}
)


def speed_up_and_serialise_tables() -> None:
    """Apply once per process, before moto serves requests."""
    global _applied
    if _applied:
        return
    from moto.dynamodb.models import DynamoDBBackend, Table
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    original_call = DynamoHandler.call_action
    original_query = Table.query
    original_all_items = Table.all_items
    original_put = Table.put_item
    original_update = DynamoDBBackend.update_item
    query_signature = inspect.signature(original_query)

    def call_action(self: DynamoHandler) -> Any:
        with lock:
            return original_call(self)

    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        bound = query_signature.bind(self, *args, **kwargs).arguments
        _scope.candidates = (self, _candidates(self, bound))
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _scope.candidates = None

    def all_items(self: Table) -> Any:
        scoped = getattr(_scope, "candidates", None)
        if scoped is None or scoped[0] is not self:
            return original_all_items(self)
        return sorted(scoped[1], key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    def put_item(self: Table, *args: Any, **kwargs: Any) -> Any:
        item = original_put(self, *args, **kwargs)
        _remember(self, item)
        return item

    def update_item(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            item = original_update(self, table_name, *args, **kwargs)
        except Exception:  # moto may have applied part of the update before it refused the rest
            key = kwargs.get("key", args[0] if args else None)
            _remember(self.get_table(table_name), _stored(self.get_table(table_name), key))
            raise
        _remember(self.get_table(table_name), item)
        return item

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
    Table.put_item = put_item  # type: ignore[method-assign]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    _applied = True


def _hash_names(index: Any) -> list[str]:
    return [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]


def _index_key(index: Any, item: Any) -> tuple[Hashable, ...] | None:
    """The item's key in ``index``; None when it has none (or one DynamoDB would refuse: a list, a map)."""
    values = tuple(item.attrs.get(name) for name in _hash_names(index))
    if any(value is None for value in values):
        return None
    try:
        hash(values)
    except TypeError:
        return None
    return values


def _mapped(table: Any, index: Any) -> dict[tuple[Hashable, ...], set[tuple[Any, Any]]] | None:
    """The map of this very index (an index deleted and created again under its name starts afresh)."""
    entry = table.__dict__.get(_MEMBERS, {}).get(index.name)
    return entry[1] if entry is not None and entry[0] is index else None


def _remember(table: Any, item: Any) -> None:
    """Note ``item`` under its current key of every index already mapped."""
    if item is None or not table.__dict__.get(_MEMBERS):
        return
    for index in table.all_indexes():
        mapped = _mapped(table, index)
        key = _index_key(index, item)
        if mapped is not None and key is not None:
            mapped.setdefault(key, set()).add((item.hash_key, item.range_key))


def _stored(table: Any, key: Any) -> Any:
    """The item ``key`` (a low-level key) names, as moto holds it now, or None."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if not isinstance(key, dict) or table.hash_key_attr not in key:
        return None
    hash_key = DynamoType(key[table.hash_key_attr])
    range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
    return _current(table, (hash_key, range_key))


def _every_item(table: Any) -> list[Any]:
    if table.range_key_attr:
        return [item for partition in table.items.values() for item in partition.values()]
    return list(table.items.values())


def _current(table: Any, primary_key: tuple[Any, Any]) -> Any:
    hash_key, range_key = primary_key
    if hash_key not in table.items:
        return None
    partition = table.items[hash_key]
    return partition.get(range_key) if table.range_key_attr else partition


def _candidates(table: Any, arguments: dict[str, Any]) -> list[Any]:
    """The items a query of ``arguments`` can return: a superset, filtered by moto's own query code."""
    index_name = arguments.get("index_name")
    hash_key = arguments.get("hash_key")
    if not index_name:
        if hash_key is None or hash_key not in table.items:
            return []
        partition = table.items[hash_key]
        return list(partition.values()) if table.range_key_attr else [partition]
    index = {i.name: i for i in table.all_indexes()}.get(index_name)
    if index is None:
        return _every_item(table)  # moto answers the unknown index with its own error
    conditions = dict(arguments.get("hash_key_conditions") or [])
    names = _hash_names(index)
    if not conditions and len(names) == 1 and hash_key is not None:
        conditions = {names[0]: hash_key}
    if set(conditions) != set(names):
        return _every_item(table)
    mapped = _mapped(table, index)
    if mapped is None:
        mapped = {}
        for item in _every_item(table):
            key = _index_key(index, item)
            if key is not None:
                mapped.setdefault(key, set()).add((item.hash_key, item.range_key))
        table.__dict__.setdefault(_MEMBERS, {})[index_name] = (index, mapped)
    wanted = tuple(conditions[name] for name in names)
    try:
        members = mapped.get(wanted, set())
    except TypeError:  # a key DynamoDB would refuse: moto's own code answers it
        return _every_item(table)
    found = []
    for primary_key in list(members):
        item = _current(table, primary_key)
        if item is not None and _index_key(index, item) == wanted:
            found.append(item)
        else:
            members.discard(primary_key)  # gone, or moved to another key since: forgotten here
    return found
