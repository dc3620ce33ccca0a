"""Conversations in erasure: the brand's replies in a subject's conversations, and the subject's
messages listed on other people's cases.

The brand's replies in a subject's conversations are part of that person's data.

A brand reply is stored as an interaction of the brand's account (or of the customer, when the platform
names them); the cases and conversation rows of the subject list every reply of their conversations.
Erasure deletes those interactions from what the ``cases`` store found for the subject (its case rows'
messages and its conversation rows' waiting replies), so it runs before the cases are deleted, and its
verification reads the same keys again: a reply left behind is counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from socialcrm.aws import LazyClient
from socialcrm.privacy.dynamo import ATTEMPTS, StoreFailure, batch_get, plain
from socialcrm.routing.case import case_id_for

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


class SharedCaseEntries:
    """The subject's messages listed on other people's cases.

    A comment thread is one conversation whoever writes in it, so a second person's comment joins the
    case the first one opened: that case lists the comment (its interaction id and ref). Erasing the second
    person removes those entries from the case (the case, the first person's, stays). The conversations
    are the ones the subject's interactions name (``conversation_ref``, remembered by the interactions
    store); each case of such a conversation is read by key, strongly consistent.
    """

    name = "shared_cases"

    def __init__(self, *, interactions: Any, table_name: str, client: Any | None = None) -> None:
        self.interactions = interactions
        self.table_name = table_name
        self._client = client

    client = LazyClient("dynamodb")

    def _entries(self, scope: Any) -> list[tuple[dict[str, Any], list[int]]]:
        """(case row, positions in its messages list) of other people's cases listing the subject's messages."""
        self.interactions.found(scope)
        mine: dict[str, set[str]] = {}
        for row in scope.seen(self.interactions.name):
            conversation = row.get("conversation_ref", {}).get("S")
            if conversation:
                mine.setdefault(conversation, set()).add(row["interaction_ref"]["S"])
        if not mine:
            return []
        rows = batch_get(
            self.client, self.name, self.table_name, [_key(ref) for ref in mine], consistent=True
        )
        case_keys = [
            _key(case_id_for(row["case_id"]["S"], n))
            for row in rows
            if row.get("row", {}).get("S") == "conversation"
            for n in range(1, int(plain(row).get("body", {}).get("sequence", 0)) + 1)
        ]
        found = []
        for case in batch_get(self.client, self.name, self.table_name, case_keys, consistent=True):
            if case.get("subject_id", {}).get("S") == scope.subject_id:
                continue  # the subject's own case: erased whole by the cases store
            body = case.get("body", {}).get("M", {})
            refs = mine.get(body.get("conversation_ref", {}).get("S", ""), set())
            positions = [
                n
                for n, entry in enumerate(body.get("messages", {}).get("L", []))
                if entry.get("M", {}).get("interaction_ref", {}).get("S") in refs
            ]
            if positions:
                found.append((case, positions))
        return found

    def erase(self, scope: Any) -> int:
        removed = 0
        for _attempt in range(ATTEMPTS):
            entries = self._entries(scope)
            if not entries:
                return removed
            for case, positions in entries:
                removed += self._remove(case, positions)
        raise StoreFailure(self.name, "the cases kept changing while their entries were removed")

    def _remove(self, case: dict[str, Any], positions: list[int]) -> int:
        """Remove the entries, conditional on the case's version (0 when it changed meanwhile: read again)."""
        version = case.get("version", {}).get("N", "0")
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"case_id": case["case_id"]},
                UpdateExpression="REMOVE "
                + ", ".join(f"body.messages[{n}]" for n in positions)
                + " SET version = version + :one",
                ConditionExpression="version = :version",
                ExpressionAttributeValues={":version": {"N": version}, ":one": {"N": "1"}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return 0
            raise StoreFailure(
                self.name, f"UpdateItem failed ({exc.response.get('Error', {}).get('Code')})"
            ) from exc
        return len(positions)

    def remaining(self, scope: Any) -> int:
        return sum(len(positions) for _case, positions in self._entries(scope))

    def export(self, scope: Any) -> list[dict[str, Any]]:
        return [
            {"case_id": case["case_id"]["S"], "messages": len(positions)}
            for case, positions in self._entries(scope)
        ]


def _key(case_id: str) -> Key:
    return {"case_id": {"S": case_id}}
