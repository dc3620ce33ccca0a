"""Where the route function reads its rules: a file locally, AppConfig in AWS; a bad edit never runs."""

from __future__ import annotations

import copy
import os

import pytest
import yaml

from socialcrm.routing.rules import RulesError
from socialcrm.routing.runtime import rules_source
from socialcrm.routing.source import REPO_RULES_FILE, RulesSource
from socialcrm.routing.store import MODELS
from socialcrm.settings import RouteSettings
from socialcrm.topology import TABLES

DOCUMENT = yaml.safe_load(REPO_RULES_FILE.read_text(encoding="utf-8"))


class Fetch:
    """Stands in for Powertools' get_app_config: returns whatever document is current."""

    def __init__(self, document) -> None:
        self.document, self.calls = document, 0

    def __call__(self):
        self.calls += 1
        return self.document


def test_rules_are_compiled_once_per_version_of_the_document():
    fetch = Fetch(DOCUMENT)
    source = RulesSource(fetch, origin="AppConfig test")
    first, again = source(), source()
    assert first is again and fetch.calls == 2
    # When an operator deploys a new version, the next read compiles it
    changed = copy.deepcopy(DOCUMENT)
    changed["rules"] = changed["rules"][:2]
    fetch.document = changed
    assert len(source()) == 2


def test_an_invalid_edit_at_run_time_is_refused_and_the_last_valid_rules_stay_in_force():
    fetch = Fetch(DOCUMENT)
    source = RulesSource(fetch, origin="AppConfig test")
    valid = source()
    broken = copy.deepcopy(DOCUMENT)
    broken["rules"][0]["then"]["teams"] = ["nobody"]
    fetch.document = broken
    assert source() is valid


def test_with_no_valid_rules_yet_an_invalid_document_fails_loudly():
    broken = copy.deepcopy(DOCUMENT)
    broken["service_levels"]["P1"]["first_response"] = 0
    with pytest.raises(RulesError, match=r"service_levels\.P1\.first_response"):
        RulesSource(Fetch(broken), origin="AppConfig test")()


def test_a_rules_file_is_read_again_when_it_changes(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(REPO_RULES_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    source = RulesSource.from_file(path)
    assert len(source()) == len(DOCUMENT["rules"])
    smaller = copy.deepcopy(DOCUMENT)
    smaller["rules"] = smaller["rules"][:1]
    path.write_text(yaml.safe_dump(smaller, allow_unicode=True), encoding="utf-8")
    os.utime(path, ns=(1, 10**18))  # a different modification time, whatever the clock's resolution
    assert len(source()) == 1


def test_settings_choose_appconfig_when_its_three_ids_are_given_and_the_repository_file_otherwise():
    base = {
        "INTERACTIONS_TABLE": "i",
        "CASES_TABLE": "c",
        "COUNTERS_TABLE": "n",
        "EVENT_BUS_NAME": "b",
        "SUPPRESSIONS_TABLE": "s",
        "OUTBOUND_QUEUE_URL": "q",
        "CUSTOMERS_TABLE": "u",
        "SOCIALCRM_SECRETS_FILE": "dev.json",
    }
    local = rules_source(RouteSettings.from_env(base))
    assert local.origin == str(REPO_RULES_FILE)
    deployed = rules_source(
        RouteSettings.from_env(
            base
            | {
                "RULES_APPCONFIG_APPLICATION": "app1",
                "RULES_APPCONFIG_ENVIRONMENT": "env1",
                "RULES_APPCONFIG_PROFILE": "prof1",
            }
        )
    )
    assert deployed.origin == "AppConfig app1/env1/prof1"
    with pytest.raises(Exception, match="RULES_APPCONFIG"):
        RouteSettings.from_env(base | {"RULES_APPCONFIG_APPLICATION": "app1"})


def _keys(key_schema) -> tuple[str | None, str | None]:
    by_type = {entry["KeyType"]: entry["AttributeName"] for entry in key_schema}
    return by_type.get("HASH"), by_type.get("RANGE")


def test_routing_models_keys_indexes_and_ttl_match_the_topology():
    # Given the PynamoDB models of the cases and counters tables, and the tables topology declares
    for key, model in MODELS.items():
        spec = TABLES[key]
        schema = model._get_schema()
        # Then the keys, the indexes and the TTL attribute are the same (so CDK and moto build these tables)
        assert _keys(schema["key_schema"]) == (
            spec.partition_key.name,
            spec.sort_key.name if spec.sort_key else None,
        )
        indexes = {gsi["index_name"]: _keys(gsi["key_schema"]) for gsi in schema["global_secondary_indexes"]}
        assert indexes == {
            i.name: (i.partition_key.name, i.sort_key.name if i.sort_key else None) for i in spec.indexes
        }, key
        assert type(model.get_attributes()[spec.ttl_attribute]).__name__ == "TTLAttribute", key
