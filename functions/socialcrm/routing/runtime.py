"""Wiring of routing: the adapters the route, sla and api functions use, built once from settings.

Locally (no ``SLA_SCHEDULE_GROUP``) every function of the process shares one :class:`InProcessTimer`;
the route runtime starts it with the same :func:`socialcrm.routing.sla.fire` the ``sla`` function runs,
so the local stack needs no wiring beyond its pollers (``start_local_sla_timer`` starts it at boot).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache, partial

from socialcrm.customers.store import CustomerStore
from socialcrm.dal import models as interaction_models
from socialcrm.dal.repository import InteractionRepository
from socialcrm.events.ports import Publisher
from socialcrm.events.publisher import EventPublisher
from socialcrm.privacy.ledger import AccessLedger
from socialcrm.privacy.suppression import SuppressionTable
from socialcrm.replies.queue import SqsOutbound
from socialcrm.replies.service import ReplyPorts
from socialcrm.replies.store import ReplyRepository
from socialcrm.routing import store as routing_models
from socialcrm.routing.case import CaseStore, WorkQueues
from socialcrm.routing.evaluator import CompiledRules
from socialcrm.routing.notify import LogNotifier, Notifier, SnsNotifier
from socialcrm.routing.service import RoutePorts
from socialcrm.routing.sla import Check, EventBridgeSlaScheduler, InProcessTimer, SlaScheduler, fire
from socialcrm.routing.source import REPO_RULES_FILE, RulesSource
from socialcrm.routing.store import (
    CaseRepository,
    CounterRepository,
    InteractionHistory,
    InteractionRouting,
)
from socialcrm.settings import (
    CasesApiSettings,
    RouteSettings,
    RulesSourceSettings,
    SlaClockSettings,
    SlaSettings,
    TeamTopicsSettings,
)

ROUTE_SOURCE = "socialcrm.route"
SLA_SOURCE = "socialcrm.sla"
API_SOURCE = "socialcrm.api"


@lru_cache(maxsize=1)
def local_timer() -> InProcessTimer:
    """The process's in-process SLA timer (the local stack's EventBridge Scheduler)."""
    return InProcessTimer()


def scheduler_from(settings: SlaClockSettings) -> SlaScheduler:
    if settings.sla_schedule_group:
        return EventBridgeSlaScheduler(
            settings.sla_schedule_group, target_arn=settings.sla_target_arn, role_arn=settings.sla_role_arn
        )
    return local_timer()


def rules_source(settings: RulesSourceSettings) -> RulesSource:
    if settings.rules_application and settings.rules_environment and settings.rules_profile:
        return RulesSource.from_appconfig(
            application=settings.rules_application,
            environment=settings.rules_environment,
            profile=settings.rules_profile,
            max_age=settings.rules_max_age_seconds,
        )
    return RulesSource.from_file(settings.rules_file or REPO_RULES_FILE)


def notifier_from(settings: TeamTopicsSettings) -> Notifier:
    return SnsNotifier(settings.team_topics) if settings.team_topics else LogNotifier()


@dataclass(frozen=True)
class SlaRuntime:
    cases: CaseStore
    publisher: Publisher
    notifier: Notifier

    def fire(
        self, case_id: str, check: Check, now: datetime | None = None, trace_header: str | None = None
    ) -> str:
        return fire(
            case_id,
            check,
            cases=self.cases,
            publisher=self.publisher,
            notifier=self.notifier,
            now=now or datetime.now(tz=UTC),
            trace_header=trace_header,
        )


@dataclass(frozen=True)
class CasesRuntime:
    cases: WorkQueues
    scheduler: SlaScheduler
    publisher: Publisher
    rules: Callable[[], CompiledRules]
    replies: ReplyPorts | None = None
    # Who read whose data (socialcrm.privacy.ledger): without it, the case routes show no personal data.
    ledger: AccessLedger | None = None


def build_sla_runtime(settings: SlaSettings) -> SlaRuntime:
    routing_models.bind(
        {"cases": settings.cases_table}, region=settings.aws_region, host=settings.endpoint_url
    )
    return SlaRuntime(
        cases=CaseRepository(),
        publisher=EventPublisher(settings.event_bus_name, SLA_SOURCE),
        notifier=notifier_from(settings),
    )


def build_route_runtime(settings: RouteSettings) -> RoutePorts:
    interaction_models.bind(
        {"interactions": settings.interactions_table}, region=settings.aws_region, host=settings.endpoint_url
    )
    routing_models.bind(
        {"cases": settings.cases_table, "counters": settings.counters_table},
        region=settings.aws_region,
        host=settings.endpoint_url,
    )
    scheduler = scheduler_from(settings)
    notifier = notifier_from(settings)
    cases = CaseRepository()
    rules = rules_source(settings)
    replies = ReplyRepository()
    counters = CounterRepository()
    interactions = InteractionRepository()
    suppressions = SuppressionTable(settings.suppressions_table)
    if isinstance(scheduler, InProcessTimer) and not scheduler.started:
        sla = SlaRuntime(
            cases=cases, publisher=EventPublisher(settings.event_bus_name, SLA_SOURCE), notifier=notifier
        )
        scheduler.start(partial(_fire_now, sla))
    return RoutePorts(
        rules=rules,
        interactions=interactions,
        history=InteractionHistory(),
        cases=cases,
        counters=counters,
        scheduler=scheduler,
        notifier=notifier,
        publisher=EventPublisher(settings.event_bus_name, ROUTE_SOURCE),
        routing=InteractionRouting(),
        replies=replies,
        echoes=counters,
        suppressions=suppressions,
        customers=CustomerStore(settings.customers_table),
        automation=ReplyPorts(
            cases=cases,
            replies=replies,
            interactions=interactions,
            suppressions=suppressions,
            secrets=settings.secrets_source().get,
            rules=rules,
            outbound=SqsOutbound(settings.outbound_queue_url),
        ),
    )


def build_cases_runtime(settings: CasesApiSettings) -> CasesRuntime:
    routing_models.bind(
        {"cases": settings.cases_table}, region=settings.aws_region, host=settings.endpoint_url
    )
    interaction_models.bind(
        {"interactions": settings.interactions_table}, region=settings.aws_region, host=settings.endpoint_url
    )
    cases = CaseRepository()
    rules = rules_source(settings)
    return CasesRuntime(
        cases=cases,
        scheduler=scheduler_from(settings),
        publisher=EventPublisher(settings.event_bus_name, API_SOURCE),
        rules=rules,
        replies=ReplyPorts(
            cases=cases,
            replies=ReplyRepository(),
            interactions=InteractionRepository(),
            suppressions=SuppressionTable(settings.suppressions_table),
            secrets=settings.secrets_source().get,
            rules=rules,
            outbound=SqsOutbound(settings.outbound_queue_url),
        ),
    )


def start_local_sla_timer() -> InProcessTimer:
    """Start the in-process SLA timer with the sla function's settings (the local stack, at boot)."""
    timer = local_timer()
    if not timer.started:
        timer.start(partial(_fire_now, build_sla_runtime(SlaSettings.from_env())))
    return timer


def _fire_now(sla: SlaRuntime, case_id: str, check: Check) -> str:
    return sla.fire(case_id, check)
