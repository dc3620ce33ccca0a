"""The enrich stage for one SQS batch with in-memory ports: each record's fate, and what the batch reports.

What SQS retries (``failed``), what is analysed (Comprehend is paid per document), stored, announced and
counted is what an operator and the CRM's figures see, so each counter is checked against the records.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from socialcrm.dedupe import ClaimResult
from socialcrm.enrichment.batch import PENDING_RETRY_DELAY_SECONDS, BatchOutcome, QueuedRecord, process_batch
from socialcrm.models import Interaction
from tests.support.pipeline import analysed, interaction

NOW = datetime(2026, 11, 22, 10, 5, tzinfo=UTC)
DEADLINE = NOW + timedelta(seconds=60)


class Store:
    """The interactions table: ``known`` are stored already; ``failing`` refs raise on write."""

    def __init__(self, *known: Interaction, failing: Sequence[str] = (), unreachable: bool = False) -> None:
        self.rows = {item.interaction_ref: item for item in known}
        self.failing, self.unreachable = set(failing), unreachable
        self.asked: list[list[str]] = []

    def stored(self, refs: Sequence[str]) -> dict[str, Interaction]:
        self.asked.append(list(refs))
        if self.unreachable:
            raise ConnectionError("the table is unreachable")
        return {ref: self.rows[ref] for ref in refs if ref in self.rows}

    def store_new(self, item: Interaction, *, enriched_at: datetime) -> bool:
        if item.interaction_ref in self.failing:
            raise RuntimeError("write failed")
        if item.interaction_ref in self.rows:
            return False
        self.rows[item.interaction_ref] = item
        return True

    def complete_pending(self, item: Interaction, *, enriched_at: datetime) -> bool:
        known = self.rows[item.interaction_ref]
        if known.sentiment_status != "PENDING":
            return False
        self.rows[item.interaction_ref] = item
        return True


class Claims:
    def __init__(self, held: Sequence[str] = (), unavailable: Sequence[str] = ()) -> None:
        self.held, self.unavailable = set(held), set(unavailable)
        self.asked: list[tuple[list[str], datetime, datetime]] = []
        self.released: list[str] = []

    def claim(self, refs: Sequence[str], *, until: datetime, now: datetime) -> ClaimResult:
        self.asked.append((list(refs), until, now))
        result = ClaimResult()
        for ref in refs:
            if ref in self.held:
                result.held_elsewhere.append(ref)
            elif ref in self.unavailable:
                result.unavailable.append(ref)
            else:
                result.claimed.append(ref)
        return result

    def release(self, refs: Sequence[str]) -> None:
        self.released += list(refs)


class Bus:
    def __init__(self, rejecting: Sequence[str] = ()) -> None:
        self.rejecting = set(rejecting)
        self.published: list = []
        self.trace_headers: list = []

    def publish(self, details, trace_header=None) -> list[int]:
        self.trace_headers.append(trace_header)
        failed = [n for n, detail in enumerate(details) if detail.interaction_ref in self.rejecting]
        self.published += [detail for detail in details if detail.interaction_ref not in self.rejecting]
        return failed


class Later:
    """The inbound queue's delayed send, for PENDING interactions; ``unsent`` refs are refused."""

    def __init__(self, unsent: Sequence[str] = ()) -> None:
        self.unsent = set(unsent)
        self.sent: list[tuple[list[str], int]] = []

    def send_later(self, items: Sequence[Interaction], delay_seconds: int) -> list[str]:
        self.sent.append(([i.interaction_ref for i in items], delay_seconds))
        return [i.interaction_ref for i in items if i.interaction_ref in self.unsent]


class Suppressed:
    def __init__(self, *subjects: str) -> None:
        self.subjects = set(subjects)

    def suppressed(self, item: Interaction) -> bool:
        return item.subject_id in self.subjects


class Analyser:
    """Comprehend: counts what it is handed; ``pending`` refs come back PENDING (Comprehend unavailable)."""

    def __init__(self, pending: Sequence[str] = ()) -> None:
        self.pending = set(pending)
        self.seen: list[str] = []

    def __call__(self, items: list[Interaction]) -> list[Interaction]:
        self.seen += [i.interaction_ref for i in items]
        return [
            i.model_copy(update={"sentiment_status": "PENDING"})
            if i.interaction_ref in self.pending
            else analysed(i)
            for i in items
        ]


def record(item: Interaction, message_id: str | None = None) -> QueuedRecord:
    return QueuedRecord(message_id or f"m-{item.native_id}", item.model_dump_json())


def run(
    records, *, store=None, claims=None, bus=None, later=None, suppression=None, analyser=None, trace=None
):
    ports = {
        "store": store or Store(),
        "claims": claims or Claims(),
        "publisher": bus or Bus(),
        "pending_queue": later or Later(),
        "suppression": suppression or Suppressed(),
        "enrich": analyser or Analyser(),
    }
    outcome = process_batch(records, now=NOW, deadline=DEADLINE, trace_header=trace, **ports)
    return outcome, ports


def test_a_batch_is_analysed_stored_and_announced_with_its_trace():
    one, two = interaction(1), interaction(2)
    outcome, ports = run([record(one), record(two)], trace="Root=1-abc")
    assert outcome == BatchOutcome(stored=2, analysed=2)
    assert [e.interaction_ref for e in ports["publisher"].published] == [
        one.interaction_ref,
        two.interaction_ref,
    ]
    assert ports["publisher"].trace_headers == ["Root=1-abc"]
    assert ports["claims"].asked == [([one.interaction_ref, two.interaction_ref], DEADLINE, NOW)]
    assert ports["claims"].released == [one.interaction_ref, two.interaction_ref]


def test_an_unreadable_record_fails_alone():
    outcome, _ = run([QueuedRecord("m-bad", "not json"), record(interaction(1))])
    assert outcome.failed == ["m-bad"] and outcome.stored == 1


def test_a_copy_within_the_batch_is_acknowledged_and_the_first_leads():
    item = interaction(1)
    outcome, ports = run([record(item, "m-a"), record(item, "m-b")])
    assert (outcome.stored, outcome.duplicates, outcome.analysed) == (1, 1, 1)
    assert ports["enrich"].seen == [item.interaction_ref]


def test_a_suppressed_subject_s_messages_are_neither_looked_up_nor_analysed():
    ana, ana_again, ben = interaction(1, user="ana"), interaction(2, user="ana"), interaction(3, user="ben")
    outcome, ports = run(
        [record(ana), record(ana_again), record(ben)], suppression=Suppressed(ana.subject_id)
    )
    assert (outcome.suppressed, outcome.stored, outcome.failed) == (2, 1, [])
    assert ports["store"].asked == [[ben.interaction_ref]]


def test_an_unreachable_store_retries_every_kept_record_and_analyses_nothing():
    items = [interaction(1), interaction(2)]
    records = [QueuedRecord("m-bad", "not json"), *(record(i) for i in items)]
    outcome, ports = run(records, store=Store(unreachable=True))
    assert outcome.failed == ["m-bad", "m-1", "m-2"]
    assert outcome.analysed == 0 and ports["enrich"].seen == []


def test_platform_retries_of_stored_messages_are_duplicates_not_announced_again():
    stored = [analysed(interaction(1)), analysed(interaction(2))]
    later = {"received_at": stored[0].received_at + timedelta(minutes=3)}
    retries = [interaction(1).model_copy(update=later), interaction(2).model_copy(update=later)]
    outcome, ports = run([record(r) for r in retries], store=Store(*stored))
    assert (outcome.duplicates, outcome.announced_again, outcome.analysed) == (2, 0, 0)
    assert ports["publisher"].published == []


def test_the_same_queued_messages_seen_again_are_announced_again_from_what_was_stored():
    stored = [analysed(interaction(1), label="POSITIVE"), analysed(interaction(2), label="POSITIVE")]
    outcome, ports = run([record(interaction(1)), record(interaction(2))], store=Store(*stored))
    assert (outcome.duplicates, outcome.announced_again, outcome.analysed) == (2, 2, 0)
    assert [event.sentiment for event in ports["publisher"].published] == ["POSITIVE", "POSITIVE"]


def test_stored_pending_messages_are_analysed_again_and_completed():
    pending = [interaction(n).model_copy(update={"sentiment_status": "PENDING"}) for n in (1, 2)]
    outcome, ports = run([record(p) for p in pending], store=Store(*pending))
    assert (outcome.completed, outcome.stored, outcome.duplicates) == (2, 0, 0)
    assert {row.sentiment_status for row in ports["store"].rows.values()} == {"ANALYSED"}


def test_a_message_stored_by_another_batch_meanwhile_is_counted_a_duplicate():
    # Given a message twice in the batch, stored by another batch between the look-up and the write
    item = interaction(1)
    store = Store()
    store.stored = lambda refs: {}
    store.rows[item.interaction_ref] = analysed(item)
    outcome, _ = run([record(item, "m-a"), record(item, "m-b")], store=store)
    # Then both copies are counted as duplicates, and nothing is stored or completed
    assert (outcome.duplicates, outcome.stored, outcome.completed) == (2, 0, 0)


def test_a_message_another_batch_holds_is_acknowledged_and_one_whose_claim_failed_is_retried():
    held, broken, mine = interaction(1), interaction(2), interaction(3)
    claims = Claims(held=[held.interaction_ref], unavailable=[broken.interaction_ref])
    outcome, ports = run([record(held), record(broken), record(mine)], claims=claims)
    assert outcome.failed == ["m-2"]
    assert (outcome.duplicates, outcome.stored, outcome.analysed) == (1, 1, 1)
    assert ports["enrich"].seen == [mine.interaction_ref]
    assert claims.released == [mine.interaction_ref]


def test_a_store_failure_fails_that_record_only_and_it_is_not_announced():
    one, two = interaction(1), interaction(2)
    outcome, ports = run([record(one), record(two)], store=Store(failing=[one.interaction_ref]))
    assert outcome.failed == ["m-1"] and outcome.stored == 1
    assert [e.interaction_ref for e in ports["publisher"].published] == [two.interaction_ref]


def test_a_pending_sentiment_is_stored_announced_and_queued_again_after_15_minutes():
    item = interaction(1)
    outcome, ports = run([record(item)], analyser=Analyser(pending=[item.interaction_ref]))
    assert (outcome.stored, outcome.pending, outcome.failed) == (1, 1, [])
    assert ports["pending_queue"].sent == [([item.interaction_ref], PENDING_RETRY_DELAY_SECONDS)]
    assert PENDING_RETRY_DELAY_SECONDS == 900
    assert [e.sentiment_status for e in ports["publisher"].published] == ["PENDING"]


def test_a_pending_message_that_is_still_pending_is_not_completed():
    pending = interaction(1).model_copy(update={"sentiment_status": "PENDING"})
    outcome, _ = run(
        [record(pending)], store=Store(pending), analyser=Analyser(pending=[pending.interaction_ref])
    )
    assert (outcome.completed, outcome.duplicates, outcome.pending) == (0, 1, 1)


def test_a_pending_message_that_could_not_be_queued_again_is_retried_by_sqs():
    one, two = interaction(1), interaction(2)
    analyser = Analyser(pending=[one.interaction_ref, two.interaction_ref])
    records = [QueuedRecord("m-bad", "not json"), record(one), record(two)]
    outcome, _ = run(records, analyser=analyser, later=Later(unsent=[two.interaction_ref]))
    assert outcome.failed == ["m-bad", "m-2"] and outcome.pending == 2


def test_an_announcement_the_bus_rejected_fails_its_record():
    # Given a bus that rejects the events of a new message and of one announced again
    one, two = interaction(1), interaction(2)
    stored = analysed(interaction(3))
    bus = Bus(rejecting=[two.interaction_ref, stored.interaction_ref])
    outcome, _ = run([record(one), record(two), record(interaction(3))], store=Store(stored), bus=bus)
    # Then the two records whose events were rejected (a new one and one announced again) are retried
    assert sorted(outcome.failed) == ["m-2", "m-3"]


def test_a_record_failed_twice_is_reported_once():
    item = interaction(1)
    later = Later(unsent=[item.interaction_ref])
    bus = Bus(rejecting=[item.interaction_ref])
    outcome, _ = run([record(item)], analyser=Analyser(pending=[item.interaction_ref]), later=later, bus=bus)
    assert outcome.failed == ["m-1"]


def test_claims_are_released_even_when_the_analysis_fails():
    item = interaction(1)
    claims = Claims()

    def broken(items):
        raise RuntimeError("Comprehend failed")

    with pytest.raises(RuntimeError):
        run([record(item)], claims=claims, analyser=broken)
    assert claims.released == [item.interaction_ref]


def test_an_analysis_that_loses_an_interaction_fails_the_batch_rather_than_dropping_it():
    items = [interaction(1), interaction(2)]
    with pytest.raises(ValueError):
        run([record(i) for i in items], analyser=lambda handed: [analysed(handed[0])])
