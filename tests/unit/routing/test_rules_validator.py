"""The function AppConfig asks before deploying a new version of the routing rules."""

from __future__ import annotations

import base64
import json

import pytest
import yaml
from rules_validator.handler import lambda_handler

from socialcrm.routing.rules import RulesError
from socialcrm.routing.source import REPO_RULES_FILE
from tests.support.apigw import LambdaContext


def appconfig_event(content: bytes, version: str = "7") -> dict:
    """What AppConfig sends a Lambda validator (the document base64-encoded)."""
    return {
        "applicationId": "abc1234",
        "configurationProfileId": "def5678",
        "configurationVersion": version,
        "content": base64.b64encode(content).decode(),
        "uri": "hosted",
    }


def shipped() -> dict:
    return yaml.safe_load(REPO_RULES_FILE.read_text(encoding="utf-8"))


def test_the_shipped_rules_as_appconfig_holds_them_are_accepted():
    content = json.dumps(shipped(), ensure_ascii=False, default=str).encode()
    answer = lambda_handler(appconfig_event(content), LambdaContext())
    assert answer == {"valid": True, "rules": len(shipped()["rules"])}


def test_a_version_with_an_unknown_team_is_refused_naming_the_rule_and_field():
    # Given an operator's new version with a typo in a team of the purchase-question rule
    document = shipped()
    purchase = next(r for r in document["rules"] if r["id"] == "purchase-question")
    purchase["then"]["teams"] = ["sales", "marketting"]
    # When AppConfig asks, Then the version is refused with a message that says where
    with pytest.raises(RulesError) as refused:
        lambda_handler(appconfig_event(json.dumps(document, default=str).encode(), "8"), LambdaContext())
    assert "version 8" in refused.value.message
    assert "purchase-question" in refused.value.message and "marketting" in refused.value.message


@pytest.mark.parametrize("content", [b"teams: [support]\n", b"{not json", b"\xff\xfe"])
def test_a_version_that_is_not_a_json_document_is_refused(content):
    with pytest.raises(RulesError) as refused:
        lambda_handler(appconfig_event(content), LambdaContext())
    assert "routing rules version 7" in refused.value.message


def test_content_that_is_not_base64_is_refused():
    event = {**appconfig_event(b"{}"), "content": "%%% not base64"}
    with pytest.raises(RulesError, match="not a JSON document"):
        lambda_handler(event, LambdaContext())


def test_a_version_adding_a_team_the_deployment_has_no_topic_for_is_refused(monkeypatch):
    # Given a stack deployed with topics for the shipped teams
    topics = {team: f"arn:aws:sns:eu-west-1:123456789012:{team}" for team in shipped()["teams"]}
    monkeypatch.setenv("TEAM_TOPICS", json.dumps(topics))
    document = shipped()
    content = json.dumps(document, default=str).encode()
    assert lambda_handler(appconfig_event(content), LambdaContext())["valid"] is True

    # When an operator's version adds a team (valid on its own)
    document["teams"].append("legal")
    # Then it is refused until a deployment creates the team's topic
    with pytest.raises(RulesError) as refused:
        lambda_handler(appconfig_event(json.dumps(document, default=str).encode()), LambdaContext())
    assert (
        "'legal' has no notification topic" in refused.value.message
        and "make deploy" in refused.value.message
    )
