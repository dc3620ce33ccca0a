"""Every route by persona through the handlers, as the personas' tagged roles in IAM (moto).

``run_matrix`` seeds a person with a case and a customer, tags one role per persona in IAM (the
functions read the tags with ``iam:ListRoleTags``, as in AWS), then sends each IAM-authorised route a
valid request as each persona. An answer is a violation when an allowed persona is refused (401, 403) or
fails (5xx), or a persona that is not allowed gets anything but a 403. The integration test asserts there
are none; ``bench/personas.py`` reports the count as ``persona_route_matrix_violations``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from socialcrm.api import callers
from socialcrm.api.path_ids import encode_path_id
from socialcrm.personas import PERSONAS, route_keys, route_of
from tests.support.principals import ACCOUNT, TEST_TEAMS
from tests.support.privacy import Person, World

ANA = Person("x", "ana-7788", "ana_on_x", "Ana Q.")
CARL = Person("x", "carl-5150", "carl_on_x", "Carl M.")
EARLIER = datetime.now(tz=UTC) - timedelta(hours=3)


@dataclass(frozen=True)
class Answer:
    route: str
    persona: str
    allowed: bool
    status: int
    error: str | None
    message: str = ""

    @property
    def violation(self) -> bool:
        if self.allowed:
            return self.status in (401, 403) or self.status >= 500
        return self.status != 403


def matrix_role(persona: str) -> str:
    return f"socialcrm-matrix-{persona}"


def tag_roles() -> dict[str, str]:
    """One IAM role per persona, tagged as an administrator would; their assumed-role ARNs by persona."""
    iam = boto3.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}],
    }
    arns = {}
    for name in PERSONAS:
        iam.create_role(RoleName=matrix_role(name), AssumeRolePolicyDocument=json.dumps(trust))
        tags = [{"Key": callers.PERSONA_TAG, "Value": name}]
        if PERSONAS[name].works_cases:
            tags.append({"Key": callers.TEAMS_TAG, "Value": TEST_TEAMS})
        iam.tag_role(RoleName=matrix_role(name), Tags=tags)
        arns[name] = f"arn:aws:sts::{ACCOUNT}:assumed-role/{matrix_role(name)}/someone"
    return arns


@contextmanager
def iam_callers(monkeypatch: Any) -> Iterator[None]:
    """The functions resolve callers from IAM's tags (moto), not the tests' static ones."""
    monkeypatch.setattr(
        callers, "directory", lambda: callers.Callers(callers.IamTags(client=boto3.client("iam")))
    )
    yield


def _requests(world: World) -> list[tuple[str, str, Any]]:
    """One valid request per IAM-authorised route (method, path with query, body), on seeded data."""
    ana = f"x/{encode_path_id(ANA.user_id)}"
    carl = f"x/{encode_path_id(CARL.user_id)}"
    item = world.store(ANA, 0, "where is my refund", EARLIER)
    world.store(CARL, 0, "hello", EARLIER)
    case_id = item.routing.case_id if item.routing else None
    if case_id is None:
        from tests.integration.test_erasure import case_of_interaction

        case_id = case_of_interaction(world, item)
    status, customer = world.call(
        "api", "POST", "/customers", {"identities": [ANA.ref()], "reason": "T-1"}, principal=_as("team-lead")
    )
    assert status == 201, customer
    cid = customer["customer_id"]
    status, erasure = world.call(
        "privacy",
        "POST",
        "/erasure-requests",
        {"subjects": [CARL.ref()], "reference": "T-0"},
        principal=_as("compliance-officer"),
    )
    assert status == 202, erasure
    request_id = erasure["request_id"]
    today = datetime.now(tz=UTC).date().isoformat()
    return [
        ("GET", f"/interactions/{encode_path_id(item.interaction_id)}", None),
        ("GET", f"/subjects/{ana}/interactions", None),
        ("GET", f"/subjects/{ana}/export", None),
        ("GET", f"/erasure-requests/{request_id}", None),
        ("POST", f"/erasure-requests/{request_id}/retry", None),
        ("GET", f"/subjects/{ana}/objection", None),
        ("PUT", f"/subjects/{ana}/objection", {"reference": "T-2"}),
        ("DELETE", f"/subjects/{ana}/objection", None),
        ("GET", f"/reports/summary?from={today}&to={today}", None),
        ("GET", "/cases", None),
        ("GET", f"/cases/{case_id}", None),
        ("PATCH", f"/cases/{case_id}", {"status": "pending"}),
        ("POST", f"/cases/{case_id}/replies", {"text": "On its way"}),
        ("GET", f"/cases/{case_id}/replies", None),
        ("GET", f"/cases/{case_id}/replies/r_{'0' * 32}", None),
        ("GET", "/health/platforms", None),
        ("POST", "/customers", {"identities": [ANA.ref()], "reason": "T-3"}),
        ("GET", f"/customers/{cid}", None),
        ("GET", f"/customers/{cid}/interactions", None),
        ("GET", f"/customers/{cid}/export", None),
        ("POST", f"/customers/{cid}/identities", {**ANA.ref(), "reason": "T-4"}),
        ("DELETE", f"/customers/{cid}/identities/{ana}?reason=T-5", None),
        ("GET", f"/subjects/{ana}/access-log", None),
        ("GET", f"/customers/{cid}/access-log", None),
        ("POST", "/erasure-requests", {"subjects": [CARL.ref()], "reference": "T-6"}),
        ("GET", f"/subjects/{carl}/export", None),
    ]


def _as(persona: str) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{matrix_role(persona)}/setup"


def run_matrix(world: World) -> list[Answer]:
    """Every IAM-authorised route by persona, through the handlers; the answers (see the module docstring)."""
    arns = tag_roles()
    requests = _requests(world)
    covered = {route_of(method, path.split("?", 1)[0]) for method, path, _ in requests}
    missing = route_keys() - covered
    if missing:
        raise AssertionError(f"the matrix has no request for {sorted(missing)}")
    answers = []
    for method, path, body in requests:
        route = route_of(method, path.split("?", 1)[0])
        assert route is not None
        function = "privacy" if _served_by_privacy(route) else "api"
        for persona, arn in arns.items():
            status, answer = world.call(function, method, path, body, principal=arn)
            error = answer.get("error") if isinstance(answer, dict) else None
            message = str(answer.get("message", "")) if isinstance(answer, dict) else ""
            allowed = route in PERSONAS[persona].routes
            answers.append(Answer(route, persona, allowed, status, error, message))
    return answers


def _served_by_privacy(route: str) -> bool:
    from socialcrm.topology import ROUTES

    return any(f"{m} {p}" == route and fn == "privacy" for m, p, fn, _ in ROUTES)
