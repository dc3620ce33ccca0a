"""The bus → queue wiring: one EventBridge rule per work queue that ``topology`` subscribes to detail-types.

For every ``QueueSpec`` with ``detail_types``, a rule on the socialcrm bus matches events whose source
starts with ``socialcrm.`` and whose detail-type is one of them, and targets the queue. The queue's
policy lets EventBridge send only on behalf of that rule (``aws:SourceArn``), and the data key lets
EventBridge encrypt for SQS (a key-policy statement in ``infra.encryption``). CDK's own SQS target is
not used: for an encrypted queue it grants ``kms:GenerateDataKey*``/``kms:ReEncrypt*`` wildcards on the
key and drops the source-ARN condition. An alarm fires when a rule fails to deliver.
"""

from __future__ import annotations

from collections.abc import Mapping

import jsii
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.work_queues import WorkQueue
from socialcrm import topology

ALARM_PERIOD = Duration.minutes(5)


@jsii.implements(events.IRuleTarget)
class _QueueTarget:
    """The queue as a rule target, with no grants of its own (the construct adds exactly what is needed)."""

    def __init__(self, queue: sqs.IQueue) -> None:
        self._queue = queue

    def bind(self, _rule: events.IRule, _id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(arn=self._queue.queue_arn)


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
    ) -> None:
        super().__init__(scope, construct_id)
        self.bus = bus
        self.rules: dict[str, events.Rule] = {}
        for key, work_queue in queues.items():
            spec = work_queue.spec
            if not spec.detail_types:
                continue
            rule = events.Rule(
                self,
                f"{key}-rule",
                event_bus=bus,
                description=f"socialcrm: {', '.join(spec.detail_types)} to the {key} queue",
                event_pattern=event_pattern(spec.detail_types),
            )
            rule.add_target(_QueueTarget(work_queue.queue))
            work_queue.queue.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"AllowBusRuleTo{key.title().replace('_', '')}",
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    actions=["sqs:SendMessage"],
                    resources=[work_queue.queue.queue_arn],
                    conditions={"ArnEquals": {"aws:SourceArn": rule.rule_arn}},
                )
            )
            self.rules[key] = rule
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
