"""The shipped rules (config/rules.yaml), case by case: who gets what, how urgently, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from socialcrm.models import Sentiment, SentimentScores
from socialcrm.routing.evaluator import CompiledRules, HistoryEntry
from socialcrm.routing.rules import load_rules_file
from socialcrm.routing.source import REPO_RULES_FILE
from tests.support.pipeline import analysed, interaction

RULES = CompiledRules(load_rules_file(REPO_RULES_FILE))
MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # inside business hours (09:00-18:00 UTC)
SATURDAY = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def message(
    text: str, label: str = "NEUTRAL", *, followers: int | None = 10, kind: str = "mention", language="en"
):
    item = analysed(interaction(1, text=text, followers=followers), label, language)
    return item.model_copy(update={"kind": kind})


def scored(item, positive: float, negative: float):
    label = "NEGATIVE" if negative > positive else "POSITIVE"
    rest = max(0.0, 1 - positive - negative)
    sentiment = Sentiment(
        label=label, scores=SentimentScores(positive=positive, negative=negative, neutral=rest, mixed=0.0)
    )
    return item.model_copy(update={"sentiment": sentiment})


@dataclass
class History:
    entries: list[HistoryEntry]

    def recent(self, subject_id, *, since, until, limit):
        chosen = [e for e in self.entries if since <= e.occurred_at <= until]
        return sorted(chosen, key=lambda e: e.occurred_at, reverse=True)[:limit]


def past(days: float, label: str, score: float, n: int) -> HistoryEntry:
    return HistoryEntry(f"x:past-{n}", interaction().occurred_at - timedelta(days=days), label, score)


CASES = [
    # (name, interaction, teams, priority, rules that matched, tags)
    (
        "an English complaint word reaches support and product at P2",
        message("My order is broken and nobody answers"),
        ("support", "product"),
        "P2",
        ("complaint",),
        ("complaint",),
    ),
    (
        "a Hindi complaint (nukta or not) is a complaint",
        message("सेवा बहुत ख़राब है। कोई जवाब नहीं", language="hi"),
        ("support", "product"),
        "P2",
        ("complaint",),
        ("complaint",),
    ),
    (
        "a Hindi refund request (a phrase) is a complaint",
        message("मुझे मेरे पैसे वापस चाहिए", language="hi"),
        ("support", "product"),
        "P2",
        ("complaint",),
        ("complaint",),
    ),
    (
        "a clearly negative message is a complaint without a complaint word",
        message("I am so disappointed with you people", "NEGATIVE"),
        ("support", "product"),
        "P2",
        ("complaint-negative",),
        ("complaint",),
    ),
    (
        "a pricing question goes to sales and marketing at P3",
        message("How much is the premium plan?"),
        ("sales", "marketing"),
        "P3",
        ("purchase-question",),
        ("purchase-intent",),
    ),
    (
        "a Hindi pricing question goes to sales and marketing",
        message("इस फ़ोन की कीमत क्या है?", language="hi"),
        ("sales", "marketing"),
        "P3",
        ("purchase-question",),
        ("purchase-intent",),
    ),
    (
        "asking for a refund of the price is a complaint, not a purchase question",
        message("I want a refund of the full price"),
        ("support", "product"),
        "P2",
        ("complaint",),
        ("complaint",),
    ),
    (
        "an angry influencer reaches PR at P1",
        message("Worst airline ever", "NEGATIVE", followers=250_000),
        ("support", "product", "pr"),
        "P1",
        ("complaint", "complaint-negative", "influencer-negative"),
        ("complaint", "large-account"),
    ),
    (
        "an angry small account does not reach PR",
        message("Worst airline ever", "NEGATIVE", followers=120),
        ("support", "product"),
        "P2",
        ("complaint", "complaint-negative"),
        ("complaint",),
    ),
    (
        "a public comment with a phone number is tagged move-to-private",
        message("call me back on +44 20 7946 0958", kind="comment"),
        ("support",),
        "P4",
        ("move-to-private",),
        ("move-to-private",),
    ),
    (
        "a public reply with an e-mail address is tagged move-to-private",
        message("write to jane.doe@example.com please", kind="reply"),
        ("support",),
        "P4",
        ("move-to-private",),
        ("move-to-private",),
    ),
    (
        "a public comment with a Hindi order number is tagged move-to-private",
        message("मेरा ऑर्डर नंबर 4471993 अभी तक नहीं आया", kind="comment", language="hi"),
        ("support",),
        "P4",
        ("move-to-private",),
        ("move-to-private",),
    ),
    (
        "a direct message with a phone number is already private",
        message("call me back on +44 20 7946 0958", kind="direct_message"),
        ("support",),
        "P4",
        (),
        (),
    ),
    (
        "a message no rule matches goes to the default team at the default priority",
        message("Saw your stand at the fair today", "POSITIVE"),
        ("support",),
        "P4",
        (),
        (),
    ),
    (
        "public praise is tagged praise (and only recorded, below)",
        message("Love the new colours!", "POSITIVE"),
        ("support",),
        "P4",
        ("praise",),
        ("praise",),
    ),
    (
        "a thanks in a direct message is praise and a private thanks",
        message("Thanks a lot!", "POSITIVE", kind="direct_message"),
        ("support",),
        "P4",
        ("praise", "thanks-in-private"),
        ("praise", "thanks"),
    ),
    (
        "a word that only begins with a keyword does not match it (खराबी is not खराब)",
        message("इसमें कोई खराबी नहीं है", language="hi"),
        ("support",),
        "P4",
        (),
        (),
    ),
    (
        "a keyword inside another word does not match (costume is not cost)",
        message("Great costume party"),
        ("support",),
        "P4",
        (),
        (),
    ),
]


@pytest.mark.parametrize(
    ("item", "teams", "priority", "rules", "tags"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_default_rules_route_each_kind_of_message(item, teams, priority, rules, tags):
    # Given the shipped rules, during business hours
    # When the interaction is evaluated
    decision = RULES.evaluate(item, at=MONDAY_NOON)
    # Then it reaches the expected teams, at the expected priority, saying which rules matched
    assert decision.teams == teams
    assert decision.priority == priority
    assert decision.rules == rules
    assert set(decision.tags) == set(tags)
    # And its SLA is the priority's (P1 15 min ... P4 24 h)
    assert decision.sla_minutes == {"P1": 15, "P2": 60, "P3": 240, "P4": 1440}[priority]


CASE_ACTIONS = [
    # (name, interaction, what happens to its case)
    ("English praise is only recorded", message("Love the new colours!", "POSITIVE"), "record"),
    (
        "Hindi praise is only recorded",
        message("बहुत बढ़िया सेवा, धन्यवाद!", "POSITIVE", language="hi"),
        "record",
    ),
    (
        "romanised Hindi thanks is only recorded",
        message("shukriya bhai", "POSITIVE", kind="comment"),
        "record",
    ),
    (
        "a thanks in a direct message opens its case resolved",
        message("Thanks a lot!", "POSITIVE", kind="direct_message"),
        "resolved",
    ),
    (
        "praise with thanks in a direct message is only recorded, like any praise",
        message(
            "Just got the linen kurta and I absolutely love it! The fabric is gorgeous, thank you so much 😍",
            "POSITIVE",
            kind="direct_message",
        ),
        "record",
    ),
    (
        "a neutral Hindi thanks in a direct message opens its case resolved",
        message("ठीक है, शुक्रिया", "NEUTRAL", kind="direct_message", language="hi"),
        "resolved",
    ),
    (
        "a neutral public thanks asks nothing of the rules: it opens a case",
        message("thanks", kind="comment"),
        "open",
    ),
    (
        "praise that asks something opens a case",
        message("Thank you! How do I reset my password?", "POSITIVE", kind="direct_message"),
        "open",
    ),
    ("praise with a Hindi question opens a case", message("Love this 😍 कब आएगा?", "POSITIVE"), "open"),
    ("praise that turns opens a case", message("Love it, but the strap feels cheap", "POSITIVE"), "open"),
    (
        "a complaint word outvotes praise: a case opens",
        message("Great, the refund finally came, thank you", "POSITIVE"),
        "open",
    ),
    ("sarcasm read as negative is not praise", message("Great. Just great. Love it.", "NEGATIVE"), "open"),
    ("a complaint opens a case", message("My order is broken and nobody answers"), "open"),
    ("a message no rule matches opens a case", message("Saw your stand at the fair today"), "open"),
]


@pytest.mark.parametrize(("item", "action"), [c[1:] for c in CASE_ACTIONS], ids=[c[0] for c in CASE_ACTIONS])
def test_default_rules_say_which_messages_open_a_case(item, action):
    # Given the shipped rules, When the message is evaluated
    decision = RULES.evaluate(item, at=MONDAY_NOON)
    # Then it opens a case, opens it resolved, or is only recorded
    assert decision.case_action == action


def test_a_plain_thanks_excludes_praise_words_and_whatever_praise_excludes():
    # Given the shipped praise and thanks-in-private rules (YAML cannot join two lists, so one is written out)
    rules = {rule.id: rule for rule in RULES.document.rules}
    praise, thanks = rules["praise"].when, rules["thanks-in-private"].when
    # Then a plain thanks excludes every praise word that is not a thanks, and everything praise excludes
    praise_words = set(praise.keywords or ()) - set(thanks.keywords or ())
    assert set(thanks.keywords or ()) <= set(praise.keywords or ())
    assert set(thanks.exclude_keywords or ()) == praise_words | set(praise.exclude_keywords or ())


def test_an_angry_influencer_notifies_pr_at_once():
    decision = RULES.evaluate(message("Worst airline ever", "NEGATIVE", followers=250_000), at=MONDAY_NOON)
    assert decision.notify == ("pr",)


def test_outside_business_hours_a_negative_message_notifies_support_on_call():
    # Given a negative message on a Saturday
    item = message("Still waiting for my parcel", "NEGATIVE")
    # When it is routed on Saturday, and on a Monday at noon
    weekend = RULES.evaluate(item, at=SATURDAY)
    weekday = RULES.evaluate(item, at=MONDAY_NOON)
    # Then only the weekend one is tagged after-hours and notifies support
    assert "after-hours-negative" in weekend.rules and "support" in weekend.notify
    assert "after-hours" in weekend.tags
    assert "after-hours-negative" not in weekday.rules and weekday.notify == ()


def test_the_third_negative_message_in_seven_days_raises_the_priority():
    # Given a customer with two negative messages in the last week
    history = History([past(2, "NEGATIVE", -0.8, 1), past(5, "NEGATIVE", -0.7, 2)])
    item = message("Still nothing. Disappointed.", "NEGATIVE")
    # When a third negative one arrives
    decision = RULES.evaluate(item, at=MONDAY_NOON, history=history)
    # Then the complaint's P2 is raised to P1 and tagged
    assert "repeat-complainer" in decision.rules
    assert decision.priority == "P1" and "repeat-complaint" in decision.tags


def test_negative_messages_older_than_seven_days_do_not_count():
    history = History([past(2, "NEGATIVE", -0.8, 1), past(9, "NEGATIVE", -0.7, 2)])
    decision = RULES.evaluate(message("Disappointed again", "NEGATIVE"), at=MONDAY_NOON, history=history)
    assert "repeat-complainer" not in decision.rules and decision.priority == "P2"


def test_a_falling_sentiment_trend_flags_the_customer_at_risk():
    # Given a customer whose last messages went from happy to unhappy
    history = History(
        [past(20, "POSITIVE", 0.9, 1), past(10, "POSITIVE", 0.5, 2), past(3, "NEUTRAL", 0.0, 3)]
    )
    item = scored(message("hmm, this is getting annoying"), positive=0.1, negative=0.5)
    # When the latest one is evaluated
    decision = RULES.evaluate(item, at=MONDAY_NOON, history=history)
    # Then the trend rule matched
    assert "souring-customer" in decision.rules and "at-risk" in decision.tags


def test_a_steady_customer_is_not_flagged_at_risk():
    history = History(
        [past(20, "POSITIVE", 0.5, 1), past(10, "POSITIVE", 0.6, 2), past(3, "POSITIVE", 0.5, 3)]
    )
    item = scored(message("all good, thanks"), positive=0.6, negative=0.0)
    decision = RULES.evaluate(item, at=MONDAY_NOON, history=history)
    assert "souring-customer" not in decision.rules


def test_negative_complaints_count_their_tags_and_phrases_as_spike_topics():
    decision = RULES.evaluate(message("refund now, the app is broken", "NEGATIVE"), at=MONDAY_NOON)
    assert "tag:complaint" in decision.topics
    assert {"phrase:refund", "phrase:broken"} <= set(decision.topics)
