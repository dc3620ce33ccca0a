"""Work queues: KMS-encrypted, TLS only, a DLQ each, alarms on DLQ depth and age, fed to consumers."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_

from infra.consumers import subscribe
from infra.lambdas import PipelineFunction, SharedCode
from infra.monitoring import QUEUE_AGE_ALARM
from infra.work_queues import WorkQueue
from socialcrm import topology

pytestmark = pytest.mark.infra


def _resource(synthesis, logical_id: str) -> dict:
    return synthesis.service_template.to_json()["Resources"][logical_id]


def test_each_topology_queue_has_an_encrypted_queue_with_its_own_dlq_and_redrive(synthesis):
    key = synthesis.in_service(synthesis.data.key.key_arn)
    assert set(synthesis.service.consumers.queues) == set(topology.QUEUES)
    for name, spec in topology.QUEUES.items():
        # Given the queue pair built for the spec
        work_queue = synthesis.service.consumers.queues[name]
        queue_id, dlq_id = synthesis.service_id(work_queue.queue), synthesis.service_id(work_queue.dlq)
        queue, dlq = _resource(synthesis, queue_id)["Properties"], _resource(synthesis, dlq_id)["Properties"]
        # Then both are encrypted with the data key
        assert queue["KmsMasterKeyId"] == key and dlq["KmsMasterKeyId"] == key, name
        # And the queue redrives to its own DLQ after the spec's receive count
        assert queue["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
            "maxReceiveCount": spec.max_receive_count,
        }, name
        assert queue["VisibilityTimeout"] == spec.visibility_timeout_seconds, name
        # And the DLQ keeps messages as long as SQS allows (14 days), time to redrive them
        assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600, name


def test_every_queue_of_the_app_is_declared_in_the_topology(synthesis):
    # Given every queue the stateless stack creates
    created = set(synthesis.service_template.find_resources("AWS::SQS::Queue"))
    # And the queues topology declares (each work queue, its DLQ, the others), as built
    declared = {}
    for key, work_queue in synthesis.service.consumers.queues.items():
        declared[key] = synthesis.service_id(work_queue.queue)
        declared[topology.QUEUES[key].dlq_key] = synthesis.service_id(work_queue.dlq)
    declared["sla-dlq"] = synthesis.service_id(synthesis.service.routing.sla_dlq)
    for key, dead_letters in synthesis.service.bus_subscriptions.dead_letters.items():
        declared[f"{key}-bus-dlq"] = synthesis.service_id(dead_letters)
    # Then they are the same: a queue added to the infrastructure alone fails here, and once declared in
    # topology the privacy registry's test makes it say whether an erasure reads it
    assert set(declared) == set(topology.queue_keys())
    assert created == set(declared.values())


def test_every_queue_refuses_requests_without_tls(synthesis):
    queue_ids = {
        synthesis.service_id(q)
        for work_queue in synthesis.service.consumers.queues.values()
        for q in (work_queue.queue, work_queue.dlq)
    }
    enforced = set()
    for policy in synthesis.service_template.find_resources("AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                enforced |= {ref["Ref"] for ref in policy["Properties"]["Queues"]}
    assert queue_ids <= enforced


def _alarms_on(synthesis, queue_id: str, metric: str) -> list[dict]:
    alarms = synthesis.service_template.find_resources("AWS::CloudWatch::Alarm")
    return [
        alarm["Properties"]
        for alarm in alarms.values()
        if alarm["Properties"].get("MetricName") == metric  # metric-math alarms have none
        and alarm["Properties"]["Namespace"] == "AWS/SQS"
        and alarm["Properties"]["Dimensions"]
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]
    ]


def test_each_dlq_alarms_as_soon_as_one_message_arrives_and_when_messages_grow_old(synthesis):
    topic_id = synthesis.service_id(synthesis.service.monitoring.topic)
    for name, work_queue in synthesis.service.consumers.queues.items():
        dlq_id = synthesis.service_id(work_queue.dlq)
        # Given the DLQ-depth alarm
        (depth,) = _alarms_on(synthesis, dlq_id, "ApproximateNumberOfMessagesVisible")
        # Then one visible message is enough, and on-call is told through the topic
        assert depth["Threshold"] == 1 and depth["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", (
            name
        )
        assert depth["AlarmActions"] == [{"Ref": topic_id}], name
        assert depth["TreatMissingData"] == "notBreaching", name
        # And an age alarm warns before dead-lettered messages expire
        (dlq_age,) = _alarms_on(synthesis, dlq_id, "ApproximateAgeOfOldestMessage")
        assert 0 < dlq_age["Threshold"] < 14 * 24 * 3600, name
        assert dlq_age["AlarmActions"] == [{"Ref": topic_id}], name


def test_each_work_queue_alarms_when_its_oldest_message_waits_too_long(synthesis):
    for name, work_queue in synthesis.service.consumers.queues.items():
        (age,) = _alarms_on(
            synthesis, synthesis.service_id(work_queue.queue), "ApproximateAgeOfOldestMessage"
        )
        assert age["Threshold"] == QUEUE_AGE_ALARM.to_seconds(), name
        assert age["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", name


def test_alarm_topic_is_encrypted_with_the_data_key(synthesis):
    synthesis.service_template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": synthesis.in_service(synthesis.data.key.key_arn)}
    )


def test_queue_fed_functions_consume_in_batches_with_partial_failure_reporting(synthesis):
    fed = {key: spec for key, spec in topology.FUNCTIONS.items() if spec.queue}
    mappings = synthesis.service_template.find_resources("AWS::Lambda::EventSourceMapping")
    assert len(mappings) == len(fed)
    for key, function_spec in fed.items():
        # Given a function topology feeds from a queue
        queue_spec = topology.QUEUES[function_spec.queue]
        queue_id = synthesis.service_id(synthesis.service.consumers.queues[function_spec.queue].queue)
        function_id = synthesis.service_id(synthesis.service.functions[key].fn)
        # Then its event source reads that queue with the spec's batching and reports item failures
        expected = {
            "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]},
            "FunctionName": {"Ref": function_id},
            "BatchSize": queue_spec.batch_size,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        }
        if queue_spec.batching_window_seconds:
            expected["MaximumBatchingWindowInSeconds"] = queue_spec.batching_window_seconds
        synthesis.service_template.has_resource_properties("AWS::Lambda::EventSourceMapping", expected)


def test_a_queue_whose_visibility_timeout_is_shorter_than_its_consumers_timeout_is_refused(stub_layer_dir):
    # Given a queue that would hand a message to a second consumer while the first still works on it
    stack = Stack(App(), "Probe")
    spec = topology.QueueSpec(
        key="probe", env_var="PROBE_QUEUE_URL", visibility_timeout_seconds=30, max_receive_count=3
    )
    work_queue = WorkQueue(stack, "Queue", spec=spec, key=kms.Key(stack, "Key"))
    layer = lambda_.LayerVersion(stack, "Layer", code=lambda_.Code.from_asset(str(stub_layer_dir)))
    consumer = PipelineFunction(
        stack,
        "Consumer",
        spec=topology.FunctionSpec(key="probe", handler="probe.handler", memory_mb=128, timeout_seconds=60),
        shared=SharedCode(code=lambda_.Code.from_inline("def handler(event, context): pass"), layer=layer),
        environment={},
    )
    # When the consumer is subscribed to it
    # Then synth stops with the reason, instead of Lambda rejecting the event source at deploy time
    with pytest.raises(ValueError, match="visibility timeout of 30s, shorter than function 'probe'"):
        subscribe(consumer, work_queue)


def test_every_bus_rule_target_retries_then_keeps_what_it_could_not_deliver(synthesis):
    # Given the rules that feed the work queues from the bus
    rules = synthesis.service_template.find_resources("AWS::Events::Rule")
    subscribed = {spec.key for spec in topology.QUEUES.values() if spec.detail_types}
    assert len(rules) == len(subscribed)
    dead_letters = {
        key: synthesis.service_id(queue)
        for key, queue in synthesis.service.bus_subscriptions.dead_letters.items()
    }
    assert set(dead_letters) == subscribed
    for rule in rules.values():
        (target,) = rule["Properties"]["Targets"]
        # Then each target retries for a day, then puts the event in its own dead-letter queue
        assert target["RetryPolicy"] == {
            "MaximumEventAgeInSeconds": topology.BUS_RETRY_HOURS * 3600,
            "MaximumRetryAttempts": topology.BUS_RETRY_ATTEMPTS,
        }
        dlq_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
        assert dlq_id in dead_letters.values()
        # And that queue is encrypted, kept 14 days, and alarmed on its first message
        queue = synthesis.service_template.to_json()["Resources"][dlq_id]["Properties"]
        assert "KmsMasterKeyId" in queue and queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    alarms = synthesis.service.bus_subscriptions.alarms
    assert {f"{key}-bus-dlq" for key in subscribed} <= set(alarms)


def test_the_bus_keeps_an_archive_of_the_pipelines_events(synthesis):
    archives = synthesis.data_template.find_resources("AWS::Events::Archive")
    (archive,) = archives.values()
    assert archive["Properties"]["RetentionDays"] == topology.RETENTION_DAYS["bus_archive"]
    assert archive["Properties"]["ArchiveName"] == "socialcrm-dev-events"
    assert archive["Properties"]["EventPattern"] == {"source": [{"prefix": "socialcrm."}]}


def test_every_event_source_has_a_maximum_concurrency(synthesis):
    sources = synthesis.service_template.find_resources("AWS::Lambda::EventSourceMapping")
    assert len(sources) == len(topology.QUEUES)
    for source in sources.values():
        assert source["Properties"]["ScalingConfig"]["MaximumConcurrency"] >= 2


def test_the_api_functions_and_tables_alarm_to_on_call(synthesis):
    operations = synthesis.service.monitoring.operations
    assert {"api-5xx", "api-latency-p99"} <= set(operations)
    assert {f"throttles-{key}" for key in topology.FUNCTIONS} <= set(operations)
    assert {f"ddb-throttles-{key}" for key in topology.TABLES} <= set(operations)
    topic = {"Ref": synthesis.service_id(synthesis.service.monitoring.topic)}
    resources = synthesis.service_template.to_json()["Resources"]
    for alarm in operations.values():
        assert resources[synthesis.service_id(alarm)]["Properties"]["AlarmActions"] == [topic]


def test_on_call_is_subscribed_from_the_context(stub_layer_dir, tmp_path):
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from infra.app import build_app
    from infra.layer import LAYER_DIR_CONTEXT
    from tests.infra.conftest import cdk_context

    app = App(
        context={
            **cdk_context(),
            LAYER_DIR_CONTEXT: str(stub_layer_dir),
            "alarm_email": "oncall@example.com",
        },
        outdir=str(tmp_path),
    )
    _, service = build_app(app)
    Template.from_stack(service).has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )


def test_each_platform_alarms_when_its_deliveries_are_refused_or_it_goes_silent(
    stub_layer_dir, tmp_path, synthesis
):
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from infra.app import build_app
    from infra.layer import LAYER_DIR_CONTEXT
    from socialcrm.platforms import ROUTE_PLATFORMS
    from tests.infra.conftest import cdk_context

    # Every platform has a refusal alarm; none is watched for silence unless the context says so
    assert {f"refused-{p}" for p in ROUTE_PLATFORMS} <= set(synthesis.service.monitoring.operations)
    assert not any(k.startswith("silent-") for k in synthesis.service.monitoring.operations)
    app = App(
        context={
            **cdk_context(),
            LAYER_DIR_CONTEXT: str(stub_layer_dir),
            "watched_platforms": "meta,x",
            "silent_after_hours": "6",
        },
        outdir=str(tmp_path),
    )
    _, service = build_app(app)
    silent = Template.from_stack(service).find_resources(
        "AWS::CloudWatch::Alarm",
        {"Properties": {"MetricName": "Deliveries", "TreatMissingData": "breaching"}},
    )
    assert len(silent) == 2
    for alarm in silent.values():
        props = alarm["Properties"]
        assert props["EvaluationPeriods"] == 6 and props["Period"] == 3600
        assert props["ComparisonOperator"] == "LessThanThreshold"
