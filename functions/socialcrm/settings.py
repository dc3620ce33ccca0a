"""Settings of each function, read once from the environment by its handler (and by the local stack)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from socialcrm.errors import ConfigurationError
from socialcrm.secrets import SecretsSource


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None):  # type: ignore[no-untyped-def]
        try:
            return cls.model_validate(dict(os.environ if env is None else env))
        except ValidationError as exc:
            missing = ", ".join(str(err["loc"][0]) if err["loc"] else err["msg"] for err in exc.errors())
            raise ConfigurationError(f"{cls.__name__}: missing or invalid environment: {missing}") from exc


class CallerSettings(_Settings):
    """Who may call the CRM routes (``socialcrm.api.callers``): read by every function that serves them."""

    # Set by the local stack only: the X-Dev-* headers stand for the IAM tags (never in AWS).
    dev_principals: bool = Field(default=False, alias="SOCIALCRM_DEV_PRINCIPALS")
    # How long a principal's tags are kept: a change of teams reaches a warm function within this.
    cache_seconds: int = Field(default=300, ge=0, le=3600, alias="PRINCIPAL_TAGS_CACHE_SECONDS")


class SecretsSettings(_Settings):
    secrets_file: str | None = Field(default=None, alias="SOCIALCRM_SECRETS_FILE")
    secrets_name: str | None = Field(default=None, alias="SECRETS_NAME")

    @model_validator(mode="after")
    def _one_source(self) -> SecretsSettings:
        if not (self.secrets_file or self.secrets_name):
            raise ValueError("set SOCIALCRM_SECRETS_FILE (local) or SECRETS_NAME (AWS)")
        return self

    def secrets_source(self) -> SecretsSource:
        return SecretsSource(file=self.secrets_file, secret_name=self.secrets_name)


class IngestSettings(SecretsSettings):
    inbound_queue_url: str = Field(alias="INBOUND_QUEUE_URL")
    # The WebSub requests a hub's verification of intent must match (absent: every verification is 404).
    subscriptions_table: str | None = Field(default=None, alias="SUBSCRIPTIONS_TABLE")


class WebSubSettings(SecretsSettings):
    subscriptions_table: str = Field(alias="SUBSCRIPTIONS_TABLE")
    youtube_channels: str = Field(default="", alias="YOUTUBE_CHANNELS")
    # Where the hub sends verifications and notifications: the API's /webhooks/youtube.
    callback_url: str = Field(alias="WEBSUB_CALLBACK_URL")
    # Google's hub, which YouTube publishes to.
    hub_url: str = Field(default="https://pubsubhubbub.appspot.com/subscribe", alias="WEBSUB_HUB_URL")


class _AwsSettings(_Settings):
    region: str | None = Field(default=None, alias="AWS_REGION")
    default_region: str | None = Field(default=None, alias="AWS_DEFAULT_REGION")
    # Set only for the local stack: where the embedded AWS listens (boto3 reads it too).
    endpoint_url: str | None = Field(default=None, alias="AWS_ENDPOINT_URL")

    @property
    def aws_region(self) -> str | None:
        return self.region or self.default_region


class EnrichSettings(_AwsSettings):
    interactions_table: str = Field(alias="INTERACTIONS_TABLE")
    claims_table: str = Field(alias="CLAIMS_TABLE")
    subjects_table: str = Field(alias="SUBJECTS_TABLE")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    inbound_queue_url: str = Field(alias="INBOUND_QUEUE_URL")
    suppressions_table: str = Field(alias="SUPPRESSIONS_TABLE")


class _DeadLetterSettings(_Settings):
    """The dead-letter queues that can hold a subject's messages (``privacy.stores.PERSONAL_DATA_QUEUES``)."""

    inbound_dlq_url: str = Field(alias="INBOUND_DLQ_URL")
    route_dlq_url: str = Field(alias="ROUTE_DLQ_URL")
    report_dlq_url: str = Field(alias="REPORT_DLQ_URL")
    # Long polling reads every SQS server; the local stack (one server) sets 0.
    dlq_scan_wait_seconds: int = Field(default=1, ge=0, le=20, alias="DLQ_SCAN_WAIT_SECONDS")

    @property
    def dlq_urls(self) -> dict[str, str]:
        return {
            "inbound-dlq": self.inbound_dlq_url,
            "route-dlq": self.route_dlq_url,
            "report-dlq": self.report_dlq_url,
        }


class ApiSettings(_AwsSettings, SecretsSettings, _DeadLetterSettings):
    interactions_table: str = Field(alias="INTERACTIONS_TABLE")
    subjects_table: str = Field(alias="SUBJECTS_TABLE")
    # The export (GDPR Art. 15) reads every personal-data store, and the subject's suppression state.
    suppressions_table: str = Field(alias="SUPPRESSIONS_TABLE")
    cases_table: str = Field(alias="CASES_TABLE")
    report_seen_table: str = Field(alias="REPORT_SEEN_TABLE")
    customers_table: str = Field(alias="CUSTOMERS_TABLE")
    # Every route that shows a person's data writes who read it first (socialcrm.privacy.ledger).
    access_ledger_table: str = Field(alias="ACCESS_LEDGER_TABLE")


class PrivacySettings(_AwsSettings, SecretsSettings):
    """The privacy API: erasure requests and objections (the pepper turns user ids into subject ids)."""

    erasure_requests_table: str = Field(alias="ERASURE_REQUESTS_TABLE")
    suppressions_table: str = Field(alias="SUPPRESSIONS_TABLE")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    # The access logs (GET …/access-log) are read from it.
    access_ledger_table: str = Field(alias="ACCESS_LEDGER_TABLE")
    # An erasure by customer reads the customer's identities.
    customers_table: str = Field(alias="CUSTOMERS_TABLE")


class EraseSettings(_AwsSettings, _DeadLetterSettings):
    """The erase consumer: every personal-data store, the tombstones, the requests, its own queue."""

    erasure_requests_table: str = Field(alias="ERASURE_REQUESTS_TABLE")
    suppressions_table: str = Field(alias="SUPPRESSIONS_TABLE")
    interactions_table: str = Field(alias="INTERACTIONS_TABLE")
    subjects_table: str = Field(alias="SUBJECTS_TABLE")
    cases_table: str = Field(alias="CASES_TABLE")
    report_seen_table: str = Field(alias="REPORT_SEEN_TABLE")
    customers_table: str = Field(alias="CUSTOMERS_TABLE")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    erasure_queue_url: str = Field(alias="ERASURE_QUEUE_URL")
    # Verification waits this long after the tombstone, so a writer that checked just before it has
    # finished (the enrich function's timeout plus a margin); the local stack and tests set it lower.
    settle_seconds: int = Field(default=90, ge=0, le=900, alias="ERASURE_SETTLE_SECONDS")


class ReportSettings(_AwsSettings):
    """The report consumer: the counters, the facts it has counted, and the erasure tombstones."""

    report_counters_table: str = Field(alias="REPORT_COUNTERS_TABLE")
    report_seen_table: str = Field(alias="REPORT_SEEN_TABLE")
    # The facts of an erased subject's data that were still in flight are dropped, not counted.
    suppressions_table: str = Field(alias="SUPPRESSIONS_TABLE")


class ReportsApiSettings(_AwsSettings):
    """The reports routes of the api function: read-only on the counters."""

    report_counters_table: str = Field(alias="REPORT_COUNTERS_TABLE")


class DailyReportSettings(_AwsSettings):
    """The daily report: the counters, and where the report goes (a folder locally, else the bucket)."""

    report_counters_table: str = Field(alias="REPORT_COUNTERS_TABLE")
    reports_dir: str | None = Field(default=None, alias="REPORTS_DIR")
    reports_bucket: str | None = Field(default=None, alias="REPORTS_BUCKET")

    @model_validator(mode="after")
    def _one_destination(self) -> DailyReportSettings:
        if not (self.reports_dir or self.reports_bucket):
            raise ValueError("set REPORTS_DIR (local) or REPORTS_BUCKET (AWS)")
        return self


class RulesSourceSettings(_Settings):
    """Where the routing rules are read: AppConfig in AWS (all three ids), else a file (the local stack)."""

    rules_file: str | None = Field(default=None, alias="RULES_FILE")
    rules_application: str | None = Field(default=None, alias="RULES_APPCONFIG_APPLICATION")
    rules_environment: str | None = Field(default=None, alias="RULES_APPCONFIG_ENVIRONMENT")
    rules_profile: str | None = Field(default=None, alias="RULES_APPCONFIG_PROFILE")
    rules_max_age_seconds: int = Field(default=60, ge=0, le=3600, alias="RULES_MAX_AGE_SECONDS")

    @model_validator(mode="after")
    def _whole_appconfig(self) -> RulesSourceSettings:
        given = [self.rules_application, self.rules_environment, self.rules_profile]
        if any(given) and not all(given):
            raise ValueError("set all of RULES_APPCONFIG_APPLICATION, _ENVIRONMENT and _PROFILE, or none")
        return self


class SlaClockSettings(_Settings):
    """The SLA clocks: an EventBridge Scheduler group in AWS; none set, an in-process timer (local)."""

    sla_schedule_group: str | None = Field(default=None, alias="SLA_SCHEDULE_GROUP")
    sla_target_arn: str | None = Field(default=None, alias="SLA_TARGET_ARN")
    sla_role_arn: str | None = Field(default=None, alias="SLA_ROLE_ARN")


class TeamTopicsSettings(_Settings):
    """Each team's SNS topic, as JSON ``{"support": "arn:aws:sns:…"}``; none: notifications are logged."""

    team_topics_json: str | None = Field(default=None, alias="TEAM_TOPICS")

    @property
    def team_topics(self) -> dict[str, str]:
        """team → topic ARN; an unreadable value is a configuration error (named), not a silent default."""
        if not self.team_topics_json:
            return {}
        try:
            topics = json.loads(self.team_topics_json)
        except ValueError as exc:
            raise ConfigurationError("TEAM_TOPICS is not JSON") from exc
        if not isinstance(topics, dict) or not all(isinstance(v, str) for v in topics.values()):
            raise ConfigurationError('TEAM_TOPICS must be a JSON object {"team": "topic ARN"}')
        return topics


class RouteSettings(_AwsSettings, RulesSourceSettings, SlaClockSettings, TeamTopicsSettings, SecretsSettings):
    """The route consumer: reads interactions, writes cases and counters, sets clocks, publishes; queues
    the rules' automatic replies (the subject's suppression, the send credentials, the outbound queue)."""

    interactions_table: str = Field(alias="INTERACTIONS_TABLE")
    cases_table: str = Field(alias="CASES_TABLE")
    counters_table: str = Field(alias="COUNTERS_TABLE")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    suppressions_table: str = Field(alias="SUPPRESSIONS_TABLE")
    outbound_queue_url: str = Field(alias="OUTBOUND_QUEUE_URL")
    # The sender's customer: its identities, for segments and cross-channel history (stored back on it).
    customers_table: str = Field(alias="CUSTOMERS_TABLE")


class SlaSettings(_AwsSettings, TeamTopicsSettings):
    """The sla function (invoked by a case's schedule): the cases, the bus, the team topics."""

    cases_table: str = Field(alias="CASES_TABLE")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")


class CasesApiSettings(_AwsSettings, RulesSourceSettings, SlaClockSettings, SecretsSettings):
    """The work-queue routes of the api function: the cases, the bus, the clocks to stop or set (a case
    an agent reopens gets a resolution clock, timed by the rules' service levels); replies: the message
    answered, the subject's suppression, the send credentials and the outbound queue."""

    cases_table: str = Field(alias="CASES_TABLE")
    event_bus_name: str = Field(alias="EVENT_BUS_NAME")
    interactions_table: str = Field(alias="INTERACTIONS_TABLE")
    suppressions_table: str = Field(alias="SUPPRESSIONS_TABLE")
    outbound_queue_url: str = Field(alias="OUTBOUND_QUEUE_URL")


class SendSettings(CasesApiSettings):
    """The send function: what the replies routes read, where echoes of sent replies were seen (the
    counters table), and the platforms' HTTP timeouts."""

    counters_table: str = Field(alias="COUNTERS_TABLE")

    connect_timeout_seconds: float = Field(default=3.0, gt=0, le=30, alias="SEND_CONNECT_TIMEOUT_SECONDS")
    read_timeout_seconds: float = Field(default=10.0, gt=0, le=60, alias="SEND_READ_TIMEOUT_SECONDS")


class ReplaySettings(_AwsSettings):
    """``socialcrm rules dry-run``: reads interactions and cases, writes only the access ledger."""

    interactions_table: str = Field(alias="INTERACTIONS_TABLE")
    cases_table: str = Field(alias="CASES_TABLE")
    access_ledger_table: str = Field(alias="ACCESS_LEDGER_TABLE")
