"""The CRM API function: read routes behind API Gateway with IAM authorisation."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths

from socialcrm.api import cases, customers, health, reports
from socialcrm.api.composition import Composition, RouterSource
from socialcrm.api.crm import CrmRuntime, build_router
from socialcrm.customers.store import CustomerStore
from socialcrm.dal.models import bind
from socialcrm.dal.repository import InteractionRepository, SubjectRepository
from socialcrm.observability import logger
from socialcrm.privacy.ledger import AccessLedger
from socialcrm.privacy.runtime import export_stores
from socialcrm.routing.runtime import CasesRuntime, build_cases_runtime
from socialcrm.settings import ApiSettings, CasesApiSettings, ReportsApiSettings
from socialcrm.tracing import tracer


@lru_cache(maxsize=1)
def runtime() -> CrmRuntime:
    settings = ApiSettings.from_env()
    bind(
        {"interactions": settings.interactions_table, "subjects": settings.subjects_table},
        region=settings.aws_region,
        host=settings.endpoint_url,
    )
    stores, suppressions = export_stores(settings)
    return CrmRuntime(
        secrets=settings.secrets_source(),
        interactions=InteractionRepository(),
        subjects=SubjectRepository(),
        stores=stores,
        suppressions=suppressions,
        customer_of=customer_store(settings.customers_table).owner_of,
        ledger=access_ledger(settings.access_ledger_table),
        case_teams=case_teams,
    )


@lru_cache(maxsize=1)
def access_ledger(table_name: str) -> AccessLedger:
    """Who read whose data: one ledger (one client) for every route of the function."""
    return AccessLedger(table_name)


@lru_cache(maxsize=1)
def customer_store(table_name: str) -> CustomerStore:
    """The customers table, one store (one client) for the CRM and the customer routes."""
    return CustomerStore(table_name)


@lru_cache(maxsize=1)
def customers_runtime() -> customers.CustomersRuntime:
    from socialcrm.routing.store import CaseRepository

    settings = ApiSettings.from_env()
    crm = runtime()  # binds the interactions and subjects models
    cases_runtime()  # binds the cases model
    return customers.CustomersRuntime(
        secrets=crm.secrets,
        customers=customer_store(settings.customers_table),
        interactions=crm.interactions,
        subjects=crm.subjects,
        open_cases=CaseRepository().open_case_ids,
        export=_exporter(crm),
        ledger=crm.ledger,
        case_teams=case_teams,
    )


def case_teams(case_ids: Sequence[str]) -> dict[str, list[str]]:
    """The teams cases are queued for now (the cases model is bound by the cases runtime)."""
    from socialcrm.routing.store import CaseRepository

    cases_runtime()
    return CaseRepository().teams_of(case_ids)


def _exporter(crm: CrmRuntime) -> Callable[[str], dict[str, Any]] | None:
    """A subject's access export from the CRM runtime's stores (None when it has none)."""
    stores, suppressions = crm.stores, crm.suppressions
    if stores is None or suppressions is None:
        return None
    from socialcrm.privacy.access import export_subject

    return lambda subject: export_subject(subject, stores=stores, suppressions=suppressions)


@lru_cache(maxsize=1)
def reports_runtime() -> reports.ReportsRuntime:
    return reports.build_runtime(ReportsApiSettings.from_env())


@lru_cache(maxsize=1)
def health_runtime() -> health.HealthRuntime:
    import boto3

    from socialcrm.subscriptions.store import SubscriptionTable

    table = os.environ.get("SUBSCRIPTIONS_TABLE")
    return health.HealthRuntime(
        cloudwatch=boto3.client("cloudwatch"),
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "socialcrm",
        subscriptions=SubscriptionTable(table).all if table else None,
    )


@lru_cache(maxsize=1)
def cases_runtime() -> CasesRuntime:
    return dataclasses.replace(build_cases_runtime(CasesApiSettings.from_env()), ledger=runtime().ledger)


COMPOSITION = Composition(
    routers=(
        RouterSource(build_router, runtime),
        RouterSource(reports.build_router, reports_runtime),
        RouterSource(cases.build_router, cases_runtime),
        RouterSource(health.build_router, health_runtime),
        RouterSource(customers.build_router, customers_runtime),
    ),
    options={"enable_validation": True},
)
app = COMPOSITION.compose(APIGatewayHttpResolver(**COMPOSITION.options))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
