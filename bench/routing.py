"""Routing figure: interactions evaluated per second on one core, default rules plus 200 generated ones.

The rules are ``config/rules.yaml`` (keywords in English and Hindi, detectors, history, business hours)
followed by 200 rules generated deterministically: each has one to three conditions drawn from
keywords (2-6 words or phrases, a third of them Hindi, some with a trailing *), platforms, kinds,
languages, sentiment, minimum scores, followers and business hours, and assigns teams, a priority
and tags. The interactions are 2,000 messages of 8-40 words from the same vocabularies (60% English,
30% Hindi, 10% mixed), with sentiment scores, follower counts and kinds spread like a timeline; the
subject's history comes from memory (the bounded DynamoDB read is not what is measured).

What is timed is exactly what the route consumer does per interaction before it writes anything:
``CompiledRules.evaluate`` (normalisation, tokens, keyword index, detectors, every rule's conditions,
history when a rule needs it). Single thread; the best of three rounds of at least 2 seconds each.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

SEED = 20261123
GENERATED_RULES = 200
INTERACTIONS = 2000
ROUND_SECONDS = 2.0
ROUNDS = 3

ENGLISH = [
    "order",
    "parcel",
    "delivery",
    "refund",
    "broken",
    "screen",
    "battery",
    "charger",
    "price",
    "discount",
    "offer",
    "store",
    "app",
    "login",
    "password",
    "account",
    "invoice",
    "bill",
    "payment",
    "card",
    "late",
    "slow",
    "fast",
    "great",
    "love",
    "hate",
    "awful",
    "support",
    "agent",
    "call",
    "email",
    "shipping",
    "return",
    "exchange",
    "size",
    "colour",
    "fit",
    "quality",
    "warranty",
    "repair",
    "replace",
    "cancel",
    "subscription",
    "plan",
    "upgrade",
    "premium",
    "coupon",
    "stock",
    "available",
    "colour",
    "black",
    "white",
    "cheap",
    "expensive",
    "thanks",
    "please",
    "help",
    "urgent",
    "again",
    "still",
    "never",
    "today",
    "yesterday",
    "week",
    "month",
    "waiting",
    "tracking",
    "courier",
    "driver",
    "box",
    "damaged",
    "missing",
    "wrong",
    "item",
    "product",
    "phone",
]
HINDI = [
    "ऑर्डर",
    "पार्सल",
    "डिलीवरी",
    "रिफंड",
    "खराब",
    "स्क्रीन",
    "बैटरी",
    "चार्जर",
    "कीमत",
    "छूट",
    "ऑफर",
    "दुकान",
    "ऐप",
    "लॉगिन",
    "पासवर्ड",
    "खाता",
    "बिल",
    "भुगतान",
    "कार्ड",
    "देर",
    "धीमा",
    "तेज़",
    "बढ़िया",
    "पसंद",
    "नफ़रत",
    "बेकार",
    "सहायता",
    "एजेंट",
    "कॉल",
    "ईमेल",
    "वापसी",
    "बदलना",
    "साइज़",
    "रंग",
    "गुणवत्ता",
    "वारंटी",
    "मरम्मत",
    "रद्द",
    "प्लान",
    "सस्ता",
    "महंगा",
    "धन्यवाद",
    "कृपया",
    "मदद",
    "जल्दी",
    "फिर",
    "अभी",
    "कभी",
    "आज",
    "कल",
    "हफ्ता",
    "महीना",
    "इंतज़ार",
    "कूरियर",
    "डिब्बा",
    "टूटा",
    "गायब",
    "गलत",
]
FILLER_EN = [
    "the",
    "a",
    "my",
    "your",
    "is",
    "was",
    "it",
    "and",
    "but",
    "with",
    "for",
    "on",
    "to",
    "of",
    "this",
    "that",
    "i",
    "we",
    "you",
]
FILLER_HI = [
    "मेरा",
    "मेरी",
    "आपका",
    "है",
    "था",
    "और",
    "लेकिन",
    "के",
    "लिए",
    "से",
    "को",
    "यह",
    "वह",
    "मैं",
    "हम",
    "आप",
    "नहीं",
    "बहुत",
]
PLATFORMS = [
    "facebook",
    "instagram",
    "messenger",
    "whatsapp",
    "x",
    "linkedin",
    "tiktok",
    "youtube",
    "generic",
]
KINDS = ["comment", "mention", "direct_message", "reply", "review", "post"]
LABELS = ["POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED"]
TEAMS = ["support", "product", "sales", "marketing", "pr"]


def _keyword(rng: random.Random) -> str:
    words = HINDI if rng.random() < 1 / 3 else ENGLISH
    if rng.random() < 0.25:
        return f"{rng.choice(words)} {rng.choice(words)}"
    word = rng.choice(words)
    return f"{word[: max(3, len(word) - 2)]}*" if rng.random() < 0.15 and words is ENGLISH else word


def generated_rules(rng: random.Random, count: int) -> list[dict[str, Any]]:
    conditions: list[Callable[[], dict[str, Any]]] = [
        lambda: {"keywords": [_keyword(rng) for _ in range(rng.randint(2, 6))]},
        lambda: {"platforms": rng.sample(PLATFORMS, rng.randint(1, 4))},
        lambda: {"kinds": rng.sample(KINDS, rng.randint(1, 3))},
        lambda: {"languages": rng.sample(["en", "hi", "es", "fr"], rng.randint(1, 2))},
        lambda: {"sentiment": rng.sample(LABELS, rng.randint(1, 2))},
        lambda: {"min_scores": {"negative": round(rng.uniform(0.4, 0.9), 2)}},
        lambda: {"min_followers": rng.choice([100, 1000, 5000, 50_000])},
        lambda: {"business_hours": rng.random() < 0.5},
    ]
    rules = []
    for n in range(count):
        when: dict[str, Any] = {}
        for make in rng.sample(conditions, rng.randint(1, 3)):
            when |= make()
        then: dict[str, Any] = {
            "teams": rng.sample(TEAMS, rng.randint(1, 2)),
            "tags": [f"generated-{n % 40}"],
        }
        if rng.random() < 0.6:
            then["priority"] = rng.choice(["P1", "P2", "P3", "P4"])
        rules.append({"id": f"generated-{n:03d}", "when": when, "then": then})
    return rules


def interactions(rng: random.Random, count: int) -> list[Any]:
    from socialcrm.models import Author, Interaction, Sentiment, SentimentScores, interaction_ref, subject_id

    start = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    out = []
    for n in range(count):
        roll = rng.random()
        language = "en" if roll < 0.6 else ("hi" if roll < 0.9 else "en")
        words, filler = (ENGLISH, FILLER_EN) if language == "en" else (HINDI, FILLER_HI)
        size = rng.randint(8, 40)
        tokens = [rng.choice(words) if rng.random() < 0.45 else rng.choice(filler) for _ in range(size)]
        if roll >= 0.9:  # mixed: Hindi words in an English message
            tokens += [rng.choice(HINDI) for _ in range(3)]
        if rng.random() < 0.05:
            tokens += ["call", "+91", "98765", "43210"]
        negative = rng.random()
        positive = rng.uniform(0, 1 - negative)
        label = max(("NEGATIVE", negative), ("POSITIVE", positive), key=lambda p: p[1])[0]
        at = start + timedelta(seconds=17 * n)
        out.append(
            Interaction(
                interaction_id=f"x:{n}",
                interaction_ref=interaction_ref("bench", f"x:{n}"),
                subject_id=subject_id("bench", "x", str(n % 300)),
                platform=rng.choice(PLATFORMS),  # type: ignore[arg-type]
                kind=rng.choice(KINDS),  # type: ignore[arg-type]
                native_id=str(n),
                author=Author(
                    user_id=str(n % 300), follower_count=rng.choice([None, 12, 800, 4000, 120_000])
                ),
                text=" ".join(tokens),
                language=language,
                sentiment=Sentiment(
                    label=label,  # type: ignore[arg-type]
                    scores=SentimentScores(
                        positive=positive,
                        negative=negative,
                        neutral=max(0.0, 1 - positive - negative),
                        mixed=0.0,
                    ),
                ),
                sentiment_status="ANALYSED",
                occurred_at=at,
                received_at=at + timedelta(seconds=2),
            )
        )
    return out


class _MemoryHistory:
    """A few earlier interactions per subject, as the by_subject read would return them."""

    def __init__(self, items: list[Any]) -> None:
        from socialcrm.routing.evaluator import HistoryEntry

        self.by_subject: dict[str, list[Any]] = {}
        for item in items:
            self.by_subject.setdefault(item.subject_id, []).append(HistoryEntry.of(item))

    def recent(self, subject_id: str, *, since: datetime, until: datetime, limit: int) -> list[Any]:
        entries = [e for e in self.by_subject.get(subject_id, ()) if since <= e.occurred_at <= until]
        return entries[-limit:][::-1]


def measure() -> dict[str, float]:
    import yaml

    from socialcrm.routing.evaluator import CompiledRules
    from socialcrm.routing.rules import parse_rules
    from socialcrm.routing.source import REPO_RULES_FILE

    rng = random.Random(SEED)
    document = yaml.safe_load(REPO_RULES_FILE.read_text(encoding="utf-8"))
    document["rules"] += generated_rules(rng, GENERATED_RULES)
    compiled = CompiledRules(parse_rules(document, origin="bench"))
    items = interactions(rng, INTERACTIONS)
    history = _MemoryHistory(items)
    matched = sum(
        len(compiled.evaluate(i, at=i.received_at, history=history).rules) for i in items
    )  # warm-up
    best = 0.0
    for _round in range(ROUNDS):
        evaluated, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < ROUND_SECONDS:
            for item in items:
                compiled.evaluate(item, at=item.received_at, history=history)
            evaluated += len(items)
        best = max(best, evaluated / elapsed)
    assert len(compiled) == len(document["rules"]) and matched > 0
    return {"rules_eval_per_s": round(best)}


if __name__ == "__main__":
    print(measure())
