"""Privacy in the CDK app: ErasureRequested reaches the erase consumer's own queue; erasure and export
work through indexes and keys (no Scan); the privacy API never touches a personal-data store."""

from __future__ import annotations

import pytest

from socialcrm import topology
from socialcrm.privacy.stores import PERSONAL_DATA_TABLES
from tests.infra.test_cdk_iam import granted

pytestmark = pytest.mark.infra


def test_erasure_requests_on_the_bus_reach_the_erase_consumers_own_queue(synthesis):
    # Given the erase function and the queue that feeds it
    queue = synthesis.service.consumers.queues[topology.FUNCTIONS["erase"].queue]
    queue_arn = {"Fn::GetAtt": [synthesis.service_id(queue.queue), "Arn"]}
    # When the bus rules are read from the template
    rules = synthesis.service_template.find_resources("AWS::Events::Rule").values()
    feeding = [
        rule["Properties"]
        for rule in rules
        if any(target["Arn"] == queue_arn for target in rule["Properties"]["Targets"])
    ]
    # Then exactly one rule feeds it: ErasureRequested from socialcrm's own functions, on the socialcrm bus
    assert len(feeding) == 1
    pattern = feeding[0]["EventPattern"]
    assert pattern["detail-type"] == ["ErasureRequested"]
    assert pattern["source"] == [{"prefix": topology.EVENT_SOURCE_PREFIX}]
    assert feeding[0]["EventBusName"] == synthesis.in_service(synthesis.data.bus.event_bus_name)


@pytest.mark.parametrize("function_key", ["erase", "api", "privacy", "enrich"])
def test_no_privacy_path_can_scan_a_table(synthesis, function_key):
    # (the api lists the YouTube subscriptions for GET /health/platforms: the brand's configuration, no one's data)
    scans = [pair for pair in granted(synthesis, function_key) if pair[0] == "dynamodb:Scan"]
    assert [resource for _scan, resource in scans if resource != "table:subscriptions"] == []
    assert "subscriptions" not in PERSONAL_DATA_TABLES


def test_the_privacy_api_cannot_read_or_write_personal_data(synthesis):
    personal = {f"table:{key}" for key in PERSONAL_DATA_TABLES}
    grants = {(action, r) for action, r in granted(synthesis, "privacy") if r.split("/")[0] in personal}
    # but a customer's identities (pseudonymous subject ids), which an erasure by customer names
    assert grants == {("dynamodb:Query", "table:customers")}


def test_the_erase_consumer_reaches_every_personal_data_store_and_the_export_reads_them(synthesis):
    for function_key, verb in (("erase", "dynamodb:BatchWriteItem"), ("api", "dynamodb:Query")):
        tables = {resource.split("/")[0] for _action, resource in granted(synthesis, function_key)}
        assert {f"table:{key}" for key in PERSONAL_DATA_TABLES} <= tables, function_key
    deletes = {
        resource
        for action, resource in granted(synthesis, "erase")
        if action in {"dynamodb:BatchWriteItem", "dynamodb:DeleteItem"}
    }
    assert deletes == {f"table:{key}" for key in PERSONAL_DATA_TABLES}
