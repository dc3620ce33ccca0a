"""Alarms, to one encrypted topic that on-call is subscribed to (``-c alarm_email=…``, and/or an existing
topic of the team's, ``-c alarm_topic_arn=…``): every work queue's DLQ depth and age and its own backlog
age; the HTTP API's 5xx answers and p99 latency; each function's throttles; each table's throttled
requests."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk.aws_apigatewayv2 import HttpApi
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.dashboard import deliveries_metric
from infra.lambdas import PipelineFunction
from infra.stage import Stage, on_call_of, watched_platforms_of
from infra.work_queues import DLQ_RETENTION, WorkQueue
from socialcrm.platforms import ROUTE_PLATFORMS

# A message older than this on a work queue means its consumer is failing or far behind.
QUEUE_AGE_ALARM = Duration.minutes(15)
# DLQ messages expire after DLQ_RETENTION: warn while there is still time to redrive them.
DLQ_AGE_ALARM = Duration.days(DLQ_RETENTION.to_days() // 2)
ALARM_PERIOD = Duration.minutes(1)
OPS_PERIOD = Duration.minutes(5)
# 5xx answers in five minutes: a platform retries them, but a run of them is an outage.
API_5XX_ALARM = 5
# LinkedIn waits 3 s for a webhook's answer, Meta 5 s: the slowest 1% must stay well below.
API_P99_ALARM = Duration.seconds(2)
# A platform whose deliveries are refused (401/403) this often over 15 minutes has a wrong secret or token.
REFUSED_SHARE_ALARM_PCT = 50
REFUSED_MIN_DELIVERIES = 10


class Monitoring(Construct):
    """``topic`` (subscribe on-call to it) and, per queue, ``alarms[<queue>]`` with the keys
    ``dlq-depth``, ``dlq-age`` and ``queue-age``; each alarm notifies the topic on ALARM and OK."""

    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, queues: Mapping[str, WorkQueue]
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self, "AlarmTopic", display_name="socialcrm alarms", master_key=key, enforce_ssl=True
        )
        self._action = cloudwatch_actions.SnsAction(self.topic)
        email, team_topic = on_call_of(self)
        if email is not None:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self._actions: list[cloudwatch.IAlarmAction] = [self._action]
        if team_topic is not None:
            self._actions.append(
                cloudwatch_actions.SnsAction(sns.Topic.from_topic_arn(self, "OnCallTopic", team_topic))
            )
        self.alarms = {name: self._queue_alarms(name, work_queue) for name, work_queue in queues.items()}
        self.operations: dict[str, cloudwatch.Alarm] = {}
        CfnOutput(
            self, "AlarmTopicArn", value=self.topic.topic_arn, description="Subscribe on-call to these alarms"
        )

    def watch(
        self,
        *,
        api: HttpApi,
        functions: Mapping[str, PipelineFunction],
        tables: Mapping[str, dynamodb.ITable],
    ) -> None:
        """Alarms on the HTTP API (5xx, p99 latency), every function's throttles and every table's."""
        self.operations["api-5xx"] = self._at_least(
            "api-5xx",
            f"socialcrm API: {API_5XX_ALARM} or more 5xx answers in {OPS_PERIOD.to_minutes()} minutes (the "
            "platforms retry, but a run of them is an outage). Read the functions' logs.",
            api.metric_server_error(period=OPS_PERIOD, statistic="Sum"),
            threshold=API_5XX_ALARM,
        )
        self.operations["api-latency-p99"] = self._at_least(
            "api-latency-p99",
            f"socialcrm API: the slowest 1% of answers took over {API_P99_ALARM.to_seconds()} s for 15 minutes "
            "(LinkedIn gives a webhook 3 s). Cold starts or a slow dependency?",
            api.metric_latency(period=OPS_PERIOD, statistic="p99"),
            threshold=API_P99_ALARM.to_milliseconds(),
            periods=3,
        )
        for key, function in sorted(functions.items()):
            self.operations[f"throttles-{key}"] = self._at_least(
                f"throttles-{key}",
                f"socialcrm {key}: invocations were throttled (account concurrency or the event source's "
                "maximum concurrency). Queued work waits; webhooks got 5xx and are retried.",
                function.fn.metric_throttles(period=OPS_PERIOD, statistic="Sum"),
                threshold=1,
            )
        self._platform_alarms()
        for key, table in sorted(tables.items()):
            throttled = cloudwatch.MathExpression(
                expression="FILL(r, 0) + FILL(w, 0)",
                using_metrics={
                    "r": table.metric("ReadThrottleEvents", period=OPS_PERIOD, statistic="Sum"),
                    "w": table.metric("WriteThrottleEvents", period=OPS_PERIOD, statistic="Sum"),
                },
                period=OPS_PERIOD,
                label=f"{key} throttled requests",
            )
            self.operations[f"ddb-throttles-{key}"] = self._at_least(
                f"ddb-throttles-{key}",
                f"socialcrm table {key}: requests were throttled (on-demand tables throttle past twice their "
                "previous peak). Callers retry; a run of these slows the pipeline.",
                throttled,
                threshold=1,
            )

    def _queue_alarms(self, name: str, work_queue: WorkQueue) -> dict[str, cloudwatch.Alarm]:
        dlq, queue, spec = work_queue.dlq, work_queue.queue, work_queue.spec
        return {
            "dlq-depth": self._at_least(
                f"{name}-dlq-depth",
                f"socialcrm {name}: messages failed {spec.max_receive_count} times and sit in the "
                "dead-letter queue. Fix the cause, then redrive them.",
                dlq.metric_approximate_number_of_messages_visible(period=ALARM_PERIOD, statistic="Maximum"),
                threshold=1,
            ),
            "dlq-age": self._at_least(
                f"{name}-dlq-age",
                f"socialcrm {name}: a dead-lettered message is older than {DLQ_AGE_ALARM.to_days()} days and "
                f"expires after {DLQ_RETENTION.to_days()}. Redrive it before it is lost.",
                dlq.metric_approximate_age_of_oldest_message(period=ALARM_PERIOD, statistic="Maximum"),
                threshold=DLQ_AGE_ALARM.to_seconds(),
            ),
            "queue-age": self._at_least(
                f"{name}-queue-age",
                f"socialcrm {name}: the oldest queued message has waited over {QUEUE_AGE_ALARM.to_minutes()} "
                "minutes; its consumer is failing or falling behind.",
                queue.metric_approximate_age_of_oldest_message(period=ALARM_PERIOD, statistic="Maximum"),
                threshold=QUEUE_AGE_ALARM.to_seconds(),
            ),
        }

    def grant_health(self, api: PipelineFunction) -> None:
        """Let the api function answer ``GET /health/platforms``: CloudWatch ``GetMetricData``, which IAM
        grants on every metric or none."""
        policy = iam.Policy(
            self,
            "HealthPolicy",
            statements=[iam.PolicyStatement(actions=["cloudwatch:GetMetricData"], resources=["*"])],
        )
        policy.attach_to_role(api.role)
        NagSuppressions.add_resource_suppressions(
            policy,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason=(
                        "cloudwatch:GetMetricData has no resource-level permissions: IAM only accepts "
                        "Resource '*' for it. The action is named (no wildcard action), and it reads metrics "
                        "only (counts of deliveries per platform, no personal data)."
                    ),
                    applies_to=["Resource::*"],
                )
            ],
        )

    def deliveries(self, platform: str, outcome: str, period: Duration) -> cloudwatch.Metric:
        return deliveries_metric(Stage.of(self).metrics_namespace, platform, outcome, period)

    def _platform_alarms(self) -> None:
        """Per platform: refusals over half of 10 or more deliveries in 15 minutes; silence of a platform
        that usually sends (``-c watched_platforms=…``) for ``silent_after_hours``."""
        window = Duration.minutes(15)
        for platform in ROUTE_PLATFORMS:
            share = cloudwatch.MathExpression(
                expression=f"IF(FILL(a,0)+FILL(r,0)+FILL(m,0) >= {REFUSED_MIN_DELIVERIES}, "
                "100*FILL(r,0)/(FILL(a,0)+FILL(r,0)+FILL(m,0)), 0)",
                using_metrics={
                    "a": self.deliveries(platform, "accepted", window),
                    "r": self.deliveries(platform, "refused", window),
                    "m": self.deliveries(platform, "malformed", window),
                },
                period=window,
                label=f"{platform} refused %",
            )
            self.operations[f"refused-{platform}"] = self._at_least(
                f"refused-{platform}",
                f"socialcrm {platform}: over {REFUSED_SHARE_ALARM_PCT}% of its webhook deliveries were refused "
                "(401/403) in 15 minutes: a changed app secret, an expired token, or someone forging them.",
                share,
                threshold=REFUSED_SHARE_ALARM_PCT,
            )
        watched, hours = watched_platforms_of(self, ROUTE_PLATFORMS)
        for platform in watched:
            alarm = cloudwatch.Alarm(
                self,
                f"silent-{platform}",
                alarm_description=(
                    f"socialcrm {platform}: no delivery accepted for {hours} hours. Is the subscription revoked, "
                    "the token expired, or the webhook URL changed?"
                ),
                metric=self.deliveries(platform, "accepted", Duration.hours(1)),
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                evaluation_periods=hours,
                treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
            )
            alarm.add_alarm_action(*self._actions)
            alarm.add_ok_action(*self._actions)
            self.operations[f"silent-{platform}"] = alarm

    def _at_least(
        self,
        construct_id: str,
        description: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        periods: int = 1,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=periods,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(*self._actions)
        alarm.add_ok_action(*self._actions)
        return alarm
