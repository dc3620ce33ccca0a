"""Helpers for routing's integration tests: the routing environment on moto, SQS events, team topics."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import boto3

from socialcrm.dal.repository import InteractionRepository
from socialcrm.events.models import InteractionEnriched
from socialcrm.events.publisher import EventPublisher
from socialcrm.local.resources import create_resources
from socialcrm.models import Interaction
from socialcrm.routing.source import REPO_RULES_FILE
from socialcrm.topology import BUS_NAME, SLA_SCHEDULE_GROUP
from tests.conftest import DEV_SECRETS

SLA_TARGET_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:socialcrm-sla"
SLA_ROLE_ARN = "arn:aws:iam::123456789012:role/socialcrm-sla-scheduler"
TEAMS = ("support", "product", "sales", "marketing", "pr")


def routing_environment() -> dict[str, str]:
    """Create every resource (tables, queues, bus rules), the schedule group and a topic per team, each
    topic delivering to a queue named ``team-<team>``; return the functions' environment."""
    resources = create_resources()
    boto3.client("scheduler").create_schedule_group(Name=SLA_SCHEDULE_GROUP)
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topics = {}
    for team in TEAMS:
        topic = sns.create_topic(Name=f"socialcrm-{team}")["TopicArn"]
        url = sqs.create_queue(QueueName=f"team-{team}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        topics[team] = topic
    return {
        **resources.environment,
        "SLA_SCHEDULE_GROUP": SLA_SCHEDULE_GROUP,
        "SLA_TARGET_ARN": SLA_TARGET_ARN,
        "SLA_ROLE_ARN": SLA_ROLE_ARN,
        "RULES_FILE": str(REPO_RULES_FILE),
        "TEAM_TOPICS": json.dumps(topics),
        # the route function queues the rules' automatic replies: the send credentials and the pepper
        "SOCIALCRM_SECRETS_FILE": str(DEV_SECRETS),
    }


def team_queue(team: str) -> str:
    return boto3.client("sqs").get_queue_url(QueueName=f"team-{team}")["QueueUrl"]


def store(*interactions: Interaction, at: datetime) -> None:
    for item in interactions:
        InteractionRepository().store_new(item, enriched_at=at)


def announce(*interactions: Interaction) -> None:
    """Publish ``InteractionEnriched`` as the enrich function does (the bus routes it to the route queue)."""
    failed = EventPublisher(BUS_NAME, "socialcrm.enrich", backoff_seconds=0).publish(
        [InteractionEnriched.of(i) for i in interactions]
    )
    assert failed == []


def receive_all(queue_url: str) -> list[dict[str, Any]]:
    """Every message on the queue as Lambda's SQS event record (deleted from the queue)."""
    sqs = boto3.client("sqs")
    records: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        if not got.get("Messages"):
            return records
        for message in got["Messages"]:
            records.append(
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": {},
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:socialcrm-route",
                    "awsRegion": "eu-west-1",
                }
            )
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def schedules() -> dict[str, str]:
    """The SLA schedules in the group: name → expression."""
    scheduler = boto3.client("scheduler")
    names = [s["Name"] for s in scheduler.list_schedules(GroupName=SLA_SCHEDULE_GROUP)["Schedules"]]
    return {
        name: scheduler.get_schedule(Name=name, GroupName=SLA_SCHEDULE_GROUP)["ScheduleExpression"]
        for name in names
    }
