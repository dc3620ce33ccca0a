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
RETENTION_DAYS: dict[str, int] = {
    # Claims of the enrich stage's duplicate check: leased for one invocation and deleted when its batch
    # ends; the TTL only tidies away a claim whose invocation died (its lease ran out long before).
    "claims": 1,
    "interactions": 730,
    "subjects": 730,
    # Cases: three years (a leap day included), for complaints that come back.
    "cases": 1096,
    # Erasure tombstones: as long as interactions, so no message from before an erasure can come back
    # while it could still be held (an objection has no expiry: it lasts until lifted).
    "suppressions": 730,
    # The proof of each erasure (pseudonymous subject ids, counts, times, requester): six years, the
    # limitation period for claims in several EU member states (docs/decisions.md, "Privacy").
    "erasure_requests": 2190,
    # Report counters are aggregates (no personal data): three years, for year-on-year comparison.
    "report_counters": 1096,
    # Facts the report consumer has counted (digests, no ids): longer than any reportable range
    # (366 days), so no redelivered or republished event can count twice in a report.
    "report_seen": 400,
    # Spike counters: a window and its baseline, then gone (aggregates per topic, no ids).
    "counters": 2,
    # The bus's archive (pseudonymous ids, no content): long enough to replay a week's outage.
    "bus_archive": 7,
    # WebSub subscriptions (the brand's channel feeds, no personal data): an item outlives its lease by
    # this many days (socialcrm.subscriptions.store).
    "subscriptions": 30,
    # A customer's links and its own row: as long as the interactions they join, a link from when it was
    # made, the customer's row from its last link (socialcrm.customers.store).
    "customers": 730,
    # Who read whose personal data (pseudonymous ids, principals, routes, times): six years, like the proof
    # of an erasure, and kept on erasure (socialcrm.privacy.ledger).
    "access_ledger": 2190,
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
    # Most concurrent invocations its event source may run (None: as many as Lambda scales to).
    max_concurrency: int | None = None

    @property
    def local_name(self) -> str:
        return f"socialcrm-{self.key}"

    @property
    def dlq_local_name(self) -> str:
        return f"socialcrm-{self.key}-dlq"

    @property
    def dlq_env_var(self) -> str:
        """The variable that carries the DLQ's URL to the functions that read it (the erasure)."""
        return f"{self.key.upper()}_DLQ_URL"

    @property
    def dlq_key(self) -> str:
        return f"{self.key}-dlq"


@dataclass(frozen=True)
class FunctionSpec:
    key: str
    handler: str  # module path under functions/, e.g. "ingest.handler.lambda_handler"
    memory_mb: int
    timeout_seconds: int
    queue: str | None = None  # key of the QueueSpec that feeds it
    environment: dict[str, str] = field(default_factory=dict)
    # Layers besides the base dependency layer (pyproject.toml optional groups, layers/build.py).
    layers: tuple[str, ...] = ()


TABLES: dict[str, TableSpec] = {
    # The enrich stage's claims on the messages it is analysing (socialcrm.dedupe): keyed refs and a lease.
    "claims": TableSpec(
        key="claims",
        env_var="CLAIMS_TABLE",
        partition_key=Attribute("ref"),
        ttl_attribute="expires_at",
    ),
    # Keyed by interaction_ref (a keyed hash of the platform's id, socialcrm.models.interaction_ref).
    "interactions": TableSpec(
        key="interactions",
        env_var="INTERACTIONS_TABLE",
        partition_key=Attribute("interaction_ref"),
        indexes=(IndexSpec("by_subject", Attribute("subject_id"), Attribute("occurred_at")),),
        ttl_attribute="expires_at",
    ),
    "subjects": TableSpec(
        key="subjects",
        env_var="SUBJECTS_TABLE",
        partition_key=Attribute("subject_id"),
        ttl_attribute="expires_at",
    ),
    # Routed cases: one row per case plus one per team it is queued for (work queues by team and status,
    # most urgent first); by_subject lets erasure delete a subject's cases. No names, handles or text.
    "cases": TableSpec(
        key="cases",
        env_var="CASES_TABLE",
        partition_key=Attribute("case_id"),
        indexes=(
            IndexSpec("by_queue", Attribute("queue"), Attribute("rank")),
            IndexSpec("by_subject", Attribute("subject_id"), Attribute("opened_at")),
        ),
        ttl_attribute="expires_at",
    ),
    # Spike detection: atomic counters of negative interactions per topic, platform and time bucket.
    "counters": TableSpec(
        key="counters",
        env_var="COUNTERS_TABLE",
        partition_key=Attribute("counter_id"),
        ttl_attribute="expires_at",
    ),
    # Erasure tombstones and objections (GDPR Art. 17 and 21), read by enrich before it stores anything.
    "suppressions": TableSpec(
        key="suppressions",
        env_var="SUPPRESSIONS_TABLE",
        partition_key=Attribute("subject_id"),
        ttl_attribute="expires_at",
    ),
    # Erasure requests and their proof (no raw identifiers: subject ids, counts, times, requester).
    "erasure_requests": TableSpec(
        key="erasure_requests",
        env_var="ERASURE_REQUESTS_TABLE",
        partition_key=Attribute("request_id"),
        ttl_attribute="expires_at",
    ),
    # Report counters: one item per day x dimension (aggregates only, never an id: erasure leaves it).
    "report_counters": TableSpec(
        key="report_counters",
        env_var="REPORT_COUNTERS_TABLE",
        partition_key=Attribute("day"),
        sort_key=Attribute("dimension"),
        ttl_attribute="expires_at",
    ),
    # What the report consumer has counted: SHA-256 digests of fact keys (no personal data).
    "report_seen": TableSpec(
        key="report_seen",
        env_var="REPORT_SEEN_TABLE",
        partition_key=Attribute("fact"),
        ttl_attribute="expires_at",
    ),
    # Customers: the identities (pseudonymous subject ids) linked into one person, and each identity's one
    # owner (socialcrm.customers.store). Kept until unlinked or erased; no raw id, no content.
    "customers": TableSpec(
        key="customers",
        env_var="CUSTOMERS_TABLE",
        partition_key=Attribute("pk"),
        sort_key=Attribute("sk"),
        ttl_attribute="expires_at",
    ),
    # The access ledger: one item per subject (and customer) a read returned, newest first per key
    # (socialcrm.privacy.ledger). Pseudonymous ids, principals, route templates and times only.
    "access_ledger": TableSpec(
        key="access_ledger",
        env_var="ACCESS_LEDGER_TABLE",
        partition_key=Attribute("pk"),
        sort_key=Attribute("sk"),
        ttl_attribute="expires_at",
    ),
    # WebSub topics socialcrm subscribes to: the request waiting for the hub's verification and the lease.
    "subscriptions": TableSpec(
        key="subscriptions",
        env_var="SUBSCRIPTIONS_TABLE",
        partition_key=Attribute("topic"),
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
        # A backlog must not outrun Comprehend's request quotas (docs/decisions.md, "Operations").
        max_concurrency=4,
    ),
    "route": QueueSpec(
        key="route",
        env_var="ROUTE_QUEUE_URL",
        visibility_timeout_seconds=180,  # six times the route function's timeout
        max_receive_count=5,
        batch_size=10,
        detail_types=("InteractionEnriched",),
        max_concurrency=10,
    ),
    "erasure": QueueSpec(
        key="erasure",
        env_var="ERASURE_QUEUE_URL",
        visibility_timeout_seconds=1800,  # six times the erase function's timeout
        max_receive_count=5,
        batch_size=1,  # one erasure request per invocation: its own time budget and its own retry
        detail_types=("ErasureRequested",),
        max_concurrency=2,  # erasures are rare and read whole indexes: never a crowd of them
    ),
    "report": QueueSpec(
        key="report",
        env_var="REPORT_QUEUE_URL",
        visibility_timeout_seconds=180,  # six times the report function's timeout
        max_receive_count=5,
        batch_size=100,
        batching_window_seconds=5,
        detail_types=(
            "InteractionEnriched",
            "InteractionRouted",
            "CaseUpdated",
            "SlaBreached",
            "SpikeDetected",
        ),
        # Counters of one day are few hot items: a few writers keep transaction conflicts rare.
        max_concurrency=5,
    ),
    # Reply ids to send (never text): the api function and the route consumer's automation put them on,
    # the send function moves each reply on, and puts it back with a delay to wait (backoff, echo).
    "outbound": QueueSpec(
        key="outbound",
        env_var="OUTBOUND_QUEUE_URL",
        visibility_timeout_seconds=180,  # six times the send function's timeout
        max_receive_count=5,
        # Two platform calls of at most 13 s (connect and read timeouts) fit the function's 30 s.
        batch_size=2,
        # A crisis must not become a flood: a few platform calls in flight at once.
        max_concurrency=5,
    ),
}

# Queues the infrastructure creates outside QUEUES (no consumer of ours reads them), and what they hold.
# With QUEUES and their DLQs these are every queue of the app: the privacy registry classifies each one
# (socialcrm.privacy.stores), and an infrastructure test fails on a queue declared nowhere.
OTHER_QUEUES: dict[str, str] = {
    "sla-dlq": "the on-failure destination of the sla function's asynchronous invocations",
    # The dead-letter queue of each bus rule's target: events the bus could not deliver to the work queue.
    "route-bus-dlq": "bus events the route queue's rule could not deliver after its retries",
    "erasure-bus-dlq": "bus events the erasure queue's rule could not deliver after its retries",
    "report-bus-dlq": "bus events the report queue's rule could not deliver after its retries",
}
# How long EventBridge keeps trying to deliver an event to a rule's target (its maximum), then the DLQ.
BUS_RETRY_HOURS = 24
BUS_RETRY_ATTEMPTS = 185


def archive_name(bus_name: str) -> str:
    """The bus's archive (every socialcrm event, kept ``RETENTION_DAYS["bus_archive"]`` days)."""
    return f"{bus_name}-events"


def rule_name(bus_name: str, queue_key: str) -> str:
    """The bus rule that feeds the work queue ``queue_key``: what ``socialcrm events replay`` targets."""
    return f"{bus_name}-to-{queue_key}"


def replay_consumers() -> tuple[str, ...]:
    """The work queues fed by the bus (and so reachable by a replay of its archive), in topology order."""
    return tuple(key for key, spec in QUEUES.items() if spec.detail_types)


def queue_keys() -> tuple[str, ...]:
    """Every queue of the app: each work queue, its DLQ (``<key>-dlq``), and ``OTHER_QUEUES``."""
    return (*QUEUES, *(spec.dlq_key for spec in QUEUES.values()), *OTHER_QUEUES)


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
        layers=("language",),  # language identification: the only function that carries it
    ),
    "route": FunctionSpec(
        key="route", handler="route.handler.lambda_handler", memory_mb=512, timeout_seconds=30, queue="route"
    ),
    # Invoked by EventBridge Scheduler at a case's SLA warning and due times (no queue).
    "sla": FunctionSpec(key="sla", handler="sla.handler.lambda_handler", memory_mb=256, timeout_seconds=15),
    # Invoked by AWS AppConfig before a new version of the routing rules can be deployed (no queue).
    "rules_validator": FunctionSpec(
        key="rules_validator",
        handler="rules_validator.handler.lambda_handler",
        memory_mb=256,
        timeout_seconds=15,
    ),
    "privacy": FunctionSpec(
        key="privacy", handler="privacy.handler.lambda_handler", memory_mb=512, timeout_seconds=15
    ),
    "erase": FunctionSpec(
        key="erase",
        handler="erase.handler.lambda_handler",
        memory_mb=512,
        timeout_seconds=300,
        queue="erasure",
    ),
    "report": FunctionSpec(
        key="report",
        handler="report.handler.lambda_handler",
        memory_mb=512,
        timeout_seconds=30,
        queue="report",
    ),
    "send": FunctionSpec(
        key="send", handler="send.handler.lambda_handler", memory_mb=256, timeout_seconds=30, queue="outbound"
    ),
    # Invoked hourly by EventBridge Scheduler: subscribes the configured YouTube channels at the WebSub
    # hub and renews each lease at 80% of its length (socialcrm.subscriptions.websub; no queue).
    "websub": FunctionSpec(
        key="websub", handler="websub.handler.lambda_handler", memory_mb=256, timeout_seconds=60
    ),
    "daily_report": FunctionSpec(
        key="daily_report",
        handler="daily_report.handler.lambda_handler",
        memory_mb=1024,
        timeout_seconds=120,
        # matplotlib writes its font cache on first import; /tmp is Lambda's only writable folder.
        environment={"MPLCONFIGDIR": "/tmp/matplotlib"},  # noqa: S108
        layers=("plotting",),  # the charts: the only function that carries them
    ),
}

# HTTP routes: (method, path in API Gateway syntax, function key, IAM-authorised?)
ROUTES: tuple[tuple[str, str, str, bool], ...] = (
    ("GET", "/webhooks/{platform}", "ingest", False),
    ("POST", "/webhooks/{platform}", "ingest", False),
    ("GET", "/interactions/{interaction_id}", "api", True),
    ("GET", "/subjects/{platform}/{user_id}/interactions", "api", True),
    ("GET", "/subjects/{platform}/{user_id}/export", "api", True),
    ("POST", "/erasure-requests", "privacy", True),
    ("GET", "/erasure-requests/{request_id}", "privacy", True),
    ("POST", "/erasure-requests/{request_id}/retry", "privacy", True),
    ("GET", "/subjects/{platform}/{user_id}/objection", "privacy", True),
    ("PUT", "/subjects/{platform}/{user_id}/objection", "privacy", True),
    ("DELETE", "/subjects/{platform}/{user_id}/objection", "privacy", True),
    ("GET", "/reports/summary", "api", True),
    ("GET", "/cases", "api", True),
    ("GET", "/cases/{case_id}", "api", True),
    ("PATCH", "/cases/{case_id}", "api", True),
    ("POST", "/cases/{case_id}/replies", "api", True),
    ("GET", "/cases/{case_id}/replies", "api", True),
    ("GET", "/cases/{case_id}/replies/{reply_id}", "api", True),
    ("GET", "/health/platforms", "api", True),
    ("POST", "/customers", "api", True),
    ("GET", "/customers/{customer_id}", "api", True),
    ("GET", "/customers/{customer_id}/interactions", "api", True),
    ("GET", "/customers/{customer_id}/export", "api", True),
    ("POST", "/customers/{customer_id}/identities", "api", True),
    ("DELETE", "/customers/{customer_id}/identities/{platform}/{user_id}", "api", True),
    ("GET", "/subjects/{platform}/{user_id}/access-log", "privacy", True),
    ("GET", "/customers/{customer_id}/access-log", "privacy", True),
)

# The EventBridge Scheduler group holding every case's one-time SLA schedules (warning and due).
SLA_SCHEDULE_GROUP = "socialcrm-sla"

# Largest body a function can be handed synchronously (Lambda's 6 MB request limit).
MAX_WEBHOOK_BYTES = 6 * 1024 * 1024
