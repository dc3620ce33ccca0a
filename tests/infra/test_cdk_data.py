"""The stateful stack: tables as topology declares them, encrypted, recoverable, never deleted."""

from __future__ import annotations

import pytest

from socialcrm import topology

pytestmark = pytest.mark.infra

STATEFUL_TYPES = {
    "AWS::KMS::Key",
    "AWS::DynamoDB::Table",
    "AWS::Events::EventBus",
    "AWS::Events::Archive",  # the events kept to replay: state, like the tables
    "AWS::SecretsManager::Secret",
    "AWS::CDK::Metadata",
}


def _table(synthesis, key: str) -> dict:
    logical_id = synthesis.data_id(synthesis.data.tables[key])
    return synthesis.data_template.to_json()["Resources"][logical_id]


def _key_schema(schema: list[dict]) -> tuple[str | None, str | None]:
    by_type = {entry["KeyType"]: entry["AttributeName"] for entry in schema}
    return by_type.get("HASH"), by_type.get("RANGE")


def test_cdk_tables_keys_and_indexes_match_topology(synthesis):
    # Given the tables declared once in topology.TABLES
    # When the CDK app synthesises them
    for key, spec in topology.TABLES.items():
        table = _table(synthesis, key)["Properties"]
        types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}

        # Then each table has the spec's keys, attribute types, indexes and TTL attribute
        expected_sort = spec.sort_key.name if spec.sort_key else None
        assert _key_schema(table["KeySchema"]) == (spec.partition_key.name, expected_sort), key
        declared = [spec.partition_key, spec.sort_key] + [
            attribute for index in spec.indexes for attribute in (index.partition_key, index.sort_key)
        ]
        assert types == {a.name: a.type for a in declared if a is not None}, key
        indexes = {
            gsi["IndexName"]: _key_schema(gsi["KeySchema"]) for gsi in table.get("GlobalSecondaryIndexes", [])
        }
        assert indexes == {
            index.name: (index.partition_key.name, index.sort_key.name if index.sort_key else None)
            for index in spec.indexes
        }, key
        assert table["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}, key
    assert set(synthesis.data.tables) == set(topology.TABLES)


def test_every_table_is_on_demand_recoverable_encrypted_with_the_cmk_and_retained(synthesis):
    # Given the data key's logical id
    key_id = synthesis.data_id(synthesis.data.key)
    for key in topology.TABLES:
        # When a table is read from the template
        table = _table(synthesis, key)
        props = table["Properties"]
        # Then it cannot be lost by a redeploy or a stack deletion, and is encrypted with our CMK
        assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain", key
        assert props["DeletionProtectionEnabled"] is True, key
        assert props["BillingMode"] == "PAY_PER_REQUEST", key
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, key
        assert props["SSESpecification"] == {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
        }, key
        # GSIs project everything: timelines and exports read whole interactions from the index
        for gsi in props.get("GlobalSecondaryIndexes", []):
            assert gsi["Projection"] == {"ProjectionType": "ALL"}


def test_data_key_is_customer_managed_rotated_and_retained(synthesis):
    # Given the stateful template
    template = synthesis.data_template
    # Then it holds exactly one KMS key, rotated yearly and kept when the stack goes
    template.resource_count_is("AWS::KMS::Key", 1)
    template.has_resource(
        "AWS::KMS::Key",
        {
            "Properties": {"EnableKeyRotation": True},
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


def test_data_key_lets_cloudwatch_alarms_publish_to_the_encrypted_alarm_topic(synthesis):
    # Given the key policy
    (key,) = synthesis.data_template.find_resources("AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    # Then CloudWatch may encrypt alarm notifications with it (else SNS drops them silently)
    cloudwatch = [s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert len(cloudwatch) == 1
    assert sorted(cloudwatch[0]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_platform_secret_is_kms_encrypted_retained_and_describes_its_json_format(synthesis):
    # Given the platform-secrets secret
    key_id = synthesis.data_id(synthesis.data.key)
    secrets = synthesis.data_template.find_resources("AWS::SecretsManager::Secret")
    assert len(secrets) == 1
    (secret,) = secrets.values()
    props = secret["Properties"]
    # Then it is encrypted with the data key, kept on deletion, and tells the operator its format
    assert props["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert secret["DeletionPolicy"] == "Retain"
    for field in (
        '"meta"',
        '"app_secret"',
        '"x"',
        '"linkedin"',
        '"tiktok"',
        '"youtube"',
        '"generic"',
        "whsec_",
    ):
        assert field in props["Description"]
    assert "subject_pepper" in props["Description"] and "JSON" in props["Description"]
    # And it starts as a valid document: no platform yet, a generated pepper long enough for the model
    assert props["GenerateSecretString"]["SecretStringTemplate"] == "{}"
    assert props["GenerateSecretString"]["GenerateStringKey"] == "subject_pepper"
    assert props["GenerateSecretString"]["PasswordLength"] >= 16


def test_event_bus_has_the_topology_name(synthesis):
    synthesis.data_template.has_resource_properties("AWS::Events::EventBus", {"Name": "socialcrm-dev"})


def test_stateful_stack_holds_only_state_and_depends_on_nothing(synthesis):
    # Given both stacks
    data, service = synthesis.data, synthesis.service
    # Then the stateful stack has only stateful resource types, is termination-protected,
    # and the dependency runs one way: service -> data
    types = {r["Type"] for r in synthesis.data_template.to_json()["Resources"].values()}
    assert types <= STATEFUL_TYPES
    assert data.termination_protection is True
    assert data.dependencies == []
    assert data in service.dependencies


def test_no_stateful_resource_lives_in_the_stateless_stack(synthesis):
    types = {r["Type"] for r in synthesis.service_template.to_json()["Resources"].values()}
    assert not types & (STATEFUL_TYPES - {"AWS::CDK::Metadata"})
    synthesis.service_template.resource_count_is("AWS::DynamoDB::Table", 0)
