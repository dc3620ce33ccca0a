"""Stages: dev, staging and prod side by side in one account and region share no physical name."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.layer import LAYER_DIR_CONTEXT
from infra.stage import StageError, physical_names
from socialcrm.topology import archive_name, replay_consumers, rule_name
from tests.infra.conftest import cdk_context

pytestmark = pytest.mark.infra


def _names(template: Template) -> set[tuple[str, str, str]]:
    return physical_names(template.to_json())


def _synth(
    stage: str | None, layer: Any, out: Any, **context: str
) -> tuple[Any, Any, set[tuple[str, str, str]]]:
    extra = {"stage": stage} if stage is not None else {}
    app = App(context={**cdk_context(), LAYER_DIR_CONTEXT: str(layer), **extra, **context}, outdir=str(out))
    data, service = build_app(app)
    return data, service, _names(Template.from_stack(data)) | _names(Template.from_stack(service))


def test_two_stages_share_no_physical_name(stub_layer_dir, tmp_path):
    # Given the app synthesised for the default stage and for prod
    dev_data, dev_service, dev = _synth(None, stub_layer_dir, tmp_path / "dev")
    prod_data, prod_service, prod = _synth("prod", stub_layer_dir, tmp_path / "prod")
    # Then the stacks are the stage's own
    assert (dev_data.stack_name, dev_service.stack_name) == ("socialcrm-dev-data", "socialcrm-dev-service")
    assert (prod_data.stack_name, prod_service.stack_name) == (
        "socialcrm-prod-data",
        "socialcrm-prod-service",
    )
    # And they name things (the bus, the secret, the schedule group, the dashboard, the rules application…)
    kinds = {kind for kind, _, _ in prod}
    assert {"AWS::Events::EventBus", "AWS::Scheduler::ScheduleGroup", "AWS::CloudWatch::Dashboard"} <= kinds
    assert {"AWS::AppConfig::Application", "AWS::SecretsManager::Secret"} <= kinds
    # And no name of one stage is a name of the other
    assert dev & prod == set()
    # And their metrics never mix
    assert json.dumps(Template.from_stack(prod_service).to_json()).count('"socialcrm/prod"') > 0
    # And `socialcrm events replay --stage prod` finds the archive and each consumer's rule by name
    assert ("AWS::Events::Archive", "ArchiveName", archive_name("socialcrm-prod")) in prod
    rules = {value for kind, prop, value in prod if kind == "AWS::Events::Rule" and prop == "Name"}
    assert {rule_name("socialcrm-prod", key) for key in replay_consumers()} <= rules


@pytest.mark.parametrize(
    ("context", "named"),
    [
        ({"stage": "Prod!"}, "stage='Prod!'"),
        ({"stage": ""}, "stage=''"),
        ({"account": "12", "region": "eu-west-1"}, "account='12'"),
        ({"alarm_email": "on-call"}, "alarm_email='on-call'"),
        ({"watched_platforms": "meta,evil"}, "watched_platforms='meta,evil'"),
        ({"silent_after_hours": "0"}, "silent_after_hours='0'"),
        ({"alarm_topic_arn": "arn:aws:sqs:eu-west-1:123456789012:q"}, "alarm_topic_arn="),
        (
            {"youtube_channels": "UCupvZG-5ko_eiXAupbDfxWw,@acme"},
            "youtube_channels='UCupvZG-5ko_eiXAupbDfxWw,@acme'",
        ),
    ],
)
def test_a_bad_context_value_fails_the_synth_naming_it(stub_layer_dir, tmp_path, context, named):
    app = App(
        context={**cdk_context(), LAYER_DIR_CONTEXT: str(stub_layer_dir), **context}, outdir=str(tmp_path)
    )
    with pytest.raises(StageError, match=named.replace("(", r"\(")):
        build_app(app)


def test_account_and_region_from_context_pin_the_stacks(stub_layer_dir, tmp_path):
    data, service, _ = _synth(
        "staging", stub_layer_dir, tmp_path, account="123456789012", region="eu-central-1"
    )
    assert (data.account, data.region, service.region) == ("123456789012", "eu-central-1", "eu-central-1")
