"""The inbound SQS queue: interactions go on it in batches of ten (``SendMessageBatch``).

A large delivery (Meta sends up to thousands of comments in one request) is sent as several batch calls
at once, so the webhook's answer waits on about one round trip per ``MAX_PARALLEL_SENDS`` batches, never
one per interaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from socialcrm.models import Interaction

SQS_BATCH_ENTRIES = 10
SQS_BATCH_BYTES = 256 * 1024  # the whole SendMessageBatch request, as SQS counts it
# Batch calls in flight at once for one delivery (boto3 clients are thread-safe; its default pool
# keeps 10 connections, raised to match in ``InboundQueue.client``).
MAX_PARALLEL_SENDS = 16


@lru_cache(maxsize=1)
def _senders() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=MAX_PARALLEL_SENDS, thread_name_prefix="sqs-send")


@dataclass
class SendReport:
    sent: list[str] = field(default_factory=list)  # interaction refs now on the queue
    failed: list[str] = field(default_factory=list)  # interaction refs that are not


class InboundQueue:
    """Puts interactions on the inbound queue, ten a call, retrying entries SQS rejected once."""

    def __init__(self, queue_url: str, client: Any | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("sqs", config=Config(max_pool_connections=MAX_PARALLEL_SENDS))
        return self._client

    def send(self, interactions: Sequence[Interaction], delay_seconds: int = 0) -> SendReport:
        """Send every interaction; the report says which are on the queue and which are not."""
        chunks = list(_chunks([(i.interaction_ref, i.model_dump_json()) for i in interactions]))
        if len(chunks) <= 1:
            reports = [self._send_whole(chunk, delay_seconds) for chunk in chunks]
        else:
            reports = list(_senders().map(lambda chunk: self._send_whole(chunk, delay_seconds), chunks))
        report = SendReport()
        for part in reports:
            report.sent += part.sent
            report.failed += part.failed
        return report

    def _send_whole(self, chunk: list[tuple[str, str]], delay_seconds: int) -> SendReport:
        """One batch call (and one more for the entries SQS rejected)."""
        report = SendReport()
        pending = dict(chunk)
        for _attempt in range(2):
            pending = self._send_chunk(pending, report, delay_seconds)
            if not pending:
                break
        report.failed.extend(pending)
        return report

    def send_later(self, interactions: Sequence[Interaction], delay_seconds: int) -> list[str]:
        """Queue interactions again after a delay (a sentiment still PENDING); returns the refs not queued."""
        return self.send(interactions, delay_seconds).failed

    def _send_chunk(self, chunk: dict[str, str], report: SendReport, delay_seconds: int) -> dict[str, str]:
        ids = list(chunk)
        entries = [
            {"Id": str(n), "MessageBody": body, "DelaySeconds": delay_seconds}
            for n, body in enumerate(chunk.values())
        ]
        try:
            response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except (ClientError, BotoCoreError):
            return chunk
        for ok in response.get("Successful", []):
            report.sent.append(ids[int(ok["Id"])])
        return {ids[int(bad["Id"])]: chunk[ids[int(bad["Id"])]] for bad in response.get("Failed", [])}


def _chunks(items: list[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    """Groups of at most ten entries and at most 256 KiB of message bodies."""
    chunk: list[tuple[str, str]] = []
    size = 0
    for item in items:
        item_size = len(item[1].encode())
        if chunk and (len(chunk) == SQS_BATCH_ENTRIES or size + item_size > SQS_BATCH_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        yield chunk
