"""YouTube subscriptions: the hourly ``websub`` function and its schedule.

EventBridge Scheduler invokes the function every hour; it subscribes the channels of ``-c youtube_channels``
at the WebSub hub (with the hub secret from the platform-secrets document), renews each lease at 80% of its
length and unsubscribes channels taken out of the list (``socialcrm.subscriptions.websub``). It reads and
writes the ``subscriptions`` table (Scan, UpdateItem) and reads the secret: nothing else. The ingest
function confirms the hub's verifications against the same table (``infra.ingest``).
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.grants import grant_secret_value, grant_table
from infra.lambdas import PipelineFunction, SharedCode, resource_environment
from infra.schedules import invoke_on_schedule
from infra.stage import youtube_channels_of
from socialcrm import topology

HOURLY = "rate(1 hour)"
CALLBACK_ENV = "WEBSUB_CALLBACK_URL"


class WebSub(Construct):
    """``function``: the ``websub`` function; ``schedule``: its hourly run."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: SharedCode,
        subscriptions: dynamodb.ITable,
        secret: secretsmanager.ISecret,
    ) -> None:
        super().__init__(scope, construct_id)
        self.subscriptions = subscriptions
        self.channels = youtube_channels_of(self)
        self.function = PipelineFunction(
            self,
            "WebSub",
            spec=topology.FUNCTIONS["websub"],
            shared=shared,
            environment={
                **resource_environment(tables={"subscriptions": subscriptions}, secret=secret),
                "YOUTUBE_CHANNELS": ",".join(self.channels),
            },
        )
        grant_table(self.function.fn, subscriptions, ("dynamodb:Scan", "dynamodb:UpdateItem"))
        grant_secret_value(self.function.fn, secret)
        self.schedule = self._schedule()

    def grant_health(self, api: PipelineFunction) -> None:
        """Let the api function show each subscription in ``GET /health/platforms`` (Scan of a few items)."""
        api.fn.add_environment(topology.TABLES["subscriptions"].env_var, self.subscriptions.table_name)
        grant_table(api.fn, self.subscriptions, ("dynamodb:Scan",))

    def call_back_at(self, api_url: str) -> None:
        """The URL the hub verifies and notifies: the API's ``/webhooks/youtube``."""
        self.function.fn.add_environment(CALLBACK_ENV, f"{api_url.rstrip('/')}/webhooks/youtube")

    def _schedule(self) -> scheduler.CfnSchedule:
        return invoke_on_schedule(
            self,
            function=self.function.fn,
            what="websub function",
            description="socialcrm: subscribe and renew the YouTube channels at the WebSub hub",
            expression=HOURLY,
            role_id="ScheduleRole",
            schedule_id="HourlySchedule",
            policy_name="InvokeWebSub",
            retry_attempts=2,
            max_event_age_seconds=3600,
        )
