"""The consumer's batch with an in-memory recorder: parsing, per-record failures, the business metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools.metrics import EphemeralMetrics

from socialcrm.reporting import business_metrics
from socialcrm.reporting.consumer import QueuedRecord, ReportOutcome, process_batch
from socialcrm.reporting.counters import Recorded
from socialcrm.reporting.facts import Fact
from tests.support.report_events import answered, body, case_updated, enriched, sla_breached, spike, wait

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def NOT_ERASED(_subject: str) -> datetime | None:
    return None


class MemoryRecorder:
    """Records fact keys; a key seen before is a duplicate; can be told to fail on a kind."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.seen: set[str] = set()
        self.fail_on = fail_on

    def record(self, fact: Fact, *, now: datetime) -> Recorded:
        if fact.kind == self.fail_on:
            raise RuntimeError("store down")
        if fact.key in self.seen:
            return Recorded.DUPLICATE
        self.seen.add(fact.key)
        return Recorded.COUNTED


def records(*bodies: str) -> list[QueuedRecord]:
    return [QueuedRecord(f"m-{i}", text) for i, text in enumerate(bodies)]


def test_a_record_that_is_not_a_counted_event_fails_alone():
    # Given a good event, a body that is not JSON, an event of another type and one with a bad detail
    other = json.dumps(
        {"id": "1", "detail-type": "ErasureRequested", "source": "socialcrm.privacy", "detail": {}}
    )
    bad_detail = json.dumps(
        {"id": "2", "detail-type": "SpikeDetected", "source": "socialcrm.route", "detail": {}}
    )
    batch = records(body(enriched(1)), "{not json", other, bad_detail)
    # When the batch is processed
    outcome = process_batch(batch, counters=MemoryRecorder(), now=NOW, erased_at=NOT_ERASED)
    # Then only the three bad records are retried, and the good one is counted
    assert outcome.failed == ["m-1", "m-2", "m-3"] and outcome.counted == 1


def test_a_store_failure_fails_that_record_only():
    batch = records(body(enriched(1)), body(sla_breached("c1", teams=["support"])), body(enriched(2)))
    outcome = process_batch(batch, counters=MemoryRecorder(fail_on="sla"), now=NOW, erased_at=NOT_ERASED)
    assert outcome.failed == ["m-1"] and outcome.counted == 2


def test_the_outcome_counts_new_facts_for_the_metrics_and_duplicates_apart():
    # Given interactions (one re-announced), a breach told twice, a met SLA and a spike
    batch = records(
        body(enriched(1, platform="x", sentiment="NEGATIVE")),
        body(enriched(1, platform="x", sentiment="NEGATIVE")),
        body(enriched(2, platform="facebook", sentiment="POSITIVE")),
        body(enriched(3, platform="x", sentiment=None, status="PENDING")),
        body(sla_breached("c1", teams=["support"])),
        body(case_updated("c1", teams=["support"], answered_after=timedelta(hours=2), sla_met=False)),
        body(answered("c2")),
        body(spike()),
    )
    # When processed
    outcome = process_batch(batch, counters=MemoryRecorder(), now=NOW, erased_at=NOT_ERASED)
    # Then each fact counts once, a PENDING interaction has no sentiment yet in the metrics
    assert outcome.failed == []
    assert outcome.interactions_by_platform == {"x": 2, "facebook": 1}
    assert outcome.interactions_by_sentiment == {"NEGATIVE": 1, "POSITIVE": 1}
    assert (outcome.sla_breaches, outcome.sla_met, outcome.spikes) == (1, 1, 1)
    assert outcome.duplicates == 2  # the re-announced interaction and the late answer's breach
    assert outcome.breaches_by_clock == {"first_response": 1} and outcome.met_by_clock == {
        "first_response": 1
    }


def test_next_response_and_resolution_outcomes_count_per_clock_not_in_the_first_response_alarm():
    # Given a round breached (told by SlaBreached and again by the case update) and a resolution met
    update = answered(
        "c1",
        rounds=[wait(timedelta(hours=1), met=False)],
        status="resolved",
        resolved_after=timedelta(hours=3),
        resolution_due_after=timedelta(hours=8),
        resolution_met=True,
    )
    batch = records(body(sla_breached("c1", teams=["support"], clock="next_response", round=0)), body(update))
    # When processed
    outcome = process_batch(batch, counters=MemoryRecorder(), now=NOW, erased_at=NOT_ERASED)
    # Then each clock's outcome counts once under its clock, and the alarmed SLA figures stay first-response
    assert outcome.breaches_by_clock == {"next_response": 1}
    assert outcome.met_by_clock == {"first_response": 1, "resolution": 1}
    assert (outcome.sla_breaches, outcome.sla_met) == (0, 1)


def test_business_metrics_are_emitted_per_platform_per_sentiment_and_for_sla_and_spikes(monkeypatch, capsys):
    # Given metrics switched on (the tests switch them off) and a batch outcome
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "socialcrm-report")
    outcome = ReportOutcome(sla_breaches=2, spikes=1, counted=7)
    outcome.breaches_by_clock.update({"first_response": 2, "next_response": 5})
    outcome.interactions_by_platform.update({"x": 3, "facebook": 1})
    outcome.interactions_by_sentiment.update({"NEGATIVE": 4})
    function_metrics = EphemeralMetrics(namespace="socialcrm")
    # When they are published and the function's metrics flushed
    business_metrics.publish(outcome, function_metrics)  # type: ignore[arg-type]
    function_metrics.flush_metrics()
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]

    def values(name: str, dimension: str) -> dict[str, float]:
        """{dimension value: metric value} of the documents holding ``name`` with exactly that dimension."""
        found = {}
        for doc in documents:
            (definition,) = doc["_aws"]["CloudWatchMetrics"]
            dimensions = set(definition["Dimensions"][0])
            if name in doc and dimensions == {dimension, "service"}:
                found[doc[dimension]] = doc[name][0] if isinstance(doc[name], list) else doc[name]
        return found

    # Then InteractionsCounted has one series per platform and one per sentiment, in the socialcrm namespace
    assert all(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "socialcrm" for doc in documents)
    assert values("InteractionsCounted", "platform") == {"x": 3.0, "facebook": 1.0}
    assert values("InteractionsCounted", "sentiment") == {"NEGATIVE": 4.0}
    # And SLA breaches and spikes carry the service dimension the alarms watch
    assert values("SlaBreaches", "service") == {"socialcrm-report": 2.0}
    # And every clock's breaches have a series of their own
    assert values("SlaBreaches", "clock") == {"first_response": 2.0, "next_response": 5.0}
    assert values("Spikes", "service") == {"socialcrm-report": 1.0}


def test_the_consumer_counts_exactly_the_detail_types_its_queue_receives():
    from socialcrm.reporting.consumer import COUNTED_DETAILS
    from socialcrm.topology import QUEUES

    assert set(QUEUES["report"].detail_types) == set(COUNTED_DETAILS)


def test_facts_of_an_erased_subjects_data_still_in_flight_are_dropped_not_counted():
    # Given a subject erased at 10:30, and events about their data that were still queued
    erased = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)
    before, after = (
        enriched(1, at=erased - timedelta(minutes=5)),
        enriched(2, at=erased + timedelta(seconds=1)),
    )
    late_case = case_updated("c1", teams=["support"], answered_after=timedelta(minutes=3), sla_met=True)
    recorder = MemoryRecorder()
    # When the batch is counted
    outcome = process_batch(
        records(body(before), body(after), body(late_case), body(spike("outage"))),
        counters=recorder,
        now=NOW,
        erased_at=lambda subject: erased,
    )
    # Then the interaction from before the erasure and its case leave no seen-marker and no count,
    # while the message that came after it, and the spike (no person), are counted
    assert outcome.failed == [] and outcome.erased == 2
    kinds = sorted(key.split(":")[0] for key in recorder.seen)
    assert kinds == ["interaction", "spike"]
    assert outcome.interactions_by_platform["x"] == 1


def test_a_case_opened_after_the_margin_following_an_erasure_is_counted():
    erased = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)  # the case of T0 (10:00) opened an hour later
    recorder = MemoryRecorder()
    outcome = process_batch(
        records(
            body(case_updated("c1", teams=["support"], answered_after=timedelta(minutes=3), sla_met=True))
        ),
        counters=recorder,
        now=NOW,
        erased_at=lambda subject: erased,
    )
    assert outcome.erased == 0 and outcome.counted >= 1


def test_an_unreadable_tombstone_fails_the_record_rather_than_count_it_unchecked():
    def unavailable(subject: str) -> datetime | None:
        raise RuntimeError("suppressions table down")

    recorder = MemoryRecorder()
    outcome = process_batch(records(body(enriched(1))), counters=recorder, now=NOW, erased_at=unavailable)
    assert outcome.failed == ["m-0"] and recorder.seen == set()


def test_a_replayed_event_of_a_subject_who_objects_is_not_counted_but_a_live_one_is():
    # Given an interaction of a subject who objects to processing, delivered live and replayed
    live = body(enriched(7))
    envelope = json.loads(body(enriched(8)))
    envelope["replay-name"] = "after-the-outage"
    replayed = json.dumps(envelope)
    objecting = {enriched(7).subject_id, enriched(8).subject_id}
    # When the batch is processed
    outcome = process_batch(
        records(live, replayed),
        counters=MemoryRecorder(),
        now=NOW,
        erased_at=NOT_ERASED,
        objects=lambda subject: subject in objecting,
    )
    # Then the live event counts (its message was stored before the objection), the replayed one does not
    assert (outcome.counted, outcome.objected, outcome.failed) == (1, 1, [])
