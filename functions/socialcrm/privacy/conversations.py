"""The brand's replies in a subject's conversations: part of that person's data.

A brand reply is stored as an interaction of the brand's account (or of the customer, when the platform
names them); the cases and conversation rows of the subject list every reply of their conversations.
Erasure deletes those interactions from what the ``cases`` store found for the subject (its case rows'
messages and its conversation rows' waiting replies), so it runs before the cases are deleted, and its
verification reads the same keys again: a reply left behind is counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Key = dict[str, Any]


def _replies(row: dict[str, Any]) -> Iterator[str]:
    """The refs of the brand replies a case or conversation row lists (a DynamoDB-typed item)."""
    body = row.get("body", {}).get("M", {})
    for field in ("messages", "waiting_replies"):
        for entry in body.get(field, {}).get("L", []):
            message = entry.get("M", {})
            if message.get("from_brand", {}).get("BOOL"):
                ref = message.get("interaction_ref", {}).get("S")
                if ref:
                    yield ref


def brand_reply_keys(cases: Any) -> Callable[[Any], list[tuple[str, Key]]]:
    """``keys_of`` for the brand replies in the subject's conversations: ``(case id, interaction key)``."""

    def keys_of(scope: Any) -> list[tuple[str, Key]]:
        cases.found(scope)
        pairs: dict[str, str] = {}
        for row in scope.seen(cases.name):
            label = row.get("case_ref", {}).get("S", "")
            for ref in _replies(row):
                pairs.setdefault(ref, label)
        return [(label, {"interaction_ref": {"S": ref}}) for ref, label in pairs.items()]

    return keys_of
