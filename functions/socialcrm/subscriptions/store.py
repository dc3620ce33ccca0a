"""The ``subscriptions`` table: one item per WebSub topic socialcrm subscribes to.

An item holds the request waiting for the hub's verification of intent (``pending_mode``, the SHA-256 of
its one-time ``hub.verify_token``, since when and until when it may be confirmed) and the lease the hub
granted (``status``, ``leased_at``, ``lease_seconds``, ``renew_at``, ``lease_until``). Every change is one
conditional ``UpdateItem``, so two runs of the scheduled function, or a hub verifying twice, cannot both
win. Topics are the brand's channels' feed URLs: configuration, no personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from socialcrm.aws import LazyClient
from socialcrm.privacy.dynamo import StoreFailure, calling
from socialcrm.topology import RETENTION_DAYS

STORE = "subscriptions"
# How long an item outlives its lease (or its last request) before DynamoDB's TTL removes it.
KEPT_AFTER = timedelta(days=RETENTION_DAYS["subscriptions"])


@dataclass(frozen=True)
class Subscription:
    topic: str
    status: str | None = None  # "active", "denied", "unsubscribed"; None before the first confirmation
    pending_mode: str | None = None  # "subscribe" or "unsubscribe" while a request waits for the hub
    pending_token: str | None = None  # SHA-256 hex of the request's hub.verify_token
    pending_since: datetime | None = None
    pending_until: datetime | None = None
    leased_at: datetime | None = None
    lease_seconds: int | None = None
    renew_at: datetime | None = None
    lease_until: datetime | None = None
    # SHA-256 of the callback key of the last request (the hub secret it was made with changed if it differs)
    callback_digest: str | None = None

    def pending(self, now: datetime) -> bool:
        return self.pending_mode is not None and self.pending_until is not None and now < self.pending_until

    def active(self, now: datetime) -> bool:
        return self.status == "active" and self.lease_until is not None and now < self.lease_until


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _time(item: dict[str, Any], name: str) -> datetime | None:
    value = item.get(name, {}).get("S")
    return datetime.fromisoformat(value) if value else None


def _from_item(item: dict[str, Any]) -> Subscription:
    seconds = item.get("lease_seconds", {}).get("N")
    return Subscription(
        topic=item["topic"]["S"],
        status=item.get("status", {}).get("S"),
        pending_mode=item.get("pending_mode", {}).get("S"),
        pending_token=item.get("pending_token", {}).get("S"),
        pending_since=_time(item, "pending_since"),
        pending_until=_time(item, "pending_until"),
        leased_at=_time(item, "leased_at"),
        lease_seconds=int(seconds) if seconds else None,
        renew_at=_time(item, "renew_at"),
        lease_until=_time(item, "lease_until"),
        callback_digest=item.get("callback_digest", {}).get("S"),
    )


def _failed_condition(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class SubscriptionTable:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self._client = client

    client = LazyClient("dynamodb")

    def all(self) -> list[Subscription]:
        """Every topic's item: a scan of a table of a few items (one per channel), for the scheduled run."""
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {"TableName": self.table_name, "ConsistentRead": True}
        while True:
            page = calling(STORE, "Scan", lambda: self.client.scan(**request))
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return [_from_item(item) for item in items]
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _update(self, topic: str, **request: Any) -> Subscription | None:
        """One conditional UpdateItem; the item as it is now, or None when the condition failed."""
        try:
            answer = self.client.update_item(
                TableName=self.table_name, Key={"topic": {"S": topic}}, ReturnValues="ALL_NEW", **request
            )
        except ClientError as exc:
            if _failed_condition(exc) or exc.response.get("Error", {}).get("Code") == "ValidationException":
                return None  # not ours (a key DynamoDB refuses cannot be a topic we stored)
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            raise StoreFailure(STORE, f"UpdateItem failed ({code})") from exc
        except BotoCoreError as exc:
            raise StoreFailure(STORE, f"UpdateItem failed ({type(exc).__name__})") from exc
        return _from_item(answer["Attributes"])

    def request(
        self,
        topic: str,
        mode: str,
        token_digest: str,
        *,
        now: datetime,
        pending_for: timedelta,
        retry_after: timedelta,
        callback_digest: str = "",
    ) -> bool:
        """Record a request to the hub before it is made; False when another request for the topic is younger
        than ``retry_after`` (another run made it)."""
        return (
            self._update(
                topic,
                UpdateExpression="SET pending_mode = :mode, pending_token = :token, pending_since = :now, "
                "pending_until = :until, expires_at = :expires, callback_digest = :callback",
                ConditionExpression="attribute_not_exists(pending_since) OR pending_since < :stale",
                ExpressionAttributeValues={
                    ":mode": {"S": mode},
                    ":token": {"S": token_digest},
                    ":callback": {"S": callback_digest},
                    ":now": {"S": _iso(now)},
                    ":until": {"S": _iso(now + pending_for)},
                    ":stale": {"S": _iso(now - retry_after)},
                    ":expires": {"N": str(int((now + pending_for + KEPT_AFTER).timestamp()))},
                },
            )
            is not None
        )

    def abandon(self, topic: str, token_digest: str) -> None:
        """Forget the request with this token (the hub refused it): the next run asks again."""
        self._update(
            topic,
            UpdateExpression="REMOVE pending_mode, pending_token, pending_since, pending_until",
            ConditionExpression="pending_token = :token",
            ExpressionAttributeValues={":token": {"S": token_digest}},
        )

    def confirm(
        self,
        topic: str,
        mode: str,
        token_digest: str | None,
        *,
        now: datetime,
        lease_seconds: int,
        renew_after: float,
    ) -> Subscription | None:
        """Confirm the pending request of ``mode`` for ``topic`` (with this token, when the hub sent one), or
        for ``subscribe`` a subscription of ours the hub verifies again, and record the outcome; None when
        there is no such request or subscription."""
        pending = "pending_mode = :mode AND pending_until > :now"
        values: dict[str, Any] = {":mode": {"S": mode}, ":now": {"S": _iso(now)}}
        if token_digest is not None:
            pending += " AND pending_token = :token"
            values[":token"] = {"S": token_digest}
        condition = f"({pending})"
        if mode == "subscribe":  # a hub refreshing a lease of ours (PubSubHubbub 0.3 §6.2.1)
            condition += (
                " OR (#status = :active AND (attribute_not_exists(pending_mode) OR pending_mode = :mode))"
            )
        forget = " REMOVE pending_mode, pending_token, pending_since, pending_until"
        if mode == "subscribe":
            lease_until = now + timedelta(seconds=lease_seconds)
            values |= {
                ":active": {"S": "active"},
                ":seconds": {"N": str(lease_seconds)},
                ":renew": {"S": _iso(now + timedelta(seconds=lease_seconds * renew_after))},
                ":until": {"S": _iso(lease_until)},
                ":expires": {"N": str(int((lease_until + KEPT_AFTER).timestamp()))},
            }
            update = (
                "SET #status = :active, leased_at = :now, lease_seconds = :seconds, renew_at = :renew, "
                "lease_until = :until, expires_at = :expires" + forget
            )
        else:
            values |= {
                ":unsubscribed": {"S": "unsubscribed"},
                ":expires": {"N": str(int((now + KEPT_AFTER).timestamp()))},
            }
            update = (
                "SET #status = :unsubscribed, expires_at = :expires"
                + forget
                + ", leased_at, lease_seconds, renew_at, lease_until"
            )
        return self._update(
            topic,
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )

    def deny(self, topic: str, *, now: datetime) -> Subscription | None:
        """The hub refused (or revoked) the subscription of a topic socialcrm subscribes to; None when the
        topic is not one of ours (nothing pending, no lease)."""
        return self._update(
            topic,
            UpdateExpression="SET #status = :denied REMOVE pending_mode, pending_token, pending_since, "
            "pending_until, leased_at, lease_seconds, renew_at, lease_until",
            ConditionExpression="(pending_mode = :subscribe AND pending_until > :now) OR #status = :active",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":denied": {"S": "denied"},
                ":subscribe": {"S": "subscribe"},
                ":active": {"S": "active"},
                ":now": {"S": _iso(now)},
            },
        )
