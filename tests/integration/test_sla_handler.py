"""The sla function under moto: a firing schedule breaches an unanswered case and publishes SlaBreached."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
from moto import mock_aws

from socialcrm.routing.case import Case, case_id_for
from socialcrm.routing.store import CaseRepository
from socialcrm.schemas import SCHEMA_DIR
from tests.support.apigw import LambdaContext
from tests.support.pipeline import capture_bus_events, drain
from tests.support.routing import routing_environment, team_queue

NOW = datetime.now(tz=UTC).replace(microsecond=0)


@pytest.fixture
def sla(monkeypatch):
    with mock_aws():
        for name, value in routing_environment().items():
            monkeypatch.setenv(name, value)
        events_url = capture_bus_events(["SlaBreached", "CaseUpdated"])
        import sla.handler as handler

        handler.runtime.cache_clear()
        handler.runtime()  # binds the cases table
        yield handler, events_url
        handler.runtime.cache_clear()


def open_case(n: int, **update) -> Case:
    case = Case(
        case_id=case_id_for(f"x:{n}"),
        interaction_id=f"x:{n}",
        subject_id="c" * 64,
        platform="x",
        kind="comment",
        teams=["support", "product"],
        priority="P2",
        sla_minutes=60,
        opened_at=NOW - timedelta(minutes=60),
        sla_due_at=NOW,
        sla_warning_at=NOW - timedelta(minutes=12),
        updated_at=NOW - timedelta(minutes=60),
    ).model_copy(update=update)
    assert CaseRepository().open(case)
    return case


def test_the_due_schedule_marks_an_unanswered_case_breached_and_publishes_it(sla):
    handler, events_url = sla
    case = open_case(1)
    # When the case's due schedule invokes the function
    result = handler.lambda_handler({"case_id": case.case_id, "check": "due"}, LambdaContext())
    # Then the case is breached, its SLA not met
    assert result["result"] == "breached"
    stored = CaseRepository().get(case.case_id)
    assert stored.breached_at is not None and stored.sla_met is False
    # And SlaBreached and CaseUpdated are on the bus, valid, from the sla function
    events = {e["detail-type"]: e for e in drain(events_url)}
    assert set(events) == {"SlaBreached", "CaseUpdated"}
    for detail_type, event in events.items():
        assert event["source"] == "socialcrm.sla"
        jsonschema.validate(
            event["detail"], json.loads((SCHEMA_DIR / "events" / f"{detail_type}.schema.json").read_text())
        )
    assert events["SlaBreached"]["detail"]["case_id"] == case.case_id
    # And both teams were told
    for team in ("support", "product"):
        assert [n["reason"] for n in drain(team_queue(team))] == ["sla_breached"]
    # And a repeated invocation changes nothing and publishes nothing
    assert (
        handler.lambda_handler({"case_id": case.case_id, "check": "due"}, LambdaContext())["result"]
        == "already announced"
    )
    assert drain(events_url) == []


def test_the_warning_schedule_tells_the_teams_of_an_unanswered_case(sla):
    handler, events_url = sla
    case = open_case(2)
    assert (
        handler.lambda_handler({"case_id": case.case_id, "check": "warning"}, LambdaContext())["result"]
        == "warned"
    )
    assert [n["reason"] for n in drain(team_queue("support"))] == ["sla_warning"]
    assert drain(events_url) == []


def test_a_case_answered_in_time_is_not_breached(sla):
    handler, events_url = sla
    case = open_case(3, first_response_at=NOW - timedelta(minutes=30), sla_met=True)
    assert (
        handler.lambda_handler({"case_id": case.case_id, "check": "due"}, LambdaContext())["result"]
        == "answered in time"
    )
    assert CaseRepository().get(case.case_id).breached_at is None and drain(events_url) == []


def test_an_erased_case_is_nothing_to_breach(sla):
    handler, _ = sla
    assert (
        handler.lambda_handler({"case_id": "c_" + "9" * 32, "check": "due"}, LambdaContext())["result"]
        == "gone"
    )


def test_an_input_that_is_not_a_schedule_of_ours_fails(sla):
    handler, _ = sla
    with pytest.raises(ValueError):
        handler.lambda_handler({"case_id": "c_1", "check": "sometime"}, LambdaContext())
