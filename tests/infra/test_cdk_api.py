"""The HTTP API: every topology route, the right authorisation, throttled and access-logged."""

from __future__ import annotations

import json

import pytest

from infra.http_api import THROTTLE_BURST_LIMIT, THROTTLE_RATE_LIMIT
from socialcrm import topology

pytestmark = pytest.mark.infra


def _routes(synthesis) -> dict[str, dict]:
    routes = synthesis.service_template.find_resources("AWS::ApiGatewayV2::Route")
    return {route["Properties"]["RouteKey"]: route["Properties"] for route in routes.values()}


def _integrated_function(synthesis, route: dict) -> str:
    """The topology key of the function a route's integration invokes."""
    integration_id = route["Target"]["Fn::Join"][1][1]["Ref"]
    integration = synthesis.service_template.to_json()["Resources"][integration_id]["Properties"]
    function_id = integration["IntegrationUri"]["Fn::GetAtt"][0]
    by_id = {synthesis.service_id(f.fn): key for key, f in synthesis.service.functions.items()}
    return by_id[function_id]


def test_every_topology_route_exists_with_its_function_and_authorisation(synthesis):
    # Given the routes declared in topology.ROUTES
    routes = _routes(synthesis)
    # Then the API has exactly those routes, each on its function, webhooks open, CRM routes SigV4
    assert set(routes) == {f"{method} {path}" for method, path, _fn, _iam in topology.ROUTES}
    for method, path, function_key, iam_authorised in topology.ROUTES:
        route = routes[f"{method} {path}"]
        assert route["AuthorizationType"] == ("AWS_IAM" if iam_authorised else "NONE"), path
        assert _integrated_function(synthesis, route) == function_key, path


def test_webhook_routes_are_open_and_crm_routes_require_iam(synthesis):
    # Given the synthesised routes
    routes = _routes(synthesis)
    # Then platforms reach webhooks without AWS credentials, and nobody reaches CRM data without them
    webhooks = {key: r for key, r in routes.items() if " /webhooks/" in key}
    crm = {key: r for key, r in routes.items() if " /webhooks/" not in key}
    assert webhooks and crm
    assert {r["AuthorizationType"] for r in webhooks.values()} == {"NONE"}
    assert {r["AuthorizationType"] for r in crm.values()} == {"AWS_IAM"}


def test_default_stage_is_throttled_and_auto_deployed(synthesis):
    synthesis.service_template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "DefaultRouteSettings": {
                "ThrottlingRateLimit": THROTTLE_RATE_LIMIT,
                "ThrottlingBurstLimit": THROTTLE_BURST_LIMIT,
            },
        },
    )
    assert (THROTTLE_RATE_LIMIT, THROTTLE_BURST_LIMIT) == (500, 1000)


def test_access_logs_are_json_metadata_without_body_headers_or_query(synthesis):
    # Given the stage's access log settings
    (stage,) = synthesis.service_template.find_resources("AWS::ApiGatewayV2::Stage").values()
    settings = stage["Properties"]["AccessLogSettings"]
    # Then they go to the construct's log group, which expires them
    log_group_id = synthesis.service_id(synthesis.service.http.access_logs)
    assert settings["DestinationArn"] == {"Fn::GetAtt": [log_group_id, "Arn"]}
    log_group = synthesis.service_template.to_json()["Resources"][log_group_id]["Properties"]
    assert log_group["RetentionInDays"] > 0
    # And each line is a JSON object of request metadata only
    fields = json.loads(settings["Format"])
    assert {"requestId", "ip", "routeKey", "status", "latency", "integrationError"} <= set(fields)
    for variable in fields.values():
        assert variable.startswith("$context.")
        assert not any(word in variable.lower() for word in ("body", "header", "querystring", "authorizer"))


def test_api_url_is_a_stack_output(synthesis):
    outputs = synthesis.service_template.find_outputs("*")
    urls = [o for key, o in outputs.items() if key.startswith("HttpUrl")]
    assert len(urls) == 1
    assert "execute-api" in json.dumps(urls[0]["Value"])
