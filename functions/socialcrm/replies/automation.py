"""Automatic replies: the rules' ``reply`` and ``move_to_private`` actions (the route consumer runs them).

When a customer message has joined or opened its case, the first matching rule with an answer may
answer it, through the same checks and queue as a person's reply (``socialcrm.replies.service``), written
by ``automation`` (so never with Messenger's ``HUMAN_AGENT`` tag, and never counted as a response). Guards:

* automation is on (``automation.enabled``);
* at most one automatic answer per conversation per ``automation.once_per_conversation_hours`` (a guard
  row taken atomically: two consumers at once send one);
* never during an open spike on one of the message's topics (a crisis is answered by people);
* never to the brand itself (only customer messages reach here) nor to an erased or objecting subject
  (checked when queued and again before sending);
* a refusal by a platform rule (a window closed, X's public replies) skips the answer and is logged.

Reply ids are derived from the message answered, so a redelivered message queues no second answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from socialcrm.models import Interaction
from socialcrm.observability import logger
from socialcrm.replies import policy
from socialcrm.replies.reply import Reply, reply_id_for
from socialcrm.replies.service import (
    ReplyPorts,
    ReplyRefusedError,
    ReplyRequest,
    ReplyStore,
    prepare,
    queue_reply,
)
from socialcrm.routing.case import Case
from socialcrm.routing.rules import MoveToPrivate, ReplyAction


class AutomaticReplyStore(ReplyStore, Protocol):
    def claim_automatic(
        self, conversation_ref: str, reply: Reply, at: datetime, *, every: timedelta
    ) -> bool: ...


@dataclass(frozen=True)
class Planned:
    """One automatic reply a rule asks for (what a dry run lists)."""

    rule: str
    template: str
    visibility: str | None


def planned(answer: tuple[str, ReplyAction | MoveToPrivate] | None, platform: str) -> list[Planned]:
    """The replies a decision's answer stands for on ``platform``.

    >>> planned(("welcome", ReplyAction(template="hello")), "x")
    [Planned(rule='welcome', template='hello', visibility=None)]
    """
    if answer is None:
        return []
    rule, action = answer
    if isinstance(action, ReplyAction):
        return [Planned(rule, action.template, action.visibility)]
    steps = [Planned(rule, action.private_template, "private")]
    if platform not in policy.PRIVATE_ONLY:  # a conversation already private needs no public word
        steps.insert(0, Planned(rule, action.public_template, "public"))
    return steps


def answer_automatically(
    case: Case,
    message: Interaction,
    answer: tuple[str, ReplyAction | MoveToPrivate] | None,
    *,
    ports: ReplyPorts,
    store: AutomaticReplyStore,
    spike_open: Callable[[Sequence[str], str, datetime], bool],
    topics: Sequence[str],
    now: datetime,
) -> list[Reply]:
    """Queue the automatic replies ``answer`` asks for on ``case``, as far as the guards allow."""
    steps = planned(answer, message.platform)
    document = ports.rules().document
    if not steps or not document.automation.enabled or message.from_brand:
        return []
    if case.conversation_ref is None or case.origin != "interaction":
        return []
    if spike_open(topics, message.platform, now):
        logger.info("automatic reply skipped: open spike", case_id=case.case_id, rule=steps[0].rule)
        return []
    every = timedelta(hours=document.automation.once_per_conversation_hours)
    queued: list[Reply] = []
    claimed = False
    for step in steps:
        reply_id = reply_id_for(
            case.case_id, f"auto:{message.interaction_ref}:{step.visibility or 'as-written'}"
        )
        request = ReplyRequest(template=step.template, visibility=step.visibility)  # type: ignore[arg-type]
        try:
            reply = prepare(
                case,
                request,
                reply_id=reply_id,
                requested_by=f"rule:{step.rule}",
                author="automation",
                ports=ports,
                now=now,
            )
            if not claimed and not store.claim_automatic(case.conversation_ref, reply, now, every=every):
                logger.info("automatic reply skipped: conversation answered recently", case_id=case.case_id)
                return queued
            claimed = True
            created = queue_reply(reply, ports=ports, now=now)
        except ReplyRefusedError as refusal:
            # This step cannot be sent (a window closed, X's public replies): the next one may be.
            logger.info("automatic reply refused", case_id=case.case_id, rule=step.rule, code=refusal.code)
            continue
        if created is not None:
            queued.append(created)
    return queued
