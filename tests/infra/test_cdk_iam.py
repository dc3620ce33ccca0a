"""Least privilege: each function's role holds exactly the grants its code needs, nothing more."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import Stack

from infra.routing import schedules_resource

pytestmark = pytest.mark.infra

LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
XRAY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
TABLE_KEY_READ = {"kms:Decrypt", "kms:DescribeKey"}
TABLE_KEY_WRITE = {"kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"}


def _pairs(actions: set[str], resource: str) -> set[tuple[str, str]]:
    return {(action, resource) for action in actions}


def _baseline(function_key: str) -> set[tuple[str, str]]:
    """What every function holds: writing its own log group, sending traces."""
    return _pairs(LOGS, f"logs:{function_key}") | _pairs(XRAY, "*")


DLQ_READ = (
    _pairs({"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"}, "dlq:inbound")
    | _pairs({"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"}, "dlq:route")
    | _pairs({"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"}, "dlq:report")
    | {("kms:Decrypt", "key via sqs")}
)

# A case's clocks: created (handing the scheduler its role) and deleted once met or moved.
SET_CLOCKS = _pairs({"scheduler:CreateSchedule", "scheduler:DeleteSchedule"}, "sla-schedules") | {
    ("iam:PassRole", "sla-scheduler-role to scheduler.amazonaws.com")
}

# The functions that serve IAM-authorised routes read their callers' persona and teams (role or user tags).
CALLER_TAGS = {("iam:ListRoleTags", "iam:role/*"), ("iam:ListUserTags", "iam:user/*")}
EXPECTED: dict[str, set[tuple[str, str]]] = {
    # ingest: the inbound queue and the secret (duplicates are dropped downstream), and only UpdateItem on
    # the subscriptions table (a WebSub hub's verification confirms a pending request of ours)
    "ingest": _baseline("ingest")
    | {("sqs:SendMessage", "queue:inbound")}
    | _pairs({"kms:Decrypt", "kms:GenerateDataKey"}, "key via sqs")
    | {("secretsmanager:GetSecretValue", "secret"), ("kms:Decrypt", "key via secretsmanager")}
    | {("dynamodb:UpdateItem", "table:subscriptions")}
    | _pairs(TABLE_KEY_WRITE, "key via dynamodb"),
    # websub: hourly; the subscriptions (read them all, update one), the hub secret; no customer data
    "websub": _baseline("websub")
    | _pairs({"dynamodb:Scan", "dynamodb:UpdateItem"}, "table:subscriptions")
    | _pairs(TABLE_KEY_WRITE, "key via dynamodb")
    | {("secretsmanager:GetSecretValue", "secret"), ("kms:Decrypt", "key via secretsmanager")},
    "api": _baseline("api")
    | _pairs({"dynamodb:GetItem", "dynamodb:Query"}, "table:interactions")
    | {("dynamodb:Query", "table:interactions/index/by_subject")}
    | _pairs({"dynamodb:GetItem", "dynamodb:Query"}, "table:subjects")
    | _pairs(TABLE_KEY_READ, "key via dynamodb")
    | {("secretsmanager:GetSecretValue", "secret"), ("kms:Decrypt", "key via secretsmanager")}
    # the access export (GDPR Art. 15) reads every personal-data store and the suppression state
    | {("dynamodb:GetItem", "table:suppressions")}
    # ... the dead-letter queues included: a scan gives every message back at once, it deletes nothing
    | DLQ_READ
    | {("dynamodb:BatchGetItem", "table:report_seen")}
    | {("dynamodb:Query", "table:cases"), ("dynamodb:Query", "table:cases/index/by_subject")}
    # GET /reports/summary reads the report counters
    | {("dynamodb:Query", "table:report_counters")}
    # GET /health/platforms lists the YouTube subscriptions (a few items)
    | {("dynamodb:Scan", "table:subscriptions")}
    # the access ledger: entries appended in transactions (a put per item), never read or changed here
    | {("dynamodb:PutItem", "table:access_ledger")}
    # the customer routes: a customer's partition and an identity's owner read, links written in
    # transactions (authorised per item); the export reads the subject's links by key
    | _pairs(
        {
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:DeleteItem",
            "dynamodb:UpdateItem",
            "dynamodb:BatchGetItem",
        },
        "table:customers",
    )
    # the work queues (/cases): read and update cases, stop their SLA clocks, announce CaseUpdated
    | _pairs({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, "table:cases")
    | {("dynamodb:Query", "table:cases/index/by_queue")}
    | _pairs(TABLE_KEY_WRITE, "key via dynamodb")
    | {("events:PutEvents", "bus")}
    # … set a reopened case's resolution clock, timed by the rules' service levels
    | SET_CLOCKS
    | _pairs({"appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"}, "rules")
    # GET /health/platforms reads the delivery metrics (GetMetricData takes no resource)
    | {("cloudwatch:GetMetricData", "*")}
    | CALLER_TAGS
    # replies: recorded (removed if they could not be queued), listed by the case's subject, queued
    | {("dynamodb:DeleteItem", "table:cases")}
    | {("sqs:SendMessage", "queue:outbound")}
    | _pairs({"kms:Decrypt", "kms:GenerateDataKey"}, "key via sqs"),
    "enrich": _baseline("enrich")
    # the suppression seam: erasure tombstones and objections
    | {("dynamodb:GetItem", "table:suppressions")}
    | _pairs(
        {
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:Query",
        },
        "table:interactions",
    )
    # claims on the messages a batch analyses (the duplicate check before Comprehend)
    | _pairs({"dynamodb:PutItem", "dynamodb:BatchWriteItem"}, "table:claims")
    | _pairs({"dynamodb:UpdateItem", "dynamodb:GetItem"}, "table:subjects")
    | _pairs(TABLE_KEY_WRITE, "key via dynamodb")
    | {("events:PutEvents", "bus")}
    | _pairs({"comprehend:BatchDetectSentiment", "comprehend:BatchDetectDominantLanguage"}, "*")
    # the SQS event source polls with the function's role (CDK's grantConsumeMessages) ...
    | _pairs(
        {
            "sqs:ReceiveMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueUrl",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        },
        "queue:inbound",
    )
    | {("kms:Decrypt", "key")}
    # ... and enrich re-queues interactions whose sentiment is still pending
    | {("sqs:SendMessage", "queue:inbound")}
    | _pairs({"kms:Decrypt", "kms:GenerateDataKey"}, "key via sqs"),
    # erasure requests and objections; never a personal-data store
    "privacy": _baseline("privacy")
    | _pairs({"dynamodb:GetItem", "dynamodb:PutItem"}, "table:erasure_requests")
    | _pairs({"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}, "table:suppressions")
    # the access logs: one key's entries at a time; an erasure by customer reads its identities
    | {("dynamodb:Query", "table:access_ledger"), ("dynamodb:Query", "table:customers")}
    | _pairs(TABLE_KEY_WRITE, "key via dynamodb")
    | {("events:PutEvents", "bus")}
    | {("secretsmanager:GetSecretValue", "secret"), ("kms:Decrypt", "key via secretsmanager")}
    | CALLER_TAGS,
    # the erase consumer: index queries, batched deletes, consistent re-reads; no Scan
    "erase": _baseline("erase")
    | _pairs({"dynamodb:GetItem", "dynamodb:PutItem"}, "table:erasure_requests")
    | {("dynamodb:UpdateItem", "table:suppressions")}
    | _pairs({"dynamodb:BatchWriteItem", "dynamodb:BatchGetItem"}, "table:report_seen")
    # the subject's owner and link rows in the customers table, found by key and deleted, and an erased
    # customer's own partition, queried
    | _pairs({"dynamodb:BatchWriteItem", "dynamodb:BatchGetItem", "dynamodb:Query"}, "table:customers")
    # the dead-letter queues: the subject's messages found and deleted, the rest given back at once
    | DLQ_READ
    | _pairs({"sqs:DeleteMessage"}, "dlq:inbound")
    | _pairs({"sqs:DeleteMessage"}, "dlq:route")
    | _pairs({"sqs:DeleteMessage"}, "dlq:report")
    | _pairs({"dynamodb:DeleteItem", "dynamodb:GetItem"}, "table:subjects")
    | _pairs({"dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem"}, "table:interactions")
    | _pairs({"dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem"}, "table:cases")
    | {
        ("dynamodb:Query", "table:interactions/index/by_subject"),
        ("dynamodb:Query", "table:cases/index/by_subject"),
    }
    | _pairs(TABLE_KEY_WRITE, "key via dynamodb")
    | {("events:PutEvents", "bus")}
    | _pairs(
        {
            "sqs:ReceiveMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueUrl",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        },
        "queue:erasure",
    )
    | {("kms:Decrypt", "key")}
    # a request that must continue later (settle period, time budget) goes back on its own queue
    | {("sqs:SendMessage", "queue:erasure")}
    | _pairs({"kms:Decrypt", "kms:GenerateDataKey"}, "key via sqs"),
}


ROUTE_QUEUE_CONSUMER = _pairs(
    {
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueUrl",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    },
    "queue:route",
) | {("kms:Decrypt", "key")}
TEAM_TOPICS = {f"topic:{team}" for team in ("support", "product", "sales", "marketing", "pr")}
NOTIFY_TEAMS = {("sns:Publish", topic) for topic in TEAM_TOPICS} | _pairs(
    {"kms:Decrypt", "kms:GenerateDataKey"}, "key via sns"
)

EXPECTED |= {
    # route: the interaction (text, history, routing), cases, spike counters, SLA schedules, teams, rules
    "route": _baseline("route")
    | _pairs({"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"}, "table:interactions")
    | {("dynamodb:Query", "table:interactions/index/by_subject")}
    | _pairs({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, "table:cases")
    | _pairs({"dynamodb:UpdateItem", "dynamodb:BatchGetItem"}, "table:counters")
    | _pairs(TABLE_KEY_WRITE, "key via dynamodb")
    | {("events:PutEvents", "bus")}
    | SET_CLOCKS
    | _pairs({"appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"}, "rules")
    | NOTIFY_TEAMS
    | ROUTE_QUEUE_CONSUMER
    # the rules' automatic replies: the suppression, the send credentials, the outbound queue; a reply
    # that could not be queued is removed
    | {("dynamodb:GetItem", "table:suppressions"), ("dynamodb:DeleteItem", "table:cases")}
    | {("secretsmanager:GetSecretValue", "secret"), ("kms:Decrypt", "key via secretsmanager")}
    | {("sqs:SendMessage", "queue:outbound")}
    | _pairs({"kms:Decrypt", "kms:GenerateDataKey"}, "key via sqs")
    # the sender's customer: its owner row and its partition read, its segments stored; identities that
    # carry one phone number linked in transactions (a put per row)
    | _pairs(
        {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem"}, "table:customers"
    ),
    # send: one platform call per reply; the reply and its case, the message answered, the suppression,
    # where echoes were seen, the credentials, its own queue (to wait), clocks, the bus, the rules
    "send": _baseline("send")
    | _pairs({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, "table:cases")
    | {("dynamodb:GetItem", "table:interactions"), ("dynamodb:GetItem", "table:suppressions")}
    | {("dynamodb:GetItem", "table:counters")}
    | _pairs(TABLE_KEY_WRITE, "key via dynamodb")
    | {("secretsmanager:GetSecretValue", "secret"), ("kms:Decrypt", "key via secretsmanager")}
    | _pairs(
        {
            "sqs:ReceiveMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueUrl",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
        },
        "queue:outbound",
    )
    | {("kms:Decrypt", "key")}
    | {("sqs:SendMessage", "queue:outbound")}
    | _pairs({"kms:Decrypt", "kms:GenerateDataKey"}, "key via sqs")
    | {("events:PutEvents", "bus")}
    | SET_CLOCKS
    | _pairs({"appconfig:StartConfigurationSession", "appconfig:GetLatestConfiguration"}, "rules"),
    # sla: invoked by a case's schedule; the case, the bus, the teams, and its own dead-letter queue
    "sla": _baseline("sla")
    | _pairs({"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}, "table:cases")
    | _pairs(TABLE_KEY_WRITE, "key via dynamodb")
    | {("events:PutEvents", "bus")}
    | NOTIFY_TEAMS
    | {("sqs:SendMessage", "dlq:sla")}
    | _pairs({"kms:Decrypt", "kms:GenerateDataKey"}, "key via sqs"),
}


def _labels(synthesis) -> dict[str, str]:
    """Readable names for every resource a policy may point at, keyed by its rendered JSON."""
    data, service = synthesis.data, synthesis.service
    named: dict[str, Any] = {
        "key": data.key.key_arn,
        "secret": data.secret.secret_arn,
        "bus": data.bus.event_bus_arn,
    }
    for key, table in data.tables.items():
        named[f"table:{key}"] = table.table_arn
        for index in ("by_subject", "by_queue"):
            named[f"table:{key}/index/{index}"] = f"{table.table_arn}/index/{index}"
    for key, work_queue in service.consumers.queues.items():
        named[f"queue:{key}"] = work_queue.queue.queue_arn
        named[f"dlq:{key}"] = work_queue.dlq.queue_arn
    for key, function in service.functions.items():
        named[f"logs:{key}"] = function.log_group.log_group_arn
    routing = service.routing
    named["sla-scheduler-role"] = routing.scheduler_role.role_arn
    named["sla-schedules"] = schedules_resource("socialcrm-dev-sla")
    named["rules"] = routing._rules_arn()
    named["dlq:sla"] = routing.sla_dlq.queue_arn
    for team, topic in routing.topics.items():
        named[f"topic:{team}"] = topic.topic_arn
    labels = {
        json.dumps(synthesis.in_service(token), sort_keys=True): label for label, token in named.items()
    }
    for kind in ("role", "user"):  # every role and user of the account: their tags name a caller
        arn = Stack.of(service).format_arn(service="iam", region="", resource=kind, resource_name="*")
        labels[json.dumps(service.resolve(arn), sort_keys=True)] = f"iam:{kind}/*"
    labels[json.dumps("*")] = "*"
    return labels


def _via(statement: dict[str, Any]) -> str:
    condition = statement.get("Condition")
    if not condition:
        return ""
    if "iam:PassedToService" in condition.get("StringEquals", {}):  # iam:PassRole, to one service only
        assert condition == {
            "StringEquals": {"iam:PassedToService": condition["StringEquals"]["iam:PassedToService"]}
        }
        return f" to {condition['StringEquals']['iam:PassedToService']}"
    via = condition["StringEquals"]["kms:ViaService"]
    service = via["Fn::Join"][1][0].rstrip(".")  # ["dynamodb.", {"Ref": "AWS::Region"}, ".amazonaws.com"]
    assert condition == {"StringEquals": {"kms:ViaService": via}}, f"unexpected condition {condition}"
    return f" via {service}"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def granted(synthesis, function_key: str) -> set[tuple[str, str]]:
    """Every (action, resource label) the function's role is allowed, across all its policies."""
    labels = _labels(synthesis)
    role_id = synthesis.service_id(synthesis.service.functions[function_key].role)
    pairs: set[tuple[str, str]] = set()
    for policy in synthesis.service_template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            for resource in _as_list(statement["Resource"]):
                rendered = json.dumps(resource, sort_keys=True)
                label = labels.get(rendered, f"UNKNOWN {rendered}") + _via(statement)
                pairs |= {(action, label) for action in _as_list(statement["Action"])}
    return pairs


@pytest.mark.parametrize("function_key", sorted(EXPECTED))
def test_function_role_holds_exactly_the_expected_actions_on_the_expected_resources(synthesis, function_key):
    # Given the synthesised stateless stack
    # When the policies attached to the function's role are flattened to (action, resource)
    actual = granted(synthesis, function_key)
    # Then they are exactly the grants its code needs
    assert sorted(actual - EXPECTED[function_key]) == [], "more than needed"
    assert sorted(EXPECTED[function_key] - actual) == [], "missing"


def test_ingest_cannot_touch_the_crm_tables_or_the_bus(synthesis):
    # Given the ingest function's grants
    resources = {resource for _action, resource in granted(synthesis, "ingest")}
    # Then nothing names the interactions or subjects tables (or their indexes), nor the bus
    assert not [r for r in resources if r.startswith(("table:interactions", "table:subjects", "bus"))]
    # And it has no Comprehend access: enrichment happens later, off the request path
    assert not [a for a, _ in granted(synthesis, "ingest") if a.startswith("comprehend:")]


def test_no_policy_in_the_app_allows_a_wildcard_action(synthesis):
    # Given every identity policy of the stateless stack
    for template in (synthesis.service_template, synthesis.data_template):
        for policy in template.find_resources("AWS::IAM::Policy").values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                # Then every action is spelt out, never "*" or "service:*" or "kms:GenerateDataKey*"
                for action in _as_list(statement["Action"]):
                    assert "*" not in action, action


def test_resource_star_is_granted_only_for_services_without_resource_level_permissions(synthesis):
    for function_key in EXPECTED:
        starred = {action for action, resource in granted(synthesis, function_key) if resource == "*"}
        # X-Ray, Comprehend and CloudWatch GetMetricData take no resource: IAM accepts only "*"
        assert {action.split(":")[0] for action in starred} <= {"xray", "comprehend", "cloudwatch"}, (
            function_key
        )
        assert {a for a in starred if a.startswith("cloudwatch:")} <= {"cloudwatch:GetMetricData"}, (
            function_key
        )


def test_each_function_has_its_own_role_with_no_managed_policy(synthesis):
    # Given the functions of the stateless stack
    functions = synthesis.service_template.find_resources("AWS::Lambda::Function")
    roles = [fn["Properties"]["Role"]["Fn::GetAtt"][0] for fn in functions.values()]
    # Then no two functions share a role, and no role carries an AWS managed policy
    assert len(roles) == len(set(roles)) == len(synthesis.service.functions)
    for role_id in roles:
        role = synthesis.service_template.to_json()["Resources"][role_id]["Properties"]
        assert "ManagedPolicyArns" not in role
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
            "Service": "lambda.amazonaws.com"
        }
