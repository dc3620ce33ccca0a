"""Reporting in the CDK app: consumer and daily report with least privilege, the private bucket, the
schedule, the dashboard and its alarms."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.dashboard import ERROR_RATE_ALARM_PCT, ERRORS_ARE_ANSWERS, SLA_BREACH_ALARM
from socialcrm import topology
from tests.infra.test_cdk_iam import LOGS, TABLE_KEY_READ, TABLE_KEY_WRITE, XRAY, granted

pytestmark = pytest.mark.infra

SQS_CONSUME = {
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueUrl",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
}


def _resources(synthesis, kind: str) -> dict[str, dict[str, Any]]:
    return synthesis.service_template.find_resources(kind)


def _pairs(actions: set[str], resource: str) -> set[tuple[str, str]]:
    return {(action, resource) for action in actions}


def test_the_report_consumer_may_only_count_facts(synthesis):
    # Given the report function's grants
    actual = granted(synthesis, "report")
    # Then it updates counters, puts/reads/updates seen markers, reads the erasure tombstones (an erased
    # subject's facts still in flight are dropped), consumes its own queue; nothing else
    expected = (
        _pairs(LOGS, "logs:report")
        | _pairs(XRAY, "*")
        | {("dynamodb:UpdateItem", "table:report_counters"), ("dynamodb:GetItem", "table:suppressions")}
        | _pairs({"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"}, "table:report_seen")
        | _pairs(TABLE_KEY_WRITE, "key via dynamodb")
        | _pairs(SQS_CONSUME, "queue:report")
        | {("kms:Decrypt", "key")}
    )
    assert sorted(actual - expected) == [] and sorted(expected - actual) == []


def test_the_daily_report_reads_counters_and_writes_only_under_reports_in_its_bucket(synthesis):
    # Given the daily report's identity grants
    actual = granted(synthesis, "daily_report")
    # Then it may Query the counters, and nothing else
    expected = (
        _pairs(LOGS, "logs:daily_report")
        | _pairs(XRAY, "*")
        | {("dynamodb:Query", "table:report_counters")}
        | _pairs(TABLE_KEY_READ, "key via dynamodb")
    )
    assert sorted(actual - expected) == [] and sorted(expected - actual) == []
    # And the reports bucket's own policy lets that role, and no other, put objects under reports/
    bucket_id = synthesis.service_id(synthesis.service.reporting.bucket)
    role_id = synthesis.service_id(synthesis.service.functions["daily_report"].role)
    allowed = [
        statement
        for policy in _resources(synthesis, "AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow"
    ]
    assert allowed == [
        {
            "Sid": "DailyReportWritesReports",
            "Effect": "Allow",
            "Principal": {"AWS": {"Fn::GetAtt": [role_id, "Arn"]}},
            "Action": "s3:PutObject",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/reports/*"]]},
        }
    ]


def test_no_function_may_scan_or_delete_the_report_counters(synthesis):
    for key in topology.FUNCTIONS:
        actions = {
            action for action, resource in granted(synthesis, key) if resource == "table:report_counters"
        }
        assert not actions & {"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}, key
    # And only the report consumer writes them
    writers = {
        key
        for key in topology.FUNCTIONS
        if ("dynamodb:UpdateItem", "table:report_counters") in granted(synthesis, key)
    }
    assert writers == {"report"}


def test_the_report_consumer_reads_its_queue_in_batches_with_at_most_five_concurrent_writers(synthesis):
    queue_id = synthesis.service_id(synthesis.service.consumers.queues["report"].queue)
    function_id = synthesis.service_id(synthesis.service.functions["report"].fn)
    synthesis.service_template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]},
            "FunctionName": {"Ref": function_id},
            "BatchSize": 100,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 5},
        },
    )


def test_the_api_function_is_told_the_counters_table(synthesis):
    api_id = synthesis.service_id(synthesis.service.functions["api"].fn)
    env = _resources(synthesis, "AWS::Lambda::Function")[api_id]["Properties"]["Environment"]["Variables"]
    assert env["REPORT_COUNTERS_TABLE"] == synthesis.in_service(
        synthesis.data.tables["report_counters"].table_name
    )


def test_the_reports_bucket_is_private_encrypted_tls_only_logged_and_expiring(synthesis):
    # Given the reports bucket
    bucket = synthesis.service.reporting.bucket
    bucket_id = synthesis.service_id(bucket)
    props = _resources(synthesis, "AWS::S3::Bucket")[bucket_id]["Properties"]
    # Then every public access is blocked and objects are owned by the account (no ACLs)
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    # And objects are encrypted at rest and expire
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert any(
        r["Status"] == "Enabled" and r["ExpirationInDays"] > 0
        for r in props["LifecycleConfiguration"]["Rules"]
    )
    # And requests are logged to a second private bucket
    log_bucket_id = props["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    log_props = _resources(synthesis, "AWS::S3::Bucket")[log_bucket_id]["Properties"]
    assert log_props["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    # And the bucket policy refuses plain HTTP and TLS older than 1.2
    (policy,) = [
        p
        for p in _resources(synthesis, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    conditions = [
        s.get("Condition")
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny"
    ]
    assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
    assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions
    # And it is kept if the stack goes (reports are rebuilt from counters, but never deleted by accident)
    assert _resources(synthesis, "AWS::S3::Bucket")[bucket_id]["DeletionPolicy"] == "Retain"


def test_the_daily_report_runs_after_midnight_utc_with_a_role_that_can_only_invoke_it(synthesis):
    # Given the schedule
    daily_id = synthesis.service_id(synthesis.service.functions["daily_report"].fn)
    (schedule,) = [
        schedule
        for schedule in _resources(synthesis, "AWS::Scheduler::Schedule").values()
        if schedule["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [daily_id, "Arn"]}
    ]
    props = schedule["Properties"]
    # Then it runs daily at 00:30 UTC and invokes the daily report with the scheduled time
    assert (
        props["ScheduleExpression"] == "cron(30 0 * * ? *)"
        and props["ScheduleExpressionTimezone"] == "Etc/UTC"
    )
    assert props["Target"]["Arn"] == {"Fn::GetAtt": [daily_id, "Arn"]}
    assert json.loads(props["Target"]["Input"]) == {"scheduled_time": "<aws.scheduler.scheduled-time>"}
    assert props["Target"]["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    # And its role is assumable by this account's scheduler only, and may invoke that function only
    role_id = props["Target"]["RoleArn"]["Fn::GetAtt"][0]
    role = _resources(synthesis, "AWS::IAM::Role")[role_id]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    assert statements == [
        {"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": {"Fn::GetAtt": [daily_id, "Arn"]}}
    ]
    assert not [
        p
        for p in _resources(synthesis, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
    ]


def _dashboard_body(synthesis) -> str:
    (dashboard,) = _resources(synthesis, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    return "".join(p if isinstance(p, str) else json.dumps(p) for p in parts)


def test_the_dashboard_shows_business_metrics_beside_operational_ones(synthesis):
    body = _dashboard_body(synthesis)
    # Business: interactions by platform and by sentiment, SLA breaches, spikes
    assert 'MetricName=\\"InteractionsCounted\\"' in body
    assert "{socialcrm/dev,platform,service}" in body and "{socialcrm/dev,sentiment,service}" in body
    assert '"SlaBreaches"' in body and '"Spikes"' in body
    # Operations: every DLQ's depth, every function's errors, the ingest p99
    assert body.count('"ApproximateNumberOfMessagesVisible"') == len(topology.QUEUES)
    for queue in synthesis.service.consumers.queues.values():
        assert synthesis.service_id(queue.dlq) in body
    assert body.count('"Errors"') >= len(topology.FUNCTIONS)
    assert '"Duration"' in body and '"stat":"p99"' in body.replace(" ", "")
    # And the alarm panel lists every dashboard alarm (error rates, SLA breaches, spikes)
    for alarm in synthesis.service.dashboard.alarms.values():
        assert synthesis.service_id(alarm) in body


def _alarm(synthesis, construct) -> dict[str, Any]:
    return _resources(synthesis, "AWS::CloudWatch::Alarm")[synthesis.service_id(construct)]["Properties"]


def test_every_function_alarms_on_its_error_rate_to_on_call(synthesis):
    topic = {"Ref": synthesis.service_id(synthesis.service.monitoring.topic)}
    alarms = synthesis.service.dashboard.alarms
    assert {"rules_validator"} == ERRORS_ARE_ANSWERS  # every other function's failures page on-call
    for key, function in synthesis.service.functions.items():
        if key in ERRORS_ARE_ANSWERS:  # a refused rules version is an answer: no page
            assert f"error-rate-{key}" not in alarms
            continue
        alarm = _alarm(synthesis, alarms[f"error-rate-{key}"])
        function_id = synthesis.service_id(function.fn)
        # Then errors / invocations of that function, as a percentage, above the threshold pages on-call
        ids = {m["Id"]: m for m in alarm["Metrics"]}
        assert ids[f"errors_{key}"]["MetricStat"]["Metric"]["MetricName"] == "Errors"
        assert ids[f"errors_{key}"]["MetricStat"]["Metric"]["Dimensions"] == [
            {"Name": "FunctionName", "Value": {"Ref": function_id}}
        ]
        assert ids[f"invocations_{key}"]["MetricStat"]["Metric"]["MetricName"] == "Invocations"
        (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
        assert "100 *" in expression["Expression"] and expression["ReturnData"] is True
        assert alarm["Threshold"] == ERROR_RATE_ALARM_PCT
        assert alarm["AlarmActions"] == [topic]


def test_sla_breaches_and_spikes_alarm_on_the_report_consumers_metrics(synthesis):
    topic = {"Ref": synthesis.service_id(synthesis.service.monitoring.topic)}
    alarms = synthesis.service.dashboard.alarms
    service = [{"Name": "service", "Value": "socialcrm-report"}]
    breaches = _alarm(synthesis, alarms["sla-breaches"])
    assert (breaches["Namespace"], breaches["MetricName"], breaches["Dimensions"]) == (
        "socialcrm/dev",
        "SlaBreaches",
        service,
    )
    assert breaches["Statistic"] == "Sum" and breaches["Threshold"] == SLA_BREACH_ALARM
    assert breaches["AlarmActions"] == [topic]
    spikes = _alarm(synthesis, alarms["spikes"])
    assert (spikes["MetricName"], spikes["Dimensions"], spikes["Threshold"]) == ("Spikes", service, 1)
    assert spikes["AlarmActions"] == [topic]


def test_the_report_queues_dlq_alarms_as_soon_as_a_message_lands_there(synthesis):
    dlq_alarm = synthesis.service.monitoring.alarms["report"]["dlq-depth"]
    alarm = _alarm(synthesis, dlq_alarm)
    dlq_id = synthesis.service_id(synthesis.service.consumers.queues["report"].dlq)
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]
    assert alarm["Threshold"] == 1


def test_the_report_queue_is_fed_every_event_reporting_counts_from_the_bus(synthesis):
    # Given the bus rule that feeds the report queue
    rule = synthesis.service.bus_subscriptions.rules["report"]
    props = _resources(synthesis, "AWS::Events::Rule")[synthesis.service_id(rule)]["Properties"]
    queue_id = synthesis.service_id(synthesis.service.consumers.queues["report"].queue)
    # Then it matches socialcrm's own events of the five counted detail-types and targets the report queue
    assert sorted(props["EventPattern"]["detail-type"]) == sorted(
        ["InteractionEnriched", "InteractionRouted", "CaseUpdated", "SlaBreached", "SpikeDetected"]
    )
    assert props["EventPattern"]["source"] == [{"prefix": "socialcrm."}]
    assert [target["Arn"] for target in props["Targets"]] == [{"Fn::GetAtt": [queue_id, "Arn"]}]
