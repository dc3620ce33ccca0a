"""Publish event details to the bus: ``PutEvents`` ten entries a call, failed entries retried."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from socialcrm.events.models import EventDetail

PUT_EVENTS_ENTRIES = 10
ATTEMPTS = 3


class EventPublisher:
    def __init__(
        self, bus_name: str, source: str, client: Any | None = None, backoff_seconds: float = 0.1
    ) -> None:
        self.bus_name = bus_name
        self.source = source
        self._client = client
        self._backoff = backoff_seconds
        self.calls = 0  # PutEvents calls made (a tracked figure)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("events")
        return self._client

    def publish(self, details: Sequence[EventDetail], trace_header: str | None = None) -> list[int]:
        """Publish every detail; returns the indexes of those still failing after the retries.

        ``trace_header`` (Lambda's ``_X_AMZN_TRACE_ID``) lets the X-Ray trace follow the events.
        """
        trace = trace_header
        entries = []
        for detail in details:
            entry = {
                "Source": self.source,
                "DetailType": detail.detail_type,
                "Detail": detail.model_dump_json(),
                "EventBusName": self.bus_name,
            }
            if trace:
                entry["TraceHeader"] = trace
            entries.append(entry)
        failed: list[int] = []
        for start in range(0, len(entries), PUT_EVENTS_ENTRIES):
            indexes = list(range(start, min(start + PUT_EVENTS_ENTRIES, len(entries))))
            failed += self._put(indexes, entries)
        return failed

    def _put(self, indexes: list[int], entries: list[dict[str, Any]]) -> list[int]:
        pending = indexes
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                self.calls += 1
                response = self.client.put_events(Entries=[entries[i] for i in pending])
            except (ClientError, BotoCoreError):
                continue
            results = response.get("Entries", [])
            pending = [
                i
                for i, result in zip(pending, results, strict=False)
                if "ErrorCode" in result or "EventId" not in result
            ]
            if not pending:
                return []
        return pending
