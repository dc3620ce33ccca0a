"""The personas' managed policies grant exactly the routes of ``socialcrm.personas``, judged with IAM's own
matching rules (a ``*`` in an execute-api ARN spans ``/``), and little else."""

from __future__ import annotations

from typing import Any

import pytest

from infra.personas import STAGE, iam_matches
from socialcrm.personas import CALLER_FUNCTIONS, PERSONAS, PUBLIC_ROUTES, resource_path, route_keys
from socialcrm.privacy.ledger import READS_PERSONAL_DATA

# Path parameter values a caller chooses: plain ids, and ids that spell another route's words.
SAMPLES = ("cus_0123456789abcdef01234567", "access-log", "export", "interactions", "x", "~YS9i")


def flatten(value: Any) -> str:
    """A resource as text: literal parts kept, references as ``<name>``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(flatten(part) for part in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    return str(value)


def statements(synthesis, persona: str) -> list[dict[str, Any]]:
    policy = synthesis.service.personas.policies[persona]
    resource = synthesis.service_template.to_json()["Resources"][synthesis.service_id(policy)]
    return resource["Properties"]["PolicyDocument"]["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def invoke_patterns(synthesis, persona: str) -> tuple[list[str], list[str]]:
    """(allowed, denied) execute-api patterns after the stage, checked to be this API's and stage's."""
    api = synthesis.service_id(synthesis.service.http.api)
    allowed, denied = [], []
    for statement in statements(synthesis, persona):
        if "execute-api:Invoke" not in as_list(statement["Action"]):
            continue
        assert as_list(statement["Action"]) == ["execute-api:Invoke"]
        for resource in as_list(statement["Resource"]):
            text = flatten(resource)
            prefix = f":<{api}>/{STAGE}/"
            assert prefix in text, text
            (allowed if statement["Effect"] == "Allow" else denied).append(text.split(prefix, 1)[1])
    return allowed, denied


def may_call(allowed: list[str], denied: list[str], request: str) -> bool:
    """IAM's decision: an explicit deny wins, else any allow."""
    return any(iam_matches(p, request) for p in allowed) and not any(iam_matches(p, request) for p in denied)


def requests_of(route: str) -> list[str]:
    return [resource_path(route).replace("*", sample) for sample in SAMPLES]


@pytest.mark.parametrize("persona", sorted(PERSONAS))
def test_each_personas_policy_grants_exactly_its_routes_under_iams_matching(synthesis, persona):
    allowed, denied = invoke_patterns(synthesis, persona)
    granted = {
        route
        for route in route_keys() | PUBLIC_ROUTES
        if any(may_call(allowed, denied, r) for r in requests_of(route))
    }
    # and every request to a granted route is allowed, whatever its parameters
    for route in PERSONAS[persona].routes:
        assert all(may_call(allowed, denied, request) for request in requests_of(route)), route
    assert granted == set(PERSONAS[persona].routes)


def test_every_iam_authorised_route_belongs_to_a_persona_and_no_webhook_does():
    assert set().union(*(p.routes for p in PERSONAS.values())) == route_keys()
    assert all(p.routes.isdisjoint(PUBLIC_ROUTES) for p in PERSONAS.values())


def test_the_report_reader_and_the_operator_reach_no_personal_data_and_the_compliance_officer_no_queue():
    for persona in ("report-reader", "operator"):
        assert PERSONAS[persona].routes.isdisjoint(READS_PERSONAL_DATA), persona
    assert not [r for r in PERSONAS["compliance-officer"].routes if r.split(" ", 1)[1].startswith("/cases")]
    assert not [r for r in PERSONAS["agent"].routes if "erasure" in r or "export" in r or "access-log" in r]


def _other_grants(synthesis, persona: str) -> set[tuple[str, str]]:
    out = set()
    for statement in statements(synthesis, persona):
        actions = as_list(statement["Action"])
        if actions == ["execute-api:Invoke"]:
            continue
        assert statement["Effect"] == "Allow"
        for action in actions:
            out.add((action, "*" if statement["Resource"] == "*" else "resource"))
    return out


def test_grants_outside_the_api_are_only_the_named_few(synthesis):
    assert {a for a, _ in _other_grants(synthesis, "agent")} == set()
    assert {a for a, _ in _other_grants(synthesis, "compliance-officer")} == set()
    assert {a for a, _ in _other_grants(synthesis, "report-reader")} == {"s3:GetObject", "s3:ListBucket"}
    operator = {a for a, _ in _other_grants(synthesis, "operator")}
    assert operator == {
        "events:DescribeArchive",
        "events:DescribeRule",
        "events:StartReplay",
        "events:DescribeReplay",
        "appconfig:CreateHostedConfigurationVersion",
        "appconfig:GetConfigurationProfile",
        "appconfig:StartDeployment",
        "appconfig:GetDeployment",
    }
    lead = {a for a, _ in _other_grants(synthesis, "team-lead")}
    assert {a for a in lead if a.startswith("dynamodb:")} == {
        "dynamodb:Scan",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
    }
    # no grant of any persona is on every resource
    for persona in PERSONAS:
        assert "*" not in {r for _, r in _other_grants(synthesis, persona)}, persona


def test_the_stack_outputs_each_personas_policy(synthesis):
    outputs = synthesis.service_template.to_json()["Outputs"]
    for persona in PERSONAS:
        name = "PersonaPolicy" + "".join(part.title() for part in persona.split("-"))
        assert name in outputs, name


def test_no_deployed_function_honours_the_local_stacks_development_principal(synthesis):
    # Given every function of the synthesized app
    functions = synthesis.service_template.find_resources("AWS::Lambda::Function")
    assert functions
    for logical_id, function in functions.items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        # Then none is told to read the X-Dev-* headers (socialcrm.api.callers)
        assert "SOCIALCRM_DEV_PRINCIPALS" not in variables, logical_id
    # And the functions that serve IAM-authorised routes may read their callers' tags, and only those
    readers = set()
    for policy in synthesis.service_template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if {"iam:ListRoleTags", "iam:ListUserTags"} & set(actions):
                readers |= {role["Ref"] for role in policy["Properties"]["Roles"]}
    expected = {synthesis.service_id(synthesis.service.functions[name].role) for name in CALLER_FUNCTIONS}
    assert readers == expected
