"""The local stack's DynamoDB (socialcrm.local.moto_tables): the answers DynamoDB gives, one request at a
time, and queries that do not walk the table."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend, Table

from socialcrm.local.moto_patches import speed_up_transactions
from socialcrm.local.moto_tables import speed_up_and_serialise_tables

HASHES = ["a", "b", "c"]
RANGES = ["1", "2", "3", "4"]
INDEX_HASHES = ["x", "y"]


def _create(client: Any) -> None:
    client.create_table(
        TableName="t",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("h", "r", "gh", "gr")
        ],
        KeySchema=[{"AttributeName": "h", "KeyType": "HASH"}, {"AttributeName": "r", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_g",
                "KeySchema": [
                    {"AttributeName": "gh", "KeyType": "HASH"},
                    {"AttributeName": "gr", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


def _key(h: str, r: str) -> dict[str, Any]:
    return {"h": {"S": h}, "r": {"S": r}}


OPERATIONS = st.one_of(
    st.tuples(
        st.just("put"),
        st.sampled_from(HASHES),
        st.sampled_from(RANGES),
        st.none() | st.sampled_from(INDEX_HASHES),
        st.sampled_from(RANGES),
    ),
    st.tuples(
        st.just("update"),
        st.sampled_from(HASHES),
        st.sampled_from(RANGES),
        st.none() | st.sampled_from(INDEX_HASHES),
        st.sampled_from(RANGES),
    ),
    st.tuples(st.just("delete"), st.sampled_from(HASHES), st.sampled_from(RANGES), st.none(), st.none()),
    st.tuples(
        st.just("cancelled"),
        st.sampled_from(HASHES),
        st.sampled_from(RANGES),
        st.sampled_from(INDEX_HASHES),
        st.sampled_from(RANGES),
    ),
)


def _apply(client: Any, operation: tuple[str, str, str, str | None, str | None]) -> None:
    kind, h, r, gh, gr = operation
    if kind == "put":
        item = {**_key(h, r), "gr": {"S": str(gr)}, **({"gh": {"S": gh}} if gh else {})}
        client.put_item(TableName="t", Item=item)
    elif kind == "update":
        if gh:
            client.update_item(
                TableName="t",
                Key=_key(h, r),
                UpdateExpression="SET gh = :gh, gr = :gr",
                ExpressionAttributeValues={":gh": {"S": gh}, ":gr": {"S": str(gr)}},
            )
        else:  # the item leaves the index
            client.update_item(TableName="t", Key=_key(h, r), UpdateExpression="REMOVE gh")
    elif kind == "delete":
        client.delete_item(TableName="t", Key=_key(h, r))
    else:  # a transaction that moves the item in the index, then fails: nothing may change
        with pytest.raises(ClientError):
            client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": "t",
                            "Key": _key(h, r),
                            "UpdateExpression": "SET gh = :gh, gr = :gr",
                            "ExpressionAttributeValues": {":gh": {"S": gh}, ":gr": {"S": str(gr)}},
                        }
                    },
                    {
                        "ConditionCheck": {
                            "TableName": "t",
                            "Key": _key("never", "0"),
                            "ConditionExpression": "attribute_exists(h)",
                        }
                    },
                ]
            )


def _keys(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(item["h"]["S"], item["r"]["S"]) for item in items]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(OPERATIONS, max_size=25), st.booleans())
def test_queries_answer_what_the_table_holds_after_any_writes(operations, forward):
    speed_up_transactions()
    speed_up_and_serialise_tables()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        _create(client)
        client.query(  # the index is mapped before the writes, and kept up to date by them
            TableName="t",
            IndexName="by_g",
            KeyConditionExpression="gh = :v",
            ExpressionAttributeValues={":v": {"S": "x"}},
        )
        for operation in operations:
            _apply(client, operation)
        every = client.scan(TableName="t")["Items"]
        for h in HASHES:
            expected = sorted(_keys([i for i in every if i["h"]["S"] == h]), reverse=not forward)
            answer = client.query(
                TableName="t",
                KeyConditionExpression="h = :v",
                ExpressionAttributeValues={":v": {"S": h}},
                ScanIndexForward=forward,
            )["Items"]
            assert _keys(answer) == expected
        for gh in INDEX_HASHES:
            members = [i for i in every if i.get("gh", {}).get("S") == gh]
            members.sort(key=lambda i: (i["gr"]["S"], i["h"]["S"], i["r"]["S"]), reverse=not forward)
            answer = client.query(
                TableName="t",
                IndexName="by_g",
                KeyConditionExpression="gh = :v",
                ExpressionAttributeValues={":v": {"S": gh}},
                ScanIndexForward=forward,
            )["Items"]
            assert _keys(answer) == _keys(members)


def test_an_index_queried_first_after_writes_finds_every_item():
    speed_up_and_serialise_tables()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        _create(client)
        for n in range(5):
            client.put_item(TableName="t", Item={**_key("a", str(n)), "gh": {"S": "x"}, "gr": {"S": str(n)}})
        answer = client.query(
            TableName="t",
            IndexName="by_g",
            KeyConditionExpression="gh = :v",
            ExpressionAttributeValues={":v": {"S": "x"}},
        )
        assert answer["Count"] == 5


def test_a_query_reads_only_its_partition(monkeypatch):
    """moto's query code is handed the asked partition's items, not every item of the table."""
    speed_up_and_serialise_tables()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        _create(client)
        for n in range(300):
            item = {**_key(f"p{n}", "1"), "gh": {"S": f"g{n % 3}"}, "gr": {"S": str(n)}}
            client.put_item(TableName="t", Item=item)
        client.query(  # maps the index (one walk), as the first query of an index does
            TableName="t",
            IndexName="by_g",
            KeyConditionExpression="gh = :v",
            ExpressionAttributeValues={":v": {"S": "g0"}},
        )
        considered: list[int] = []
        patched = Table.all_items

        def counting(self: Table) -> Any:
            items = patched(self)
            considered.append(len(items))
            return items

        monkeypatch.setattr(Table, "all_items", counting)
        client.put_item(TableName="t", Item={**_key("late", "1"), "gh": {"S": "g0"}, "gr": {"S": "z"}})
        by_index = client.query(
            TableName="t",
            IndexName="by_g",
            KeyConditionExpression="gh = :v",
            ExpressionAttributeValues={":v": {"S": "g0"}},
        )
        by_table = client.query(
            TableName="t", KeyConditionExpression="h = :v", ExpressionAttributeValues={":v": {"S": "p7"}}
        )
        assert by_index["Count"] == 101 and by_table["Count"] == 1
        assert considered == [101, 1]  # without the patch, 301 each
        # items that left the key are forgotten by the query that meets them: the next reads only what is left
        for n in range(0, 300, 3):
            client.update_item(
                TableName="t",
                Key=_key(f"p{n}", "1"),
                UpdateExpression="SET gh = :g",
                ExpressionAttributeValues={":g": {"S": "elsewhere"}},
            )
        considered.clear()
        for _ in range(2):
            client.query(
                TableName="t",
                IndexName="by_g",
                KeyConditionExpression="gh = :v",
                ExpressionAttributeValues={":v": {"S": "g0"}},
            )
        assert considered == [1, 1]  # only the late item is left under g0


def test_dynamodb_requests_run_one_at_a_time(monkeypatch):
    """A request never sees a table another request is changing: the server serves DynamoDB serially."""
    from moto.server import ThreadedMotoServer

    speed_up_and_serialise_tables()
    running, most = 0, 0
    guard = threading.Lock()
    original = DynamoDBBackend.get_item

    def slow_get_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal running, most
        with guard:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with guard:
            running -= 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "get_item", slow_get_item)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client(
            "dynamodb",
            region_name="eu-west-1",
            endpoint_url=f"http://{host}:{port}",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        _create(client)
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda n: client.get_item(TableName="t", Key=_key("a", str(n))), range(16)))
    finally:
        server.stop()
    assert most == 1
