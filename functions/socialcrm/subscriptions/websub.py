"""YouTube channels followed over WebSub: subscribe, renew at 80% of the lease, unsubscribe, and confirm only
what socialcrm asked for.

The channels are configuration (``YOUTUBE_CHANNELS``: channel ids, ``UC`` and 22 more characters). Each run
of the scheduled function, for every channel's topic
(``https://www.youtube.com/xml/feeds/videos.xml?channel_id=<id>``):

- with no lease, a lease past :data:`RENEW_AT` of its length, a lease made under another hub secret (it was
  rotated: the hub would sign with the old one), or a denied subscription, it records a request
  (a fresh one-time ``hub.verify_token``, kept as its SHA-256) and then asks the hub to subscribe;
- a topic no longer configured whose lease still runs is unsubscribed the same way;
- a request the hub has not verified within :data:`RETRY_AFTER` is made again (a new token).

The callback socialcrm gives the hub carries a key of its own, ``?key=<callback_key(hub secret, topic)>``:
an HMAC of the topic under the hub secret, the same for every renewal of a topic (so the hub keeps one
subscription), which the hub repeats on every verification and which nobody without the hub secret can
compute. The hub's verification of intent (a ``GET`` anyone can send) is looked at only with the right key,
and then confirmed when it matches a pending request (same topic and mode, not expired, the same token
when the hub sends one) or, for ``subscribe``, a subscription of ours the hub is verifying again (a 0.3 hub
refreshing a lease). It records the lease the hub granted (``hub.lease_seconds``, at most what was asked).
Anything else is 404 without a read: the callback never echoes a challenge for anyone but the hub, so it
is no oracle, and nobody else can spend, deny or fake a subscription. ``hub.mode=denied`` is recorded for
a topic of ours the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from socialcrm.errors import ConfigurationError
from socialcrm.platforms.base import Intent
from socialcrm.subscriptions.hub import Hub, HubRequest
from socialcrm.subscriptions.store import Subscription

TOPIC_PREFIX = "https://www.youtube.com/xml/feeds/videos.xml?channel_id="
CHANNEL_ID = re.compile(r"UC[0-9A-Za-z_-]{22}")
# What socialcrm asks for; the hub decides (Google's grants about five days) and says so when it verifies.
REQUESTED_LEASE_SECONDS = 10 * 24 * 3600
LEASE_BOUNDS = (300, REQUESTED_LEASE_SECONDS)  # a lease is recorded as at most what was asked
RENEW_AT = 0.8  # of the lease's length
# A request may be verified for this long; one still unverified after RETRY_AFTER is made again.
PENDING_FOR = timedelta(hours=24)
RETRY_AFTER = timedelta(hours=1)


class IntentStore(Protocol):
    def confirm(
        self,
        topic: str,
        mode: str,
        token_digest: str | None,
        *,
        now: datetime,
        lease_seconds: int,
        renew_after: float,
    ) -> Subscription | None: ...

    def deny(self, topic: str, *, now: datetime) -> Subscription | None: ...


class SubscriptionStore(IntentStore, Protocol):
    def all(self) -> list[Subscription]: ...

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
    ) -> bool: ...

    def abandon(self, topic: str, token_digest: str) -> None: ...


def parse_channels(text: str | None) -> tuple[str, ...]:
    """Channel ids from configuration: separated by commas or spaces; anything else is refused by name.

    >>> parse_channels("UCabcdefghijklmnopqrstuv, UCabcdefghijklmnopqrstuv UC0123456789012345678901")
    ('UCabcdefghijklmnopqrstuv', 'UC0123456789012345678901')
    """
    channels: list[str] = []
    for part in re.split(r"[,\s]+", (text or "").strip()):
        if not part:
            continue
        if not CHANNEL_ID.fullmatch(part):
            raise ConfigurationError(
                f"YOUTUBE_CHANNELS: {part!r} is not a YouTube channel id (UC and 22 more)"
            )
        channels.append(part)
    return tuple(dict.fromkeys(channels))


def topic_of(channel_id: str) -> str:
    return TOPIC_PREFIX + channel_id


def channel_of(topic: str) -> str | None:
    """The channel id of a YouTube feed topic exactly as socialcrm writes it, else None.

    >>> channel_of(topic_of("UCabcdefghijklmnopqrstuv")), channel_of(topic_of("UCabcdefghijklmnopqrstuv") + "&x=1")
    ('UCabcdefghijklmnopqrstuv', None)
    """
    if not topic.startswith(TOPIC_PREFIX):
        return None
    channel = topic[len(TOPIC_PREFIX) :]
    return channel if CHANNEL_ID.fullmatch(channel) else None


def callback_key(hub_secret: str, topic: str) -> str:
    """The key the callback of ``topic`` carries: only the hub it was given to repeats it."""
    message = f"socialcrm websub callback\n{topic}".encode("utf-8", "surrogatepass")
    return hmac.new(hub_secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def callback_for(base: str, hub_secret: str, topic: str) -> str:
    """The callback URL given to the hub for ``topic`` (the API's ``/webhooks/youtube`` with its key)."""
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}key={callback_key(hub_secret, topic)}"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def confirm_intent(intent: Intent, store: IntentStore, now: datetime, *, hub_secret: str) -> bool:
    """True when the hub's verification is for a request (or subscription) of ours; records its outcome.

    Without the callback's key nothing is read or written: the verification is not the hub's."""
    if channel_of(intent.topic) is None or intent.callback_key is None:
        return False
    if not hmac.compare_digest(
        intent.callback_key.encode("utf-8", "surrogatepass"), callback_key(hub_secret, intent.topic).encode()
    ):
        return False
    if intent.mode == "denied":
        return store.deny(intent.topic, now=now) is not None
    low, high = LEASE_BOUNDS
    lease = min(max(intent.lease_seconds or REQUESTED_LEASE_SECONDS, low), high)
    token = digest(intent.verify_token) if intent.verify_token is not None else None
    confirmed = store.confirm(
        intent.topic, intent.mode, token, now=now, lease_seconds=lease, renew_after=RENEW_AT
    )
    return confirmed is not None


@dataclass
class RenewOutcome:
    asked: list[tuple[str, str]] = field(default_factory=list)  # (mode, channel id) the hub accepted
    failed: list[tuple[str, str, int]] = field(default_factory=list)  # (mode, channel id, hub status)
    current: int = 0  # topics whose lease runs, or whose request waits for the hub


def renew(
    channels: Iterable[str],
    *,
    store: SubscriptionStore,
    hub: Hub,
    callback: str,
    secret: str,
    now: datetime,
    token: Callable[[], str] = lambda: secrets.token_urlsafe(24),
) -> RenewOutcome:
    """Subscribe, renew or unsubscribe each topic as the module docstring says."""
    outcome = RenewOutcome()
    wanted = {topic_of(channel) for channel in channels}
    known = {subscription.topic: subscription for subscription in store.all()}

    def ask(mode: str, topic: str) -> None:
        one_time = token()
        asked = store.request(
            topic,
            mode,
            digest(one_time),
            now=now,
            pending_for=PENDING_FOR,
            retry_after=RETRY_AFTER,
            callback_digest=digest(callback_key(secret, topic)),
        )
        if not asked:
            outcome.current += 1  # another run asked a moment ago
            return
        answer = hub.ask(
            HubRequest(
                mode, topic, callback_for(callback, secret, topic), secret, one_time, REQUESTED_LEASE_SECONDS
            )
        )
        channel = channel_of(topic) or "?"
        if answer.accepted:
            outcome.asked.append((mode, channel))
        else:
            store.abandon(topic, digest(one_time))
            outcome.failed.append((mode, channel, answer.status))

    for topic in sorted(wanted):
        subscription = known.get(topic)
        current_key = digest(callback_key(secret, topic))
        if subscription is not None and (
            _waiting(subscription, "subscribe", now)
            or (_leased(subscription, now) and subscription.callback_digest == current_key)
        ):
            outcome.current += 1
        else:
            ask("subscribe", topic)
    for topic, subscription in sorted(known.items()):
        if topic in wanted:
            continue
        if _waiting(subscription, "unsubscribe", now):
            outcome.current += 1
        elif subscription.active(now) or (
            subscription.pending(now) and subscription.pending_mode == "subscribe"
        ):
            ask("unsubscribe", topic)
    return outcome


def _waiting(subscription: Subscription, mode: str, now: datetime) -> bool:
    """A request of ``mode`` made less than :data:`RETRY_AFTER` ago, still waiting for the hub."""
    return (
        subscription.pending(now)
        and subscription.pending_mode == mode
        and subscription.pending_since is not None
        and now - subscription.pending_since < RETRY_AFTER
    )


def _leased(subscription: Subscription, now: datetime) -> bool:
    """A lease that runs and is not yet due for renewal."""
    return subscription.active(now) and subscription.renew_at is not None and now < subscription.renew_at
