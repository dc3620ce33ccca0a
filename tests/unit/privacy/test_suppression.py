"""The suppression rules: what a tombstone and an objection stop, and how often the table is read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from socialcrm.privacy.suppression import DynamoSuppressionCheck, Suppression
from tests.support.pipeline import interaction

ERASED_AT = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)


def test_a_tombstone_stops_messages_up_to_the_erasure_and_lets_later_ones_through():
    tombstone = Suppression("s", erased_at=ERASED_AT)
    assert tombstone.blocks(ERASED_AT - timedelta(days=3))  # a platform retry of an old message
    assert tombstone.blocks(ERASED_AT)  # at the erasure itself
    assert not tombstone.blocks(ERASED_AT + timedelta(seconds=1))  # the subject writes again later


def test_an_objection_stops_every_message_whenever_it_occurred():
    objection = Suppression("s", objected_at=ERASED_AT)
    assert objection.blocks(ERASED_AT - timedelta(days=1))
    assert objection.blocks(ERASED_AT + timedelta(days=365))


def test_nothing_recorded_stops_nothing():
    assert not Suppression("s").blocks(ERASED_AT)


class FakeTable:
    def __init__(self, found: dict[str, Suppression]) -> None:
        self.found = found
        self.reads: list[str] = []

    def get(self, subject_id: str) -> Suppression | None:
        self.reads.append(subject_id)
        return self.found.get(subject_id)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_the_seam_reads_each_subject_once_per_cache_period_and_again_after_it():
    # Given a subject erased at ERASED_AT and another never erased
    erased, other = interaction(1), interaction(2, user="77")
    table, clock = (
        FakeTable({erased.subject_id: Suppression(erased.subject_id, erased_at=ERASED_AT)}),
        Clock(),
    )
    check = DynamoSuppressionCheck(table, cache_seconds=5, clock=clock)  # type: ignore[arg-type]
    # When a batch holds several messages of each (all from before the erasure)
    answers = [check.suppressed(i) for i in (erased, erased, other, other, erased)]
    # Then the erased subject's are suppressed, the other's not, with one read per subject
    assert answers == [True, True, False, False, True]
    assert sorted(table.reads) == sorted([erased.subject_id, other.subject_id])
    # And after the cache period the table is read again (a new tombstone counts from then on)
    clock.t += 6
    table.found[other.subject_id] = Suppression(other.subject_id, objected_at=ERASED_AT)
    assert check.suppressed(other) is True and len(table.reads) == 3


def test_the_cache_is_bounded():
    table, clock = FakeTable({}), Clock()
    check = DynamoSuppressionCheck(table, cache_seconds=60, max_entries=2, clock=clock)  # type: ignore[arg-type]
    for n in range(5):
        check.suppressed(interaction(n, user=str(n)))
    assert len(check._cache) <= 2
