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
    """(platform, customer message, brand reply) builders of the platforms that send the brand's replies."""
    from socialcrm.local import deliveries as d

    return [
        (
            "messenger",
            lambda c, n, text, at: d.messenger_message(f"m_c{c}-{n}", f"77{c:06d}", text, at),
            lambda c, n, text, at: d.messenger_echo(f"m_c{c}-r{n}", f"77{c:06d}", text, at),
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
    from socialcrm.dal.routing import CaseRepository
    from socialcrm.local.moto_patches import speed_up_transactions
    from socialcrm.models import Interaction
    from socialcrm.platforms import adapter_for
    from socialcrm.platforms.base import Delivery
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
    from socialcrm.dal.routing import CaseItem

    return [repository._case(item) for item in CaseItem.scan() if item.row == "case"]


if __name__ == "__main__":
    print(measure())
