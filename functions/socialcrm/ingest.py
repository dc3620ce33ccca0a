"""The ingest domain: answer handshakes; verify, normalise, deduplicate and queue deliveries.

It never calls Comprehend or writes the CRM tables (acknowledge fast, work later).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from socialcrm.errors import PayloadTooLargeError, PlatformNotConfiguredError, QueueUnavailableError
from socialcrm.models import Interaction
from socialcrm.observability import logger
from socialcrm.platforms import Delivery, HandshakeReply, PlatformAdapter, adapter_for
from socialcrm.queueing import SQS_BATCH_BYTES, SendReport
from socialcrm.secrets import PlatformSecrets
from socialcrm.topology import MAX_WEBHOOK_BYTES


class DedupePort(Protocol):
    def claim(self, interaction_id: str, remaining_ms: int) -> bool: ...

    def confirm(self, interaction_id: str) -> bool: ...

    def release(self, interaction_id: str, reason: Exception) -> None: ...


class QueuePort(Protocol):
    def send(self, interactions: list[Interaction]) -> SendReport: ...


@dataclass(frozen=True)
class IngestOutcome:
    received: int  # interactions the delivery carried
    queued: int  # new ones, now on the inbound queue
    duplicates: int  # already seen: acknowledged, not queued again


def _configured(route: str, secrets: PlatformSecrets) -> tuple[PlatformAdapter, Any]:
    adapter = adapter_for(route)
    secret = secrets.for_platform(route)
    if secret is None:
        raise PlatformNotConfiguredError(f"The platform '{route}' is not configured on this deployment.")
    return adapter, secret


def answer_handshake(route: str, query: Mapping[str, str], secrets: PlatformSecrets) -> HandshakeReply:
    """Answer a platform's GET verification (Meta hub.challenge, X CRC, LinkedIn challengeCode, WebSub)."""
    adapter, secret = _configured(route, secrets)
    return adapter.handshake(query, secret)


def ingest_delivery(
    route: str,
    delivery: Delivery,
    *,
    secrets: PlatformSecrets,
    dedupe: DedupePort,
    queue: QueuePort,
    received_at: datetime,
    remaining_ms: int,
) -> IngestOutcome:
    """Verify a delivery, normalise what it carries and queue each new interaction once.

    Raises the domain's errors: 404 unknown/unconfigured platform, 413 too large, 401 bad signature,
    400 unparseable; 503 when queueing failed (the platform retries, nothing is lost).
    """
    adapter, secret = _configured(route, secrets)
    if len(delivery.body) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLargeError(f"The body is over {MAX_WEBHOOK_BYTES} bytes.")
    adapter.verify(delivery, secret, received_at.timestamp())
    drafts = adapter.normalise(delivery)

    pepper = secrets.subject_pepper.get_secret_value()
    interactions: dict[str, Interaction] = {}
    for draft in drafts:  # one delivery may repeat an item: keep the first
        interaction = Interaction.from_draft(draft, pepper=pepper, received_at=received_at)
        interactions.setdefault(interaction.interaction_id, interaction)
    for interaction in interactions.values():
        if len(interaction.model_dump_json().encode()) > SQS_BATCH_BYTES:
            raise PayloadTooLargeError(f"The interaction {interaction.interaction_id} is over 256 KiB.")

    fresh = [i for i in interactions.values() if dedupe.claim(i.interaction_id, remaining_ms)]
    report = queue.send(fresh) if fresh else SendReport()
    for interaction_id in report.sent:
        dedupe.confirm(interaction_id)
    if report.failed:
        error = QueueUnavailableError("The delivery could not be queued; retry it.")
        for interaction_id in report.failed:
            dedupe.release(interaction_id, error)
        logger.warning("queueing failed", platform=route, failed=len(report.failed), queued=len(report.sent))
        raise error

    outcome = IngestOutcome(
        received=len(interactions), queued=len(report.sent), duplicates=len(interactions) - len(fresh)
    )
    for interaction in fresh:
        logger.info(
            "queued",
            interaction_id=interaction.interaction_id,
            subject_id=interaction.subject_id,
            platform=interaction.platform,
            kind=interaction.kind,
        )
    return outcome
