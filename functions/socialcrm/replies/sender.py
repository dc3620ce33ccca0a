"""Sending a reply: one platform call per reply, never two, never none (the ``send`` function).

The outbound queue carries reply ids only. For each, :func:`deliver` reads the reply and moves it on:

* ``queued`` → the intent is recorded first (``sending``, the attempt counted, conditional on the
  reply's version: of two deliveries of one message only one can take it), then the platform is called
  once. ``sent`` records the platform's id and the response on the case; a permanent refusal ends the
  reply ``failed`` with the platform's reason; a refusal before accepting (429, a connection that never
  reached the platform) puts it back to ``queued`` with a backoff (exponential, full jitter, at least the
  platform's ``Retry-After``); an ambiguous answer (a timeout or a 5xx once the request went out) leaves
  it ``sending``.
* ``sending`` → the platform may hold it: reconcile before anything else. Where the platform echoes our
  marker (Messenger, Instagram and Facebook private replies: ``message.metadata``; WhatsApp:
  ``biz_opaque_callback_data``), the route consumer marks the reply sent when the echo arrives
  (:func:`confirm_echo`); if none came within :data:`ECHO_WAIT`, it was not sent when the platform
  echoed one of our replies within :data:`ECHO_TRUSTED` (so it is sent again), else the reply ends
  ``unknown``. Where the platform can be read (Facebook and Instagram comments, X, LinkedIn), it is read: found → ``sent``,
  absent → sent again. Standard Webhooks receivers deduplicate on ``webhook-id``: sent again. TikTok can
  tell nothing: ``unknown`` at once. A send function that crashed after the call lands here too.
* ``sent``, ``failed``, ``unknown``: nothing to do (a redelivered message costs one read).

Waiting is a new queue message with a delay (SQS ``DelaySeconds``, at most 15 minutes), never a sleep.
A circuit breaker per platform (per function instance) stops calling a platform that keeps failing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from socialcrm.events.models import EventDetail
from socialcrm.events.ports import Publisher
from socialcrm.models import BRAND_REPLY, Interaction, interaction_ref
from socialcrm.observability import logger
from socialcrm.replies.outbound import Adapter, Outcome, Target, Transport
from socialcrm.replies.reply import FINAL, Reply, holds_private_reply
from socialcrm.replies.service import CaseReader, InteractionReader, Outbound, SuppressionReader
from socialcrm.routing.case import Case, CaseChange, CaseMessage, updated_event
from socialcrm.routing.conversation import add_message
from socialcrm.routing.evaluator import CompiledRules
from socialcrm.routing.sla import SlaScheduler
from socialcrm.secrets import PlatformSecrets

MAX_ATTEMPTS = 8  # platform calls a reply may take (each one certainly refused, or reconciled absent)
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 900.0  # SQS DelaySeconds' maximum
ECHO_WAIT = timedelta(minutes=10)  # how long an ambiguous send waits for the platform's echo
READ_BACK_AFTER = timedelta(seconds=20)  # a platform may list a new comment a moment after accepting it
# Longer than any delivery can be calling the platform (the send function's timeout, and a margin).
IN_FLIGHT = timedelta(seconds=40)
MAX_DELAY = 900  # SQS DelaySeconds' maximum
# An echo's absence says "not sent" only if the platform echoed one of our replies within this time
# (the app is subscribed to message_echoes / statuses); otherwise the reply ends unknown.
ECHO_TRUSTED = timedelta(days=7)
RECHECK_SECONDS = 20  # between looks for an echo, or a read that could not tell
GIVE_UP_AFTER = timedelta(hours=24)  # a reply still unsent a day later ends failed (nothing was sent)

Delivery = Literal["done", "later"]
# Refusals that say "you already posted this" (X's duplicate content, Graph's 506 duplicate post).
DUPLICATE_CODES = frozenset({"duplicate", "506"})


class ReplyWriter(Protocol):
    def get(self, reply_id: str) -> Reply | None: ...
    def replace(self, reply: Reply) -> Reply | None: ...
    def of_case(self, case_id: str, subject_id: str) -> list[Reply]: ...
    def release_private_reply(self, reply: Reply) -> None: ...


class CaseUpdater(CaseReader, Protocol):
    def update(
        self, case_id: str, change: Callable[[Case], Case | None], *, current: Case | None = None
    ) -> CaseChange: ...


class EchoLedger(Protocol):
    """Where echoes of our replies were seen, per platform (``CounterRepository``)."""

    def echo_seen(self, platform: str, at: datetime) -> None: ...
    def echoes_since(self, platform: str, since: datetime) -> bool: ...


class Breaker:
    """A circuit breaker per platform: open after ``threshold`` failures in a row (429s, 5xx, timeouts),
    for ``cooldown`` seconds; then one call is let through (half open), and its outcome decides."""

    def __init__(
        self, threshold: int = 5, cooldown: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures: dict[str, int] = {}
        self._opened: dict[str, float] = {}

    def wait(self, platform: str) -> float:
        """Seconds to wait before calling ``platform`` (0: call it)."""
        opened = self._opened.get(platform)
        if opened is None:
            return 0.0
        left = opened + self.cooldown - self._clock()
        if left > 0:
            return left
        self._opened[platform] = self._clock()  # half open: this call decides; others wait a cooldown
        return 0.0

    def record(self, platform: str, *, failed: bool) -> None:
        if not failed:
            self._failures.pop(platform, None)
            self._opened.pop(platform, None)
            return
        self._failures[platform] = self._failures.get(platform, 0) + 1
        if self._failures[platform] >= self.threshold:
            self._opened[platform] = self._clock()


@dataclass
class SendPorts:
    replies: ReplyWriter
    cases: CaseUpdater
    interactions: InteractionReader
    suppressions: SuppressionReader
    secrets: Callable[[], PlatformSecrets]
    rules: Callable[[], CompiledRules]
    outbound: Outbound
    scheduler: SlaScheduler
    publisher: Publisher
    transport: Transport
    adapters: Mapping[str, Adapter]
    echoes: EchoLedger
    breaker: Breaker = field(default_factory=Breaker)
    jitter: Callable[[float], float] = field(default=lambda top: random.uniform(0, top))  # noqa: S311


def backoff(attempts: int, retry_after: float | None, jitter: Callable[[float], float]) -> float:
    """Seconds before the next attempt: full jitter over an exponential cap (15 minutes at most), and at
    least what the platform asked for (``Retry-After``, even beyond the cap: the wait is then taken in
    several queue delays).

    >>> backoff(3, None, lambda top: top), backoff(1, 60.0, lambda top: 0.0), backoff(30, None, lambda t: t)
    (8.0, 60.0, 900.0)
    >>> backoff(1, 3600.0, lambda top: top)
    3600.0
    """
    cap = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return max(jitter(cap), retry_after or 0.0)


def deliver(reply_id: str, *, ports: SendPorts, now: datetime, version: int | None = None) -> Delivery:
    """Move one reply on; ``later`` when its next step was queued with a delay.

    ``version`` is the reply's version the queue message was written for. A message for an older version
    is a duplicate (SQS delivers at least once, and each step queues its own message): it is dropped, so
    duplicates never multiply — except the message whose delivery took the reply to ``sending``: if that
    delivery crashed, its redelivery (after the queue's visibility timeout) is what finds out what became
    of the call."""
    reply = ports.replies.get(reply_id)
    if reply is None or reply.status in FINAL:
        return "done"  # erased with its subject, or already settled (a redelivered message)
    if version is not None and version != reply.version:
        claimant = reply.status == "sending" and reply.claim_version == version
        if not claimant or now - reply.updated_at < IN_FLIGHT:
            # A duplicate of a step already taken; or of the message whose delivery is calling the
            # platform right now (if that delivery dies, SQS gives its message back after the visibility
            # timeout, well after IN_FLIGHT, and that one finds out what became of the call).
            return "done"
    if reply.status == "sending":
        return _reconcile(reply, ports=ports, now=now)
    return _attempt(reply, ports=ports, now=now)


def _attempt(reply: Reply, *, ports: SendPorts, now: datetime) -> Delivery:
    if now - reply.created_at > GIVE_UP_AFTER:
        return _end(
            reply, ports, now, "failed", "unavailable", "The platform refused it for a day: nothing was sent."
        )
    if reply.next_attempt_at is not None and now < reply.next_attempt_at:
        return _step(reply, ports, now, (reply.next_attempt_at - now).total_seconds())
    refusal = _refused_now(reply, ports)
    if refusal is not None:
        return _end(reply, ports, now, "failed", refusal[0], refusal[1])
    wait = ports.breaker.wait(reply.platform)
    if wait > 0:
        return _step(reply, ports, now, wait)
    interaction = ports.interactions.get(reply.in_reply_to)
    if interaction is None:
        return _end(
            reply,
            ports,
            now,
            "failed",
            "message_gone",
            "The message it answers is no longer stored: nothing was sent.",
        )
    adapter = ports.adapters[reply.platform]
    target = target_of(interaction)
    # The intent, recorded before the call: of two deliveries, one takes it.
    claimed = ports.replies.replace(
        reply.changed(
            now,
            status="sending",
            attempts=reply.attempts + 1,
            next_attempt_at=None,
            ambiguous_at=None,
            claim_version=reply.version,
            reconcile=adapter.reconcile_by(target, reply.outgoing()),
        )
    )
    if claimed is None:
        return "done"  # another delivery of this reply took it: it carries on from there
    outcome = adapter.send(target, claimed.outgoing(), ports.secrets().send, ports.transport)
    return _settle(claimed, outcome, ports=ports, now=now)


def _refused_now(reply: Reply, ports: SendPorts) -> tuple[str, str] | None:
    """A reason found since the reply was queued: the subject erased or objecting, credentials gone."""
    suppression = ports.suppressions.get(reply.subject_id)
    if suppression is not None and (suppression.erased_at or suppression.objected_at):
        return "subject_suppressed", "The customer's data was erased or they objected: nothing was sent."
    if not ports.secrets().send.can_send(reply.platform):
        return "no_send_credentials", f"No send credentials for {reply.platform}: nothing was sent."
    return None


def _settle(reply: Reply, outcome: Outcome, *, ports: SendPorts, now: datetime) -> Delivery:
    platform = reply.platform
    logger.info(
        "reply attempt", reply_id=reply.reply_id, platform=platform, outcome=outcome.kind, code=outcome.code
    )
    if outcome.kind == "sent":
        ports.breaker.record(platform, failed=False)
        assert outcome.message_id is not None
        mark_sent(reply, outcome.message_id, at=now, ports=ports)
        return "done"
    if outcome.kind == "permanent":
        ports.breaker.record(platform, failed=False)  # the platform is up: it answered
        if outcome.code in DUPLICATE_CODES and reply.attempts > 1:
            # Refused as a duplicate after an attempt whose outcome was unknown: that one went out.
            return _end(
                reply,
                ports,
                now,
                "unknown",
                outcome.code,
                f"{platform} says this text was already posted: an earlier attempt probably went out; look "
                "at the conversation.",
            )
        return _end(reply, ports, now, "failed", outcome.code, outcome.message)
    ports.breaker.record(platform, failed=True)
    if outcome.kind == "retryable" or reply.reconcile == "resend":
        return _again(reply, ports, now, outcome.retry_after)
    # Ambiguous: it may have been accepted.
    if reply.reconcile == "none":
        return _end(
            reply,
            ports,
            now,
            "unknown",
            outcome.code,
            f"{platform} may or may not have sent it and cannot tell us: look at the conversation before "
            "sending again.",
        )
    return _step(reply, ports, now, RECHECK_SECONDS, ambiguous_at=now)


def _reconcile(reply: Reply, *, ports: SendPorts, now: datetime) -> Delivery:
    """A call was made (or may have been) and its outcome is not known: find out, never send blindly."""
    if reply.ambiguous_at is None:
        # The delivery that called the platform crashed before it knew: wait as after a timeout.
        return _step(reply, ports, now, RECHECK_SECONDS, ambiguous_at=now)
    since = reply.ambiguous_at
    mode = reply.reconcile or "none"
    if mode == "resend":
        return _again(reply, ports, now, None)
    if mode == "read_back" and now - since >= READ_BACK_AFTER:
        interaction = ports.interactions.get(reply.in_reply_to)
        adapter = ports.adapters[reply.platform]
        if interaction is not None:
            found = adapter.read_back(
                target_of(interaction), reply.outgoing(), ports.secrets().send, ports.transport
            )
            if (
                found.verdict == "found"
                and found.message_id is not None
                and not _taken(reply, found.message_id, ports)
            ):
                mark_sent(reply, found.message_id, at=now, ports=ports)
                return "done"
            if found.verdict in ("absent", "found"):  # found: another reply's message, not this one
                logger.info("reply reconciled absent", reply_id=reply.reply_id, platform=reply.platform)
                return _again(reply, ports, now, None, immediately=True)
    if mode in ("echo", "read_back") and now - since < ECHO_WAIT:
        return _step(reply, ports, now, RECHECK_SECONDS)
    if mode == "echo" and ports.echoes.echoes_since(echo_platform(reply), now - ECHO_TRUSTED):
        # The platform echoes our replies (one came back within the week) and did not echo this one:
        # it was not sent.
        logger.info("reply reconciled absent: no echo", reply_id=reply.reply_id, platform=reply.platform)
        return _again(reply, ports, now, None, immediately=True)
    return _end(
        reply,
        ports,
        now,
        "unknown",
        "unconfirmed",
        f"{reply.platform} did not confirm whether it sent the reply: look at the conversation before sending "
        "again.",
    )


def _taken(reply: Reply, message_id: str, ports: SendPorts) -> bool:
    """Whether another reply of the case is already that platform message (a read-back matches text)."""
    return any(
        other.reply_id != reply.reply_id and other.platform_message_id == message_id
        for other in ports.replies.of_case(reply.case_id, reply.subject_id)
    )


def _again(
    reply: Reply, ports: SendPorts, now: datetime, retry_after: float | None, *, immediately: bool = False
) -> Delivery:
    """Back to ``queued``: the platform certainly does not hold it (or will deduplicate it)."""
    if reply.attempts >= MAX_ATTEMPTS:
        return _end(
            reply,
            ports,
            now,
            "failed",
            "unavailable",
            f"{reply.platform} refused it {reply.attempts} times (rate limit or outage): nothing was sent.",
        )
    delay = 0.0 if immediately else backoff(reply.attempts, retry_after, ports.jitter)
    changes = {"status": "queued", "next_attempt_at": now + timedelta(seconds=delay), "ambiguous_at": None}
    if immediately:
        queued = ports.replies.replace(reply.changed(now, **changes))
        return "done" if queued is None else _attempt(queued, ports=ports, now=now)
    return _step(reply, ports, now, delay, **changes)


def _step(reply: Reply, ports: SendPorts, now: datetime, seconds: float, **changes: Any) -> Delivery:
    """The reply's next step, ``seconds`` from now: its message is queued first (for the version this
    write makes), then the reply is written; if the write loses to another delivery, that one's step
    stands and this message will be dropped as a duplicate. If queueing fails nothing is written, and the
    message being handled is retried."""
    ports.outbound.enqueue(
        reply.reply_id, version=reply.version + 1, delay_seconds=max(1, min(int(seconds + 0.999), MAX_DELAY))
    )
    ports.replies.replace(reply.changed(now, **changes))
    return "later"


def _end(
    reply: Reply, ports: SendPorts, now: datetime, status: str, code: str | None, message: str | None
) -> Delivery:
    ended = ports.replies.replace(
        reply.changed(now, status=status, error_code=code, error_message=message, next_attempt_at=None)
    )
    if ended is not None:
        logger.info("reply ended", reply_id=reply.reply_id, platform=reply.platform, status=status, code=code)
        if status == "failed" and holds_private_reply(reply):
            ports.replies.release_private_reply(reply)  # nothing was sent: the comment's one is still free
    return "done"


def target_of(interaction: Interaction) -> Target:
    return Target(
        platform=interaction.platform,
        kind=interaction.kind,
        native_id=interaction.native_id,
        user_id=interaction.author.user_id,
        thread_id=interaction.thread_id,
        parent_id=interaction.parent_id,
    )


def echo_platform(reply: Reply) -> str:
    """The platform whose webhooks carry the sent message back: a Facebook comment's private reply
    comes back as a Messenger message."""
    return "messenger" if reply.platform == "facebook" and reply.visibility == "private" else reply.platform


def mark_sent(
    reply: Reply, message_id: str, *, at: datetime, ports: SendPorts | SentPorts, ref: str | None = None
) -> Reply | None:
    """Record the response on the reply's case (first or next response), then end the reply ``sent``. In
    that order: if the reply is ``sent``, its response is recorded; a failure in between is retried, and
    the response, keyed by the message's interaction ref, is never counted twice (nor is the platform's
    echo of it, which has the same ref)."""
    current: Reply | None = reply
    while current is not None and current.status not in FINAL:
        _record_response(current, message_id, at=at, ports=ports, ref=ref)
        done = ports.replies.replace(
            current.changed(
                at,
                status="sent",
                platform_message_id=message_id,
                sent_at=at,
                error_code=None,
                error_message=None,
                next_attempt_at=None,
            )
        )
        if done is not None:
            return done
        current = ports.replies.get(reply.reply_id)
    return None


@dataclass(frozen=True)
class SentPorts:
    """What recording a sent reply needs (the route consumer has these, for echoes)."""

    replies: ReplyWriter
    cases: CaseUpdater
    rules: Callable[[], CompiledRules]
    scheduler: SlaScheduler
    publisher: Publisher
    secrets: Callable[[], PlatformSecrets] | None = None
    echoes: EchoLedger | None = None


def _record_response(
    reply: Reply, message_id: str, *, at: datetime, ports: SendPorts | SentPorts, ref: str | None
) -> None:
    platform = echo_platform(reply)
    interaction_id = f"{platform}:{message_id}"
    if ref is None:
        assert ports.secrets is not None, "the send function knows the pepper"
        ref = interaction_ref(ports.secrets().subject_pepper.get_secret_value(), interaction_id)
    message = CaseMessage(
        interaction_ref=ref,
        interaction_id=interaction_id,
        kind=BRAND_REPLY,
        occurred_at=at,
        received_at=at,
        from_brand=True,
        automated=reply.author == "automation",
        awaits_response=False,
    )
    levels = ports.rules().document
    change = ports.cases.update(reply.case_id, lambda case: add_message(case, message, levels, now=at))
    if change.written and change.after is not None:
        ports.scheduler.schedule(change.after, since=change.before)
        events: list[EventDetail] = [updated_event(change.after)]
        ports.publisher.publish(events)


def confirm_echo(echo: Interaction, *, ports: SentPorts) -> Reply | None:
    """The platform's echo of a reply we sent (it carries our marker): the reply is ``sent``, with the
    echo's id. Called by the route consumer before it records the echo, so an automatic reply's echo is
    recorded as automatic; None when the marker names no reply of ours that a call was made for on that
    platform. (A Facebook comment's private reply echoes on Messenger, from the customer's Messenger id:
    the echo's platform is checked, not its subject.)"""
    if echo.reply_marker is None:
        return None
    reply = ports.replies.get(echo.reply_marker)
    if reply is None or echo_platform(reply) != echo.platform or reply.attempts == 0:
        return None
    if ports.echoes is not None:
        ports.echoes.echo_seen(echo.platform, echo.received_at)
    if reply.status in FINAL:
        return None
    return mark_sent(reply, echo.native_id, at=echo.occurred_at, ports=ports, ref=echo.interaction_ref)
