"""cdk-nag's AwsSolutions checks: no unsuppressed error, every suppression explained."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aws_cdk import Token
from aws_cdk.assertions import Annotations, Match

from socialcrm.personas import resource_path
from socialcrm.topology import ROUTES

pytestmark = pytest.mark.infra


def _stacks(synthesis):
    return {"data": synthesis.data, "service": synthesis.service}


def _templates(synthesis):
    return {"data": synthesis.data_template, "service": synthesis.service_template}


@pytest.mark.parametrize("stack_name", ["data", "service"])
def test_no_unsuppressed_aws_solutions_error(synthesis, stack_name):
    # Given the synthesised stack with cdk-nag applied by the app
    stack = _stacks(synthesis)[stack_name]
    # When its AwsSolutions error annotations are collected
    errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    # Then there are none
    assert [f"{e.id}: {e.entry.data}" for e in errors] == []


@pytest.mark.parametrize("stack_name", ["data", "service"])
def test_no_aws_solutions_warning_either(synthesis, stack_name):
    stack = _stacks(synthesis)[stack_name]
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [f"{w.id}: {w.entry.data}" for w in warnings] == []


def test_every_nag_suppression_carries_a_specific_reason(synthesis):
    # Given every suppression recorded in the templates' metadata
    suppressions = [
        rule
        for template in _templates(synthesis).values()
        for resource in template.to_json()["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert suppressions, "the app is expected to suppress a few findings (X-Ray, Comprehend, webhooks)"
    for rule in suppressions:
        # Then each names a rule and says why, in a sentence, not a placeholder
        assert rule["id"].startswith("AwsSolutions-"), rule
        assert len(rule["reason"]) >= 60, rule


# "Resource::*" (services without resource-level permissions), or the children of one named resource:
# "<prefix>/*" or "<prefix>:*" whose prefix holds no wildcard (a bucket prefix, a function's versions,
# the schedules of one schedule group), or exactly one route of the stack's API, each path parameter a *.
_SCOPED_RESOURCE = re.compile(r"^Resource::(\*|[^*]+[/:]\*)$")
# A route of the stack's own API, its path parameters as * (a persona's policy, infra/personas.py).
_API_ROUTE = re.compile(
    r"^Resource::arn:(?:<AWS::Partition>|[a-z-]+):execute-api:(?:<AWS::Region>|[a-z0-9-]+):"
    r"(?:<AWS::AccountId>|\d{12}):<[A-Za-z0-9]+>/\$default/(.+)$"
)
_ROUTE_PATTERNS = {resource_path(f"{method} {path}") for method, path, _fn, _iam in ROUTES}


def _scoped(excused: str) -> bool:
    route = _API_ROUTE.match(excused)
    return route.group(1) in _ROUTE_PATTERNS if route else _SCOPED_RESOURCE.match(excused) is not None


def test_wildcard_suppressions_never_excuse_an_action_and_only_scoped_resources(synthesis):
    # Given the IAM5 (wildcard) suppressions
    for template in _templates(synthesis).values():
        for resource in template.to_json()["Resources"].values():
            for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
                if rule["id"] == "AwsSolutions-IAM5":
                    # Then each names what it excuses: never a wildcard action, never an open ARN pattern
                    assert rule.get("applies_to"), rule
                    for excused in rule["applies_to"]:
                        assert _scoped(excused), rule


def test_stacks_are_environment_agnostic_and_need_no_lookup(synthesis):
    # Given the app's stacks
    assembly = synthesis.app.synth()
    for stack in _stacks(synthesis).values():
        # Then no account or region is baked in: `cdk synth` needs no AWS credentials
        assert Token.is_unresolved(stack.account) and Token.is_unresolved(stack.region)
    # And no context lookup is pending (a lookup would call AWS during synth)
    manifest = json.loads((Path(assembly.directory) / "manifest.json").read_text(encoding="utf-8"))
    assert manifest.get("missing", []) == []
