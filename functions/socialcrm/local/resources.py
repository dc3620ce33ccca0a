"""Create the pipeline's tables, queues, bus and rules on an AWS endpoint, from ``socialcrm.topology``.

Used by the local stack (on moto's server) and by the integration tests (under ``mock_aws``): the
same declarations the CDK app builds from, so there is no second hand-kept list.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from socialcrm.topology import (
    BUS_NAME,
    EVENT_SOURCE_PREFIX,
    QUEUES,
    RETENTION_DAYS,
    TABLES,
    TableSpec,
    archive_name,
    rule_name,
)


@dataclass
class LocalResources:
    """Names and URLs of what was created, as the functions' environment wants them."""

    environment: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)
    dlq_urls: dict[str, str] = field(default_factory=dict)


def _table_request(spec: TableSpec) -> dict[str, Any]:
    attributes = {spec.partition_key.name: spec.partition_key.type}
    key_schema = [{"AttributeName": spec.partition_key.name, "KeyType": "HASH"}]
    if spec.sort_key:
        attributes[spec.sort_key.name] = spec.sort_key.type
        key_schema.append({"AttributeName": spec.sort_key.name, "KeyType": "RANGE"})
    indexes = []
    for index in spec.indexes:
        attributes[index.partition_key.name] = index.partition_key.type
        schema = [{"AttributeName": index.partition_key.name, "KeyType": "HASH"}]
        if index.sort_key:
            attributes[index.sort_key.name] = index.sort_key.type
            schema.append({"AttributeName": index.sort_key.name, "KeyType": "RANGE"})
        indexes.append(
            {"IndexName": index.name, "KeySchema": schema, "Projection": {"ProjectionType": "ALL"}}
        )
    request: dict[str, Any] = {
        "TableName": spec.local_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in attributes.items()],
        "KeySchema": key_schema,
    }
    if indexes:
        request["GlobalSecondaryIndexes"] = indexes
    return request


def create_resources(session: boto3.session.Session | None = None) -> LocalResources:
    """Create every table, queue (with its DLQ and redrive), the bus and its rules; idempotent."""
    session = session or boto3.session.Session()
    dynamodb, sqs, events = session.client("dynamodb"), session.client("sqs"), session.client("events")
    created = LocalResources()

    existing = set(dynamodb.list_tables().get("TableNames", []))
    for spec in TABLES.values():
        if spec.local_name not in existing:
            dynamodb.create_table(**_table_request(spec))
            if spec.ttl_attribute:
                dynamodb.update_time_to_live(
                    TableName=spec.local_name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
                )
        created.environment[spec.env_var] = spec.local_name

    bus_arn = _ensure_bus(events)
    _ensure_archive(events, bus_arn)
    created.environment["EVENT_BUS_NAME"] = BUS_NAME
    for queue in QUEUES.values():
        dlq_url = sqs.create_queue(QueueName=queue.dlq_local_name)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        url = sqs.create_queue(
            QueueName=queue.local_name,
            Attributes={
                "VisibilityTimeout": str(queue.visibility_timeout_seconds),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}
                ),
            },
        )["QueueUrl"]
        created.queue_urls[queue.key], created.dlq_urls[queue.key] = url, dlq_url
        created.environment[queue.env_var] = url
        created.environment[queue.dlq_env_var] = dlq_url
        if queue.detail_types:
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            rule = rule_name(BUS_NAME, queue.key)
            events.put_rule(
                Name=rule,
                EventBusName=BUS_NAME,
                EventPattern=json.dumps(
                    {"source": [{"prefix": EVENT_SOURCE_PREFIX}], "detail-type": list(queue.detail_types)}
                ),
            )
            events.put_targets(Rule=rule, EventBusName=BUS_NAME, Targets=[{"Id": queue.key, "Arn": arn}])
    return created


def _ensure_bus(events: Any) -> str:
    try:
        return events.describe_event_bus(Name=BUS_NAME)["Arn"]  # type: ignore[no-any-return]
    except events.exceptions.ResourceNotFoundException:
        return events.create_event_bus(Name=BUS_NAME)["EventBusArn"]  # type: ignore[no-any-return]


def _ensure_archive(events: Any, bus_arn: str) -> None:
    """The bus's archive, as in AWS: every socialcrm event, to replay (``socialcrm events replay``)."""
    name = archive_name(BUS_NAME)
    try:
        events.describe_archive(ArchiveName=name)
    except events.exceptions.ResourceNotFoundException:
        events.create_archive(
            ArchiveName=name,
            EventSourceArn=bus_arn,
            EventPattern=json.dumps({"source": [{"prefix": EVENT_SOURCE_PREFIX}]}),
            RetentionDays=RETENTION_DAYS["bus_archive"],
        )
