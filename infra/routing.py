"""Routing: the ``route`` consumer, the ``sla`` function its clocks invoke, the rules in AppConfig, one
SNS topic per team, and the work-queue grants of the ``api`` function. Each gets exactly what its code calls.

- ``route`` (fed by the route queue): reads the interaction (GetItem) and the subject's recent history
  (Query on ``by_subject``), records the routing on it (UpdateItem); opens cases (a transaction of
  PutItem/UpdateItem, GetItem); counts spikes (UpdateItem, BatchGetItem on counters); creates one-time
  schedules in the SLA group (CreateSchedule, passing the scheduler role); notifies teams (Publish);
  publishes events; reads the rules from AppConfig (StartConfigurationSession, GetLatestConfiguration);
  queues the rules' automatic replies (reads the suppression and the send credentials, SendMessage on
  the outbound queue, DeleteItem of a reply that could not be queued).
- ``sla`` (invoked by EventBridge Scheduler through a role that can invoke nothing else): reads and
  updates the case, notifies, publishes. Invocations that still fail go to its own encrypted DLQ.
- ``api``: lists, reads and updates cases (Query on ``by_queue``), deletes a case's schedules once it
  is answered (DeleteSchedule), publishes ``CaseUpdated``; records replies (PutItem, DeleteItem when
  queueing failed, Query on ``by_subject`` to list a case's), reads the message answered and the
  subject's suppression, and puts reply ids on the outbound queue (SendMessage).
- ``send`` (fed by the outbound queue): reads and writes replies and their case (GetItem, PutItem,
  UpdateItem in a transaction), reads the message answered, the suppression and where echoes of sent
  replies were seen (GetItem on counters; the route function notes them with UpdateItem), reads the send
  credentials (GetSecretValue), queues its own next step (SendMessage, with a delay), sets and deletes
  clocks, publishes ``CaseUpdated``, reads the rules. The platforms' APIs are on the internet: no
  AWS permission covers them.

``config/rules.yaml`` is validated here: an invalid document stops ``cdk synth`` with the rule and the
field named (``RulesError``), so a deployment can never start with rules that cannot run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_appconfig as appconfig
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.consumers import subscribe
from infra.grants import grant_key_via, grant_secret_value, grant_send, grant_table
from infra.lambdas import PipelineFunction, SharedCode, resource_environment
from infra.stage import Stage
from infra.work_queues import DLQ_RETENTION, WorkQueue
from socialcrm import topology
from socialcrm.routing.rules import RulesDocument, load_rules_file, parse_rules_text
from socialcrm.routing.source import REPO_RULES_FILE

ROUTE_INTERACTION_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query")
# DeleteItem: an automatic reply whose queueing failed is removed (nothing was sent).
# The sender's customer: read; segments stored; identities with one phone number linked (transactions).
ROUTE_CUSTOMER_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem")
ROUTE_CASE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
COUNTER_ACTIONS = ("dynamodb:UpdateItem", "dynamodb:BatchGetItem")
SLA_CASE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
API_CASE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
)
SEND_CASE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
APPCONFIG_ACTIONS = ("appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration")
# SNS encrypts a message with the topic's key on the publisher's behalf.
KEY_ACTIONS_TOPIC_PUBLISH = ("kms:Decrypt", "kms:GenerateDataKey")
# Context key naming another rules file to deploy (default: config/rules.yaml).
RULES_FILE_CONTEXT = "socialcrm:rulesFile"
# Within the stage's AppConfig application (socialcrm-<stage>-routing).
RULES_ENVIRONMENT = "live"
RULES_PROFILE = "routing-rules"


def schedules_resource(group: str) -> str:
    """Every schedule of the stage's SLA schedule group (one-time schedules named per case)."""
    return f"arn:{Aws.PARTITION}:scheduler:{Aws.REGION}:{Aws.ACCOUNT_ID}:schedule/{group}/*"


def schedules_nag_resource(group: str) -> str:
    """How cdk-nag spells :func:`schedules_resource` in an IAM5 finding."""
    return f"Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/{group}/*"


SCHEDULES_REASON = (
    "SLA schedules are one-time schedules named after each case (created when it opens, deleted when it is "
    "answered), so their names are only known at run time: the resource is every schedule of the stage's SLA "
    "schedule group and nothing else, and the action is named (no wildcard action)."
)


def validated_rules(path: Path = REPO_RULES_FILE) -> tuple[RulesDocument, str]:
    """The rules document and the compact JSON AppConfig serves; raises ``RulesError`` naming the rule
    and field when the document is invalid, which stops the synth."""
    document = load_rules_file(path)
    raw = parse_rules_text(
        path.read_text(encoding="utf-8"), origin=str(path), yaml_syntax=path.suffix != ".json"
    )
    return document, json.dumps(raw, ensure_ascii=False, separators=(",", ":"), default=str)


class Routing(Construct):
    """``functions`` holds ``route`` and ``sla``; ``topics`` one topic per team; ``rules`` the AppConfig
    configuration; ``schedule_group`` and ``scheduler_role`` the SLA clocks; ``sla_dlq`` failed clocks."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: SharedCode,
        key: kms.IKey,
        tables: Mapping[str, dynamodb.ITable],
        bus: events.IEventBus,
        queues: Mapping[str, WorkQueue],
        secret: secretsmanager.ISecret,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stage = Stage.of(self)
        self.secret, self.suppressions = secret, tables["suppressions"]
        self.customers = tables["customers"]
        self.outbound = queues["outbound"]
        configured = self.node.try_get_context(RULES_FILE_CONTEXT)
        rules_file = Path(str(configured)) if configured else REPO_RULES_FILE
        self.key, self.bus = key, bus
        self.interactions, self.cases, self.counters = (
            tables["interactions"],
            tables["cases"],
            tables["counters"],
        )
        document, content = validated_rules(rules_file)
        self.topics = {
            team: sns.Topic(
                self, f"{team}-topic", display_name=f"socialcrm {team}", master_key=key, enforce_ssl=True
            )
            for team in document.teams
        }
        self.rules_validator = PipelineFunction(
            self,
            "RulesValidator",
            spec=topology.FUNCTIONS["rules_validator"],
            shared=shared,
            environment=self._team_topics_environment(),
        )
        self._rules_config(content)
        self.schedule_group = scheduler.ScheduleGroup(
            self,
            "SlaSchedules",
            schedule_group_name=self.stage.schedule_group,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.sla = self._sla(shared)
        self.scheduler_role = self._scheduler_role()
        self.route = self._route(shared, queues["route"])
        self.send = self._send(shared)
        self.functions = {
            "route": self.route,
            "sla": self.sla,
            "rules_validator": self.rules_validator,
            "send": self.send,
        }

    # -- the rules -----------------------------------------------------------------------------------

    def _rules_config(self, content: str) -> None:
        self.rules_application = appconfig.Application(
            self,
            "RulesApplication",
            application_name=self.stage.rules_application,
            description="socialcrm routing rules",
        )
        self.rules_environment = appconfig.Environment(
            self,
            "RulesEnvironment",
            application=self.rules_application,
            environment_name=RULES_ENVIRONMENT,
            description="The rules the route function reads",
        )
        self.rules_strategy = appconfig.DeploymentStrategy(
            self,
            "Immediately",
            deployment_strategy_name=f"{self.stage.prefix}-rules-immediately",
            rollout_strategy=appconfig.RolloutStrategy.linear(
                growth_factor=100,
                deployment_duration=Duration.minutes(0),
                final_bake_time=Duration.minutes(0),
            ),
            description="socialcrm routing rules: all at once, no bake time (validated before deploying)",
        )
        self.rules = appconfig.HostedConfiguration(
            self,
            "Rules",
            application=self.rules_application,
            name=RULES_PROFILE,
            description="config/rules.yaml as JSON; change it here (a new version) to route without a redeploy",
            content=appconfig.ConfigurationContent.from_inline_json(content),
            deploy_to=[self.rules_environment],
            # AppConfig refuses a version that fails the checks make test and make synth run.
            validators=[appconfig.LambdaValidator.from_function(self.rules_validator.fn)],
            # At once and no bake time: the validator has already refused a document that cannot run, and
            # AWS's AllAtOnce bakes for 10 minutes, during which the next `make deploy` rolls it back.
            deployment_strategy=self.rules_strategy,
        )
        # AppConfig validates the first version while the stack is created: only once it may invoke the
        # validator (the permission LambdaValidator adds), or the deployment fails.
        self.rules.node.add_dependency(
            self.rules_validator.fn.permissions_node.find_child("AppConfigPermission")
        )

    def _rules_environment(self) -> dict[str, str]:
        return {
            "RULES_APPCONFIG_APPLICATION": self.rules_application.application_id,
            "RULES_APPCONFIG_ENVIRONMENT": self.rules_environment.environment_id,
            "RULES_APPCONFIG_PROFILE": self.rules.configuration_profile_id,
        }

    def _rules_arn(self) -> str:
        return (
            f"arn:{Aws.PARTITION}:appconfig:{Aws.REGION}:{Aws.ACCOUNT_ID}:application/"
            f"{self.rules_application.application_id}/environment/{self.rules_environment.environment_id}"
            f"/configuration/{self.rules.configuration_profile_id}"
        )

    # -- notifications -------------------------------------------------------------------------------

    def _team_topics_environment(self) -> dict[str, str]:
        topics = {team: topic.topic_arn for team, topic in self.topics.items()}
        return {"TEAM_TOPICS": Stack.of(self).to_json_string(topics)}

    def _grant_notify(self, function: PipelineFunction) -> None:
        iam.Grant.add_to_principal(
            grantee=function.fn,
            actions=["sns:Publish"],
            resource_arns=[topic.topic_arn for topic in self.topics.values()],
        )
        grant_key_via(function.fn, self.key, KEY_ACTIONS_TOPIC_PUBLISH, "sns")

    # -- the functions -------------------------------------------------------------------------------

    def _route(self, shared: SharedCode, work_queue: WorkQueue) -> PipelineFunction:
        spec = topology.FUNCTIONS["route"]
        function = PipelineFunction(
            self,
            "Route",
            spec=spec,
            shared=shared,
            environment={
                **resource_environment(
                    tables={
                        "interactions": self.interactions,
                        "cases": self.cases,
                        "counters": self.counters,
                        "suppressions": self.suppressions,
                        "customers": self.customers,
                    },
                    queues={"outbound": self.outbound.queue},
                    bus=self.bus,
                    secret=self.secret,
                ),
                **self._clock_environment(),
                **self._team_topics_environment(),
                **self._rules_environment(),
            },
        )
        fn = function.fn
        grant_table(fn, self.interactions, ROUTE_INTERACTION_ACTIONS, indexes=["by_subject"])
        grant_table(fn, self.cases, ROUTE_CASE_ACTIONS)
        grant_table(fn, self.counters, COUNTER_ACTIONS)
        # the rules' automatic replies: checked and queued like a person's
        grant_table(fn, self.suppressions, ("dynamodb:GetItem",))
        # the sender's customer: its owner row and partition read, its segments stored, identities that
        # carry one phone number linked
        grant_table(fn, self.customers, ROUTE_CUSTOMER_ACTIONS)
        grant_secret_value(fn, self.secret)
        grant_send(fn, self.outbound.queue)
        self.bus.grant_put_events_to(fn)
        self._grant_notify(function)
        self._grant_rules(function)
        self._grant_clocks(function)
        subscribe(function, work_queue)
        return function

    def _send(self, shared: SharedCode) -> PipelineFunction:
        spec = topology.FUNCTIONS["send"]
        function = PipelineFunction(
            self,
            "Send",
            spec=spec,
            shared=shared,
            environment={
                **resource_environment(
                    tables={
                        "interactions": self.interactions,
                        "cases": self.cases,
                        "suppressions": self.suppressions,
                        "counters": self.counters,
                    },
                    queues={"outbound": self.outbound.queue},
                    bus=self.bus,
                    secret=self.secret,
                ),
                **self._clock_environment(),
                **self._rules_environment(),
            },
        )
        fn = function.fn
        grant_table(fn, self.cases, SEND_CASE_ACTIONS)
        grant_table(fn, self.interactions, ("dynamodb:GetItem",))
        grant_table(fn, self.suppressions, ("dynamodb:GetItem",))
        # where echoes of sent replies were seen: an echo's absence means "not sent" only there
        grant_table(fn, self.counters, ("dynamodb:GetItem",))
        grant_secret_value(fn, self.secret)
        grant_send(fn, self.outbound.queue)
        self.bus.grant_put_events_to(fn)
        self._grant_rules(function)
        self._grant_clocks(function)
        subscribe(function, self.outbound)
        return function

    def _sla(self, shared: SharedCode) -> PipelineFunction:
        function = PipelineFunction(
            self,
            "Sla",
            spec=topology.FUNCTIONS["sla"],
            shared=shared,
            environment={
                **resource_environment(tables={"cases": self.cases}, bus=self.bus),
                **self._team_topics_environment(),
            },
        )
        grant_table(function.fn, self.cases, SLA_CASE_ACTIONS)
        self.bus.grant_put_events_to(function.fn)
        self._grant_notify(function)
        # An invocation that fails every retry (Scheduler invokes asynchronously) is kept, not lost.
        self.sla_dlq = sqs.Queue(
            self,
            "SlaDeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
        )
        NagSuppressions.add_resource_suppressions(
            self.sla_dlq,
            [
                NagPackSuppression(
                    id="AwsSolutions-SQS3",
                    reason=(
                        "This queue is itself a dead-letter queue: the on-failure destination of the sla "
                        "function's asynchronous invocations (a Lambda destination, which cdk-nag does not "
                        "recognise as a DLQ). It is alarmed on its first message."
                    ),
                )
            ],
        )
        grant_send(function.fn, self.sla_dlq)
        lambda_.CfnEventInvokeConfig(
            self,
            "SlaAsyncInvoke",
            function_name=function.fn.function_name,
            qualifier="$LATEST",
            maximum_retry_attempts=2,
            maximum_event_age_in_seconds=3600,
            destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(destination=self.sla_dlq.queue_arn)
            ),
        )
        return function

    def _scheduler_role(self) -> iam.Role:
        """The role EventBridge Scheduler assumes for the SLA schedules: it can invoke the sla function only."""
        group = self.stage.schedule_group
        group_arn = f"arn:{Aws.PARTITION}:scheduler:{Aws.REGION}:{Aws.ACCOUNT_ID}:schedule-group/{group}"
        role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID, "aws:SourceArn": group_arn}
                },
            ),
            description="EventBridge Scheduler: invoke the socialcrm sla function for SLA schedules, nothing else",
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.sla.fn.function_arn])
        )
        return role

    # -- the api function ----------------------------------------------------------------------------

    def serve_cases_api(self, api: PipelineFunction) -> None:
        """Let the api function serve the work queues: the cases (and ``by_queue``), their clocks (stopped
        when met, a resolution clock started when an agent reopens a case, timed by the rules), the bus."""
        fn = api.fn
        for name, value in {
            topology.TABLES["cases"].env_var: self.cases.table_name,
            topology.TABLES["suppressions"].env_var: self.suppressions.table_name,
            topology.QUEUES["outbound"].env_var: self.outbound.queue.queue_url,
            "EVENT_BUS_NAME": self.bus.event_bus_name,
            **self._clock_environment(),
            **self._rules_environment(),
        }.items():
            fn.add_environment(name, value)
        grant_table(fn, self.cases, API_CASE_ACTIONS, indexes=["by_queue", "by_subject"])
        grant_table(fn, self.suppressions, ("dynamodb:GetItem",))
        grant_send(fn, self.outbound.queue)
        self.bus.grant_put_events_to(fn)
        self._grant_rules(api)
        self._grant_clocks(api)

    def _clock_environment(self) -> dict[str, str]:
        return {
            "SLA_SCHEDULE_GROUP": self.stage.schedule_group,
            "SLA_TARGET_ARN": self.sla.fn.function_arn,
            "SLA_ROLE_ARN": self.scheduler_role.role_arn,
        }

    def _grant_rules(self, function: PipelineFunction) -> None:
        iam.Grant.add_to_principal(
            grantee=function.fn, actions=list(APPCONFIG_ACTIONS), resource_arns=[self._rules_arn()]
        )

    def _grant_clocks(self, function: PipelineFunction) -> None:
        """Set a case's clocks (and hand the scheduler its role) and delete them once met or moved."""
        iam.Grant.add_to_principal(
            grantee=function.fn,
            actions=["scheduler:CreateSchedule", "scheduler:DeleteSchedule"],
            resource_arns=[schedules_resource(self.stage.schedule_group)],
        )
        function.role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.scheduler_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            )
        )
        self._suppress_schedules(function)

    def _suppress_schedules(self, function: PipelineFunction) -> None:
        NagSuppressions.add_resource_suppressions(
            function.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason=SCHEDULES_REASON,
                    applies_to=[schedules_nag_resource(self.stage.schedule_group)],
                )
            ],
            apply_to_children=True,
        )

    # -- alarms --------------------------------------------------------------------------------------

    def alarm_to(self, topic: sns.ITopic) -> None:
        """Alarm (to ``topic``) as soon as an SLA clock failed every retry and sits in the sla DLQ."""
        self.sla_dlq_alarm = cloudwatch.Alarm(
            self,
            "sla-dlq-depth",
            alarm_description=(
                "socialcrm sla: an SLA clock failed every retry (its case may not be marked breached). The "
                "message in the sla dead-letter queue holds the case id; fix the cause, then invoke sla with it."
            ),
            metric=self.sla_dlq.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        action = cloudwatch_actions.SnsAction(topic)
        self.sla_dlq_alarm.add_alarm_action(action)
        self.sla_dlq_alarm.add_ok_action(action)
