"""The DynamoDB tables of ``topology.TABLES``: on demand, PITR, the data key, TTL, retained."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from socialcrm import topology

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


def _attribute(spec: topology.Attribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=spec.name, type=_ATTRIBUTE_TYPES[spec.type])


def _optional_attribute(spec: topology.Attribute | None) -> dynamodb.Attribute | None:
    return None if spec is None else _attribute(spec)


class Tables(Construct):
    """One table per ``TableSpec``, keyed by the spec's key (``tables.by_key["interactions"]``).

    The construct id of each table is its spec key: renaming a key would create a new table (the
    old one is retained, never deleted), so keys in ``topology.TABLES`` are for ever.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        specs: Mapping[str, topology.TableSpec] = topology.TABLES,
    ) -> None:
        super().__init__(scope, construct_id)
        self.by_key: dict[str, dynamodb.Table] = {}
        for name, spec in specs.items():
            table = dynamodb.Table(
                self,
                name,
                partition_key=_attribute(spec.partition_key),
                sort_key=_optional_attribute(spec.sort_key),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
                encryption_key=key,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                time_to_live_attribute=spec.ttl_attribute,
                deletion_protection=True,
                removal_policy=RemovalPolicy.RETAIN,
            )
            for index in spec.indexes:
                table.add_global_secondary_index(
                    index_name=index.name,
                    partition_key=_attribute(index.partition_key),
                    sort_key=_optional_attribute(index.sort_key),
                    projection_type=dynamodb.ProjectionType.ALL,
                )
            self.by_key[name] = table
