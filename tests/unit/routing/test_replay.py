"""The dry run replays messages conversation by conversation: the first opens the case, later ones join."""

from __future__ import annotations

import copy
import random
from datetime import timedelta

import yaml

from socialcrm.routing.case import Case, CaseMessage, Conversation, case_id_for, conversation_of
from socialcrm.routing.evaluator import CompiledRules
from socialcrm.routing.replay import Outcome, Replayed, StoredCases, render, replay
from socialcrm.routing.rules import parse_rules
from socialcrm.routing.source import REPO_RULES_FILE
from tests.support.pipeline import T0, analysed, interaction

DOCUMENT = yaml.safe_load(REPO_RULES_FILE.read_text(encoding="utf-8"))
SHIPPED = CompiledRules(parse_rules(DOCUMENT))


def message(n, text, label="NEUTRAL", *, minutes, conversation=None, kind="mention", received_after=1.0):
    item = analysed(interaction(n, text=text, conversation=conversation), label)
    occurred = T0 + timedelta(minutes=minutes)
    return item.model_copy(
        update={
            "kind": kind,
            "occurred_at": occurred,
            "received_at": occurred + timedelta(minutes=received_after),
        }
    )


def reply(n, *, minutes, conversation):
    item = interaction(n, brand=True, conversation=conversation, text="Sorry to hear that, we're on it")
    return item.model_copy(update={"occurred_at": T0 + timedelta(minutes=minutes)})


def world():
    """A direct-message conversation (complaint, brand reply, follow-up, thanks), a public thread that
    starts with praise and goes on with a question, a lone private thanks, two old rows stored before
    conversations, and one message still waiting for its sentiment."""
    dm = "dm:acme|customer-1"
    thread = "thread:post-9"
    return [
        # the complaint occurred first but was received after its follow-up: occurrence decides
        message(
            1,
            "the app is broken",
            "NEGATIVE",
            minutes=0,
            conversation=dm,
            kind="direct_message",
            received_after=9,
        ),
        reply(2, minutes=2, conversation=dm),
        message(
            3, "still broken after the update", "NEGATIVE", minutes=3, conversation=dm, kind="direct_message"
        ),
        message(4, "Thanks a lot!", "POSITIVE", minutes=20, conversation=dm, kind="direct_message"),
        message(5, "Love the new colours!", "POSITIVE", minutes=30, conversation=thread, kind="comment"),
        message(6, "when is the blue one back?", minutes=31, conversation=thread, kind="comment"),
        message(
            7,
            "Thanks a lot!",
            "POSITIVE",
            minutes=40,
            conversation="dm:acme|customer-2",
            kind="direct_message",
        ),
        message(8, "what time do you open", minutes=50).model_copy(update={"conversation_ref": None}),
        message(9, "and on Sundays", minutes=51).model_copy(update={"conversation_ref": None}),
        message(10, "is this on?", minutes=60).model_copy(
            update={"sentiment": None, "sentiment_status": "PENDING"}
        ),
    ]


def run(items, *, baseline=lambda _item: None, rules=SHIPPED):
    return replay(
        items,
        rules,
        baseline=baseline,
        history=None,
        candidate_name="new.yaml",
        baseline_name="the cases opened",
        days=7,
    )


def test_messages_open_join_or_are_only_recorded_by_conversation_in_the_order_they_occurred():
    # Given the stored messages, in whatever order the store returns them
    items = world()
    random.Random(4).shuffle(items)
    # When they are replayed through the shipped rules, with no cases stored yet
    report = run(items)
    fates = {c.interaction_id: c.after.fate for c in report.changes}
    # Then the brand reply is not routed and the pending message is skipped
    assert (report.brand_replies, report.skipped_pending, report.replayed) == (1, 1, 8)
    # And each conversation's first message that asks for a case opens it, the later ones join it
    assert fates == {
        "x:1": "opened",
        "x:3": "joined",
        "x:4": "joined",
        # x:5, praise, is only recorded (no case, as without rules: unchanged) ...
        "x:6": "opened",  # ... so the question that follows opens the thread's case
        "x:7": "opened_resolved",  # a lone private thanks
        "x:8": "opened",  # old rows without a conversation are each their own
        "x:9": "opened",
    }
    summary = report.as_json()
    assert (
        summary["cases_opened"],
        summary["opened_resolved"],
        summary["joined"],
        summary["not_opened"],
    ) == (
        5,
        1,
        2,
        1,
    )
    assert summary["cases"]["after"] == {"opened": 5, "opened_resolved": 1, "joined": 2, "not_opened": 1}
    # And against no stored case, opening is a new case, joining a change of case, recording no change
    assert summary["changed"]["new case"] == 5 and summary["changed"]["case"] == 2
    assert summary["unchanged"] == 1 and report.fates_after["recorded"] == 1


def test_a_case_is_counted_by_the_priority_and_teams_of_the_message_that_opens_it():
    report = run(world())
    assert sum(report.priority_after.values()) == 5
    assert report.priority_after["P2"] == 1  # the complaint; its follow-up joins, it opens nothing
    assert report.teams_after["product"] == 1
    # (every message's matched rules are counted, joined ones too)
    assert report.rules_after["complaint"] == 2 and report.rules_after["praise"] == 3


def test_comparing_two_documents_replays_each_through_its_own_conversations():
    # Given the shipped rules as the baseline, and a candidate without the praise and thanks rules
    candidate = copy.deepcopy(DOCUMENT)
    candidate["rules"] = [r for r in candidate["rules"] if r["id"] not in {"praise", "thanks-in-private"}]
    # When the world is replayed
    report = run(world(), rules=CompiledRules(parse_rules(candidate)), baseline=Replayed(SHIPPED, None))
    changed = {c.interaction_id: c for c in report.changes}
    # Then the praise now opens the thread's case, and the question joins it instead
    assert (changed["x:5"].before.fate, changed["x:5"].after.fate) == ("recorded", "opened")
    assert (changed["x:6"].before.fate, changed["x:6"].after.fate) == ("opened", "joined")
    assert changed["x:6"].aspects == ["case"]
    # And the lone private thanks opens an open case rather than a resolved one
    assert changed["x:7"].aspects == ["case", "tags", "rules"]
    assert set(changed) == {"x:5", "x:6", "x:7"}
    assert report.as_json()["cases"]["before"]["opened_resolved"] == 1
    assert report.as_json()["cases"]["after"]["opened_resolved"] == 0


def test_the_text_report_shows_what_happens_to_messages_and_each_change():
    out = render(run(world()), limit=50)
    assert "Nothing was written but the access log" in out
    assert "interactions replayed  8  (skipped: brand replies, never routed: 1; sentiment pending: 1)" in out
    assert "cases it would open    5" in out
    assert "  not opened (recorded)          0       1" in out
    assert "  joined their case              0       2" in out
    assert "  in no case                     8       -" in out
    assert "case      in no case → joins its case" in out
    assert "new case  teams product,support  P2  SLA 60 min" in out


class MemoryCases:
    def __init__(self, *cases: Case) -> None:
        self.cases = {c.case_id: c for c in cases}
        self.reads = 0

    def get(self, case_id):
        self.reads += 1
        return self.cases.get(case_id)

    def conversation(self, conversation_ref):
        found = [c for c in self.cases.values() if c.conversation_ref == conversation_ref]
        if not found:
            return None
        first = found[0]
        return Conversation(
            conversation_ref=conversation_ref,
            subject_id=first.subject_id,
            platform=first.platform,
            case_id=first.case_id,
            sequence=len(found),
            updated_at=T0,
        )


def stored_case(opener, *others, sequence=1, resolved=False, priority="P2"):
    ref = conversation_of(opener)
    return Case(
        case_id=case_id_for(ref, sequence),
        interaction_id=opener.interaction_id,
        interaction_ref=opener.interaction_ref,
        subject_id=opener.subject_id,
        platform=opener.platform,
        teams=["support", "product"],
        priority=priority,
        sla_minutes=60,
        tags=["after-hours", "complaint"],  # T0 is a Sunday
        rules=["out-of-hours-ack", "complaint", "complaint-negative", "after-hours-negative"],
        opened_at=T0,
        sla_due_at=T0 + timedelta(hours=1),
        sla_warning_at=T0 + timedelta(minutes=48),
        updated_at=T0,
        conversation_ref=ref,
        sequence=sequence,
        messages=[CaseMessage.of(m) for m in (opener, *others)],
        opened_resolved=resolved,
        status="resolved" if resolved else "open",
    )


def test_the_stored_baseline_is_the_case_that_holds_each_message():
    items = {i.interaction_id: i for i in world()}
    cases = MemoryCases(
        stored_case(items["x:1"], items["x:2"], items["x:3"]),
        stored_case(items["x:4"], sequence=2, resolved=True),
    )
    stored = StoredCases(cases)
    assert stored(items["x:1"]).fate == "opened"
    assert stored(items["x:3"]) == Outcome("joined")
    assert stored(items["x:4"]).fate == "opened_resolved"
    assert stored(items["x:5"]) is None  # no case holds it
    reads = cases.reads
    stored(items["x:3"])
    assert cases.reads == reads  # a conversation's cases are read once


def test_against_the_stored_cases_only_what_differs_is_a_change():
    items = {i.interaction_id: i for i in world()}
    stored = StoredCases(MemoryCases(stored_case(items["x:1"], items["x:2"], items["x:3"], items["x:4"])))
    report = run(world(), baseline=stored)
    changed = {c.interaction_id: c.aspects for c in report.changes}
    # the complaint's case and the messages that joined it are as stored
    assert not {"x:1", "x:3", "x:4"} & set(changed)
    assert changed["x:6"] == ["new case"]
    assert "x:5" not in changed  # recorded, and no stored case holds it: unchanged
