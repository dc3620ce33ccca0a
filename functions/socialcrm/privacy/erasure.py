"""Run one erasure request: tombstone, erase every store, settle, verify (and sweep), prove, announce.

1. **Tombstone** each subject first (``erased_at``), so nothing of theirs that occurred up to now is
   stored again from this moment: retried deliveries and messages already queued are dropped by enrich.
2. **Erase** every store of the registry, subject by subject; the record keeps the counts and which
   stores are done after each one, so a run that fails (or runs out of time) is continued by the next.
3. **Settle**: verification waits until ``settle_seconds`` after the tombstone, long enough for a
   writer that checked the suppression just before it to have finished (its timeout). The wait is a
   delayed continuation message on the erase function's own queue, not a sleeping Lambda.
4. **Verify**: every store is asked again, by ``subject_id`` and by the raw keys seen in this run,
   with strongly consistent reads; anything found is erased and looked for once more. The request is
   COMPLETED and ``verified`` only when every store answers 0; otherwise it is FAILED naming the store.
5. **Announce** ``ErasureCompleted`` (ids and counts, no personal data).

A failure leaves the request FAILED with the store and the reason; the SQS retry (or a redrive from
the DLQ, or ``POST /erasure-requests/{id}/retry``) continues from the recorded progress.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from socialcrm.events.models import ErasureCompleted
from socialcrm.events.ports import Publisher
from socialcrm.observability import logger
from socialcrm.privacy.dynamo import StoreFailure
from socialcrm.privacy.requests import ConflictError, ErasureRecord, ErasureRequests, Failure, SubjectErasure
from socialcrm.privacy.stores import CustomerRows, PersonalDataStore, StoreRegistry, SubjectScope
from socialcrm.privacy.suppression import SuppressionTable

# Stop starting new work when less than this is left of the invocation: continue in the next one.
TIME_MARGIN_MS = 30_000
# SQS's longest message delay.
MAX_DELAY_SECONDS = 900


@dataclass(frozen=True)
class ErasureOutcome:
    """``continue_in`` (seconds) is set when the message must come back later (settle, time budget)."""

    result: Literal["completed", "failed", "continue", "skipped"]
    record: ErasureRecord | None = None
    continue_in: int = 0

    @property
    def retry(self) -> bool:
        """True when SQS must deliver the message again: a failure, or a completion not yet announced."""
        if self.result == "failed":
            return True
        return self.record is not None and self.record.status == "COMPLETED" and not self.record.announced


@dataclass(frozen=True)
class ErasurePorts:
    requests: ErasureRequests
    stores: StoreRegistry
    suppressions: SuppressionTable
    publisher: Publisher
    settle_seconds: int
    now: Callable[[], datetime]
    # An erasure by customer removes the customer's own rows too (after its identities' stores).
    customers: CustomerRows | None = None


def run_erasure(request_id: str, ports: ErasurePorts, *, time_left_ms: Callable[[], int]) -> ErasureOutcome:
    """Advance the erasure request ``request_id`` as far as this invocation allows."""
    record = ports.requests.get(request_id)
    if record is None:
        logger.error("erasure request not found", request_id=request_id)
        return ErasureOutcome("skipped")
    started = ports.now()
    if record.status == "COMPLETED":
        if not record.announced:
            record = _Run(record, ports, time_left_ms).announce()
        return ErasureOutcome("skipped", record)
    if record.lease_until is not None and record.lease_until > started:
        logger.info("erasure already running", request_id=request_id)
        return ErasureOutcome("skipped", record)
    try:
        record = ports.requests.save(
            record.model_copy(
                update={
                    "status": "RUNNING",
                    "started_at": record.started_at or started,
                    "erased_at": record.erased_at or started,
                    "attempts": record.attempts + 1,
                    "lease_until": started + timedelta(milliseconds=time_left_ms()),
                }
            )
        )
    except ConflictError:
        return ErasureOutcome("skipped", record)
    run = _Run(record, ports, time_left_ms)
    try:
        return run.advance()
    except StoreFailure as failure:
        return run.fail(failure.store, failure.reason)


class _Run:
    """One invocation's work on a request; ``record`` is always the latest saved version plus the counts
    of the step in progress (so a failure still records what was erased before it)."""

    def __init__(self, record: ErasureRecord, ports: ErasurePorts, time_left_ms: Callable[[], int]) -> None:
        self.record = record
        self.ports = ports
        self.time_left_ms = time_left_ms

    def save(self, **update: object) -> None:
        self.record = self.ports.requests.save(self.record.model_copy(update=update))

    def erase_into(self, index: int, store: PersonalDataStore, scope: SubjectScope) -> int:
        """Erase one store for one subject and add the count to the record (also the part done before a failure)."""
        subject = self.record.subjects[index]
        try:
            count = store.erase(scope)
        except StoreFailure as failure:
            subject.erased[store.name] = subject.erased.get(store.name, 0) + failure.erased
            subject.found = subject.found or failure.erased > 0
            raise
        subject.erased[store.name] = subject.erased.get(store.name, 0) + count
        subject.found = subject.found or count > 0
        return count

    def check(self, index: int, store: PersonalDataStore, scope: SubjectScope) -> int:
        """Ask the store again; erase what it still holds (written after the erase by a writer that checked
        the suppression before the tombstone) and ask once more. Returns what remains after that sweep."""
        left = store.remaining(scope)
        if left:
            swept = self.erase_into(index, store, scope)
            logger.warning(
                "swept after erasure", request_id=self.record.request_id, store=store.name, swept=swept
            )
            left = store.remaining(scope)
        return left

    def rows(self) -> CustomerRows:
        if self.ports.customers is None:
            raise StoreFailure("customers", "an erasure by customer needs the customers table")
        return self.ports.customers

    def erase_customer(self, index: int) -> int:
        """Erase a customer's own rows, count them on the record, and say how many are left."""
        customer = self.record.customers[index]
        left = 0
        for _sweep in range(2):  # a link made while the rows were deleted is swept by the second pass
            try:
                customer.erased += self.rows().erase(customer.customer_id)
            except StoreFailure as failure:
                customer.erased += failure.erased
                raise
            left = self.rows().remaining(customer.customer_id)
            if not left:
                break
        return left

    def enlist(self) -> bool:
        """Add to the request each identity its customers have now and it does not list (linked since the
        request was made: by an agent, or automatically); True when there was one."""
        known = {subject.subject_id for subject in self.record.subjects}
        added = [
            subject_id
            for customer in self.record.customers
            for subject_id in self.rows().identities(customer.customer_id)
            if subject_id not in known
        ]
        if not added:
            return False
        new = [SubjectErasure(subject_id=subject_id) for subject_id in dict.fromkeys(added)]
        self.save(subjects=[*self.record.subjects, *new])
        logger.info("identities linked since the request", request_id=self.record.request_id, added=len(new))
        return True

    def advance(self) -> ErasureOutcome:
        erased_at = self.record.erased_at
        assert erased_at is not None
        if self.record.phase == "erase" and self.record.customers:
            self.enlist()
        for subject in self.record.subjects:
            self.ports.suppressions.tombstone(subject.subject_id, erased_at)
        scopes = [SubjectScope(subject.subject_id, now=self.ports.now()) for subject in self.record.subjects]

        if self.record.phase == "erase":
            for index, scope in enumerate(scopes):
                for store in self.ports.stores.stores:
                    tag = f"{index}:{store.name}"
                    if tag in self.record.done:
                        continue
                    if self.time_left_ms() < TIME_MARGIN_MS:
                        return self.pause(0)
                    count = self.erase_into(index, store, scope)
                    # Read back at once by the raw keys just deleted (strongly consistent), while this run
                    # still knows them: they are never written anywhere, so no later run could.
                    left = self.check(index, store, scope)
                    if left:
                        return self.fail(store.name, f"{left} item(s) remain right after erasure and a sweep")
                    self.save(done=[*self.record.done, tag])
                    logger.info(
                        "store erased", request_id=self.record.request_id, store=store.name, erased=count
                    )
            if self.record.customers and self.enlist():  # linked while the stores were erased: them too
                return self.pause(0)
            for index in range(len(self.record.customers)):
                tag = f"c{index}:customers"
                if tag in self.record.done:
                    continue
                if self.time_left_ms() < TIME_MARGIN_MS:
                    return self.pause(0)
                left = self.erase_customer(index)
                if left:
                    return self.fail("customers", f"{left} row(s) of a customer remain right after erasure")
                self.save(done=[*self.record.done, tag])
            self.save(phase="verify", done=[])

        wait = (erased_at + timedelta(seconds=self.ports.settle_seconds) - self.ports.now()).total_seconds()
        if wait > 0:
            return self.pause(min(MAX_DELAY_SECONDS, math.ceil(wait)))

        # After the settle period: every store asked again, by subject_id and by the keys that look finds.
        for index, scope in enumerate(scopes):
            if self.time_left_ms() < TIME_MARGIN_MS:
                return self.pause(0)
            scope.new_pass()
            remaining: dict[str, int] = {}
            for store in self.ports.stores.stores:
                left = self.check(index, store, scope)
                if left:
                    remaining[store.name] = left
            subject = self.record.subjects[index]
            subject.remaining, subject.verified = remaining, not remaining
            self.save()

        for index, customer in enumerate(self.record.customers):
            if self.time_left_ms() < TIME_MARGIN_MS:
                return self.pause(0)
            left = self.rows().remaining(customer.customer_id)
            if left:  # a link made after the erase pass: erased now, and looked for again
                left = self.erase_customer(index)
            customer.remaining, customer.verified = left, not left
            self.save()

        leftovers = [(store, n) for s in self.record.subjects for store, n in s.remaining.items()]
        leftovers += [("customers", c.remaining) for c in self.record.customers if c.remaining]
        if leftovers:
            store_name, count = leftovers[0]
            return self.fail(store_name, f"{count} item(s) remain after erasure and a sweep")
        self.save(
            status="COMPLETED",
            verified=True,
            completed_at=self.ports.now(),
            failure=None,
            lease_until=None,
            announced=False,
        )
        logger.info(
            "erasure completed",
            request_id=self.record.request_id,
            erased=self.record.erased,
            verified=True,
            not_found=sum(1 for subject in self.record.subjects if not subject.found),
        )
        return ErasureOutcome("completed", self.announce())

    def pause(self, delay: int) -> ErasureOutcome:
        self.save(lease_until=None)
        logger.info(
            "erasure continues later", request_id=self.record.request_id, phase=self.record.phase, delay=delay
        )
        return ErasureOutcome("continue", self.record, continue_in=delay)

    def fail(self, store: str, reason: str) -> ErasureOutcome:
        failure = Failure(store=store, reason=reason, at=self.ports.now())
        self.save(status="FAILED", verified=False, failure=failure, lease_until=None, announced=False)
        logger.error("erasure failed", request_id=self.record.request_id, store=store, reason=reason)
        return ErasureOutcome("failed", self.announce())

    def announce(self) -> ErasureRecord:
        """Publish ``ErasureCompleted`` for the record's final status; remember that it was published."""
        record = self.record
        assert record.status in ("COMPLETED", "FAILED")
        at = (
            record.completed_at
            if record.status == "COMPLETED"
            else (record.failure.at if record.failure else None)
        )
        detail = ErasureCompleted(
            request_id=record.request_id,
            status=record.status,  # type: ignore[arg-type]
            erased=record.erased,
            verified=record.verified,
            completed_at=at or self.ports.now(),
        )
        if self.ports.publisher.publish([detail]):
            logger.warning(
                "ErasureCompleted not published; published on the next delivery", request_id=record.request_id
            )
            return record
        with contextlib.suppress(ConflictError):  # another run saved meanwhile: it announces too
            self.save(announced=True)
        return self.record
