"""GDPR erasure end to end on moto: request → bus → erase consumer → proof; no trace left, nobody else
touched, nothing resurrected by retries or queued messages, failures continued by the retry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
from botocore.exceptions import ClientError

from socialcrm.customers.store import CustomerStore, Identity, new_customer_id
from socialcrm.dal.repository import InteractionRepository, SubjectRepository
from socialcrm.reporting.facts import fact_key
from socialcrm.routing.case import Conversation, case_id_for, conversation_of
from socialcrm.routing.conversation import add_reply, join
from socialcrm.schemas import SCHEMA_DIR
from socialcrm.topology import RETENTION_DAYS, TABLES
from tests.support.apigw import LambdaContext
from tests.support.pipeline import capture_bus_events, drain
from tests.support.privacy import DECISION, LEVELS, Person, World, privacy_world

ANA_WEB = Person("generic", "ana-4411", "ana_sunshine", "Ana Quixote")
ANA_X = Person("x", "ana-7788", "ana_on_x", "Ana Q.")
BOB_WEB = Person("generic", "bob-1200", "bobby_tables", "Robert Droptable")
BOB_X = Person("x", "bob-9900", "bob_on_x", "Bob D.")
STORES = {
    "report_seen",
    "brand_replies",
    "shared_cases",
    "customers",
    "cases",
    "interactions",
    "subjects",
    "inbound-dlq",
    "route-dlq",
    "report-dlq",
}
EARLIER = datetime.now(tz=UTC) - timedelta(days=1)


@pytest.fixture
def world(monkeypatch, dev_secrets):
    with privacy_world(monkeypatch, dev_secrets) as built:
        yield built


def identifying(person: Person, world: World) -> list[str]:
    """Everything that names the person: ids (raw and in message ids), handle, name, every text."""
    return [person.user_id, person.handle, person.name, *world.texts.get(person.user_id, [])]


def seed_ana_and_bob(world: World) -> None:
    for n in range(3):
        world.deliver(ANA_WEB, f"{ANA_WEB.user_id}-r{n}", f"ana review {n}: parcel 7781 never came", EARLIER)
    for n in range(2):
        world.deliver(BOB_WEB, f"{BOB_WEB.user_id}-r{n}", f"bob review {n}: all fine", EARLIER)
    world.enrich()
    for n in range(2):
        world.store(ANA_X, n, f"ana on x {n}: where is my refund", EARLIER + timedelta(minutes=n))
    world.store(BOB_X, 0, "bob on x: thanks", EARLIER)
    # one message of each of them failed every retry: it waits in the DLQs for an operator's redrive
    world.dead_letters(ANA_X, 1, "ana on x: my number is +34 600 000 000")
    world.dead_letters(BOB_X, 1, "bob on x: dead letter")
    # her two identities are one customer; Bob's X identity is a customer of its own
    link_customer(world, ANA_WEB, ANA_X)
    link_customer(world, BOB_X)


def link_customer(world: World, *people: Person) -> str:
    """A customer of the people's identities, made directly in its table (the routes are tested elsewhere)."""
    customer_id = new_customer_id()
    identities = [Identity(person.platform, world.subject(person)) for person in people]
    store = CustomerStore(world.table("customers"))
    store.create(customer_id, identities, reason="T-7", by="arn:aws:iam::123456789012:user/agent", at=EARLIER)
    return customer_id


def test_the_brands_replies_in_her_conversation_are_erased_with_her(world):
    # Given Ana's message and the brand's reply to it, kept on her conversation's case (the reply is
    # stored as the brand's own interaction: the platform did not say whom it answered)
    question = world.store(ANA_X, 0, "where is my refund, order 7781?", EARLIER)
    brand = Person("x", "brand-2244", "acme", "Acme")
    answer = world.interaction(
        brand, 900, "Sorry Ana, refund 7781 is on its way", EARLIER + timedelta(minutes=5)
    )
    answer = answer.model_copy(update={"kind": "brand_reply", "conversation_ref": question.conversation_ref})
    assert world.interactions.store_new(answer, enriched_at=datetime.now(tz=UTC))
    case_id = case_of_interaction(world, question)
    world.cases.update(case_id, lambda case: add_reply(case, answer, None, now=datetime.now(tz=UTC)))
    assert world.cases.get(case_id).first_response_at == answer.occurred_at
    # When her erasure runs
    request_id = world.request_erasure(ANA_X, reference="T-43")
    assert world.run_erasures() == []
    # Then the reply is gone with her case, counted and verified
    proof = world.erasure(request_id)
    assert proof["verified"] is True and proof["erased"]["brand_replies"] == 1
    assert InteractionRepository().get(answer.interaction_ref) is None
    assert not list(world.traces("Sorry Ana"))


def test_her_comment_on_someone_elses_case_is_removed_from_it_and_the_case_stays(world):
    # Given Ana's complaint opened the case of a comment thread, and Bob's comment in the thread joined it
    now = datetime.now(tz=UTC)
    ana = world.store(ANA_X, 0, "where is my refund?", EARLIER)
    thread = conversation_of(ana)
    case_id = case_id_for(thread, 1)
    world.cases.keep(
        Conversation(
            conversation_ref=thread,
            subject_id=ana.subject_id,
            platform="x",
            case_id=case_id,
            sequence=1,
            updated_at=now,
        ),
        expected_version=None,
    )
    bob = world.interaction(BOB_X, 7, "same here, order 5512 never came", EARLIER + timedelta(minutes=2))
    bob = bob.model_copy(update={"conversation_ref": thread})
    assert world.interactions.store_new(bob, enriched_at=now)
    world.cases.update(case_id, lambda case: join(case, bob, DECISION, LEVELS, now=now))
    assert [m.interaction_ref for m in world.cases.get(case_id).messages] == [
        ana.interaction_ref,
        bob.interaction_ref,
    ]
    # When Bob's erasure runs
    request_id = world.request_erasure(BOB_X, reference="T-44")
    assert world.run_erasures() == []
    # Then his entry is gone from Ana's case, counted and verified, and her case and message stay
    proof = world.erasure(request_id)
    assert proof["verified"] is True and proof["erased"]["shared_cases"] == 1
    case = world.cases.get(case_id)
    assert case is not None and [m.interaction_ref for m in case.messages] == [ana.interaction_ref]
    row = json.dumps(world.scan_all())
    assert bob.interaction_ref not in row and bob.interaction_id not in row


def case_of_interaction(world: World, item) -> str:
    """The case the harness opened for ``item`` (its conversation's first)."""
    return case_id_for(conversation_of(item), 1)


def test_erasure_leaves_no_trace_of_the_subject_and_touches_no_one_else(world):
    # Given Ana on two platforms (stored, deduplicated, routed into cases, counted in reports) and Bob
    seed_ana_and_bob(world)
    events_url = capture_bus_events(["ErasureCompleted"])
    bob_before = {
        key: [i for i in items if "bob" in json.dumps(i)] for key, items in world.scan_all().items()
    }
    bobs = (world.subject(BOB_WEB), world.subject(BOB_X))

    def queued_of_bob() -> dict[str, list[str]]:
        return {
            k: sorted(b for b in v if any(s in b for s in bobs)) for k, v in world.queued_everywhere().items()
        }

    bob_queued = queued_of_bob()
    assert list(world.traces(ANA_WEB.user_id)) and list(world.traces(ANA_X.handle))

    # When a compliance officer requests the erasure of both identities and the consumer runs
    request_id = world.request_erasure(ANA_WEB, ANA_X, reference="T-42")
    assert world.run_erasures() == []

    # Then the request is COMPLETED and verified, with counts per store
    proof = world.erasure(request_id)
    assert proof["status"] == "COMPLETED" and proof["verified"] is True and proof["failure"] is None
    assert proof["erased"] == {
        "report_seen": 10,  # per interaction: its "interaction" fact and its "routed" fact
        "brand_replies": 0,  # the brand never answered her
        "shared_cases": 0,  # nobody else's case lists her messages
        "cases": 10,  # per interaction: the case row and its team row
        "interactions": 5,
        "subjects": 2,
        "customers": 4,  # per identity: its link to her customer and its owner row
        "inbound-dlq": 1,  # her message that failed every retry
        "route-dlq": 0,
        "report-dlq": 1,  # its announcement, dead-lettered by the report consumer
    }
    assert [s["verified"] for s in proof["subjects"]] == [True, True]
    assert [s["found"] for s in proof["subjects"]] == [True, True] and proof["not_found"] == 0
    assert any("backup" in line for line in proof["not_reached"])
    assert proof["reference"] == "T-42" and proof["requested_by"] == "arn:aws:iam::123456789012:user/dpo"
    requested = datetime.fromisoformat(proof["requested_at"])
    assert datetime.fromisoformat(proof["due_at"]) == requested + timedelta(days=30)
    assert datetime.fromisoformat(proof["completed_at"]) >= requested
    # And no table and no queue holds any of Ana's ids, handles, names or texts
    assert list(world.traces(*identifying(ANA_WEB, world), *identifying(ANA_X, world))) == []
    # And her pseudonymous ids remain only in the proof and the tombstones (bus events still in flight to
    # the route and report consumers are dropped by them: see the in-flight test below)
    for subject in (world.subject(ANA_WEB), world.subject(ANA_X)):
        assert {table for table, _ in world.traces(subject)} == {"erasure_requests", "suppressions"}
    # And Bob's items are all still there, unchanged
    bob_after = {key: [i for i in items if "bob" in json.dumps(i)] for key, items in world.scan_all().items()}
    assert bob_after == bob_before and bob_after["interactions"] and bob_after["cases"]
    # And Bob's dead letters wait for their redrive, untouched
    assert queued_of_bob() == bob_queued and bob_queued["inbound-dlq"] and bob_queued["report-dlq"]
    # And ErasureCompleted is on the bus, valid, with ids and counts only
    [event] = drain(events_url)
    schema = json.loads((SCHEMA_DIR / "events" / "ErasureCompleted.schema.json").read_text())
    jsonschema.validate(event["detail"], schema)
    assert event["source"] == "socialcrm.erase"
    assert event["detail"]["request_id"] == request_id and event["detail"]["verified"] is True
    assert not any(needle in json.dumps(event) for needle in ("ana", world.subject(ANA_WEB)))


def test_the_request_record_keeps_no_raw_identifier(world):
    seed_ana_and_bob(world)
    request_id = world.request_erasure(ANA_WEB, reference="T-43")
    # Before and after the erasure ran
    for _ in range(2):
        [record] = world.scan_all()["erasure_requests"]
        text = json.dumps(record)
        assert request_id in text and world.subject(ANA_WEB) in text
        assert not [needle for needle in identifying(ANA_WEB, world) if needle in text]
        world.run_erasures()


def test_messages_already_queued_when_the_erasure_ran_are_not_stored(world):
    # Given two of Ana's messages accepted and queued, not yet enriched
    for n in range(2):
        world.deliver(ANA_WEB, f"ana-inflight-{n}", f"in flight {n}", EARLIER)
    # When her erasure runs before the enrich function gets to them
    request_id = world.request_erasure(ANA_WEB)
    world.run_erasures()
    outcome = world.enrich()
    # Then they are dropped at the suppression seam and nothing of hers is stored
    assert outcome.suppressed == 2 and outcome.stored == 0
    assert world.erasure(request_id)["status"] == "COMPLETED"
    assert list(world.traces(*identifying(ANA_WEB, world))) == []


def test_a_platform_retry_after_erasure_is_not_stored_again(world):
    # Given Ana's message stored, then erased
    world.deliver(ANA_WEB, "ana-retried", "please call me back", EARLIER)
    world.enrich()
    world.request_erasure(ANA_WEB)
    world.run_erasures()
    # When the platform retries the very same delivery (its deduplication record was erased too)
    accepted = world.deliver(ANA_WEB, "ana-retried", "please call me back", EARLIER)
    outcome = world.enrich()
    # Then it is acknowledged, but suppressed before anything is stored
    assert accepted["received"] == 1 and outcome.suppressed == 1 and outcome.stored == 0
    assert InteractionRepository().get(world.ref("generic:ana-retried")) is None
    assert list(world.traces(*identifying(ANA_WEB, world))) == []


def test_a_message_that_occurs_after_the_erasure_is_processed_normally(world):
    world.deliver(ANA_WEB, "ana-before", "before", EARLIER)
    world.enrich()
    world.request_erasure(ANA_WEB)
    world.run_erasures()
    # When Ana writes again, after her erasure
    world.deliver(ANA_WEB, "ana-after", "I am back", datetime.now(tz=UTC) + timedelta(minutes=1))
    outcome = world.enrich()
    # Then the new message is a new relationship: stored as usual
    assert (
        outcome.stored == 1
        and InteractionRepository().get(world.ref("generic:ana-after")).text == "I am back"
    )
    assert InteractionRepository().get(world.ref("generic:ana-before")) is None


def test_a_repeated_request_for_the_same_subject_is_harmless(world):
    seed_ana_and_bob(world)
    first = world.request_erasure(ANA_WEB)
    world.run_erasures()
    # When the same erasure is requested again
    second = world.request_erasure(ANA_WEB)
    assert world.run_erasures() == []
    # Then both are COMPLETED and verified; the second found nothing left to erase
    assert world.erasure(first)["status"] == world.erasure(second)["status"] == "COMPLETED"
    assert world.erasure(second)["verified"] is True
    assert set(world.erasure(second)["erased"].values()) == {0}
    # And Bob is untouched
    assert SubjectRepository().get(world.subject(BOB_WEB))["interactions"] == 2


class FailingClient:
    """The erase function's DynamoDB client, failing one operation on one table from the n-th call."""

    def __init__(self, client, operation: str, table: str, *, after: int = 0) -> None:
        self.client, self.operation, self.table, self.after = client, operation, table, after
        self.calls = 0
        self.failing = True

    def __getattr__(self, name):
        attribute = getattr(self.client, name)
        if name != self.operation:
            return attribute

        def call(**kwargs):
            if self.table in json.dumps(kwargs, default=str):
                self.calls += 1
                if self.failing and self.calls > self.after:
                    raise ClientError(
                        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                        self.operation,
                    )
            return attribute(**kwargs)

        return call


def test_a_store_failing_midway_fails_the_request_and_the_retry_finishes_it(world):
    # Given Ana with 30 interactions (two batches of deletes) and the interactions table failing on the 2nd
    for n in range(30):
        world.store(ANA_X, n, f"ana message {n}", EARLIER + timedelta(seconds=n))
    ports, _queue = world.handlers["erase"].runtime()
    interactions = next(s for s in ports.stores.stores if s.name == "interactions")
    failing = FailingClient(interactions.client, "batch_write_item", world.table("interactions"), after=1)
    interactions._client = failing
    request_id = world.request_erasure(ANA_X)
    [message] = world.receive("erasure")
    delivery = {"Records": [{"messageId": message["MessageId"], "body": message["Body"]}]}
    # When the consumer runs
    result = world.handlers["erase"].lambda_handler(delivery, LambdaContext(remaining_ms=300_000))
    # Then the message is handed back to SQS, and the request is FAILED naming the store and the reason
    assert result["batchItemFailures"] == [{"itemIdentifier": message["MessageId"]}]
    failed = world.erasure(request_id)
    assert failed["status"] == "FAILED" and failed["verified"] is False
    assert failed["failure"]["store"] == "interactions"
    assert "BatchWriteItem" in failed["failure"]["reason"]
    assert "ProvisionedThroughputExceededException" in failed["failure"]["reason"]
    # And what was erased before the failure is already in the proof
    assert failed["erased"]["cases"] == 60
    assert failed["erased"]["report_seen"] == 60 and failed["erased"]["interactions"] == 25

    # When the store recovers and SQS delivers the message again
    failing.failing = False
    result = world.handlers["erase"].lambda_handler(delivery, LambdaContext(remaining_ms=300_000))
    # Then the erasure continues where it stopped and completes, every item counted once
    assert result["batchItemFailures"] == []
    done = world.erasure(request_id)
    assert done["status"] == "COMPLETED" and done["verified"] is True and done["failure"] is None
    assert done["erased"] == {
        "report_seen": 60,
        "brand_replies": 0,
        "shared_cases": 0,
        "cases": 60,
        "interactions": 30,
        "subjects": 1,
        "customers": 0,
        "inbound-dlq": 0,
        "route-dlq": 0,
        "report-dlq": 0,
    }
    assert done["attempts"] == 2
    assert list(world.traces(*identifying(ANA_X, world))) == []


def test_a_failed_request_restarts_with_the_retry_route(world):
    world.store(ANA_X, 0, "hello", EARLIER)
    ports, _queue = world.handlers["erase"].runtime()
    profiles = next(s for s in ports.stores.stores if s.name == "subjects")
    profiles._client = FailingClient(profiles.client, "delete_item", world.table("subjects"))
    request_id = world.request_erasure(ANA_X)
    assert len(world.run_erasures()) == 1
    assert world.erasure(request_id)["failure"]["store"] == "subjects"
    profiles._client.failing = False
    # When the officer restarts it (after the DLQ took the message, say)
    status, body = world.call("privacy", "POST", f"/erasure-requests/{request_id}/retry")
    assert status == 202 and body["status"] == "FAILED"
    assert world.run_erasures() == []
    # Then it completes
    assert world.erasure(request_id)["status"] == "COMPLETED"
    # And a completed request cannot be restarted
    status, body = world.call("privacy", "POST", f"/erasure-requests/{request_id}/retry")
    assert status == 409 and body["error"] == "conflict"


def test_verification_sweeps_what_a_racing_writer_stored_after_the_erase_pass(world):
    # Given an enrich invocation that checked the suppression before the tombstone and stores late:
    # it writes one of Ana's messages right after the erase pass deleted her profile
    world.store(ANA_X, 0, "first", EARLIER)
    ports, _queue = world.handlers["erase"].runtime()
    profiles = next(s for s in ports.stores.stores if s.name == "subjects")
    erase_profile = profiles.erase
    late = []

    def erase_then_race(scope):
        count = erase_profile(scope)
        if not late:
            late.append(world.store(ANA_X, 1, "late", EARLIER + timedelta(seconds=5)))
        return count

    profiles.erase = erase_then_race
    request_id = world.request_erasure(ANA_X)
    world.run_erasures()
    # Then verification found the late items, erased them, and verified that nothing remains
    proof = world.erasure(request_id)
    assert proof["status"] == "COMPLETED" and proof["verified"] is True
    assert proof["erased"]["interactions"] == 2 and proof["erased"]["subjects"] == 2
    assert list(world.traces(*identifying(ANA_X, world))) == []


@pytest.mark.parametrize(
    ("stuck_from_call", "reason"),
    [
        (1, "remain right after erasure and a sweep"),  # the store cannot be emptied at all
        (2, "remain after erasure and a sweep"),  # it empties, then holds an item again at verification
    ],
)
def test_a_store_still_holding_the_subject_fails_the_request_unverified(world, stuck_from_call, reason):
    # Given Ana stored, and a profiles store that, from its n-th look on, still holds one of her items
    # however often it is erased
    world.store(ANA_X, 0, "hello", EARLIER)
    events_url = capture_bus_events(["ErasureCompleted"])
    ports, _queue = world.handlers["erase"].runtime()
    profiles = next(s for s in ports.stores.stores if s.name == "subjects")
    real_remaining, looks = profiles.remaining, []

    def remaining(scope):
        looks.append(scope)
        return max(real_remaining(scope), 1 if len(looks) >= stuck_from_call else 0)

    profiles.remaining = remaining
    request_id = world.request_erasure(ANA_X)

    # When the consumer runs
    failed_messages = world.run_erasures()

    # Then the message goes back to SQS, and the request is FAILED, not verified, naming the store and why
    assert len(failed_messages) == 1
    proof = world.erasure(request_id)
    assert proof["status"] == "FAILED" and proof["verified"] is False and proof.get("completed_at") is None
    assert proof["failure"]["store"] == "subjects" and reason in proof["failure"]["reason"]
    # And ErasureCompleted says FAILED and unverified
    [event] = drain(events_url)
    assert event["detail"]["status"] == "FAILED" and event["detail"]["verified"] is False


def test_erasure_requests_are_validated(world):
    cases = [
        ({"subjects": [], "reference": "T-1"}, "invalid_request"),
        ({"customers": [], "reference": "T-1"}, "invalid_request"),
        ({"customers": ["cus_not-an-id"], "reference": "T-1"}, "invalid_request"),
        ({"subjects": [{"platform": "myspace", "user_id": "1"}], "reference": "T-1"}, "invalid_request"),
        ({"subjects": [{"platform": "x", "user_id": ""}], "reference": "T-1"}, "invalid_request"),
        (
            {"subjects": [{"platform": "x", "user_id": "1"}], "reference": "Ana Quixote asked"},
            "invalid_request",
        ),
        ({"subjects": [{"platform": "x", "user_id": "1"}]}, "invalid_request"),
    ]
    for body, error in cases:
        status, answer = world.call("privacy", "POST", "/erasure-requests", body)
        assert (status, answer["error"]) == (400, error), body
        assert answer["message"]
    status, answer = world.call("privacy", "GET", "/erasure-requests/nope")
    assert status == 404 and answer["error"] == "not_found"
    assert world.scan_all()["erasure_requests"] == []


def test_an_objection_stops_all_new_processing_until_lifted(world):
    # Given an objection recorded for Ana
    path = f"/subjects/generic/{ANA_WEB.user_id}/objection"
    status, body = world.call(
        "privacy", "PUT", path, {"reference": "T-50"}, principal="arn:aws:iam::123456789012:user/dpo"
    )
    assert status == 200 and body["objection"] is True and body["objected_at"]
    # When she writes, even after the objection was recorded
    later = datetime.now(tz=UTC) + timedelta(minutes=1)
    world.deliver(ANA_WEB, "ana-objected", "do not keep this", later)
    # Then nothing of hers is stored
    assert (
        world.enrich().suppressed == 1
        and InteractionRepository().get(world.ref("generic:ana-objected")) is None
    )
    assert world.call("privacy", "GET", path)[1]["objection"] is True
    # When the objection is lifted
    status, body = world.call("privacy", "DELETE", path)
    assert status == 200 and body["objection"] is False
    world.deliver(ANA_WEB, "ana-welcome", "hello again", later)
    # Then her new messages are processed again
    assert (
        world.enrich().stored == 1
        and InteractionRepository().get(world.ref("generic:ana-welcome")) is not None
    )
    # And nothing is left in the suppressions table for her
    assert world.scan_all()["suppressions"] == []


def test_lifting_an_objection_keeps_the_erasure_tombstone(world):
    path = f"/subjects/generic/{ANA_WEB.user_id}/objection"
    world.call("privacy", "PUT", path, {"reference": "T-50"})
    world.deliver(ANA_WEB, "ana-old", "old", EARLIER)
    world.enrich()
    world.request_erasure(ANA_WEB)
    world.run_erasures()
    # When the objection is lifted after the erasure
    status, body = world.call("privacy", "DELETE", path)
    # Then the tombstone stays, now with its expiry, so a message from before the erasure is still dropped
    assert status == 200 and body["objection"] is False and body["erased_at"]
    [item] = world.scan_all()["suppressions"]
    assert "erased_at" in item and "expires_at" in item and "objected_at" not in item
    world.deliver(ANA_WEB, "ana-older", "older", EARLIER)
    assert world.enrich().suppressed == 1


def test_the_export_returns_every_store_of_the_subject_and_nothing_of_others(world):
    seed_ana_and_bob(world)
    world.call("privacy", "PUT", f"/subjects/generic/{ANA_WEB.user_id}/objection", {"reference": "T-9"})
    # When Ana's export is requested for her web identity
    status, export = world.call("api", "GET", f"/subjects/generic/{ANA_WEB.user_id}/export")
    assert status == 200
    stores = export["stores"]
    # Then every personal-data store and the suppression state are in it
    assert set(stores) == STORES | {"suppressions"}
    assert export["subject_id"] == world.subject(ANA_WEB)
    assert sorted(i["text"] for i in stores["interactions"]) == sorted(world.texts[ANA_WEB.user_id])
    assert (
        stores["subjects"]["handles"] == [f"generic:{ANA_WEB.handle}"]
        and stores["subjects"]["interactions"] == 3
    )
    assert stores["inbound-dlq"] == [] and stores["report-dlq"] == []  # her dead letters are on x
    assert len(stores["cases"]) == 6 and {c["row"] for c in stores["cases"]} == {"case", "team"}
    assert len(stores["report_seen"]) == 6
    # her place in her customer: the identity's owner row and its link, pseudonymous ids only
    assert sorted(r["sk"] for r in stores["customers"]) == ["i#" + world.subject(ANA_WEB), "owner"]
    assert stores["suppressions"]["objected_at"] and stores["suppressions"]["objection_reference"] == "T-9"
    # And nothing of Bob, nor of Ana's other identity
    text = json.dumps(export, ensure_ascii=False)
    assert not [n for n in (*identifying(BOB_WEB, world), *identifying(ANA_X, world)) if n in text]


def test_the_export_of_an_unknown_subject_is_empty_not_an_error(world):
    status, export = world.call("api", "GET", "/subjects/x/nobody/export")
    assert status == 200
    assert export["stores"] == {
        "inbound-dlq": [],
        "route-dlq": [],
        "report-dlq": [],
        "report_seen": [],
        "brand_replies": [],
        "shared_cases": [],
        "customers": [],
        "cases": [],
        "interactions": [],
        "subjects": None,
        "suppressions": None,
    }


def test_every_item_of_every_table_expires_after_its_data_class_retention(world):
    # Given every kind of item the pipeline writes: interactions, profiles, dedupe records, cases, report
    # counters and markers, an access-log entry, an erasure request and its tombstone
    seed_ana_and_bob(world)
    assert world.call("api", "GET", f"/subjects/x/{BOB_X.user_id}/export")[0] == 200  # an access-log entry
    world.request_erasure(BOB_X)
    world.run_erasures()
    now = datetime.now(tz=UTC)
    seen = set()
    # Then each item carries its table's TTL attribute, set to its data class's retention period
    for key, items in world.scan_all().items():
        spec = TABLES[key]
        for item in items:
            assert spec.ttl_attribute in item, (key, item)
            expires = datetime.fromtimestamp(int(item[spec.ttl_attribute]["N"]), tz=UTC)
            retention = timedelta(days=RETENTION_DAYS[key])
            assert now + retention - timedelta(days=2) <= expires <= now + retention + timedelta(days=1), key
            seen.add(key)
    # (spike counters appear only with a spike; claims live only while their batch runs; subscriptions
    # only when YouTube channels are followed: tests/integration/test_websub.py checks theirs)
    assert seen == set(TABLES) - {"counters", "claims", "subscriptions"}


def test_report_events_still_in_flight_during_the_erasure_leave_nothing_after_it(world, monkeypatch):
    # Given Ana's messages stored and announced: their events wait on the report queue, not yet counted
    for n in range(2):
        world.deliver(ANA_WEB, f"ana-inflight-report-{n}", f"counted late {n}", EARLIER)
    world.enrich()
    refs = [world.ref(f"generic:ana-inflight-report-{n}") for n in range(2)]
    markers = [fact_key("interaction", ref) for ref in refs]
    # When her erasure completes (verified) before the report consumer gets to those events
    request_id = world.request_erasure(ANA_WEB)
    world.run_erasures()
    assert world.erasure(request_id)["verified"] is True
    queued = world.receive("report")
    ours = [m for m in queued if world.subject(ANA_WEB) in m["Body"]]
    assert len(ours) >= 2
    # And the report consumer then processes them
    monkeypatch.setenv("REPORT_COUNTERS_TABLE", world.table("report_counters"))
    monkeypatch.setenv("REPORT_SEEN_TABLE", world.table("report_seen"))
    monkeypatch.setenv("SUPPRESSIONS_TABLE", world.table("suppressions"))
    import report.handler as report_handler

    report_handler.runtime.cache_clear()
    try:
        event = {"Records": [{"messageId": m["MessageId"], "body": m["Body"]} for m in ours]}
        response = report_handler.lambda_handler(event, LambdaContext())
    finally:
        report_handler.runtime.cache_clear()
    # Then they are acknowledged and no seen-marker derived from her ids is written after the erasure
    assert response == {"batchItemFailures": []}
    seen = {item["fact"]["S"] for item in world.scan_all()["report_seen"]}
    assert seen.isdisjoint(markers)


def test_an_unknown_user_id_completes_verified_but_says_nothing_was_found(world):
    seed_ana_and_bob(world)
    # When the officer mistypes Ana's id
    request_id = world.request_erasure(Person("generic", "ana-4412", "", ""), ANA_WEB)
    world.run_erasures()
    proof = world.erasure(request_id)
    # Then the request completes (nothing is held under that id) but says so, subject by subject
    assert proof["status"] == "COMPLETED" and proof["verified"] is True
    assert [s["found"] for s in proof["subjects"]] == [False, True] and proof["not_found"] == 1


def test_an_id_erased_in_one_unicode_form_erases_the_other_form_too(world):
    # Given a sender that wrote the same person's id decomposed (e + combining accent)
    decomposed = Person("generic", "jose\u0301-77", "jose", "José")
    world.deliver(decomposed, "jose-1", "hola, mi pedido", EARLIER)
    world.enrich()
    # When the officer erases the id as typed, composed (é)
    request_id = world.request_erasure(Person("generic", "jos\u00e9-77", "", ""))
    world.run_erasures()
    # Then the stored person is found and erased: ids are matched in Unicode NFC everywhere
    proof = world.erasure(request_id)
    assert proof["verified"] is True and proof["subjects"][0]["found"] is True
    assert proof["erased"]["interactions"] == 1
    assert list(world.traces("hola, mi pedido", "jose\u0301-77")) == []


def test_replies_to_her_are_erased_with_her_case_and_verified(world):
    from socialcrm.replies.reply import Reply
    from socialcrm.replies.store import ReplyRepository

    # Given Ana's complaint on its case, and two replies to her: one sent, one a comment's private reply
    question = world.store(ANA_X, 0, "where is my refund, order 7781?", EARLIER)
    case_id = case_of_interaction(world, question)
    replies = ReplyRepository()
    now = datetime.now(tz=UTC)
    for n, visibility in enumerate(("public", "private")):
        reply = Reply(
            reply_id=f"r_{n:032x}",
            case_id=case_id,
            subject_id=question.subject_id,
            platform="x",
            visibility=visibility,
            author="person",
            requested_by="agent",
            text=f"Sorry Ana, refund 7781 is on its way ({visibility})",
            in_reply_to=question.interaction_ref,
            answered_kind=question.kind,
            created_at=now,
            updated_at=now,
        )
        assert replies.create(reply)
    assert replies.claim_private_reply(reply, now) == reply.reply_id
    assert len(replies.of_case(case_id, question.subject_id)) == 2
    # When her erasure runs
    request_id = world.request_erasure(ANA_X, reference="T-44")
    assert world.run_erasures() == []
    # Then the replies (their text and the private-reply guard) are gone with her case, and verified
    proof = world.erasure(request_id)
    assert proof["verified"] is True
    assert replies.of_case(case_id, question.subject_id) == []
    assert not list(world.traces("Sorry Ana", question.interaction_ref))


def test_a_customer_is_erased_in_one_request_with_every_linked_identity_and_its_own_rows(world):
    # Given Ana's two identities linked as one customer, a third identity linked and unlinked again, and Bob
    seed_ana_and_bob(world)
    customers = CustomerStore(world.table("customers"))
    ana_customer = customers.owner_of(world.subject(ANA_X))
    assert ana_customer is not None
    stray = Identity("instagram", world.subject(Person("instagram", "ana-ig", "ana_ig", "Ana")))
    customers.link(ana_customer, stray, reason="T-8", by="arn:aws:iam::1:user/agent", at=EARLIER)
    customers.unlink(ana_customer, stray, reason="T-9", by="arn:aws:iam::1:user/agent", at=EARLIER)
    bob_before = {
        key: [i for i in items if "bob" in json.dumps(i)] for key, items in world.scan_all().items()
    }
    # When a compliance officer erases the customer in one request
    status, accepted = world.call(
        "privacy", "POST", "/erasure-requests", {"customers": [ana_customer], "reference": "T-60"},
        principal="arn:aws:iam::123456789012:user/dpo",
    )  # fmt: skip
    assert status == 202 and accepted["subject_count"] == 2
    assert world.run_erasures() == []
    # Then the proof lists each of her pseudonymous subject ids, and the customer, all verified
    proof = world.erasure(accepted["request_id"])
    assert proof["status"] == "COMPLETED" and proof["verified"] is True
    assert {s["subject_id"] for s in proof["subjects"]} == {world.subject(ANA_WEB), world.subject(ANA_X)}
    assert [(c["customer_id"], c["verified"]) for c in proof["customers"]] == [(ana_customer, True)]
    # (her identities' links and owners, 4, and the customer's row and its unlink note, 2)
    assert proof["erased"]["customers"] == 6 and proof["customers"][0]["erased"] == 2
    assert proof["erased"]["interactions"] == 5
    # And nothing of her or of the customer is left, and Bob is untouched
    assert list(world.traces(*identifying(ANA_WEB, world), *identifying(ANA_X, world), ana_customer)) == [
        ("erasure_requests", ana_customer)
    ]
    bob_after = {key: [i for i in items if "bob" in json.dumps(i)] for key, items in world.scan_all().items()}
    assert bob_after == bob_before
    # And a second request for the customer says it is gone
    status, answer = world.call(
        "privacy", "POST", "/erasure-requests", {"customers": [ana_customer], "reference": "T-61"}
    )
    assert status == 404 and "erased already" in answer["message"]


def test_an_identity_linked_while_its_customer_is_erased_goes_with_it(world, monkeypatch):
    # Given Ana's customer, and an agent linking a new identity to it while its rows are being deleted
    seed_ana_and_bob(world)
    customers = CustomerStore(world.table("customers"))
    ana_customer = customers.owner_of(world.subject(ANA_X))
    late = Identity("tiktok", world.subject(Person("tiktok", "ana-tt", "ana_tt", "Ana")))
    rows = world.handlers["erase"].runtime()[0].customers
    read, linked = rows._rows, []

    def read_then_link(customer_id):
        found = read(customer_id)
        if not linked:
            linked.append(
                customers.link(customer_id, late, reason="T-8", by="arn:aws:iam::1:user/a", at=EARLIER)
            )
        return found

    monkeypatch.setattr(rows, "_rows", read_then_link)
    status, accepted = world.call(
        "privacy", "POST", "/erasure-requests", {"customers": [ana_customer], "reference": "T-62"}
    )
    assert status == 202
    assert world.run_erasures() == []
    # Then the late link was made, found when the run looked at the customer again, and erased with it
    proof = world.erasure(accepted["request_id"])
    assert linked == [True]
    assert proof["status"] == "COMPLETED" and proof["customers"][0]["verified"] is True
    assert customers.owner_of(late.subject_id) is None
    assert late.subject_id in {subject["subject_id"] for subject in proof["subjects"]}
    assert not [t for t in world.traces(ana_customer) if t[0] == "customers"]


def test_the_phone_number_keys_an_identity_carries_are_erased_with_it_and_another_persons_stay(world):
    # Given Ana's X identity and Bob's both carrying one phone number's key (a family phone)
    seed_ana_and_bob(world)
    customers = CustomerStore(world.table("customers"))
    key = "k_" + "5" * 64
    for person in (ANA_X, BOB_X):
        customers.carry(key, Identity(person.platform, world.subject(person)), at=EARLIER)
    # When Ana's X identity is erased
    request_id = world.request_erasure(ANA_X)
    assert world.run_erasures() == []
    # Then her key rows are gone (counted with her links), verified; Bob still carries the key
    proof = world.erasure(request_id)
    assert proof["verified"] is True and proof["erased"]["customers"] == 4  # owner, link, key, way back
    assert customers.carriers(key) == [Identity("x", world.subject(BOB_X))]
    assert {table for table, _ in world.traces(world.subject(ANA_X))} == {"erasure_requests", "suppressions"}


def test_an_identity_linked_after_a_customers_erasure_was_requested_is_erased_and_listed_too(world):
    # Given an erasure of Ana's customer requested, and her Instagram identity (with a message) linked to it
    # before the erasure runs
    seed_ana_and_bob(world)
    customers = CustomerStore(world.table("customers"))
    ana_customer = customers.owner_of(world.subject(ANA_X))
    status, accepted = world.call(
        "privacy", "POST", "/erasure-requests", {"customers": [ana_customer], "reference": "T-63"}
    )
    assert status == 202 and accepted["subject_count"] == 2
    ana_ig = Person("instagram", "ana-ig-77", "ana_ig", "Ana Q")
    world.store(ana_ig, 0, "ana on ig: refund please", EARLIER)
    customers.link(
        ana_customer, Identity("instagram", world.subject(ana_ig)), reason="T-8", by="agent", at=EARLIER
    )
    # When the erasure runs
    assert world.run_erasures() == []
    # Then the late identity is erased too and listed in the proof, and nothing of hers is left
    proof = world.erasure(accepted["request_id"])
    assert proof["status"] == "COMPLETED" and proof["verified"] is True
    assert (
        world.subject(ana_ig) in {s["subject_id"] for s in proof["subjects"]} and proof["subject_count"] == 3
    )
    assert list(world.traces(*identifying(ana_ig, world), *identifying(ANA_X, world))) == []


@pytest.mark.parametrize("after", [0, 1])  # the batch of its note, then the batch of its own row
def test_a_customers_own_rows_failing_at_each_deletion_fail_the_request_and_the_retry_finishes_it(
    world, monkeypatch, after
):
    # Given Ana's customer with an unlink note, and its partition's deletes failing from the n-th batch
    seed_ana_and_bob(world)
    customers = CustomerStore(world.table("customers"))
    ana_customer = customers.owner_of(world.subject(ANA_X))
    stray = Identity("instagram", world.subject(Person("instagram", "ana-ig", "ana_ig", "Ana")))
    customers.link(ana_customer, stray, reason="T-8", by="agent", at=EARLIER)
    customers.unlink(ana_customer, stray, reason="T-9", by="agent", at=EARLIER)
    rows = world.handlers["erase"].runtime()[0].customers
    failing = FailingClient(rows.client, "batch_write_item", f"c#{ana_customer}", after=after)
    monkeypatch.setattr(rows, "_client", failing)
    status, accepted = world.call(
        "privacy", "POST", "/erasure-requests", {"customers": [ana_customer], "reference": "T-64"}
    )
    assert status == 202
    # When the consumer runs, the customer's rows fail, and SQS delivers the message again once they recover
    assert len(world.run_erasures()) == 1
    failed = world.erasure(accepted["request_id"])
    assert failed["status"] == "FAILED" and failed["failure"]["store"] == "customers"
    failing.failing = False
    # (the failed message stays invisible until SQS retries it: the officer's retry route starts it now)
    status, _ = world.call("privacy", "POST", f"/erasure-requests/{accepted['request_id']}/retry")
    assert status == 202 and world.run_erasures() == []
    # Then it completes, verified, and nothing of the customer is left
    done = world.erasure(accepted["request_id"])
    assert done["status"] == "COMPLETED" and done["verified"] is True
    assert done["customers"][0]["erased"] == 2  # its note and its row, each counted once
    assert [t for t in world.traces(ana_customer) if t[0] == "customers"] == []
