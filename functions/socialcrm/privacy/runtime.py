"""Wiring of the privacy functions from their settings: the adapters each uses, built once per process.

Used by the Lambda handlers (``privacy``, ``erase``, and the ``api`` function's export) and by the
local stack, so both run the same objects. :class:`PrivacyRuntime` is what the privacy routes
(``socialcrm.api.privacy``) are built over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import uuid4

import boto3

from socialcrm.customers.store import CustomerStore
from socialcrm.events.ports import Publisher
from socialcrm.events.publisher import EventPublisher
from socialcrm.privacy.erasure import ErasurePorts
from socialcrm.privacy.ledger import AccessLedger
from socialcrm.privacy.requests import ErasureRequests
from socialcrm.privacy.stores import PERSONAL_DATA_TABLES, CustomerRows, StoreRegistry, build_stores
from socialcrm.privacy.suppression import SuppressionTable
from socialcrm.secrets import SecretsSource
from socialcrm.settings import ApiSettings, EraseSettings, PrivacySettings

ERASE_EVENT_SOURCE = "socialcrm.erase"
PRIVACY_EVENT_SOURCE = "socialcrm.privacy"


@dataclass(frozen=True)
class PrivacyRuntime:
    """What the privacy routes need, built once per process by the handler or the local stack."""

    secrets: SecretsSource
    requests: ErasureRequests
    suppressions: SuppressionTable
    publisher: Publisher
    # Who read whose data (socialcrm.privacy.ledger): the access-log routes read it.
    ledger: AccessLedger | None = None
    # The customers an erasure request names (their identities are erased with them).
    customers: CustomerStore | None = None
    now: Callable[[], datetime] = field(default=lambda: datetime.now(tz=UTC))
    new_id: Callable[[], str] = field(default=lambda: uuid4().hex)


class _Endpoint(Protocol):
    @property
    def aws_region(self) -> str | None: ...

    endpoint_url: str | None


def dynamodb_client(settings: _Endpoint) -> Any:
    """One low-level DynamoDB client for the privacy adapters, on the settings' region and endpoint."""
    return boto3.client("dynamodb", region_name=settings.aws_region, endpoint_url=settings.endpoint_url)


def sqs_client(settings: _Endpoint) -> Any:
    """The SQS client the dead-letter stores read with, on the settings' region and endpoint."""
    return boto3.client("sqs", region_name=settings.aws_region, endpoint_url=settings.endpoint_url)


def personal_data_tables(settings: ApiSettings | EraseSettings) -> dict[str, str]:
    """The names of the personal-data tables (``stores.PERSONAL_DATA_TABLES``) from the settings."""
    return {key: getattr(settings, f"{key}_table") for key in PERSONAL_DATA_TABLES}


def erase_ports(settings: EraseSettings, client: Any | None = None) -> ErasurePorts:
    """Everything the erase consumer uses."""
    client = client or dynamodb_client(settings)
    return ErasurePorts(
        requests=ErasureRequests(settings.erasure_requests_table, client),
        stores=build_stores(
            personal_data_tables(settings),
            client,
            dlq_urls=settings.dlq_urls,
            sqs_client=sqs_client(settings),
            dlq_wait_seconds=settings.dlq_scan_wait_seconds,
        ),
        suppressions=SuppressionTable(settings.suppressions_table, client),
        publisher=EventPublisher(settings.event_bus_name, ERASE_EVENT_SOURCE),
        settle_seconds=settings.settle_seconds,
        now=lambda: datetime.now(tz=UTC),
        customers=CustomerRows(table_name=settings.customers_table, client=client),
    )


def export_stores(settings: ApiSettings, client: Any | None = None) -> tuple[StoreRegistry, SuppressionTable]:
    """The stores the access export reads (the ``api`` function)."""
    client = client or dynamodb_client(settings)
    stores = build_stores(
        personal_data_tables(settings),
        client,
        dlq_urls=settings.dlq_urls,
        sqs_client=sqs_client(settings),
        dlq_wait_seconds=settings.dlq_scan_wait_seconds,
    )
    return stores, SuppressionTable(settings.suppressions_table, client)


def privacy_runtime(settings: PrivacySettings, client: Any | None = None) -> PrivacyRuntime:
    """What the privacy routes use (the ``privacy`` function)."""
    client = client or dynamodb_client(settings)
    return PrivacyRuntime(
        secrets=settings.secrets_source(),
        requests=ErasureRequests(settings.erasure_requests_table, client),
        suppressions=SuppressionTable(settings.suppressions_table, client),
        publisher=EventPublisher(settings.event_bus_name, PRIVACY_EVENT_SOURCE),
        ledger=AccessLedger(settings.access_ledger_table, client=client),
        customers=CustomerStore(settings.customers_table, client=client),
    )
