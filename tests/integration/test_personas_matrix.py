"""Who may do what, through the handlers: every IAM-authorised route by persona, the callers read from
their roles' tags in IAM (moto), as the functions read them in AWS."""

from __future__ import annotations

from collections import Counter

import pytest

from socialcrm.personas import PERSONAS, personas_allowed
from tests.support.matrix import iam_callers, run_matrix
from tests.support.privacy import allow_sending, privacy_world


@pytest.fixture
def world(monkeypatch, dev_secrets, tmp_path):
    with privacy_world(monkeypatch, dev_secrets) as built, iam_callers(monkeypatch):
        allow_sending(built, monkeypatch, tmp_path)
        yield built
        built.handlers["api"].cases_runtime.cache_clear()


def test_every_persona_gets_exactly_its_routes_and_a_403_naming_who_may_on_the_others(world):
    # Given a role per persona, tagged in IAM, and a valid request for every IAM-authorised route
    # When each persona sends each request
    answers = run_matrix(world)
    # Then no allowed persona is refused or fails, and every other persona is refused
    assert [a for a in answers if a.violation] == []
    assert len(answers) >= len(PERSONAS) * 25
    # And a refusal names the personas that may and the route, and no one's identity
    refused = [a for a in answers if not a.allowed]
    assert refused and all(a.error == "forbidden" for a in refused)
    for answer in refused:
        assert answer.message == f"{' or '.join(personas_allowed(answer.route))} only: {answer.route}."
        assert "someone" not in answer.message and "matrix" not in answer.message
    # And the allowed requests mostly worked outright (a few depend on state: a second unlink, a retry)
    worked = Counter(a.status // 100 for a in answers if a.allowed)
    assert worked[2] >= 0.8 * sum(worked.values()), worked


def test_an_agent_filing_an_erasure_is_told_it_is_for_the_compliance_officer(world):
    # Given the matrix's answers
    answers = {(a.route, a.persona): a for a in run_matrix(world)}
    # When the agent files an erasure, and the compliance officer opens a work queue
    erasure = answers[("POST /erasure-requests", "agent")]
    queue = answers[("GET /cases", "compliance-officer")]
    # Then each is a 403 that says who may
    assert (erasure.status, erasure.message) == (403, "compliance-officer only: POST /erasure-requests.")
    assert (queue.status, queue.message) == (403, "agent or team-lead only: GET /cases.")
    # And the report reader and the operator reach nothing of a person's
    for persona in ("report-reader", "operator"):
        reached = {a.route for a in answers.values() if a.persona == persona and a.status != 403}
        assert reached == set(PERSONAS[persona].routes), persona
