"""Opaque page cursors: DynamoDB's last evaluated key, base64-encoded, checked before it is used again.

A cursor that is not one of ours, or that belongs to another subject or work queue than the one asked
for, is a 400 (``BadRequestError``), never a store error.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from socialcrm.errors import BadRequestError


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    """The cursor of the page after the one that ended on ``key``; ``None`` on the last page."""
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode().rstrip("=")


def decode_cursor(
    cursor: str | None, *, key_names: frozenset[str], scope: tuple[str, str], what: str
) -> dict[str, Any] | None:
    """The key a previous page ended on. It must hold exactly ``key_names`` (string attributes) and its
    ``scope`` attribute must have the scope's value: the subject or queue the cursor was issued for.

    >>> decode_cursor(encode_cursor({"q": {"S": "a"}}), key_names=frozenset({"q"}), scope=("q", "a"), what="x")
    {'q': {'S': 'a'}}
    """
    if not cursor:
        return None
    invalid = BadRequestError(f"The cursor is not one this API returned for this {what}.")
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise invalid from exc
    name, value = scope
    if (
        not isinstance(key, dict)
        or set(key) != key_names
        or not all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in key.values())
        or key[name]["S"] != value
    ):
        raise invalid
    return key
