"""A function invoked by EventBridge Scheduler, with a role that may invoke that function and nothing else."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct


def invoke_on_schedule(
    scope: Construct,
    *,
    function: lambda_.IFunction,
    what: str,
    expression: str,
    role_id: str,
    schedule_id: str,
    policy_name: str,
    retry_attempts: int,
    max_event_age_seconds: int,
    timezone: str | None = None,
    event: str | None = None,
    description: str | None = None,
) -> scheduler.CfnSchedule:
    """A schedule (``expression``, e.g. ``rate(1 hour)``) invoking ``function`` with ``event``; its role is
    assumable by this account's EventBridge Scheduler only and may invoke that exact function only."""
    role = iam.Role(
        scope,
        role_id,
        assumed_by=iam.ServicePrincipal(
            "scheduler.amazonaws.com",
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}},
        ),
        description=f"EventBridge Scheduler: invoke the socialcrm {what}, nothing else",
        inline_policies={
            policy_name: iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function.function_arn])
                ]
            )
        },
    )
    return scheduler.CfnSchedule(
        scope,
        schedule_id,
        description=description or f"socialcrm {what}",
        schedule_expression=expression,
        schedule_expression_timezone=timezone,
        flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
        target=scheduler.CfnSchedule.TargetProperty(
            arn=function.function_arn,
            role_arn=role.role_arn,
            input=event,
            retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                maximum_retry_attempts=retry_attempts, maximum_event_age_in_seconds=max_event_age_seconds
            ),
        ),
    )
