"""The ingest domain: answer handshakes; verify, normalise and queue deliveries.

It never calls Comprehend or writes the CRM tables (acknowledge fast, work later), and the only AWS call
on the webhook path is ``SendMessageBatch``: a 200 means every interaction of the delivery is on the
inbound queue. Duplicates (a platform's retry, SQS delivering twice) are dropped downstream, batch-wise,
by the enrich stage (``socialcrm.dedupe``), so a failure part way through a delivery leaves nothing
behind that could turn the platform's retry into a "duplicate".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from socialcrm.errors import (
    NotFoundError,
    PayloadTooLargeError,
    PlatformNotConfiguredError,
    QueueUnavailableError,
)
from socialcrm.models import Interaction, InteractionDraft, needs_repair
from socialcrm.observability import logger
from socialcrm.platforms import Delivery, HandshakeReply, PlatformAdapter, adapter_for
from socialcrm.queueing import SQS_BATCH_BYTES, SendReport
from socialcrm.secrets import PlatformSecrets
from socialcrm.topology import MAX_WEBHOOK_BYTES

if TYPE_CHECKING:
    from socialcrm.subscriptions.websub import IntentStore


class QueuePort(Protocol):
    def send(self, interactions: list[Interaction]) -> SendReport: ...


@dataclass(frozen=True)
class IngestOutcome:
    received: int  # interactions the delivery carried (an item repeated within it counts once)
    queued: int  # now on the inbound queue
    refused: int = 0  # items refused on their own (an id over the cap, control characters, over 256 KiB)
    repaired: int = 0  # items whose text held characters no encoder can write, replaced by U+FFFD


def _configured(route: str, secrets: PlatformSecrets) -> tuple[PlatformAdapter, Any]:
    adapter = adapter_for(route)
    secret = secrets.for_platform(route)
    if secret is None:
        raise PlatformNotConfiguredError(f"The platform '{route}' is not configured on this deployment.")
    return adapter, secret


def answer_handshake(
    route: str,
    query: Mapping[str, str],
    secrets: PlatformSecrets,
    *,
    intents: Callable[[], IntentStore] | None = None,
    now: datetime | None = None,
) -> HandshakeReply:
    """Answer a platform's GET verification (Meta hub.challenge, X CRC, LinkedIn challengeCode, WebSub).

    A WebSub verification of intent is answered only when it matches a subscription request socialcrm made
    and that is still pending (``intents``, the subscriptions table); otherwise it is 404."""
    adapter, secret = _configured(route, secrets)
    reply = adapter.handshake(query, secret)
    if reply.intent is not None:
        from socialcrm.subscriptions.websub import confirm_intent

        at = now or datetime.now(tz=UTC)
        hub_secret = secret.hub_secret.get_secret_value()
        if intents is None or not confirm_intent(reply.intent, intents(), at, hub_secret=hub_secret):
            raise NotFoundError(
                "No subscription request of this deployment is pending for this topic and mode."
            )
        logger.info("subscription verified", platform=route, mode=reply.intent.mode)
    return reply


def ingest_delivery(
    route: str,
    delivery: Delivery,
    *,
    secrets: PlatformSecrets,
    queue: QueuePort,
    received_at: datetime,
) -> IngestOutcome:
    """Verify a delivery, normalise what it carries and queue every interaction in it.

    Raises the domain's errors: 404 unknown/unconfigured platform, 413 body over 6 MB, 401 bad
    signature, 400 unparseable; 503 when queueing failed (the platform retries the whole delivery,
    nothing is lost, and the copies already queued are dropped downstream as duplicates). An item that
    cannot be taken in on its own (see :func:`admit`) is refused alone: the rest of the delivery is queued.
    """
    adapter, secret = _configured(route, secrets)
    if len(delivery.body) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLargeError(f"The body is over {MAX_WEBHOOK_BYTES} bytes.")
    adapter.verify(delivery, secret, received_at.timestamp())
    drafts = adapter.normalise(delivery)

    pepper = secrets.subject_pepper.get_secret_value()
    interactions: dict[str, Interaction] = {}
    refused = repaired = 0
    seen: set[str] = set()
    for draft in drafts:
        if draft.interaction_id in seen:  # one delivery may repeat an item: keep the first
            continue
        seen.add(draft.interaction_id)
        interaction = admit(draft, pepper=pepper, received_at=received_at, platform=route)
        if interaction is None:
            refused += 1
            continue
        repaired += needs_repair(draft)
        interactions[interaction.interaction_id] = interaction

    report = queue.send(list(interactions.values())) if interactions else SendReport()
    if report.failed:
        logger.warning("queueing failed", platform=route, failed=len(report.failed), queued=len(report.sent))
        raise QueueUnavailableError("The delivery could not be queued; retry it.")
    for interaction in interactions.values():
        logger.info(
            "queued",
            interaction_ref=interaction.interaction_ref,
            subject_id=interaction.subject_id,
            platform=interaction.platform,
            kind=interaction.kind,
        )
    return IngestOutcome(received=len(seen), queued=len(report.sent), refused=refused, repaired=repaired)


def admit(
    draft: InteractionDraft, *, pepper: str, received_at: datetime, platform: str
) -> Interaction | None:
    """The interaction of one draft, or ``None`` (logged with the reason, never the value) when it cannot
    be taken in: an id longer than ``models.MAX_ID_CHARS``, blank, or holding control characters, or an
    interaction over 256 KiB, the queue's limit. Text that cannot be encoded is repaired, not refused."""
    try:
        interaction = Interaction.from_draft(draft, pepper=pepper, received_at=received_at)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in error["loc"]) for error in exc.errors()})
        logger.warning("item refused", platform=platform, reason="invalid_id", fields=fields)
        return None
    if len(interaction.model_dump_json().encode()) > SQS_BATCH_BYTES:
        logger.warning(
            "item refused",
            platform=platform,
            reason="over_256_kib",
            interaction_ref=interaction.interaction_ref,
        )
        return None
    return interaction
