"""Conversation figures: how many cases a conversation opens, how many of the brand's replies reach the
right case, and the DynamoDB writes routing makes per customer message.

A generated workload of realistic conversations (1-6 customer messages each, the brand answering most
of them, replies arriving as the platforms echo them, some before the message they answer and some
delivered twice), as real webhook bodies of every platform that sends the brand's replies, through the
platform adapters, the interactions table and the route function on moto (the production code path).

* ``cases_per_conversation``: distinct cases per conversation that opened one (goal 1.00);
* ``responses_matched_ratio``: replies recorded on their own conversation's case / replies sent (goal
  ≥ 0.99), with ``responses_matched_wrong``: replies recorded on another conversation's case (goal 0);
* ``case_writes_per_message``: DynamoDB items written by the route function (cases, conversations,
  routing on the interaction, spike counters) per customer message routed, counted at the botocore layer.
"""

from __future__ import annotations

import os
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
for _name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    os.environ.setdefault(_name, "bench")

CONVERSATIONS = 240
SEED = 20261125
OUT_OF_ORDER = 0.1  # a reply delivered before the customer message it answers
REDELIVERED = 0.1  # a delivery sent twice
ANSWERED = 0.75  # a customer message the brand answers
ASKS = (
    "Where is my order? It has not arrived yet.",
    "Is the blue kurta available in size M?",
    "My refund is still pending, can you check?",
    "How long does delivery to Pune take?",
    "The zip on my jacket broke after a week.",
    "Can I change the delivery address?",
)


@dataclass(frozen=True)
class Item:
    conversation: int
    payload: Any  # socialcrm.local.deliveries.Payload
    brand: bool


def _makers() -> list[tuple[str, Callable[..., Any], Callable[..., Any]]]:
    """(channel, customer message, brand reply) builders of every platform that sends the brand's replies.

    Each builder takes (conversation, message number, text, time). Ids are unique per conversation and
    message; where a comment thread is the conversation, each conversation is its own thread on a few
    shared posts: the customer's first comment opens it, their later ones and the brand's replies answer
    that top-level comment (Facebook and LinkedIn threads are two levels deep, Instagram's one). On X a
    thread is a chain: the customer's next post answers the latest post of the thread (the brand's reply
    when there is one), and the brand answers the customer's post.
    """
    from socialcrm.local import deliveries as d

    def psid(c: int) -> str:
        return f"77{c:06d}"

    def igsid(c: int) -> str:
        return f"66{c:014d}"

    def wa_id(c: int) -> str:
        return f"9198{c:08d}"

    def x_user(c: int) -> str:
        return f"81{c:08d}"

    def tiktok_user(c: int) -> str:
        return f"-000buyer{c:06d}"

    def fb_comment(c: int, n: int, who: int) -> str:  # "<post>_<comment>"; who: 1 customer, 2 the Page
        return f"{4455 + c % 3}_{c:04d}{n:02d}{who}"

    def ig_comment(c: int, n: int, who: int) -> str:
        return f"18023{c:06d}{n:02d}{who}"

    def ig_media(c: int) -> str:
        return f"1801234567890{c % 3:04d}"

    def li_notification(c: int, n: int, who: int) -> int:
        return 5_700_000_000 + c * 1000 + n * 10 + who

    def tweet(c: int, n: int, who: int) -> str:
        return f"19250{c:06d}{n:02d}{who}"

    def facebook_ask(c: int, n: int, text: str, at: datetime) -> Any:
        root = None if n == 0 else fb_comment(c, 0, 1)
        return d.facebook_comment(fb_comment(c, n, 1), f"72{c:06d}", "Ana", text, at, parent_id=root)

    def instagram_ask(c: int, n: int, text: str, at: datetime) -> Any:
        root = None if n == 0 else ig_comment(c, 0, 1)
        return d.instagram_comment(
            ig_comment(c, n, 1), ig_media(c), f"178414{c:011d}", "priya.shops", text, at, parent_id=root
        )

    def linkedin_ask(c: int, n: int, text: str, at: datetime) -> Any:
        root = None if n == 0 else d.linkedin_comment_urn(li_notification(c, 0, 1))
        return d.linkedin_comment(
            li_notification(c, n, 1), f"urn:li:person:bench{c}", text, at, reply_to=root
        )

    # X: the latest post of each conversation's thread, and its author (what the next post answers).
    latest: dict[int, tuple[str, str]] = {}

    def x_ask(c: int, n: int, text: str, at: datetime) -> Any:
        answered = latest.get(c) if n else None
        own = tweet(c, n, 1)
        latest[c] = (own, x_user(c))
        if answered is None:
            return d.x_mention(own, x_user(c), "anasouza", text, "en", at)
        post, author = answered
        return d.x_mention(
            own, x_user(c), "anasouza", text, "en", at, in_reply_to=post, in_reply_to_user=author
        )

    def x_answer(c: int, n: int, text: str, at: datetime) -> Any:
        latest[c] = (tweet(c, n, 2), d.X_BRAND)
        return d.x_brand_reply(tweet(c, n, 2), tweet(c, n, 1), x_user(c), text, at)

    return [
        (
            "messenger",
            lambda c, n, text, at: d.messenger_message(f"m_c{c}-{n}", psid(c), text, at),
            lambda c, n, text, at: d.messenger_echo(f"m_c{c}-r{n}", psid(c), text, at),
        ),
        (
            "facebook comments",
            facebook_ask,
            lambda c, n, text, at: d.facebook_page_reply(fb_comment(c, n, 2), fb_comment(c, 0, 1), text, at),
        ),
        (
            "instagram DM",
            lambda c, n, text, at: d.instagram_message(f"aWdf_c{c}-{n}", igsid(c), text, at),
            lambda c, n, text, at: d.instagram_echo(f"aWdf_c{c}-r{n}", igsid(c), text, at),
        ),
        (
            "instagram comments",
            instagram_ask,
            lambda c, n, text, at: d.instagram_comment_reply(
                ig_comment(c, n, 2), ig_media(c), ig_comment(c, 0, 1), text, at
            ),
        ),
        (
            "whatsapp sent status",
            lambda c, n, text, at: d.whatsapp_message(f"wamid.c{c}-{n}", wa_id(c), "Ravi", text, at),
            lambda c, n, _text, at: d.whatsapp_sent_status(f"wamid.c{c}-r{n}", wa_id(c), at),
        ),
        (
            "whatsapp app echo",
            lambda c, n, text, at: d.whatsapp_message(f"wamid.c{c}-{n}", wa_id(c), "Meera", text, at),
            lambda c, n, text, at: d.whatsapp_echo(f"wamid.c{c}-r{n}", wa_id(c), text, at),
        ),
        (
            "x DM",
            lambda c, n, text, at: d.x_direct_message(
                f"19260{c:06d}{n:02d}1", x_user(c), "anasouza", text, at
            ),
            lambda c, n, text, at: d.x_brand_direct_message(f"19260{c:06d}{n:02d}2", x_user(c), text, at),
        ),
        ("x mentions", x_ask, x_answer),
        (
            "linkedin comments",
            linkedin_ask,
            lambda c, n, text, at: d.linkedin_organization_reply(
                li_notification(c, n, 2), d.linkedin_comment_urn(li_notification(c, 0, 1)), text, at
            ),
        ),
        (
            "tiktok DM",
            lambda c, n, text, at: d.tiktok_message(
                f"7456{c:06d}{n:02d}1", tiktok_user(c), "buyer", text, at
            ),
            lambda c, n, text, at: d.tiktok_sent_message(
                f"7456{c:06d}{n:02d}2", tiktok_user(c), "buyer", text, at
            ),
        ),
        (
            "generic",
            lambda c, n, text, at: d.generic_message(
                f"g-c{c}-{n}", f"cust-{c}", "shopper", text, at, conversation_id=f"conv-{c}"
            ),
            lambda c, n, text, at: d.generic_brand_reply(f"g-c{c}-r{n}", f"conv-{c}", f"cust-{c}", text, at),
        ),
    ]


def workload(rng: random.Random, now: datetime) -> list[Item]:
    """Every delivery of the workload, in the order they arrive."""
    makers = _makers()
    arrivals: list[Item] = []
    for c in range(CONVERSATIONS):
        _platform, ask, answer = makers[c % len(makers)]
        at = now - timedelta(hours=6) + timedelta(minutes=rng.randrange(0, 240))
        for n in range(rng.randint(1, 6)):
            message = Item(c, ask(c, n, rng.choice(ASKS), at), brand=False)
            at += timedelta(minutes=rng.randint(1, 20))
            reply = None
            if rng.random() < ANSWERED:
                reply = Item(c, answer(c, n, "Thanks for writing, we are checking.", at), brand=True)
                at += timedelta(minutes=rng.randint(1, 20))
            order = [message, reply] if reply is None or rng.random() >= OUT_OF_ORDER else [reply, message]
            for item in order:
                if item is None:
                    continue
                arrivals.append(item)
                if rng.random() < REDELIVERED:
                    arrivals.append(item)
    return arrivals


def measure() -> dict[str, Any]:
    import botocore.client
    from moto import mock_aws

    from socialcrm.dal.repository import InteractionRepository
    from socialcrm.local.moto_patches import speed_up_transactions
    from socialcrm.models import Interaction
    from socialcrm.platforms import adapter_for
    from socialcrm.platforms.base import Delivery
    from socialcrm.routing.store import CaseRepository
    from tests.support.apigw import LambdaContext
    from tests.support.routing import announce, receive_all, routing_environment

    now = datetime.now(tz=UTC)
    arrivals = workload(random.Random(SEED), now)
    writes: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            if operation_name == "TransactWriteItems":
                writes["items"] += len(api_params["TransactItems"])
            elif operation_name in {"PutItem", "UpdateItem", "DeleteItem"}:
                writes["items"] += 1
            elif operation_name == "BatchWriteItem":
                writes["items"] += sum(len(r) for r in api_params["RequestItems"].values())
        return original(self, operation_name, api_params)

    speed_up_transactions()
    with mock_aws():
        env = routing_environment()
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)
        import route.handler as handler

        handler.runtime.cache_clear()
        repository = InteractionRepository()
        conversation_of: dict[str, int] = {}  # interaction ref -> the workload's conversation
        replies: set[str] = set()
        customer: set[str] = set()
        try:
            for start in range(0, len(arrivals), 10):
                batch = []
                for item in arrivals[start : start + 10]:
                    delivery = Delivery(body=item.payload.body, headers={}, query={})
                    for draft in adapter_for(item.payload.route).normalise(delivery):
                        found = Interaction.from_draft(
                            draft, pepper="bench-pepper", received_at=draft.occurred_at
                        )
                        conversation_of[found.interaction_ref] = item.conversation
                        (replies if found.from_brand else customer).add(found.interaction_ref)
                        repository.store_new(found, enriched_at=now)
                        batch.append(found)
                announce(*batch)
                botocore.client.BaseClient._make_api_call = counting  # type: ignore[method-assign]
                try:
                    response = handler.lambda_handler(
                        {"Records": receive_all(env["ROUTE_QUEUE_URL"])}, LambdaContext()
                    )
                finally:
                    botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
                assert response == {"batchItemFailures": []}, response
            cases_of: dict[int, set[str]] = defaultdict(set)
            replies_on: dict[str, str] = {}
            for case in _all_cases(CaseRepository):
                for message in case.messages:
                    owner = conversation_of.get(message.interaction_ref)
                    if owner is None:
                        continue
                    if message.from_brand:
                        replies_on[message.interaction_ref] = case.case_id
                    else:
                        cases_of[owner].add(case.case_id)
            case_conversation = {
                case_id: owner for owner, case_ids in cases_of.items() for case_id in case_ids
            }
        finally:
            handler.runtime.cache_clear()
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    matched = sum(
        1 for ref, case_id in replies_on.items() if case_conversation.get(case_id) == conversation_of[ref]
    )
    wrong = sum(
        1
        for ref, case_id in replies_on.items()
        if case_conversation.get(case_id) not in (None, conversation_of[ref])
    )
    opened = [len(ids) for ids in cases_of.values()]
    return {
        "cases_per_conversation": round(sum(opened) / len(opened), 3),
        "responses_matched_ratio": round(matched / len(replies), 4),
        "responses_matched_wrong": wrong,
        "case_writes_per_message": round(writes["items"] / len(customer), 2),
        "conversations_workload": (
            f"{CONVERSATIONS} conversations, {len(customer)} customer messages, {len(replies)} brand replies "
            f"as platform echoes ({len(arrivals)} deliveries: {OUT_OF_ORDER:.0%} of replies before their "
            f"message, {REDELIVERED:.0%} redelivered), platforms {', '.join(p for p, _, _ in _makers())}, "
            f"seed {SEED}"
        ),
    }


def _all_cases(repository: Any) -> list[Any]:
    from socialcrm.routing.store import CaseItem

    return [repository._case(item) for item in CaseItem.scan() if item.row == "case"]


if __name__ == "__main__":
    print(measure())
