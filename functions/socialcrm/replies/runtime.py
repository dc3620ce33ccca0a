"""Wiring of the send function, built once from settings (the same code locally and in AWS: the
platforms' base URLs come from the platform-secrets document, a fake platform's locally)."""

from __future__ import annotations

from socialcrm.dal import models as interaction_models
from socialcrm.dal.repository import InteractionRepository
from socialcrm.events.publisher import EventPublisher
from socialcrm.privacy.suppression import SuppressionTable
from socialcrm.replies.adapters import ADAPTERS
from socialcrm.replies.queue import SqsOutbound
from socialcrm.replies.sender import SendPorts
from socialcrm.replies.store import ReplyRepository
from socialcrm.replies.transport import UrllibTransport
from socialcrm.routing import store as routing_models
from socialcrm.routing.runtime import rules_source, scheduler_from
from socialcrm.routing.store import CaseRepository, CounterRepository
from socialcrm.settings import SendSettings

SEND_SOURCE = "socialcrm.send"


def build_send_runtime(settings: SendSettings) -> SendPorts:
    routing_models.bind(
        {"cases": settings.cases_table}, region=settings.aws_region, host=settings.endpoint_url
    )
    interaction_models.bind(
        {"interactions": settings.interactions_table}, region=settings.aws_region, host=settings.endpoint_url
    )
    return SendPorts(
        replies=ReplyRepository(),
        cases=CaseRepository(),
        interactions=InteractionRepository(),
        suppressions=SuppressionTable(settings.suppressions_table),
        secrets=settings.secrets_source().get,
        rules=rules_source(settings),
        outbound=SqsOutbound(settings.outbound_queue_url),
        scheduler=scheduler_from(settings),
        publisher=EventPublisher(settings.event_bus_name, SEND_SOURCE),
        transport=UrllibTransport(
            connect_timeout=settings.connect_timeout_seconds, read_timeout=settings.read_timeout_seconds
        ),
        adapters=ADAPTERS,
        echoes=CounterRepository(),
    )
