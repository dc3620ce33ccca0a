"""The pipeline's resources, declared once: the CDK app and the local stack both build from here.

Pure data, no AWS calls. ``infra/`` turns each spec into CDK constructs; ``socialcrm.local`` creates
the same tables, queues, bus and rules on the embedded AWS. The PynamoDB models in ``socialcrm.dal``
are checked against ``TABLES`` by a test, so keys and indexes cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BUS_NAME = "socialcrm"
EVENT_SOURCE_PREFIX = "socialcrm."

# Retention of each data class, in days (enforced with DynamoDB TTL on the attribute named per table).
# Idempotency records outlive the longest platform retry window (WhatsApp: 7 days).
RETENTION_DAYS: dict[str, int] = {
    "idempotency": 8,
    "interactions": 730,
    "subjects": 730,
}


@dataclass(frozen=True)
class Attribute:
    name: str
    type: str = "S"  # DynamoDB scalar type: S, N or B


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: Attribute
    sort_key: Attribute | None = None


@dataclass(frozen=True)
class TableSpec:
    key: str  # short name, also the local table name suffix
    env_var: str  # the environment variable that carries the table's name to functions
    partition_key: Attribute
    sort_key: Attribute | None = None
    indexes: tuple[IndexSpec, ...] = ()
    ttl_attribute: str | None = None

    @property
    def local_name(self) -> str:
        return f"socialcrm-{self.key}"


@dataclass(frozen=True)
class QueueSpec:
    key: str
    env_var: str
    visibility_timeout_seconds: int
    max_receive_count: int  # receives before a message moves to the DLQ
    batch_size: int = 10
    batching_window_seconds: int = 0
    # Detail-types of the socialcrm bus routed to this queue (empty: fed directly, not by the bus).
    detail_types: tuple[str, ...] = ()

    @property
    def local_name(self) -> str:
        return f"socialcrm-{self.key}"

    @property
    def dlq_local_name(self) -> str:
        return f"socialcrm-{self.key}-dlq"


@dataclass(frozen=True)
class FunctionSpec:
    key: str
    handler: str  # module path under functions/, e.g. "ingest.handler.lambda_handler"
    memory_mb: int
    timeout_seconds: int
    queue: str | None = None  # key of the QueueSpec that feeds it
    environment: dict[str, str] = field(default_factory=dict)


TABLES: dict[str, TableSpec] = {
    "idempotency": TableSpec(
        key="idempotency",
        env_var="IDEMPOTENCY_TABLE",
        partition_key=Attribute("id"),  # Powertools Idempotency's default key attribute
        ttl_attribute="expiration",  # Powertools Idempotency's default expiry attribute
    ),
    "interactions": TableSpec(
        key="interactions",
        env_var="INTERACTIONS_TABLE",
        partition_key=Attribute("interaction_id"),
        indexes=(IndexSpec("by_subject", Attribute("subject_id"), Attribute("occurred_at")),),
        ttl_attribute="expires_at",
    ),
    "subjects": TableSpec(
        key="subjects",
        env_var="SUBJECTS_TABLE",
        partition_key=Attribute("subject_id"),
        ttl_attribute="expires_at",
    ),
}

QUEUES: dict[str, QueueSpec] = {
    "inbound": QueueSpec(
        key="inbound",
        env_var="INBOUND_QUEUE_URL",
        visibility_timeout_seconds=360,  # six times the enrich function's timeout
        max_receive_count=5,
        # Large batches let Comprehend's 25-document batch calls run full per language (cost per message).
        batch_size=1000,
        batching_window_seconds=5,
    ),
}

FUNCTIONS: dict[str, FunctionSpec] = {
    "ingest": FunctionSpec(
        key="ingest", handler="ingest.handler.lambda_handler", memory_mb=512, timeout_seconds=10
    ),
    "api": FunctionSpec(key="api", handler="api.handler.lambda_handler", memory_mb=512, timeout_seconds=15),
    "enrich": FunctionSpec(
        key="enrich",
        handler="enrich.handler.lambda_handler",
        memory_mb=1024,
        timeout_seconds=60,
        queue="inbound",
    ),
}

# HTTP routes: (method, path in API Gateway syntax, function key, IAM-authorised?)
ROUTES: tuple[tuple[str, str, str, bool], ...] = (
    ("GET", "/webhooks/{platform}", "ingest", False),
    ("POST", "/webhooks/{platform}", "ingest", False),
    ("GET", "/interactions/{interaction_id}", "api", True),
    ("GET", "/subjects/{platform}/{user_id}/interactions", "api", True),
    ("GET", "/subjects/{platform}/{user_id}/export", "api", True),
)

# Largest body a function can be handed synchronously (Lambda's 6 MB request limit).
MAX_WEBHOOK_BYTES = 6 * 1024 * 1024
