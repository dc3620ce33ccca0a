"""Telling a team about a case: one SNS topic per team (subscribe e-mail, chat or paging to it).

Notifications carry the case's id, priority, teams, rules, tags and times: never text, names or handles.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from socialcrm.observability import logger
from socialcrm.routing.case import Case

Reason = Literal["opened", "escalated", "spike", "sla_warning", "sla_breached"]
_HEADLINES = {
    "opened": "new case",
    "escalated": "case more urgent",
    "spike": "spike of negative messages",
    "sla_warning": "SLA about to be missed",
    "sla_breached": "SLA missed",
}


class Notifier(Protocol):
    def notify(self, team: str, case: Case, reason: Reason) -> bool:
        """Tell ``team``; False when it could not be told (the caller decides whether that matters)."""
        ...


def notification(case: Case, reason: Reason) -> dict[str, Any]:
    """The message body: what a team needs to find and prioritise the case, no personal data."""
    return {
        "reason": reason,
        "case_id": case.case_id,
        "priority": case.priority,
        "teams": case.teams,
        "platform": case.platform,
        "rules": case.rules,
        "tags": case.tags,
        "topics": case.topics,
        "opened_at": case.opened_at.isoformat(),
        "sla_due_at": case.sla_due_at.isoformat(),
    }


class SnsNotifier:
    """Publishes to the team's topic (``topics``: team → topic ARN); a team without one is logged."""

    def __init__(self, topics: Mapping[str, str], client: Any | None = None) -> None:
        self.topics = dict(topics)
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("sns")
        return self._client

    def notify(self, team: str, case: Case, reason: Reason) -> bool:
        topic = self.topics.get(team)
        if topic is None:
            logger.warning("no topic for team", team=team, case_id=case.case_id)
            return False
        try:
            self.client.publish(
                TopicArn=topic,
                Subject=f"[{case.priority}] socialcrm: {_HEADLINES[reason]}",
                Message=json.dumps(notification(case, reason)),
                MessageAttributes={
                    "priority": {"DataType": "String", "StringValue": case.priority},
                    "reason": {"DataType": "String", "StringValue": reason},
                },
            )
        except (ClientError, BotoCoreError):
            logger.exception("notification failed", team=team, case_id=case.case_id)
            return False
        return True


class LogNotifier:
    """The local stack's notifier: a structured log line per notification (no AWS topic)."""

    def notify(self, team: str, case: Case, reason: Reason) -> bool:
        logger.info("team notified", team=team, case_id=case.case_id, priority=case.priority, reason=reason)
        return True
