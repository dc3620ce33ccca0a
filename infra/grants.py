"""Least-privilege grants: explicit actions on explicit resources, never a wildcard.

CDK's ``table.grant*`` helpers add ``<table>/index/*``, ``kms:GenerateDataKey*`` and ``kms:ReEncrypt*``
wildcards; these helpers name each index and each KMS action instead, and let a function use the data
key only through the service that owns the data (``kms:ViaService``).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs

_TABLE_WRITES = frozenset(
    {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
)
# The only item actions that apply to a secondary index.
_INDEX_READS = frozenset({"dynamodb:Query", "dynamodb:Scan"})
# What DynamoDB needs from the caller to use a table's customer-managed key on its behalf.
KEY_ACTIONS_TABLE_READ = ("kms:Decrypt", "kms:DescribeKey")
KEY_ACTIONS_TABLE_WRITE = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")
# What SQS needs from a producer to encrypt messages with the queue's key.
KEY_ACTIONS_QUEUE_SEND = ("kms:Decrypt", "kms:GenerateDataKey")
# What SQS needs from a reader to decrypt the messages it receives.
KEY_ACTIONS_QUEUE_RECEIVE = ("kms:Decrypt",)
# What Secrets Manager needs from a reader to decrypt the secret.
KEY_ACTIONS_SECRET_READ = ("kms:Decrypt",)


def grant_key_via(grantee: iam.IGrantable, key: kms.IKey, actions: Sequence[str], service: str) -> iam.Grant:
    """Allow ``actions`` on ``key`` only in requests made through ``service`` (e.g. ``"sqs"``)."""
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=list(actions),
        resource_arns=[key.key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"{service}.{Aws.REGION}.amazonaws.com"}},
    )


def grant_table(
    grantee: iam.IGrantable, table: dynamodb.ITable, actions: Sequence[str], *, indexes: Sequence[str] = ()
) -> iam.Grant:
    """Allow ``actions`` on the table, its reads (Query, Scan) on the named indexes, and the key use
    they imply."""
    grant = iam.Grant.add_to_principal(
        grantee=grantee, actions=list(actions), resource_arns=[table.table_arn]
    )
    index_actions = [action for action in actions if action in _INDEX_READS]
    if indexes and index_actions:
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=index_actions,
            resource_arns=[f"{table.table_arn}/index/{index}" for index in indexes],
        )
    if table.encryption_key is not None:
        writes = _TABLE_WRITES.intersection(actions)
        key_actions = KEY_ACTIONS_TABLE_WRITE if writes else KEY_ACTIONS_TABLE_READ
        grant_key_via(grantee, table.encryption_key, key_actions, "dynamodb")
    return grant


def grant_send(grantee: iam.IGrantable, queue: sqs.IQueue) -> iam.Grant:
    """Allow ``sqs:SendMessage`` (which covers ``SendMessageBatch``) on the queue, and its key."""
    grant = iam.Grant.add_to_principal(
        grantee=grantee, actions=["sqs:SendMessage"], resource_arns=[queue.queue_arn]
    )
    if queue.encryption_master_key is not None:
        grant_key_via(grantee, queue.encryption_master_key, KEY_ACTIONS_QUEUE_SEND, "sqs")
    return grant


def grant_queue_read(grantee: iam.IGrantable, queue: sqs.IQueue, actions: Sequence[str]) -> iam.Grant:
    """Allow reading ``actions`` (``sqs:ReceiveMessage`` and what follows a receive) on the queue, and its key."""
    grant = iam.Grant.add_to_principal(
        grantee=grantee, actions=list(actions), resource_arns=[queue.queue_arn]
    )
    if queue.encryption_master_key is not None:
        grant_key_via(grantee, queue.encryption_master_key, KEY_ACTIONS_QUEUE_RECEIVE, "sqs")
    return grant


def grant_secret_value(grantee: iam.IGrantable, secret: secretsmanager.ISecret) -> iam.Grant:
    """Allow ``secretsmanager:GetSecretValue`` on the secret (not ``DescribeSecret``), and its key."""
    grant = iam.Grant.add_to_principal(
        grantee=grantee, actions=["secretsmanager:GetSecretValue"], resource_arns=[secret.secret_arn]
    )
    if secret.encryption_key is not None:
        grant_key_via(grantee, secret.encryption_key, KEY_ACTIONS_SECRET_READ, "secretsmanager")
    return grant
