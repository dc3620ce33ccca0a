"""The erase consumer's batch: each SQS message carries one ``ErasureRequested`` event (from the bus, or a
continuation this consumer queued itself), and its fate is its own."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from socialcrm.events.models import ErasureRequested
from socialcrm.observability import logger
from socialcrm.privacy.erasure import ErasureOutcome, ErasurePorts, run_erasure


@dataclass(frozen=True)
class QueuedMessage:
    message_id: str
    body: str


class ErasureQueue:
    """The erase function's own queue: a request that must continue later is sent to it again."""

    def __init__(self, queue_url: str, client: Any | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("sqs")
        return self._client

    def send_again(self, body: str, delay_seconds: int) -> bool:
        """Queue the same message body after ``delay_seconds``; False when SQS refused it."""
        try:
            self.client.send_message(QueueUrl=self.queue_url, MessageBody=body, DelaySeconds=delay_seconds)
        except (ClientError, BotoCoreError):
            logger.warning("continuation not queued; the message is retried instead")
            return False
        return True


def request_id_of(body: str) -> str:
    """The request id of an SQS body holding an EventBridge ``ErasureRequested`` event."""
    return ErasureRequested.model_validate(json.loads(body)["detail"]).request_id


def process_messages(
    messages: Sequence[QueuedMessage],
    *,
    ports: ErasurePorts,
    queue: ErasureQueue,
    time_left_ms: Callable[[], int],
    on_outcome: Callable[[ErasureOutcome], None] | None = None,
) -> list[str]:
    """Advance the request of each message; returns the message ids SQS must deliver again."""
    failed: list[str] = []
    for message in messages:
        try:
            request_id = request_id_of(message.body)
        except (ValueError, KeyError, TypeError, ValidationError):
            logger.error("unreadable erasure message", message_id=message.message_id)
            failed.append(message.message_id)
            continue
        outcome = run_erasure(request_id, ports, time_left_ms=time_left_ms)
        if on_outcome is not None:
            on_outcome(outcome)
        if outcome.result == "continue":
            if not queue.send_again(message.body, outcome.continue_in):
                failed.append(message.message_id)
        elif outcome.retry:
            failed.append(message.message_id)
    return failed
