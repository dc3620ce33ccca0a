"""The enrich stage's claims table (``socialcrm.dedupe.ClaimTable``) against an in-memory DynamoDB.

The fake keeps DynamoDB's rules that moto does not check: every enum value and every parameter name of a
request must be one the DynamoDB API defines, and a transaction is all or nothing, with one cancellation
reason per item.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from socialcrm.dedupe import ClaimTable
from socialcrm.topology import TABLES

NOW = datetime(2026, 11, 22, 10, 5, tzinfo=UTC)
UNTIL = NOW + timedelta(seconds=60)
TABLE = "socialcrm-claims"
_MODEL = botocore.session.get_session().get_service_model("dynamodb")


def _check(shape: Any, value: Any, path: str) -> None:
    """Raise as DynamoDB would for a parameter or enum value its API does not define."""
    if shape.type_name == "structure":
        for name, member in value.items():
            assert name in shape.members, f"{path}: DynamoDB has no parameter {name!r}"
            _check(shape.members[name], member, f"{path}.{name}")
    elif shape.type_name == "list":
        for item in value:
            _check(shape.member, item, path)
    elif shape.type_name == "map":
        for item in value.values():
            _check(shape.value, item, path)
    elif shape.type_name == "string" and shape.enum:
        assert value in shape.enum, f"{path}: {value!r} is not one of {shape.enum}"


def cancelled(reasons: list[dict[str, str]] | None) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}}
    if reasons is not None:
        response["CancellationReasons"] = reasons
    return ClientError(response, "TransactWriteItems")


class Dynamo:
    """The claims table in memory. ``conflicts`` transactions are cancelled first with no item at fault
    (another transaction, or a throttle); ``errors`` are raised by the next calls instead."""

    def __init__(self, *, conflicts: int = 0, reasons: bool = True) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.conflicts, self.reasons = conflicts, reasons
        self.errors: list[Exception] = []
        self.transactions = 0
        self.unprocessed_once = False
        self.batch_writes = 0

    def transact_write_items(self, **request: Any) -> dict:
        _check(_MODEL.operation_model("TransactWriteItems").input_shape, request, "TransactWriteItems")
        self.transactions += 1
        if self.errors:
            raise self.errors.pop(0)
        puts = [item["Put"] for item in request["TransactItems"]]
        if self.conflicts:
            self.conflicts -= 1
            raise cancelled([{"Code": "TransactionConflict"}] * len(puts) if self.reasons else None)
        failed = [not self._condition_holds(put) for put in puts]
        if any(failed):
            codes = [{"Code": "ConditionalCheckFailed" if bad else "None"} for bad in failed]
            raise cancelled(codes if self.reasons else None)
        for put in puts:
            self.items[put["Item"]["ref"]["S"]] = put["Item"]
        return {}

    def _condition_holds(self, put: dict[str, Any]) -> bool:
        assert put["ConditionExpression"].lower() == "attribute_not_exists(#r) or lease_until < :now"
        existing = self.items.get(put["Item"]["ref"]["S"])
        now = int(put["ExpressionAttributeValues"][":now"]["N"])
        return existing is None or int(existing["lease_until"]["N"]) < now

    def batch_write_item(self, **request: Any) -> dict:
        _check(_MODEL.operation_model("BatchWriteItem").input_shape, request, "BatchWriteItem")
        self.batch_writes += 1
        if self.errors:
            raise self.errors.pop(0)
        [(table, requests)] = request["RequestItems"].items()
        if self.unprocessed_once:
            self.unprocessed_once = False
            kept, requests = requests[:1], requests[1:]
            self._delete(requests)
            return {"UnprocessedItems": {table: kept}}
        self._delete(requests)
        return {"UnprocessedItems": {}}

    def _delete(self, requests: list[dict[str, Any]]) -> None:
        for request in requests:
            self.items.pop(request["DeleteRequest"]["Key"]["ref"]["S"], None)


def refs(count: int, prefix: str = "i_") -> list[str]:
    return [f"{prefix}{n:032x}" for n in range(count)]


def lease(dynamo: Dynamo, ref: str, until: datetime) -> None:
    dynamo.items[ref] = {"ref": {"S": ref}, "lease_until": {"N": str(int(until.timestamp() * 1000))}}


@pytest.fixture
def waits(monkeypatch):
    """The backoff's waits, recorded instead of slept: each is the jitter's (low, high) range."""
    recorded: list[tuple[float, float]] = []
    monkeypatch.setattr(
        "socialcrm.dedupe.random.uniform", lambda low, high: recorded.append((low, high)) or high
    )
    monkeypatch.setattr("socialcrm.dedupe.time.sleep", lambda seconds: None)
    return recorded


# --- claiming ------------------------------------------------------------------------------------------


def test_free_refs_are_claimed_through_the_injected_client_until_the_deadline():
    dynamo = Dynamo()
    result = ClaimTable(TABLE, client=dynamo).claim(refs(2), until=UNTIL, now=NOW)
    assert result.claimed == refs(2) and result.held_elsewhere == [] and result.unavailable == []
    assert {item["lease_until"]["N"] for item in dynamo.items.values()} == {
        str(int(UNTIL.timestamp() * 1000))
    }


def test_a_claim_is_tidied_by_the_table_s_ttl_a_day_after_its_lease():
    dynamo = Dynamo()
    ClaimTable(TABLE, client=dynamo).claim(refs(1), until=UNTIL, now=NOW)
    [item] = dynamo.items.values()
    ttl = TABLES["claims"].ttl_attribute
    assert item[ttl] == {"N": str(int((UNTIL + timedelta(days=1)).timestamp()))}


def test_a_ref_another_live_batch_holds_is_reported_and_the_others_are_claimed(waits):
    dynamo = Dynamo()
    held = refs(3)[1]
    lease(dynamo, held, NOW + timedelta(seconds=30))
    result = ClaimTable(TABLE, client=dynamo).claim(refs(3), until=UNTIL, now=NOW)
    assert result.held_elsewhere == [held]
    assert result.claimed == [refs(3)[0], refs(3)[2]]
    assert waits == []  # the retry without the held ref is immediate


def test_a_ref_whose_lease_ran_out_is_claimed_again():
    dynamo = Dynamo()
    lease(dynamo, refs(1)[0], NOW - timedelta(milliseconds=1))
    assert ClaimTable(TABLE, client=dynamo).claim(refs(1), until=UNTIL, now=NOW).claimed == refs(1)


def test_more_than_a_transaction_holds_are_claimed_in_chunks_and_all_reported(waits):
    # Given 250 refs (a transaction takes 100), one held elsewhere in each chunk
    dynamo = Dynamo()
    wanted = refs(250)
    for index in (5, 150, 249):
        lease(dynamo, wanted[index], UNTIL)
    result = ClaimTable(TABLE, client=dynamo).claim(wanted + wanted[:3], until=UNTIL, now=NOW)
    # Then every ref is either claimed or reported held, once
    assert result.held_elsewhere == [wanted[5], wanted[150], wanted[249]]
    assert result.claimed == [ref for n, ref in enumerate(wanted) if n not in (5, 150, 249)]


def test_a_contended_claim_backs_off_with_a_jitter_doubling_from_50_ms(waits):
    dynamo = Dynamo(conflicts=3)
    result = ClaimTable(TABLE, client=dynamo).claim(refs(1), until=UNTIL, now=NOW)
    assert result.claimed == refs(1)
    assert waits == [(0, 0.05), (0, 0.1), (0, 0.2)]


@pytest.mark.parametrize("reasons", [True, False], ids=["with-reasons", "without-reasons"])
def test_a_claim_contended_four_times_leaves_its_refs_for_sqs_to_retry(waits, reasons):
    dynamo = Dynamo(conflicts=4, reasons=reasons)
    result = ClaimTable(TABLE, client=dynamo).claim(refs(2), until=UNTIL, now=NOW)
    assert result.unavailable == refs(2) and result.claimed == []
    assert dynamo.transactions == 4


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "TransactWriteItems"),
        EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com"),
    ],
    ids=["throttled", "unreachable"],
)
def test_a_table_that_fails_leaves_every_chunk_s_refs_for_sqs_to_retry(error):
    dynamo = Dynamo()
    dynamo.errors = [error, error]
    result = ClaimTable(TABLE, client=dynamo).claim(refs(150), until=UNTIL, now=NOW)
    assert result.unavailable == refs(150) and result.claimed == []
    assert dynamo.transactions == 2  # one try per chunk: no retry of a failure that is not contention


def test_a_table_that_fails_for_one_chunk_still_claims_the_other():
    dynamo = Dynamo()
    dynamo.errors = [ClientError({"Error": {"Code": "InternalServerError"}}, "TransactWriteItems")]
    result = ClaimTable(TABLE, client=dynamo).claim(refs(150), until=UNTIL, now=NOW)
    assert result.unavailable == refs(150)[:100]
    assert result.claimed == refs(150)[100:]


# --- releasing -----------------------------------------------------------------------------------------


def test_release_deletes_every_claim_in_batches_of_25_retrying_what_dynamodb_left():
    dynamo = Dynamo()
    table = ClaimTable(TABLE, client=dynamo)
    table.claim(refs(60), until=UNTIL, now=NOW)
    dynamo.unprocessed_once = True
    table.release(refs(60) + refs(5))
    assert dynamo.items == {}
    assert dynamo.batch_writes == 4  # 25 (one left over, retried), 25, 10


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "InternalServerError"}}, "BatchWriteItem"),
        EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com"),
    ],
    ids=["client-error", "unreachable"],
)
def test_a_release_that_fails_leaves_the_claims_to_their_lease_without_failing_the_batch(error):
    dynamo = Dynamo()
    table = ClaimTable(TABLE, client=dynamo)
    table.claim(refs(30), until=UNTIL, now=NOW)
    dynamo.errors = [error]
    table.release(refs(30))  # no exception
    assert len(dynamo.items) == 25  # the first batch failed, the second was still deleted
