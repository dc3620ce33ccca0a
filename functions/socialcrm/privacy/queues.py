"""Dead-letter queues as personal-data stores: a subject's messages found by ``subject_id`` and deleted.

A message that failed every retry waits in its queue's DLQ (for 14 days) until an operator redrives it.
The inbound DLQ holds whole interactions (text, author); the route and report DLQs hold bus events
(pseudonymous ids). An erasure therefore reads each of these queues: every message is received with a
visibility timeout long enough for the scan, the subject's are deleted, and every other message is made
visible again at once, left for its own redrive. Nothing of anyone else is changed.

What a scan cannot reach, the proof says (``socialcrm.privacy.stores.NOT_REACHED``): a message another
reader holds invisible at that moment (a redrive in progress) is not seen. Such a message goes back to a
work queue, where enrich drops it by the tombstone, or back to the DLQ, where the verification's own scan
(after the settle period) finds it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from socialcrm.privacy.dynamo import StoreFailure, calling

# Longer than one scan takes; a scan that dies leaves the messages hidden for this long, never lost.
SCAN_VISIBILITY_SECONDS = 300
# The most messages one scan reads (a DLQ that large is an incident of its own; the rest is reported).
MAX_SCAN_MESSAGES = 20_000
SQS_BATCH = 10


def subject_of_message(body: str) -> str | None:
    """The ``subject_id`` a queued message is about: an interaction's own, or a bus event's ``detail``'s.

    >>> subject_of_message('{"subject_id": "abc", "text": "hi"}')
    'abc'
    >>> subject_of_message('{"detail-type": "InteractionRouted", "detail": {"subject_id": "def"}}')
    'def'
    >>> subject_of_message("not json") is None
    True
    """
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return None
    found = payload.get("subject_id")
    if isinstance(found, str):
        return found
    detail = payload.get("detail")
    found = detail.get("subject_id") if isinstance(detail, dict) else None
    return found if isinstance(found, str) else None


@dataclass
class _Scan:
    matched: list[dict[str, Any]]
    others: list[dict[str, Any]]
    complete: bool  # False when MAX_SCAN_MESSAGES stopped it


class DeadLetterStore:
    """One dead-letter queue, read and cleaned for one subject at a time (see the module docstring)."""

    def __init__(
        self, name: str, *, queue_url: str, client: Any | None = None, wait_seconds: int = 1
    ) -> None:
        self.name = name
        self.queue_url = queue_url
        self._client = client
        # Long polling asks every SQS server, so a short queue is read whole; the local stack sets 0.
        self.wait_seconds = wait_seconds

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("sqs")
        return self._client

    def erase(self, scope: Any) -> int:
        scan = self._scan(scope.subject_id)
        try:
            deleted = self._delete(scan.matched)
        finally:
            self._release(scan.others)
        if not scan.complete:
            raise StoreFailure(
                self.name, f"more than {MAX_SCAN_MESSAGES} messages; erase again", erased=deleted
            )
        return deleted

    def remaining(self, scope: Any) -> int:
        scan = self._scan(scope.subject_id)
        self._release(scan.matched + scan.others)
        return len(scan.matched) + (0 if scan.complete else 1)

    def export(self, scope: Any) -> list[Any]:
        scan = self._scan(scope.subject_id)
        self._release(scan.matched + scan.others)
        return [json.loads(message["Body"]) for message in scan.matched]

    def _scan(self, subject_id: str) -> _Scan:
        scan = _Scan(matched=[], others=[], complete=True)
        try:
            while True:
                if len(scan.matched) + len(scan.others) >= MAX_SCAN_MESSAGES:
                    scan.complete = False
                    break
                response = calling(
                    self.name,
                    "ReceiveMessage",
                    lambda: self.client.receive_message(
                        QueueUrl=self.queue_url,
                        MaxNumberOfMessages=SQS_BATCH,
                        VisibilityTimeout=SCAN_VISIBILITY_SECONDS,
                        WaitTimeSeconds=self.wait_seconds,
                    ),
                )
                messages = response.get("Messages") or []
                if not messages:
                    break
                for message in messages:
                    mine = subject_of_message(message.get("Body", "")) == subject_id
                    (scan.matched if mine else scan.others).append(message)
        except StoreFailure:
            self._release(scan.matched + scan.others)
            raise
        return scan

    def _delete(self, messages: list[dict[str, Any]]) -> int:
        deleted = 0
        for chunk in _chunks(messages):
            entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)]
            try:
                response = calling(
                    self.name,
                    "DeleteMessageBatch",
                    lambda entries=entries: self.client.delete_message_batch(  # type: ignore[misc]
                        QueueUrl=self.queue_url, Entries=entries
                    ),
                )
            except StoreFailure as failure:
                raise StoreFailure(self.name, failure.reason, erased=deleted) from failure
            deleted += len(response.get("Successful") or [])
            if response.get("Failed"):
                raise StoreFailure(self.name, "DeleteMessageBatch refused some messages", erased=deleted)
        return deleted

    def _release(self, messages: list[dict[str, Any]]) -> None:
        """Make messages visible again at once (best effort: otherwise they return after the scan's timeout)."""
        for chunk in _chunks(messages):
            entries = [
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for n, m in enumerate(chunk)
            ]
            # their visibility timeout brings them back anyway
            with contextlib.suppress(ClientError, BotoCoreError):
                self.client.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)


def _chunks(messages: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(messages), SQS_BATCH):
        yield messages[start : start + SQS_BATCH]
