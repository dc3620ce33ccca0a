"""Routing in the CDK app: bus → queue rules, the key's EventBridge statement, SLA scheduling, team topics,
the rules in AppConfig, and a synth that stops on an invalid rules document."""

from __future__ import annotations

import json

import pytest
import yaml
from aws_cdk import App

from infra.app import build_app
from infra.layer import LAYER_DIR_CONTEXT
from infra.routing import RULES_FILE_CONTEXT
from socialcrm import settings, topology
from socialcrm.routing.rules import RulesError
from socialcrm.routing.source import REPO_RULES_FILE
from tests.infra.conftest import cdk_context

pytestmark = pytest.mark.infra


def _resources(synthesis, kind: str) -> dict[str, dict]:
    return synthesis.service_template.find_resources(kind)


def test_every_subscribed_queue_is_fed_by_a_rule_on_the_bus_for_its_detail_types(synthesis):
    rules = _resources(synthesis, "AWS::Events::Rule")
    subscribed = {key: spec for key, spec in topology.QUEUES.items() if spec.detail_types}
    assert "route" in subscribed and len(rules) == len(subscribed)
    for key, spec in subscribed.items():
        # Given the rule built for the queue
        rule_id = synthesis.service_id(synthesis.service.bus_subscriptions.rules[key])
        props = rules[rule_id]["Properties"]
        queue_id = synthesis.service_id(synthesis.service.consumers.queues[key].queue)
        # Then it listens on the socialcrm bus to socialcrm's own sources, for the queue's detail-types only
        assert props["EventBusName"] == synthesis.in_service(synthesis.data.bus.event_bus_name)
        assert props["EventPattern"] == {
            "source": [{"prefix": topology.EVENT_SOURCE_PREFIX}],
            "detail-type": list(spec.detail_types),
        }
        # And it targets that queue
        assert [t["Arn"] for t in props["Targets"]] == [{"Fn::GetAtt": [queue_id, "Arn"]}]


def test_a_queue_accepts_events_only_from_its_own_rule(synthesis):
    for key, rule in synthesis.service.bus_subscriptions.rules.items():
        queue_id = synthesis.service_id(synthesis.service.consumers.queues[key].queue)
        rule_arn = {"Fn::GetAtt": [synthesis.service_id(rule), "Arn"]}
        statements = [
            statement
            for policy in _resources(synthesis, "AWS::SQS::QueuePolicy").values()
            if {"Ref": queue_id} in policy["Properties"]["Queues"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if statement["Effect"] == "Allow"
        ]
        assert statements == [
            {
                "Sid": statements[0]["Sid"],
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": {"Fn::GetAtt": [queue_id, "Arn"]},
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ], key


def test_the_data_key_lets_eventbridge_encrypt_for_the_queues_only_through_sqs_for_socialcrm_rules(synthesis):
    (key,) = synthesis.data_template.find_resources("AWS::KMS::Key").values()
    statements = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert len(statements) == 1
    (statement,) = statements
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    condition = statement["Condition"]
    assert condition["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert "sqs." in json.dumps(condition["StringEquals"]["kms:ViaService"])
    assert ":rule/socialcrm-dev/*" in json.dumps(condition["ArnLike"]["aws:SourceArn"])


def test_each_bus_rule_alarms_when_it_fails_to_deliver(synthesis):
    alarms = [a["Properties"] for a in _resources(synthesis, "AWS::CloudWatch::Alarm").values()]
    failed = [
        a for a in alarms if a.get("MetricName") == "FailedInvocations" and a["Namespace"] == "AWS/Events"
    ]
    assert len(failed) == len(synthesis.service.bus_subscriptions.rules)
    topic_id = synthesis.service_id(synthesis.service.monitoring.topic)
    assert all(a["AlarmActions"] == [{"Ref": topic_id}] and a["Threshold"] == 1 for a in failed)


def test_the_route_consumer_is_fed_by_its_queue_and_the_route_queue_has_dlq_alarms(synthesis):
    route = synthesis.service.functions["route"]
    queue = synthesis.service.consumers.queues["route"]
    synthesis.service_template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [synthesis.service_id(queue.queue), "Arn"]},
            "FunctionName": {"Ref": synthesis.service_id(route.fn)},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    assert set(synthesis.service.monitoring.alarms["route"]) == {"dlq-depth", "dlq-age", "queue-age"}


def test_the_scheduler_role_can_only_be_assumed_for_the_sla_group_and_only_invokes_the_sla_function(
    synthesis,
):
    routing = synthesis.service.routing
    groups = _resources(synthesis, "AWS::Scheduler::ScheduleGroup")
    assert [g["Properties"]["Name"] for g in groups.values()] == ["socialcrm-dev-sla"]
    role_id = synthesis.service_id(routing.scheduler_role)
    role = synthesis.service_template.to_json()["Resources"][role_id]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert "schedule-group/socialcrm-dev-sla" in json.dumps(
        trust["Condition"]["StringEquals"]["aws:SourceArn"]
    )
    statements = [
        statement
        for policy in _resources(synthesis, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    sla_id = synthesis.service_id(synthesis.service.functions["sla"].fn)
    assert statements == [
        {"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": {"Fn::GetAtt": [sla_id, "Arn"]}}
    ]


def test_failed_sla_invocations_go_to_an_encrypted_dead_letter_queue_that_alarms(synthesis):
    routing = synthesis.service.routing
    dlq_id = synthesis.service_id(routing.sla_dlq)
    (config,) = _resources(synthesis, "AWS::Lambda::EventInvokeConfig").values()
    assert config["Properties"]["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": [dlq_id, "Arn"]}}
    }
    assert config["Properties"]["MaximumRetryAttempts"] == 2
    dlq = synthesis.service_template.to_json()["Resources"][dlq_id]["Properties"]
    assert dlq["KmsMasterKeyId"] == synthesis.in_service(synthesis.data.key.key_arn)
    alarm = synthesis.service_template.to_json()["Resources"][synthesis.service_id(routing.sla_dlq_alarm)][
        "Properties"
    ]
    assert alarm["Threshold"] == 1 and alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"


def test_each_team_of_the_rules_has_its_own_encrypted_topic_named_to_the_functions(synthesis):
    document = yaml.safe_load(REPO_RULES_FILE.read_text(encoding="utf-8"))
    routing = synthesis.service.routing
    assert set(routing.topics) == set(document["teams"])
    key_arn = synthesis.in_service(synthesis.data.key.key_arn)
    for topic in routing.topics.values():
        props = synthesis.service_template.to_json()["Resources"][synthesis.service_id(topic)]["Properties"]
        assert props["KmsMasterKeyId"] == key_arn
    for key in ("route", "sla"):
        env = _environment(synthesis, key)
        rendered = json.dumps(env["TEAM_TOPICS"])
        assert all(synthesis.service_id(topic) in rendered for topic in routing.topics.values())


def _environment(synthesis, key: str) -> dict:
    function_id = synthesis.service_id(synthesis.service.functions[key].fn)
    return synthesis.service_template.to_json()["Resources"][function_id]["Properties"]["Environment"][
        "Variables"
    ]


def test_the_rules_are_deployed_to_appconfig_as_the_json_of_config_rules_yaml(synthesis):
    (version,) = _resources(synthesis, "AWS::AppConfig::HostedConfigurationVersion").values()
    assert version["Properties"]["ContentType"] == "application/json"
    assert json.loads(version["Properties"]["Content"]) == json.loads(
        json.dumps(yaml.safe_load(REPO_RULES_FILE.read_text(encoding="utf-8")), default=str)
    )
    (deployment,) = _resources(synthesis, "AWS::AppConfig::Deployment").values()
    routing = synthesis.service.routing
    assert deployment["Properties"]["EnvironmentId"] == {
        "Ref": synthesis.service_id(routing.rules_environment)
    }
    env = _environment(synthesis, "route")
    assert env["RULES_APPCONFIG_APPLICATION"] == {"Ref": synthesis.service_id(routing.rules_application)}


def test_appconfig_refuses_a_rules_version_the_validator_function_refuses(synthesis):
    # Given the configuration profile of the rules
    (profile,) = _resources(synthesis, "AWS::AppConfig::ConfigurationProfile").values()
    validator = synthesis.service.routing.rules_validator
    # Then every new version goes through the rules validator function first
    assert profile["Properties"]["Validators"] == [
        {"Type": "LAMBDA", "Content": {"Fn::GetAtt": [synthesis.service_id(validator.fn), "Arn"]}}
    ]
    # And AppConfig, and only AppConfig, may invoke it
    permissions = [
        p["Properties"]
        for p in _resources(synthesis, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [synthesis.service_id(validator.fn), "Arn"]}
    ]
    assert [p["Principal"] for p in permissions] == ["appconfig.amazonaws.com"]
    # And the rules' profile, first version and deployment wait for that permission: AppConfig validates
    # the first version while the stack is being created
    permission_id = synthesis.service.get_logical_id(
        validator.fn.permissions_node.find_child("AppConfigPermission")
    )
    for kind in (
        "AWS::AppConfig::ConfigurationProfile",
        "AWS::AppConfig::HostedConfigurationVersion",
        "AWS::AppConfig::Deployment",
    ):
        (resource,) = _resources(synthesis, kind).values()
        assert permission_id in resource.get("DependsOn", []), kind
    assert topology.FUNCTIONS["rules_validator"].handler == "rules_validator.handler.lambda_handler"


def test_the_api_environment_satisfies_the_work_queue_settings(synthesis):
    env = {name: "resolved-at-deploy" for name in _environment(synthesis, "api")}
    loaded = settings.CasesApiSettings.from_env(env)
    assert loaded.sla_schedule_group is not None


def test_an_invalid_rules_document_stops_the_synth_naming_the_rule_and_field(tmp_path, stub_layer_dir):
    # Given a rules file with a typo in a team name
    document = yaml.safe_load(REPO_RULES_FILE.read_text(encoding="utf-8"))
    document["rules"][2]["then"]["teams"] = ["sales", "marketting"]
    bad = tmp_path / "rules.yaml"
    bad.write_text(yaml.safe_dump(document, allow_unicode=True))
    app = App(
        context={**cdk_context(), LAYER_DIR_CONTEXT: str(stub_layer_dir), RULES_FILE_CONTEXT: str(bad)},
        outdir=str(tmp_path / "cdk.out"),
    )
    # When the app is built, the synth stops with the rule and the field named
    with pytest.raises(RulesError) as refused:
        build_app(app)
    rule_id = document["rules"][2]["id"]
    assert f"rule '{rule_id}' (rules[2])" in refused.value.message
    assert "then.teams[1]" in refused.value.message and "marketting" in refused.value.message


def test_a_rules_deployment_has_no_bake_time_so_the_next_deploy_cannot_roll_it_back(synthesis):
    (strategy,) = synthesis.service_template.find_resources("AWS::AppConfig::DeploymentStrategy").values()
    props = strategy["Properties"]
    assert (props["GrowthFactor"], props["DeploymentDurationInMinutes"], props["FinalBakeTimeInMinutes"]) == (
        100,
        0,
        0,
    )
    assert props["Name"] == "socialcrm-dev-rules-immediately"
