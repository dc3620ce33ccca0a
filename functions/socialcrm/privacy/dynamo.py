"""The DynamoDB calls of the privacy stores: batched (25 deletes, 100 gets a call), unprocessed items retried,
every failure wrapped in :class:`StoreFailure` naming the store and the AWS error code (never data).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from socialcrm.errors import SocialCrmError

BATCH_WRITE_ITEMS = 25
BATCH_GET_KEYS = 100
ATTEMPTS = 5

Key = dict[str, Any]  # a DynamoDB key in the low-level format: {"interaction_id": {"S": "x:1"}}
T = TypeVar("T")

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class StoreFailure(SocialCrmError):
    """A personal-data store could not be read or written; ``store`` names it for the erasure's proof."""

    status = 503
    code = "store_unavailable"

    def __init__(self, store: str, reason: str, *, erased: int = 0) -> None:
        super().__init__(f"{store}: {reason}")
        self.store = store
        self.reason = reason
        self.erased = erased  # items this store had already deleted when it failed


def partial(failure: StoreFailure, erased: int) -> StoreFailure:
    """The same failure, saying how many items were deleted before it."""
    with_count = StoreFailure(failure.store, failure.reason, erased=erased)
    with_count.__cause__ = failure.__cause__
    return with_count


def calling(store: str, operation: str, call: Callable[[], T]) -> T:
    """Run one AWS call for ``store``; a failure becomes a :class:`StoreFailure` with the error code."""
    try:
        return call()
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        raise StoreFailure(store, f"{operation} failed ({code})") from exc
    except BotoCoreError as exc:
        raise StoreFailure(store, f"{operation} failed ({type(exc).__name__})") from exc


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """A plain mapping as DynamoDB attribute values (None values are left out)."""
    return {name: _serializer.serialize(value) for name, value in item.items() if value is not None}


def plain(item: Mapping[str, Any], *, ttl_attribute: str | None = None) -> dict[str, Any]:
    """A DynamoDB item as JSON-ready values: numbers as int/float, sets as sorted lists, the TTL as ISO time.

    >>> plain({"n": {"N": "3"}, "tags": {"SS": ["b", "a"]}, "expires_at": {"N": "0"}}, ttl_attribute="expires_at")
    {'n': 3, 'tags': ['a', 'b'], 'expires_at': '1970-01-01T00:00:00Z'}
    """
    out = {name: _json_ready(_deserializer.deserialize(value)) for name, value in item.items()}
    if ttl_attribute and isinstance(out.get(ttl_attribute), int | float):
        out[ttl_attribute] = iso(datetime.fromtimestamp(out[ttl_attribute], tz=UTC))
    return out


def _json_ready(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, set | frozenset):
        return sorted(_json_ready(v) for v in value)
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, Binary):
        return base64.b64encode(value.value).decode()
    return value


def iso(value: datetime) -> str:
    """UTC ISO-8601 with a ``Z``, the time format of every table (sortable as text)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def key_id(key: Key) -> tuple[tuple[str, str], ...]:
    """A hashable form of a low-level key, to collect keys in sets."""
    return tuple(sorted((name, next(iter(value.values()))) for name, value in key.items()))


def query_all(client: Any, store: str, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every item of a Query, page by page."""
    start: dict[str, Any] | None = None
    while True:
        page_request = {**request, **({"ExclusiveStartKey": start} if start else {})}
        page = calling(store, "Query", lambda r=page_request: client.query(**r))  # type: ignore[misc]
        yield from page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return


def batch_delete(client: Any, store: str, table: str, keys: Sequence[Key], backoff: float = 0.05) -> int:
    """Delete every key, 25 a ``BatchWriteItem`` call; unprocessed deletes are retried with backoff.

    A failure says (``StoreFailure.erased``) how many deletes had been applied before it.
    """
    deleted = 0
    for start in range(0, len(keys), BATCH_WRITE_ITEMS):
        chunk = keys[start : start + BATCH_WRITE_ITEMS]
        pending: list[dict[str, Any]] = [{"DeleteRequest": {"Key": key}} for key in chunk]
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(backoff * 2 ** (attempt - 1))
            try:
                response = calling(
                    store,
                    "BatchWriteItem",
                    lambda p=pending: client.batch_write_item(RequestItems={table: p}),  # type: ignore[misc]
                )
            except StoreFailure as failure:
                raise partial(failure, deleted + len(chunk) - len(pending)) from failure.__cause__
            pending = response.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                break
        if pending:
            reason = f"BatchWriteItem left {len(pending)} deletes unprocessed"
            raise StoreFailure(store, reason, erased=deleted + len(chunk) - len(pending))
        deleted += len(chunk)
    return deleted


def batch_get(
    client: Any,
    store: str,
    table: str,
    keys: Sequence[Key],
    *,
    consistent: bool,
    projection: Sequence[str] = (),
    backoff: float = 0.05,
) -> list[dict[str, Any]]:
    """The items that exist among ``keys``, 100 a ``BatchGetItem`` call; unprocessed keys retried."""
    found: list[dict[str, Any]] = []
    unique = list({key_id(k): k for k in keys}.values())
    for start in range(0, len(unique), BATCH_GET_KEYS):
        request: dict[str, Any] = {
            "Keys": unique[start : start + BATCH_GET_KEYS],
            "ConsistentRead": consistent,
        }
        if projection:
            request["ProjectionExpression"] = ", ".join(f"#p{n}" for n in range(len(projection)))
            request["ExpressionAttributeNames"] = {f"#p{n}": name for n, name in enumerate(projection)}
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(backoff * 2 ** (attempt - 1))
            response = calling(
                store,
                "BatchGetItem",
                lambda r=request: client.batch_get_item(RequestItems={table: r}),  # type: ignore[misc]
            )
            found += response.get("Responses", {}).get(table, [])
            unprocessed = response.get("UnprocessedKeys", {}).get(table)
            if not unprocessed:
                break
            request = unprocessed
        else:
            raise StoreFailure(store, "BatchGetItem left keys unprocessed")
    return found
