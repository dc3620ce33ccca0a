"""Reporting: the ``report`` consumer, the scheduled ``daily_report`` and its private bucket, and the
read grant of the ``api`` function's ``GET /reports/summary``. Each gets exactly the actions its code calls.

- ``report`` records each fact in one transaction: a conditional PutItem of its seen marker (GetItem
  and UpdateItem when a late sentiment moves a PENDING count) and UpdateItem (ADD) on counter cells.
- ``daily_report`` reads the counters of 30 days (Query) and writes three objects under ``reports/`` in
  the reports bucket (PutObject, granted by the bucket's policy to its role alone); EventBridge Scheduler
  invokes it daily with a role that can do nothing but invoke it.
- the ``api`` function reads the counters (Query) for the summary.

The reports bucket holds aggregates only (no personal data): private, every public access blocked,
SSE-S3 encrypted, TLS 1.2+ only, server access logs to a second bucket, objects expired by lifecycle.
Reports can be rebuilt from the counters at any time, so the bucket lives in the stateless stack
(retained if the stack goes, never emptied by CloudFormation).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.consumers import subscribe
from infra.grants import grant_table
from infra.lambdas import PipelineFunction, SharedCode, resource_environment
from infra.schedules import invoke_on_schedule
from infra.work_queues import WorkQueue
from socialcrm import topology
from socialcrm.reporting.daily import S3_PREFIX

COUNTER_WRITE_ACTIONS = ("dynamodb:UpdateItem",)
SEEN_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem")
COUNTER_READ_ACTIONS = ("dynamodb:Query",)
REPORTS_BUCKET_ENV = "REPORTS_BUCKET"
# Daily at 00:30 UTC: the report covers the UTC day that has just ended.
DAILY_SCHEDULE = "cron(30 0 * * ? *)"
REPORT_RETENTION = Duration.days(400)
ACCESS_LOG_RETENTION = Duration.days(90)


class Reporting(Construct):
    """``functions`` holds ``report`` and ``daily_report``; ``bucket`` the reports, ``schedule`` the daily run."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: SharedCode,
        tables: Mapping[str, dynamodb.ITable],
        queues: Mapping[str, WorkQueue],
    ) -> None:
        super().__init__(scope, construct_id)
        self.counters, self.seen = tables["report_counters"], tables["report_seen"]
        self.suppressions = tables["suppressions"]
        self.bucket = self._bucket()
        self.consumer = self._consumer(shared, queues)
        self.daily = self._daily(shared)
        self.schedule = self._schedule()
        self.functions = {"report": self.consumer, "daily_report": self.daily}

    def grant_summary(self, api: PipelineFunction) -> None:
        """Let the api function answer ``GET /reports/summary``: the counters' name, and Query on them."""
        api.fn.add_environment(topology.TABLES["report_counters"].env_var, self.counters.table_name)
        grant_table(api.fn, self.counters, COUNTER_READ_ACTIONS)

    def _consumer(self, shared: SharedCode, queues: Mapping[str, WorkQueue]) -> PipelineFunction:
        spec = topology.FUNCTIONS["report"]
        assert spec.queue is not None, "topology: report is fed by a queue"
        function = PipelineFunction(
            self,
            "Report",
            spec=spec,
            shared=shared,
            environment=resource_environment(
                tables={
                    "report_counters": self.counters,
                    "report_seen": self.seen,
                    "suppressions": self.suppressions,
                }
            ),
        )
        grant_table(function.fn, self.counters, COUNTER_WRITE_ACTIONS)
        grant_table(function.fn, self.seen, SEEN_ACTIONS)
        # the facts of an erased subject's data still in flight are dropped, not counted
        grant_table(function.fn, self.suppressions, ("dynamodb:GetItem",))
        subscribe(function, queues[spec.queue])
        return function

    def _daily(self, shared: SharedCode) -> PipelineFunction:
        function = PipelineFunction(
            self,
            "DailyReport",
            spec=topology.FUNCTIONS["daily_report"],
            shared=shared,
            environment={
                **resource_environment(tables={"report_counters": self.counters}),
                REPORTS_BUCKET_ENV: self.bucket.bucket_name,
            },
        )
        grant_table(function.fn, self.counters, COUNTER_READ_ACTIONS)
        # The bucket's own policy names the one writer and the one prefix it writes (object keys carry
        # the day, known only at run time); the role's identity policy holds no S3 permission at all.
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DailyReportWritesReports",
                principals=[function.role],
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects(f"{S3_PREFIX}/*")],
            )
        )
        return function

    def _schedule(self) -> scheduler.CfnSchedule:
        """Daily at 00:30 UTC, passing the scheduled time so a retried invocation reports on the same day.

        Its role is assumable by EventBridge Scheduler of this account only and may invoke the daily
        report function (that exact ARN), nothing else.
        """
        return invoke_on_schedule(
            self,
            function=self.daily.fn,
            what="daily report",
            description="socialcrm daily report (the UTC day that has just ended)",
            expression=DAILY_SCHEDULE,
            timezone="Etc/UTC",
            event=json.dumps({"scheduled_time": "<aws.scheduler.scheduled-time>"}),
            role_id="ScheduleRole",
            schedule_id="DailySchedule",
            policy_name="InvokeDailyReport",
            retry_attempts=3,
            max_event_age_seconds=6 * 3600,
        )

    def _bucket(self) -> s3.Bucket:
        access_logs = s3.Bucket(
            self,
            "ReportsAccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=ACCESS_LOG_RETENTION)],
            removal_policy=RemovalPolicy.RETAIN,
        )
        NagSuppressions.add_resource_suppressions(
            access_logs,
            [
                NagPackSuppression(
                    id="AwsSolutions-S1",
                    reason=(
                        "This bucket is the destination of the reports bucket's server access logs; logging "
                        "it in turn would need a third bucket, and so on. It is private, encrypted, TLS-only "
                        "and expires logs after 90 days."
                    ),
                )
            ],
        )
        return s3.Bucket(
            self,
            "Reports",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="reports-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=REPORT_RETENTION, abort_incomplete_multipart_upload_after=Duration.days(1)
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
