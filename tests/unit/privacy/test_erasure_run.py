"""One erasure request run against in-memory stores: what the proof says, what is announced and when.

The proof (``GET /erasure-requests/{id}``) and the ``ErasureCompleted`` event are what the data protection
officer relies on, so each field of them is checked here against what the stores really did.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from socialcrm.privacy.dynamo import StoreFailure
from socialcrm.privacy.erasure import (
    MAX_DELAY_SECONDS,
    TIME_MARGIN_MS,
    ErasureOutcome,
    ErasurePorts,
    run_erasure,
)
from socialcrm.privacy.requests import ConflictError, ErasureRecord
from socialcrm.privacy.stores import StoreRegistry, SubjectScope

ANA, BEN = "a" * 64, "b" * 64
STARTED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
PLENTY = 300_000  # ms left in the invocation


class Clock:
    def __init__(self) -> None:
        self.now = STARTED

    def __call__(self) -> datetime:
        return self.now


class Requests:
    """The erasure-requests table: optimistic versions, as DynamoDB's conditional put enforces them."""

    def __init__(self, record: ErasureRecord) -> None:
        self.records = {record.request_id: record}
        self.saves = 0
        self.conflict_on_save: set[int] = set()

    def get(self, request_id: str) -> ErasureRecord | None:
        return self.records.get(request_id)

    def save(self, record: ErasureRecord) -> ErasureRecord:
        self.saves += 1
        if self.saves in self.conflict_on_save or record.version != self.records[record.request_id].version:
            raise ConflictError(record.request_id)
        # What the table keeps is a valid record, read back as one
        saved = ErasureRecord.model_validate(
            record.model_copy(update={"version": record.version + 1}).model_dump()
        )
        self.records[record.request_id] = saved
        return saved


class Store:
    """A personal-data store holding ``items`` per subject.

    ``stuck`` items survive every erase; ``late`` items are written by a racing writer right after the
    first erase (a sweep removes them); each of ``fail_after`` deletes that many items and then fails."""

    def __init__(self, name: str, items: dict[str, int] | None = None, *, stuck: int = 0, late: int = 0,
                 fail_after: int | tuple[int, ...] = ()) -> None:  # fmt: skip
        self.name = name
        self.items = dict(items or {})
        self.stuck, self.late = stuck, late
        self.fail_after = [fail_after] if isinstance(fail_after, int) else list(fail_after)
        self.erase_calls = 0
        self.asked_at: list[datetime] = []

    def erase(self, scope: SubjectScope) -> int:
        self.erase_calls += 1
        self.asked_at.append(scope.now)
        held = self.items.get(scope.subject_id, 0)
        if self.fail_after:
            failed_after = self.fail_after.pop(0)
            self.items[scope.subject_id] = held - failed_after
            raise StoreFailure(self.name, "throttled", erased=failed_after)
        erased = max(held - self.stuck, 0)
        self.items[scope.subject_id] = held - erased
        if self.late and self.erase_calls == 1:
            self.items[scope.subject_id] += self.late
        return erased

    def remaining(self, scope: SubjectScope) -> int:
        return self.items.get(scope.subject_id, 0)

    def export(self, scope: SubjectScope) -> int:
        return self.items.get(scope.subject_id, 0)


class Tombstones:
    def __init__(self) -> None:
        self.set: dict[str, datetime] = {}

    def tombstone(self, subject_id: str, erased_at: datetime) -> None:
        self.set[subject_id] = erased_at


class Bus:
    def __init__(self, failing: bool = False) -> None:
        self.failing = failing
        self.published: list = []

    def publish(self, details, trace_header=None) -> list[int]:
        if self.failing:
            return list(range(len(details)))
        self.published += list(details)
        return []


def world(*stores: Store, subjects: tuple[str, ...] = (ANA,), settle: int = 0, **record_fields):
    record = ErasureRecord.new(
        "req-1", subject_ids=list(subjects), reference="ticket-9", requested_by="dpo@example.com", now=STARTED
    ).model_copy(update=record_fields)
    clock, bus, tombstones = Clock(), Bus(), Tombstones()
    requests = Requests(record)
    ports = ErasurePorts(
        requests=requests,
        stores=StoreRegistry(stores),
        suppressions=tombstones,
        publisher=bus,
        settle_seconds=settle,
        now=clock,
    )
    return ports, requests, clock, bus, tombstones


def run(ports: ErasurePorts, time_left: int = PLENTY) -> ErasureOutcome:
    return run_erasure("req-1", ports, time_left_ms=lambda: time_left)


# --- completion and the proof --------------------------------------------------------------------------


def test_a_completed_erasure_proves_each_store_s_count_and_is_verified():
    # Given a subject held by two stores
    ports, requests, _clock, bus, tombstones = world(
        Store("interactions", {ANA: 3}), Store("subjects", {ANA: 1})
    )
    # When the request runs
    outcome = run(ports)
    # Then it is completed and verified, with each store's count, at the time it completed
    record = requests.get("req-1")
    assert outcome.result == "completed" and not outcome.retry
    assert record.status == "COMPLETED" and record.verified is True
    assert record.erased == {"interactions": 3, "subjects": 1}
    assert record.subjects[0].verified is True and record.subjects[0].found is True
    assert record.subjects[0].remaining == {}
    assert record.started_at == STARTED and record.erased_at == STARTED and record.completed_at == STARTED
    assert record.failure is None and record.lease_until is None and record.attempts == 1
    # And the subject is tombstoned at the erasure time, and the completion announced once
    assert tombstones.set == {ANA: STARTED}
    [event] = bus.published
    assert (event.request_id, event.status, event.verified) == ("req-1", "COMPLETED", True)
    assert event.erased == {"interactions": 3, "subjects": 1}
    assert event.completed_at == STARTED
    assert record.announced is True


def test_a_subject_no_store_holds_is_completed_and_shown_as_not_found():
    ports, requests, *_ = world(Store("interactions", {}))
    run(ports)
    record = requests.get("req-1")
    assert record.status == "COMPLETED" and record.subjects[0].found is False
    assert record.erased == {"interactions": 0}


def test_what_a_racing_writer_stored_after_the_erase_is_swept_and_counted():
    # Given a store where a writer adds 2 items right after the first erase
    store = Store("interactions", {ANA: 3}, late=2)
    ports, requests, *_ = world(store)
    # When the request runs, Then the 2 are swept at once, counted, and the request completes
    assert run(ports).result == "completed"
    assert requests.get("req-1").erased == {"interactions": 5}


# --- verification that finds something -----------------------------------------------------------------


def test_items_that_survive_the_erase_and_the_sweep_fail_the_request_naming_the_store():
    ports, requests, _clock, bus, _ = world(Store("cases", {ANA: 4}, stuck=1))
    outcome = run(ports)
    record = requests.get("req-1")
    assert outcome.result == "failed" and outcome.retry
    assert record.status == "FAILED" and record.verified is False
    assert record.failure.store == "cases"
    assert record.failure.reason == "1 item(s) remain right after erasure and a sweep"
    assert record.failure.at == STARTED
    assert [(e.status, e.verified) for e in bus.published] == [("FAILED", False)]


def test_a_subject_with_items_left_at_verification_is_not_verified_and_its_proof_says_where():
    # Given a store that looks clean right after the erase but holds 2 items again at verification
    store = Store("interactions", {ANA: 1})
    ports, requests, clock, _bus, _ = world(store, settle=60)
    assert run(ports).result == "continue"
    store.items[ANA] = 2
    store.stuck = 2
    # When the settle period is over and verification runs
    clock.now += timedelta(seconds=61)
    outcome = run(ports)
    # Then the subject is not verified, its proof names the store and count, and the request failed
    record = requests.get("req-1")
    assert outcome.result == "failed"
    assert record.subjects[0].verified is False
    assert record.subjects[0].remaining == {"interactions": 2}
    assert record.verified is False and record.status == "FAILED"
    assert record.failure.store == "interactions"
    assert record.failure.reason == "2 item(s) remain after erasure and a sweep"


def test_only_the_subject_with_items_left_is_unverified():
    store = Store("interactions", {ANA: 1, BEN: 1})
    ports, requests, clock, *_ = world(store, subjects=(ANA, BEN), settle=60)
    run(ports)
    store.items[BEN], store.stuck = 1, 1
    clock.now += timedelta(seconds=61)
    run(ports)
    ana, ben = requests.get("req-1").subjects
    assert ana.verified is True and ana.remaining == {}
    assert ben.verified is False and ben.remaining == {"interactions": 1}


# --- the settle period and the time budget --------------------------------------------------------------


def test_verification_waits_for_the_settle_period_rounded_up_to_whole_seconds():
    ports, requests, clock, _bus, _ = world(Store("interactions", {ANA: 1}), settle=90)
    clock.now = STARTED
    outcome = run(ports)
    assert (outcome.result, outcome.continue_in) == ("continue", 90)
    assert requests.get("req-1").phase == "verify"
    clock.now += timedelta(seconds=89, milliseconds=500)
    assert run(ports).continue_in == 1
    clock.now += timedelta(seconds=1)
    assert run(ports).result == "completed"


def test_a_settle_period_longer_than_sqs_allows_is_waited_in_steps_of_15_minutes():
    ports, *_ = world(Store("interactions", {ANA: 1}), settle=3600)
    assert run(ports).continue_in == MAX_DELAY_SECONDS


def test_a_pause_releases_the_lease_so_the_continuation_can_run():
    ports, requests, *_ = world(Store("interactions", {ANA: 1}), settle=60)
    run(ports)
    assert requests.get("req-1").lease_until is None


@pytest.mark.parametrize("left", [TIME_MARGIN_MS - 1, 0])
def test_a_run_without_time_for_another_store_stops_before_it(left):
    store = Store("interactions", {ANA: 1})
    ports, _requests, *_ = world(store)
    outcome = run(ports, time_left=left)
    assert (outcome.result, outcome.continue_in) == ("continue", 0)
    assert store.erase_calls == 0


def test_a_run_with_exactly_the_margin_left_still_erases():
    store = Store("interactions", {ANA: 1})
    ports, *_ = world(store)
    assert run(ports, time_left=TIME_MARGIN_MS).result == "completed"


def test_a_run_short_of_time_at_verification_continues_later():
    ports, requests, _clock, *_ = world(Store("interactions", {ANA: 1}), phase="verify")
    outcome = run(ports, time_left=TIME_MARGIN_MS - 1)
    assert (outcome.result, outcome.continue_in) == ("continue", 0)
    assert requests.get("req-1").status == "RUNNING"


def test_a_verification_with_exactly_the_margin_left_still_runs():
    ports, *_ = world(Store("interactions", {ANA: 1}), phase="verify")
    assert run(ports, time_left=TIME_MARGIN_MS).result == "completed"


def test_verification_runs_the_moment_the_settle_period_ends():
    ports, _requests, clock, *_ = world(Store("interactions", {ANA: 1}), settle=90)
    run(ports)
    clock.now = STARTED + timedelta(seconds=90)
    assert run(ports).result == "completed"


def test_the_lease_lasts_as_long_as_the_invocation():
    ports, requests, *_ = world(Store("interactions", {ANA: 1}), settle=60)
    saved: list = []
    original = requests.save
    requests.save = lambda record: saved.append(record) or original(record)
    run(ports, time_left=45_000)
    assert saved[0].status == "RUNNING"
    assert saved[0].lease_until == STARTED + timedelta(seconds=45)


# --- failures and retries -------------------------------------------------------------------------------


def test_a_store_failing_midway_records_what_it_had_erased_and_the_retry_finishes():
    # Given a store that deletes 2 of the subject's 5 items and then fails
    store, cases = Store("interactions", {ANA: 5}, fail_after=2), Store("cases", {ANA: 1})
    ports, requests, clock, _bus, tombstones = world(cases, store)
    outcome = run(ports)
    failed = requests.get("req-1")
    assert outcome.result == "failed"
    assert failed.failure.store == "interactions" and failed.failure.reason == "throttled"
    assert failed.erased == {"cases": 1, "interactions": 2}
    assert failed.subjects[0].found is True
    # When it is retried, Then the done store is not erased again and the counts add up
    clock.now += timedelta(minutes=1)
    assert run(ports).result == "completed"
    done = requests.get("req-1")
    assert done.erased == {"cases": 1, "interactions": 5}
    assert done.attempts == 2 and done.started_at == STARTED and done.erased_at == STARTED
    # And the tombstone keeps the first run's time, and each run asked the stores as of its own time
    assert tombstones.set == {ANA: STARTED}
    assert cases.erase_calls == 1 and store.asked_at == [STARTED, STARTED + timedelta(minutes=1)]


def test_a_failure_after_deleting_nothing_does_not_count_as_found():
    ports, requests, *_ = world(Store("interactions", {}, fail_after=0))
    run(ports)
    assert requests.get("req-1").subjects[0].found is False


def test_a_request_that_does_not_exist_is_skipped():
    ports, *_ = world(Store("interactions", {ANA: 1}))
    assert run_erasure("req-404", ports, time_left_ms=lambda: PLENTY) == ErasureOutcome("skipped")


def test_a_request_held_by_a_live_run_is_left_to_it():
    ports, requests, *_ = world(Store("interactions", {ANA: 1}), lease_until=STARTED + timedelta(seconds=1))
    outcome = run(ports)
    assert outcome.result == "skipped" and requests.get("req-1").status == "PENDING"
    assert outcome.record == requests.get("req-1")


def test_a_request_whose_lease_ran_out_is_taken_over():
    ports, _requests, *_ = world(Store("interactions", {ANA: 1}), lease_until=STARTED)
    assert run(ports).result == "completed"


def test_a_request_another_run_claimed_first_is_skipped():
    store = Store("interactions", {ANA: 1})
    ports, requests, *_ = world(store)
    requests.conflict_on_save = {1}
    outcome = run(ports)
    assert outcome.result == "skipped" and store.erase_calls == 0
    assert outcome.record == requests.get("req-1")  # the record as this run read it, untouched


# --- the announcement -----------------------------------------------------------------------------------


def test_a_completion_announced_later_carries_the_time_it_completed_not_the_time_it_was_announced():
    # Given a request that completed while the bus was down
    ports, requests, clock, bus, _ = world(Store("interactions", {ANA: 1}))
    bus.failing = True
    outcome = run(ports)
    assert outcome.result == "completed" and outcome.retry  # SQS must bring it back to announce it
    assert requests.get("req-1").announced is False
    # When the message comes back an hour later and the bus works
    clock.now += timedelta(hours=1)
    bus.failing = False
    again = run(ports)
    # Then ErasureCompleted says when the erasure completed, and is not sent twice
    [event] = bus.published
    assert event.completed_at == STARTED
    assert again.result == "skipped" and not again.retry and requests.get("req-1").announced is True
    assert again.record == requests.get("req-1")
    run(ports)
    assert len(bus.published) == 1


def test_a_failed_request_run_again_announces_the_time_of_its_latest_failure():
    ports, _requests, clock, bus, _ = world(Store("cases", {ANA: 2}, stuck=2))
    bus.failing = True
    run(ports)
    clock.now += timedelta(hours=1)
    bus.failing = False
    # When the failed request is run again and still fails, Then the new failure's time is announced
    run(ports)
    assert [e.completed_at for e in bus.published] == [STARTED + timedelta(hours=1)]


def test_an_announcement_whose_record_was_saved_meanwhile_is_still_published_once():
    ports, requests, _clock, bus, _ = world(Store("interactions", {ANA: 1}))
    requests.conflict_on_save = {6}  # the save that marks the announcement
    outcome = run(ports)
    assert len(bus.published) == 1 and outcome.result == "completed"


def test_a_store_failing_twice_adds_what_each_attempt_erased_and_the_subject_counts_as_found():
    # Given a store, first in the registry, that deletes 1 item and fails, twice
    store = Store("interactions", {ANA: 4}, fail_after=(1, 1))
    ports, requests, clock, *_ = world(store, Store("cases", {}))
    run(ports)
    assert requests.get("req-1").subjects[0].found is True
    clock.now += timedelta(minutes=1)
    run(ports)
    # Then the proof counts both, and the retry that succeeds adds the rest
    assert requests.get("req-1").erased == {"interactions": 2}
    clock.now += timedelta(minutes=1)
    assert run(ports).result == "completed"
    assert requests.get("req-1").erased == {"interactions": 4, "cases": 0}


def test_a_run_that_continues_later_returns_the_progress_it_saved():
    ports, requests, *_ = world(Store("interactions", {ANA: 1}), settle=60)
    outcome = run(ports)
    assert outcome.record == requests.get("req-1")
    assert outcome.record.phase == "verify" and outcome.record.erased == {"interactions": 1}
    assert outcome.record.subjects[0].found is True  # one item is enough to have been found


def test_a_failure_while_the_bus_is_down_is_kept_readable_and_announced_by_the_next_run():
    ports, requests, clock, bus, _ = world(Store("cases", {ANA: 2}, stuck=2))
    bus.failing = True
    assert run(ports).result == "failed"
    assert requests.get("req-1").status == "FAILED"
    bus.failing = False
    clock.now += timedelta(minutes=5)
    run(ports)
    assert [(e.status, e.completed_at) for e in bus.published] == [("FAILED", STARTED + timedelta(minutes=5))]


class TickingClock(Clock):
    """A clock that moves one second every time it is read, as a real one moves between two reads."""

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.mark.parametrize(
    ("store", "status"),
    [(Store("cases", {ANA: 1}), "COMPLETED"), (Store("cases", {ANA: 2}, stuck=1), "FAILED")],
)
def test_the_event_carries_the_time_the_proof_records_not_the_time_it_was_sent(store, status):
    ports, requests, _clock, bus, _ = world(store)
    ports = ErasurePorts(**{**vars(ports), "now": TickingClock()})
    run(ports)
    record = requests.get("req-1")
    [event] = bus.published
    recorded = record.completed_at if status == "COMPLETED" else record.failure.at
    assert (event.status, event.completed_at) == (status, recorded)


def test_a_failure_that_was_announced_then_completes_while_the_bus_is_down_is_announced_later():
    # Given a request that failed (and was announced), whose store then recovers
    store = Store("cases", {ANA: 2}, stuck=2)
    ports, requests, clock, bus, _ = world(store)
    run(ports)
    assert requests.get("req-1").announced is True
    store.stuck = 0
    # When the retry completes it while the bus is down
    bus.failing = True
    clock.now += timedelta(minutes=10)
    outcome = run(ports)
    # Then SQS must bring it back, and the next delivery announces the completion
    assert outcome.result == "completed" and outcome.retry
    bus.failing = False
    run(ports)
    assert [e.status for e in bus.published] == ["FAILED", "COMPLETED"]
