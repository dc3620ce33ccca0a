"""The callers of the tests' API requests: a role per persona, tagged as an administrator would tag it.

``http_event`` signs each request as the persona the route allows that may do the most (``principal_for``), a role whose
teams are every team the tests' rules documents name; a test of who may do what names its principal.
The tags are served from memory here (``StaticTags``); ``tests/unit/test_callers.py`` and
``tests/support/matrix.py`` read them from IAM (moto) as the functions do.
"""

from __future__ import annotations

from collections.abc import Mapping

from socialcrm.api.callers import PERSONA_TAG, TEAMS_TAG, entity_of
from socialcrm.personas import PERSONAS, most_able, route_of

ACCOUNT = "123456789012"
# Every team the tests' rules documents and cases name.
TEST_TEAMS = "support pr sales product marketing billing legal ops"


def role_arn(persona: str, session: str = "tester") -> str:
    """The assumed-role ARN of a test role of ``persona`` (its tags: that persona and ``TEST_TEAMS``)."""
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/socialcrm-test-{persona}/{session}"


# Roles per persona, and the IAM users some tests name.
TEST_TAGS: dict[tuple[str, str], dict[str, str]] = {
    **{("role", f"socialcrm-test-{name}"): {PERSONA_TAG: name, TEAMS_TAG: TEST_TEAMS} for name in PERSONAS},
    ("user", "dpo"): {PERSONA_TAG: "compliance-officer"},
    ("user", "agent"): {PERSONA_TAG: "agent", TEAMS_TAG: TEST_TEAMS},
    ("role", "agent"): {PERSONA_TAG: "agent", TEAMS_TAG: TEST_TEAMS},
}


def tagged_role(name: str, persona: str, teams: str = "") -> str:
    """A test role ``name`` tagged with ``persona`` and ``teams`` (replacing its earlier tags); its
    assumed-role ARN."""
    TEST_TAGS[("role", name)] = {PERSONA_TAG: persona, **({TEAMS_TAG: teams} if teams else {})}
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/tester"


class StaticTags:
    """``socialcrm.api.callers.TagSource`` over ``tags`` (default: ``TEST_TAGS``)."""

    def __init__(self, tags: Mapping[tuple[str, str], Mapping[str, str]] | None = None) -> None:
        self._tags = TEST_TAGS if tags is None else tags

    def tags(self, principal_arn: str) -> Mapping[str, str]:
        entity = entity_of(principal_arn)
        return dict(self._tags.get(entity, {})) if entity else {}


def principal_for(method: str, path: str) -> str | None:
    """A role of the most able persona the request's route allows (None for a webhook or no route)."""
    route = route_of(method, path)
    persona = most_able(route) if route else None
    return role_arn(persona) if persona else None
