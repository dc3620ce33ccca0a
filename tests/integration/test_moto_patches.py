"""The local stack's faster moto transactions keep moto's semantics: all or nothing."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from socialcrm.local.moto_patches import speed_up_transactions


@pytest.fixture
def table():
    speed_up_transactions()
    with mock_aws():
        client = boto3.client("dynamodb")
        for name in ("a", "b"):
            client.create_table(
                TableName=name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            )
        yield client


def test_a_successful_transaction_writes_every_item(table):
    table.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": "a",
                    "Item": {"k": {"S": "1"}},
                    "ConditionExpression": "attribute_not_exists(k)",
                }
            },
            {
                "Update": {
                    "TableName": "b",
                    "Key": {"k": {"S": "p"}},
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    )
    assert table.get_item(TableName="b", Key={"k": {"S": "p"}})["Item"]["n"] == {"N": "1"}


def test_a_cancelled_transaction_leaves_every_item_as_it_was(table):
    table.put_item(TableName="a", Item={"k": {"S": "1"}})
    table.put_item(TableName="b", Item={"k": {"S": "p"}, "n": {"N": "5"}})
    with pytest.raises(ClientError) as cancelled:
        table.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "b",
                        "Key": {"k": {"S": "p"}},
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": "b", "Item": {"k": {"S": "new"}}}},
                {
                    "Put": {
                        "TableName": "a",
                        "Item": {"k": {"S": "1"}},
                        "ConditionExpression": "attribute_not_exists(k)",
                    }
                },
            ]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert table.get_item(TableName="b", Key={"k": {"S": "p"}})["Item"]["n"] == {"N": "5"}
    assert "Item" not in table.get_item(TableName="b", Key={"k": {"S": "new"}})
