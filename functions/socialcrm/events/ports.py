"""What publishes events, as the stages see it (``socialcrm.events.publisher.EventPublisher`` in AWS and
locally; fakes in the tests)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from socialcrm.events.models import EventDetail


class Publisher(Protocol):
    def publish(self, details: Sequence[EventDetail], trace_header: str | None = None) -> list[int]:
        """Publish every detail; the indexes of those that could not be published."""
        ...
