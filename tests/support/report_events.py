"""Builders of the events the report consumer counts, from the event models (the contract with routing),
and of the EventBridge envelope and SQS records they arrive in."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from socialcrm.events.models import (
    CaseUpdated,
    EventDetail,
    InteractionEnriched,
    InteractionRouted,
    ResponseRound,
    SlaBreached,
    SpikeDetected,
)
from tests.support.pipeline import ref

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
SUBJECT = "a" * 64
SOURCES = {
    "InteractionEnriched": "socialcrm.enrich",
    "InteractionRouted": "socialcrm.route",
    "CaseUpdated": "socialcrm.route",
    "SlaBreached": "socialcrm.route",
    "SpikeDetected": "socialcrm.route",
}


def enriched(
    n: int,
    *,
    platform: str = "x",
    sentiment: str | None = "NEGATIVE",
    status: str | None = "ANALYSED",
    language: str | None = "en",
    at: datetime = T0,
) -> InteractionEnriched:
    scores = None
    if sentiment is not None:
        values = {"positive": 0.05, "negative": 0.05, "neutral": 0.05, "mixed": 0.05}
        values[sentiment.lower()] = 0.85
        scores = values
    return InteractionEnriched(
        interaction_ref=ref(f"{platform}:{n}"),
        subject_id=SUBJECT,
        platform=platform,  # type: ignore[arg-type]
        kind="mention",
        language=language,
        sentiment=sentiment,  # type: ignore[arg-type]
        sentiment_scores=scores,  # type: ignore[arg-type]
        sentiment_status=status,  # type: ignore[arg-type]
        follower_count=10,
        occurred_at=at,
    )


def routed(
    case: str,
    *,
    teams: list[str],
    platform: str = "x",
    sentiment: str | None = "NEGATIVE",
    language: str | None = "en",
    priority: str = "P2",
    at: datetime = T0,
) -> InteractionRouted:
    return InteractionRouted(
        case_id=case,
        interaction_ref=ref(f"{platform}:{case}"),
        subject_id=SUBJECT,
        platform=platform,  # type: ignore[arg-type]
        kind="mention",
        language=language,
        sentiment=sentiment,  # type: ignore[arg-type]
        teams=teams,
        priority=priority,  # type: ignore[arg-type]
        tags=[],
        rules=["r1"],
        opened_at=at,
        sla_due_at=at + timedelta(hours=1),
    )


def wait(
    started_after: timedelta,
    *,
    due_in: timedelta = timedelta(hours=1),
    answered_in: timedelta | None = None,
    met: bool | None = None,
    opened: datetime = T0,
) -> ResponseRound:
    """A next-response round that starts ``started_after`` the case opened; ``met`` follows from the
    answer unless given (None while it runs)."""
    started = opened + started_after
    due = started + due_in
    responded = started + answered_in if answered_in is not None else None
    if met is None and responded is not None:
        met = responded <= due
    return ResponseRound(started_at=started, due_at=due, responded_at=responded, met=met)


def case_updated(
    case: str,
    *,
    teams: list[str],
    answered_after: timedelta | None,
    sla_met: bool | None,
    platform: str = "x",
    priority: str = "P2",
    status: str = "pending",
    opened: datetime = T0,
    updated_after: timedelta | None = None,
    source: str | None = None,
    rounds: list[ResponseRound] | None = None,
    resolved_after: timedelta | None = None,
    resolution_due_after: timedelta | None = None,
    resolution_met: bool | None = None,
    reopened: int = 0,
) -> CaseUpdated:
    first_response = opened + answered_after if answered_after is not None else None
    updated = opened + (updated_after or resolved_after or answered_after or timedelta(minutes=1))
    return CaseUpdated(
        case_id=case,
        subject_id=SUBJECT,
        platform=platform,  # type: ignore[arg-type]
        teams=teams,
        priority=priority,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        opened_at=opened,
        sla_due_at=opened + timedelta(hours=1),
        first_response_at=first_response,
        resolved_at=opened + resolved_after if resolved_after is not None else None,
        sla_met=sla_met,
        updated_at=updated,
        first_response_source=source,  # type: ignore[arg-type]
        next_responses=rounds or [],
        resolution_due_at=opened + resolution_due_after if resolution_due_after is not None else None,
        resolution_met=resolution_met,
        reopened_count=reopened,
    )


def answered(case: str, **changes: Any) -> CaseUpdated:
    """A support case answered 5 minutes after it opened, in time; ``changes`` are more
    :func:`case_updated` arguments (or other values of these)."""
    given: dict[str, Any] = {"teams": ["support"], "answered_after": timedelta(minutes=5), "sla_met": True}
    return case_updated(case, **(given | changes))


def sla_breached(
    case: str,
    *,
    teams: list[str],
    platform: str = "x",
    priority: str = "P2",
    clock: str = "first_response",
    round: int | None = None,
    due: datetime | None = None,
) -> SlaBreached:
    due = due or T0 + timedelta(hours=1)
    return SlaBreached(
        clock=clock,  # type: ignore[arg-type]
        round=round,
        case_id=case,
        subject_id=SUBJECT,
        platform=platform,  # type: ignore[arg-type]
        teams=teams,
        priority=priority,  # type: ignore[arg-type]
        opened_at=T0,
        sla_due_at=due,
        breached_at=due + timedelta(minutes=1),
    )


def spike(topic: str = "refund", *, platform: str = "x", at: datetime = T0) -> SpikeDetected:
    return SpikeDetected(
        topic=topic,
        platform=platform,
        window_start=at,
        window_minutes=15,
        count=40,
        baseline=4.0,
        case_id=None,
    )  # type: ignore[arg-type]


def envelope(detail: EventDetail, *, event_id: str | None = None) -> dict[str, Any]:
    """The EventBridge event as it lands on an SQS target."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail.detail_type,
        "source": SOURCES[detail.detail_type],
        "account": "123456789012",
        "time": "2026-11-22T10:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": detail.model_dump(mode="json"),
    }


def body(detail: EventDetail, *, event_id: str | None = None) -> str:
    return json.dumps(envelope(detail, event_id=event_id))


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    """An SQS event source batch, as Lambda hands it to the report function."""
    return {
        "Records": [
            {
                "messageId": f"m-{index}",
                "receiptHandle": f"rh-{index}",
                "body": text,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:socialcrm-report",
                "awsRegion": "eu-west-1",
            }
            for index, text in enumerate(bodies)
        ]
    }
