"""Builders shared by integration tests: interactions, and a queue that captures bus events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3

from socialcrm.models import (
    Author,
    Interaction,
    Sentiment,
    SentimentScores,
    conversation_ref,
    interaction_ref,
    subject_id,
)
from socialcrm.routing.case import case_id_for
from socialcrm.topology import BUS_NAME

PEPPER = "test-pepper-0123456789abcdef"
T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def interaction(
    n: int = 1,
    *,
    user: str = "42",
    platform: str = "x",
    text: str = "hello",
    minutes: int = 0,
    handle: str | None = "shopper",
    followers: int | None = 10,
    conversation: str | None = None,
    brand: bool = False,
) -> Interaction:
    """A customer's message (a brand reply with ``brand``; ``user`` is then the customer it answers),
    alone in its conversation unless ``conversation`` names one."""
    return Interaction(
        interaction_id=f"{platform}:{n}",
        interaction_ref=interaction_ref(PEPPER, f"{platform}:{n}"),
        subject_id=subject_id(PEPPER, platform, user),
        platform=platform,  # type: ignore[arg-type]
        kind="brand_reply" if brand else "mention",
        native_id=str(n),
        author=(
            Author(user_id="brand", handle="acme")
            if brand
            else Author(user_id=user, handle=handle, display_name="A Person", follower_count=followers)
        ),
        text=text,
        occurred_at=T0 + timedelta(minutes=minutes),
        received_at=T0 + timedelta(minutes=minutes, seconds=1),
        conversation_ref=conversation_ref(PEPPER, platform, conversation or f"message:{n}"),
    )


def case_of(interaction_id: str, *, conversation: str | None = None, sequence: int = 1) -> str:
    """The id of the case of a conversation (by default the one of the message ``interaction_id`` alone)."""
    platform, native_id = interaction_id.split(":", 1)
    key = conversation or f"message:{native_id}"
    return case_id_for(conversation_ref(PEPPER, platform, key), sequence)


def ref(interaction_id: str) -> str:
    """The interaction_ref of a platform id under the tests' pepper (``ref("x:1")``)."""
    return interaction_ref(PEPPER, interaction_id)


def analysed(item: Interaction, label: str = "NEGATIVE", language: str = "en") -> Interaction:
    scores = {"positive": 0.05, "negative": 0.05, "neutral": 0.05, "mixed": 0.05}
    scores[label.lower()] = 0.85
    return item.model_copy(
        update={
            "language": language,
            "sentiment": Sentiment(label=label, scores=SentimentScores(**scores)),  # type: ignore[arg-type]
            "sentiment_status": "ANALYSED",
        }
    )


def capture_bus_events(detail_types: list[str]) -> str:
    """A queue receiving the bus's events of these detail-types; returns its URL."""
    sqs, events = boto3.client("sqs"), boto3.client("events")
    url = sqs.create_queue(QueueName="captured-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="capture", EventBusName=BUS_NAME, EventPattern=json.dumps({"detail-type": detail_types})
    )
    events.put_targets(Rule="capture", EventBusName=BUS_NAME, Targets=[{"Id": "q", "Arn": arn}])
    return url


def drain(url: str) -> list[dict]:
    sqs = boto3.client("sqs")
    out: list[dict] = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        if not got.get("Messages"):
            return out
        for message in got["Messages"]:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
