"""The websub function: hourly, with a role the scheduler can only use to invoke it, the channels from
context and the API's YouTube webhook as its callback."""

from __future__ import annotations

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.layer import LAYER_DIR_CONTEXT
from tests.infra.conftest import cdk_context

pytestmark = pytest.mark.infra


def test_the_websub_function_runs_hourly_follows_the_configured_channels_and_calls_back_the_webhook(
    synthesis, stub_layer_dir, tmp_path
):
    service = synthesis.service_template
    websub_id = synthesis.service_id(synthesis.service.functions["websub"].fn)
    # Given the schedule that invokes it
    (schedule,) = [
        s
        for s in service.find_resources("AWS::Scheduler::Schedule").values()
        if s["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [websub_id, "Arn"]}
    ]
    # Then it runs every hour, and its role may invoke that function and nothing else
    assert schedule["Properties"]["ScheduleExpression"] == "rate(1 hour)"
    role_id = schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    role = service.find_resources("AWS::IAM::Role")[role_id]["Properties"]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    assert statements == [
        {"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": {"Fn::GetAtt": [websub_id, "Arn"]}}
    ]
    # And the hub calls back the API's YouTube webhook
    env = service.find_resources("AWS::Lambda::Function")[websub_id]["Properties"]["Environment"]["Variables"]
    callback = env["WEBSUB_CALLBACK_URL"]["Fn::Join"][1]
    assert callback[-1] == "/webhooks/youtube" and env["YOUTUBE_CHANNELS"] == ""
    # And -c youtube_channels names the channels it follows
    app = App(
        context={
            **cdk_context(),
            LAYER_DIR_CONTEXT: str(stub_layer_dir),
            "youtube_channels": "UCupvZG-5ko_eiXAupbDfxWw UC0123456789abcdefghijkl",
        },
        outdir=str(tmp_path),
    )
    _, other = build_app(app)
    functions = Template.from_stack(other).find_resources("AWS::Lambda::Function")
    channels = {
        f["Properties"]["Environment"]["Variables"].get("YOUTUBE_CHANNELS") for f in functions.values()
    }
    assert "UCupvZG-5ko_eiXAupbDfxWw,UC0123456789abcdefghijkl" in channels
