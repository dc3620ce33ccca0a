"""The outbound queue: reply ids (never text) for the send function, each with an optional delay."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from socialcrm.errors import QueueUnavailableError

MAX_DELAY_SECONDS = 900  # SQS DelaySeconds' maximum


class SqsOutbound:
    def __init__(self, queue_url: str, client: Any | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("sqs")
        return self._client

    def enqueue(self, reply_id: str, *, version: int, delay_seconds: int = 0) -> None:
        try:
            self.client.send_message(
                QueueUrl=self.queue_url,
                MessageBody=json.dumps({"reply_id": reply_id, "version": version}),
                DelaySeconds=max(0, min(delay_seconds, MAX_DELAY_SECONDS)),
            )
        except (BotoCoreError, ClientError) as exc:
            raise QueueUnavailableError("The reply could not be queued: repeat the request.") from exc


def message_of(body: str) -> tuple[str, int | None] | None:
    """(reply id, the reply's version it was queued for) of an outbound message body; None for a body
    that is not one (dropped, logged).

    >>> message_of('{"reply_id": "r_0123456789abcdef0123456789abcdef", "version": 2}'), message_of("{}")
    (('r_0123456789abcdef0123456789abcdef', 2), None)
    """
    from socialcrm.models import reply_marker

    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    reply_id = reply_marker(document.get("reply_id"))
    version = document.get("version")
    if reply_id is None or not (
        version is None or (isinstance(version, int) and not isinstance(version, bool))
    ):
        return None
    return reply_id, version
