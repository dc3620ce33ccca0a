"""Alarms: every work queue's DLQ depth and age, and its own backlog age, to one encrypted topic."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.work_queues import DLQ_RETENTION, WorkQueue

# A message older than this on a work queue means its consumer is failing or far behind.
QUEUE_AGE_ALARM = Duration.minutes(15)
# DLQ messages expire after DLQ_RETENTION: warn while there is still time to redrive them.
DLQ_AGE_ALARM = Duration.days(DLQ_RETENTION.to_days() // 2)
ALARM_PERIOD = Duration.minutes(1)


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
        self.alarms = {name: self._queue_alarms(name, work_queue) for name, work_queue in queues.items()}
        CfnOutput(
            self, "AlarmTopicArn", value=self.topic.topic_arn, description="Subscribe on-call to these alarms"
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

    def _at_least(
        self, construct_id: str, description: str, metric: cloudwatch.IMetric, *, threshold: float
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        return alarm
