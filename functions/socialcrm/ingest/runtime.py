"""What the webhook routes (``socialcrm.api.webhooks``) are built over: the ingest function's adapters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from socialcrm.ingest.service import IngestOutcome, QueuePort
from socialcrm.secrets import SecretsSource

if TYPE_CHECKING:
    from socialcrm.subscriptions.websub import IntentStore


@dataclass(frozen=True)
class IngestRuntime:
    """What the webhook routes need, built once per process by the handler or the local stack."""

    secrets: SecretsSource
    queue: QueuePort
    # Called with each delivery's outcome (the Lambda handler records business metrics with it).
    on_outcome: Callable[[str, IngestOutcome], None] | None = None
    # The WebSub requests a hub's verification of intent must match (socialcrm.subscriptions).
    intents: Callable[[], IntentStore] | None = None
