"""The bus → queue wiring: one EventBridge rule per work queue that ``topology`` subscribes to detail-types.

For every ``QueueSpec`` with ``detail_types``, a rule on the socialcrm bus matches events whose source
starts with ``socialcrm.`` and whose detail-type is one of them, and targets the queue. The queue's
policy lets EventBridge send only on behalf of that rule (``aws:SourceArn``), and the data key lets
EventBridge encrypt for SQS (a key-policy statement in ``infra.encryption``). CDK's own SQS target is
not used: for an encrypted queue it grants ``kms:GenerateDataKey*``/``kms:ReEncrypt*`` wildcards on the
key and drops the source-ARN condition. Each target retries for ``topology.BUS_RETRY_HOURS`` and then puts
the event in its own dead-letter queue (encrypted with the same key, alarmed on its first message), so no
event is dropped silently; an alarm fires when a rule fails to deliver.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsii
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.stage import Stage
from infra.work_queues import DLQ_RETENTION, WorkQueue
from socialcrm import topology

ALARM_PERIOD = Duration.minutes(5)


@jsii.implements(events.IRuleTarget)
class _QueueTarget:
    """The queue as a rule target, with no grants of its own (the construct adds exactly what is needed)."""

    def __init__(self, queue: sqs.IQueue, dead_letters: sqs.IQueue) -> None:
        self._queue, self._dead_letters = queue, dead_letters

    def bind(self, _rule: Any, _id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(
            arn=self._queue.queue_arn,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self._dead_letters.queue_arn),
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_event_age_in_seconds=topology.BUS_RETRY_HOURS * 3600,
                maximum_retry_attempts=topology.BUS_RETRY_ATTEMPTS,
            ),
        )


def event_pattern(detail_types: tuple[str, ...]) -> events.EventPattern:
    """Events of socialcrm's own functions (source ``socialcrm.<function>``) of these detail-types."""
    return events.EventPattern(
        source=events.Match.prefix(topology.EVENT_SOURCE_PREFIX), detail_type=list(detail_types)
    )


class BusSubscriptions(Construct):
    """``rules[<queue key>]``: the rule feeding each subscribed queue; ``alarms[<queue key>]`` its alarm."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        queues: Mapping[str, WorkQueue],
        data_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bus = bus
        self.rules: dict[str, events.Rule] = {}
        self.dead_letters: dict[str, sqs.Queue] = {}
        for key, work_queue in queues.items():
            spec = work_queue.spec
            if not spec.detail_types:
                continue
            rule = events.Rule(
                self,
                f"{key}-rule",
                event_bus=bus,
                # Named, so that `socialcrm events replay` can aim a replay at this consumer alone.
                rule_name=topology.rule_name(Stage.of(self).bus_name, key),
                description=f"socialcrm: {', '.join(spec.detail_types)} to the {key} queue",
                event_pattern=event_pattern(spec.detail_types),
            )
            dead_letters = sqs.Queue(
                self,
                f"{key}-dead-letters",
                encryption=sqs.QueueEncryption.KMS,
                encryption_master_key=data_key,
                enforce_ssl=True,
                retention_period=DLQ_RETENTION,
            )
            NagSuppressions.add_resource_suppressions(
                dead_letters,
                [
                    NagPackSuppression(
                        id="AwsSolutions-SQS3",
                        reason=(
                            "This queue is itself a dead-letter queue: where the bus rule's target puts the "
                            "events it could not deliver after its retries. It is alarmed on its first message."
                        ),
                    )
                ],
            )
            rule.add_target(_QueueTarget(work_queue.queue, dead_letters))
            for queue, purpose in ((work_queue.queue, "To"), (dead_letters, "DeadLettersOf")):
                queue.add_to_resource_policy(
                    iam.PolicyStatement(
                        sid=f"AllowBusRule{purpose}{key.title().replace('_', '')}",
                        principals=[iam.ServicePrincipal("events.amazonaws.com")],
                        actions=["sqs:SendMessage"],
                        resources=[queue.queue_arn],
                        conditions={"ArnEquals": {"aws:SourceArn": rule.rule_arn}},
                    )
                )
            self.rules[key] = rule
            self.dead_letters[key] = dead_letters
        missing = {spec.key for spec in topology.QUEUES.values() if spec.detail_types} - set(self.rules)
        if missing:
            raise ValueError(f"topology subscribes queues that the stack does not build: {sorted(missing)}")
        self.alarms: dict[str, cloudwatch.Alarm] = {}

    def alarm_to(self, topic: sns.ITopic) -> None:
        """Alarm (to ``topic``) whenever a rule fails to deliver an event to its queue."""
        action = cloudwatch_actions.SnsAction(topic)
        for key, rule in self.rules.items():
            alarm = cloudwatch.Alarm(
                self,
                f"{key}-delivery-failures",
                alarm_description=(
                    f"socialcrm: the bus could not deliver events to the {key} queue (queue policy or key "
                    "policy?). Undelivered events are lost after EventBridge's retries."
                ),
                metric=cloudwatch.Metric(
                    namespace="AWS/Events",
                    metric_name="FailedInvocations",
                    dimensions_map={"EventBusName": self.bus.event_bus_name, "RuleName": rule.rule_name},
                    period=ALARM_PERIOD,
                    statistic="Sum",
                ),
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)
            self.alarms[key] = alarm
            dead = cloudwatch.Alarm(
                self,
                f"{key}-bus-dlq-depth",
                alarm_description=(
                    f"socialcrm: events the bus could not deliver to the {key} queue for "
                    f"{topology.BUS_RETRY_HOURS} hours wait in its dead-letter queue. Fix the cause, then "
                    "send them to the bus again (the events are ids only)."
                ),
                metric=self.dead_letters[key].metric_approximate_number_of_messages_visible(
                    period=ALARM_PERIOD, statistic="Maximum"
                ),
                threshold=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            dead.add_alarm_action(action)
            dead.add_ok_action(action)
            self.alarms[f"{key}-bus-dlq"] = dead
