"""Wiring of the enrich stage: the adapters it uses, built once per process from its settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from socialcrm.dal.models import bind
from socialcrm.dal.repository import InteractionRepository
from socialcrm.dedupe import ClaimTable
from socialcrm.enrichment.batch import ClaimPort, PendingQueue
from socialcrm.enrichment.comprehend import ComprehendAnalyser
from socialcrm.enrichment.language import LanguageIdentifier
from socialcrm.enrichment.service import enrich
from socialcrm.events.ports import Publisher
from socialcrm.events.publisher import EventPublisher
from socialcrm.models import Interaction
from socialcrm.privacy import SuppressionCheck
from socialcrm.privacy.suppression import DynamoSuppressionCheck, SuppressionTable
from socialcrm.queueing import InboundQueue
from socialcrm.settings import EnrichSettings

EVENT_SOURCE = "socialcrm.enrich"


@dataclass(frozen=True)
class EnrichRuntime:
    enrich: Callable[[list[Interaction]], list[Interaction]]
    store: InteractionRepository
    claims: ClaimPort
    publisher: Publisher
    pending_queue: PendingQueue
    suppression: SuppressionCheck


def build_runtime(settings: EnrichSettings) -> EnrichRuntime:
    bind(
        {"interactions": settings.interactions_table, "subjects": settings.subjects_table},
        region=settings.aws_region,
        host=settings.endpoint_url,
    )
    return EnrichRuntime(
        enrich=partial(enrich, analyser=ComprehendAnalyser(), identifier=LanguageIdentifier()),
        store=InteractionRepository(),
        claims=ClaimTable(settings.claims_table),
        publisher=EventPublisher(settings.event_bus_name, EVENT_SOURCE),
        pending_queue=InboundQueue(settings.inbound_queue_url),
        suppression=DynamoSuppressionCheck(SuppressionTable(settings.suppressions_table)),
    )
