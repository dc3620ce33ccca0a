"""Work queues on the api function under moto: list by team/status/priority, read, update, SLA stop."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
from moto import mock_aws

from socialcrm.routing.case import Case, case_id_for
from socialcrm.routing.runtime import build_cases_runtime
from socialcrm.routing.sla import EventBridgeSlaScheduler, schedule_name
from socialcrm.routing.store import CaseRepository
from socialcrm.schemas import SCHEMA_DIR
from socialcrm.settings import CasesApiSettings
from socialcrm.topology import SLA_SCHEDULE_GROUP
from tests.conftest import DEV_SECRETS
from tests.support.apigw import LambdaContext, http_event
from tests.support.pipeline import capture_bus_events, drain
from tests.support.principals import TEST_TEAMS, tagged_role
from tests.support.routing import SLA_ROLE_ARN, SLA_TARGET_ARN, routing_environment, schedules

NOW = datetime.now(tz=UTC).replace(microsecond=0)
SUBJECT = "b" * 64


_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def aws():
    """One embedded AWS for the module (tests keep apart by their own teams and cases)."""
    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        env = routing_environment()
        for name, value in env.items():
            patch.setenv(name, value)
        patch.setenv("SOCIALCRM_SECRETS_FILE", str(DEV_SECRETS))
        events_url = capture_bus_events(["CaseUpdated"])
        import api.handler as handler

        handler.cases_runtime.cache_clear()
        build_cases_runtime(CasesApiSettings.from_env())  # binds the cases table
        yield handler, env, events_url
        handler.cases_runtime.cache_clear()


@pytest.fixture
def api(aws):
    handler, env, events_url = aws
    drain(events_url)  # only this test's events
    yield handler, env, events_url


# The teams the tests made up (each test's own queue).
_TEAMS: list[str] = []


@pytest.fixture
def team() -> str:
    """A team of this test only, so its work queue holds only this test's cases."""
    name = f"team-{next(_numbers)}"
    _TEAMS.extend([name, f"{name}-other", f"{name}-sales"])
    return name


def open_case(priority: str, due_in: int, teams=("support",), status="open") -> Case:
    n = next(_numbers)
    case = Case(
        case_id=case_id_for(f"x:{n}"),
        interaction_id=f"x:{n}",
        subject_id=SUBJECT,
        platform="x",
        kind="mention",
        teams=list(teams),
        priority=priority,
        sla_minutes=60,
        status=status,
        opened_at=NOW - timedelta(minutes=5),
        sla_due_at=NOW + timedelta(minutes=due_in),
        sla_warning_at=NOW + timedelta(minutes=due_in * 0.8),
        updated_at=NOW,
    )
    assert CaseRepository().open(case)
    return case


def call(handler, method: str, path: str, *, query=None, body=None, principal=None) -> tuple[int, dict]:
    """The request as ``principal`` (default: a team lead of every team the tests use)."""
    event = http_event(
        method,
        path,
        query=query,
        body=json.dumps(body) if body is not None else None,
        headers={"content-type": "application/json"} if body is not None else None,
        principal=principal or tagged_role("cases-lead", "team-lead", " ".join([TEST_TEAMS, *_TEAMS])),
    )
    response = handler.lambda_handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_a_team_queue_lists_its_open_cases_most_urgent_first_then_soonest_due(api, team):
    handler, _, _ = api
    other = f"{team}-other"
    # Given a team's cases of several priorities and due times, and cases of other teams or statuses
    p3 = open_case("P3", 200, teams=(team,))
    p1_late = open_case("P1", 14, teams=(team,))
    p1_soon = open_case("P1", 5, teams=(team,))
    p2 = open_case("P2", 30, teams=(team, other))
    open_case("P1", 1, teams=(f"{team}-sales",))
    open_case("P1", 1, teams=(team,), status="resolved")
    # When the team's open queue is read
    status, body = call(handler, "GET", "/cases", query={"team": team})
    # Then it holds only its open cases, P1 first and within P1 the soonest due
    assert status == 200
    assert [c["case_id"] for c in body["items"]] == [p1_soon.case_id, p1_late.case_id, p2.case_id, p3.case_id]
    assert body["next_cursor"] is None
    # And the other team's queue holds the case the two share
    _, shared = call(handler, "GET", "/cases", query={"team": other})
    assert [c["case_id"] for c in shared["items"]] == [p2.case_id]
    # And a case shows no internal bookkeeping
    assert "announced" not in body["items"][0] and "version" not in body["items"][0]


def test_a_queue_filters_by_priority_and_status_and_pages_with_a_cursor(api, team):
    handler, _, _ = api
    p2_cases = [open_case("P2", 10 + n, teams=(team,)) for n in range(5)]
    p3 = open_case("P3", 1, teams=(team,))
    _, p2 = call(handler, "GET", "/cases", query={"team": team, "priority": "P2", "limit": "2"})
    seen = [c["case_id"] for c in p2["items"]]
    cursor = p2["next_cursor"]
    while cursor:
        _, page = call(
            handler,
            "GET",
            "/cases",
            query={"team": team, "priority": "P2", "limit": "2", "cursor": cursor},
        )
        seen += [c["case_id"] for c in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [case.case_id for case in p2_cases]
    # And without a team, the queue of every team holds them all
    _, everyone = call(handler, "GET", "/cases", query={"limit": "100"})
    assert {c.case_id for c in [*p2_cases, p3]} <= {c["case_id"] for c in everyone["items"]}


@pytest.mark.parametrize(
    "query",
    [{"status": "closed"}, {"priority": "P9"}, {"limit": "0"}, {"team": "Not A Team"}, {"cursor": "garbage"}],
)
def test_bad_queue_requests_are_400_saying_why(api, query):
    handler, _, _ = api
    status, body = call(handler, "GET", "/cases", query=query)
    assert status == 400 and body["message"]


def test_a_cursor_of_another_queue_is_refused(api, team):
    handler, _, _ = api
    for _n in range(3):
        open_case("P2", 10, teams=(team,))
    _, page = call(handler, "GET", "/cases", query={"team": team, "limit": "1"})
    status, body = call(handler, "GET", "/cases", query={"team": "support", "cursor": page["next_cursor"]})
    assert status == 400 and body["error"] == "bad_request"


def test_one_case_is_read_by_id_and_an_unknown_one_is_404(api):
    handler, _, _ = api
    case = open_case("P2", 30)
    status, body = call(handler, "GET", f"/cases/{case.case_id}")
    assert status == 200 and body["case_id"] == case.case_id and body["rules"] == []
    assert call(handler, "GET", "/cases/c_" + "0" * 32)[0] == 404
    assert call(handler, "GET", "/cases/not-a-case")[0] == 404


def test_the_first_response_stops_the_sla_clock_and_is_announced(api):
    handler, env, events_url = api
    # Given an open case with its two SLA schedules
    case = open_case("P2", 30)
    scheduler = EventBridgeSlaScheduler(
        env["SLA_SCHEDULE_GROUP"], target_arn=SLA_TARGET_ARN, role_arn=SLA_ROLE_ARN
    )
    scheduler.schedule(case)
    assert sorted(schedules()) == sorted(
        [
            schedule_name(case.case_id, "due", case.sla_due_at),
            schedule_name(case.case_id, "warning", case.sla_warning_at),
        ]
    )
    # When an agent records the first response and takes the case
    answered = (NOW - timedelta(minutes=1)).isoformat()
    status, body = call(
        handler,
        "PATCH",
        f"/cases/{case.case_id}",
        body={"first_response_at": answered, "assignee": "agent-7", "status": "pending"},
    )
    # Then the case is pending, assigned, answered within its SLA
    assert status == 200
    assert body["status"] == "pending" and body["assignee"] == "agent-7" and body["sla_met"] is True
    # And its schedules are gone
    assert not [name for name in schedules() if name.startswith(case.case_id)]
    # And CaseUpdated is on the bus from the api, valid for its schema
    (event,) = drain(events_url)
    assert event["source"] == "socialcrm.api"
    jsonschema.validate(
        event["detail"], json.loads((SCHEMA_DIR / "events" / "CaseUpdated.schema.json").read_text())
    )
    assert event["detail"]["sla_met"] is True and event["detail"]["first_response_at"] is not None


def test_resolving_an_unanswered_case_counts_as_its_response(api, team):
    handler, _, events_url = api
    case = open_case("P3", 100, teams=(team,))
    status, body = call(handler, "PATCH", f"/cases/{case.case_id}", body={"status": "resolved"})
    assert status == 200 and body["status"] == "resolved" and body["resolved_at"] and body["sla_met"] is True
    _, queue = call(handler, "GET", "/cases", query={"team": team, "status": "resolved"})
    assert [c["case_id"] for c in queue["items"]] == [case.case_id]
    assert call(handler, "GET", "/cases", query={"team": team})[1]["items"] == []
    assert drain(events_url)[0]["detail"]["status"] == "resolved"


def test_an_agent_reopening_a_resolved_case_starts_its_resolution_clock(api, team):
    handler, _, _ = api
    # Given a case resolved long ago, its old resolution due time long past
    case = open_case("P2", 30, teams=(team,), status="resolved")
    CaseRepository().update(
        case.case_id,
        lambda c: c.model_copy(
            update={
                "resolved_at": NOW - timedelta(days=3),
                "resolution_started_at": NOW - timedelta(days=4),
                "resolution_due_at": NOW - timedelta(days=3, hours=12),
            }
        ),
    )
    # When an agent sets it back to open
    before = datetime.now(tz=UTC)
    status, body = call(handler, "PATCH", f"/cases/{case.case_id}", body={"status": "open"})
    after = datetime.now(tz=UTC)
    # Then it is reopened, with a resolution due the P2 target (24 h, the shipped rules) from then
    assert status == 200 and body["status"] == "open" and body["reopened_count"] == 1
    due = datetime.fromisoformat(body["resolution_due_at"])
    assert before + timedelta(hours=24) <= due <= after + timedelta(hours=24)
    # And its resolution clock is set
    assert schedule_name(case.case_id, "resolution-due", due) in schedules()


def test_a_change_that_only_stops_clocks_needs_no_clock_target(api):
    # The scheduler of a function given no target (nothing to start) still deletes met clocks
    case = open_case("P2", 30)
    full = EventBridgeSlaScheduler(SLA_SCHEDULE_GROUP, target_arn=SLA_TARGET_ARN, role_arn=SLA_ROLE_ARN)
    full.schedule(case)
    answered = case.model_copy(update={"first_response_at": NOW, "sla_met": True})
    EventBridgeSlaScheduler(SLA_SCHEDULE_GROUP).schedule(answered, since=case)
    assert not [name for name in schedules() if name.startswith(case.case_id)]


def test_a_second_first_response_keeps_the_first(api):
    handler, _, _ = api
    case = open_case("P2", 30)
    first = (NOW - timedelta(minutes=3)).isoformat()
    call(handler, "PATCH", f"/cases/{case.case_id}", body={"first_response_at": first})
    _, body = call(handler, "PATCH", f"/cases/{case.case_id}", body={"first_response_at": NOW.isoformat()})
    assert datetime.fromisoformat(body["first_response_at"]) == datetime.fromisoformat(first)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"status": "closed"},
        {"status": None},
        {"first_response_at": "yesterday"},
        {"first_response_at": "2026-11-22T10:00:00"},  # no time zone
        {"colour": "red"},
        {"assignee": "an agent; drop table"},
    ],
)
def test_an_invalid_update_is_400_and_changes_nothing(api, body):
    handler, _, events_url = api
    case = open_case("P2", 30)
    status, answer = call(handler, "PATCH", f"/cases/{case.case_id}", body=body)
    assert status == 400 and answer["message"]
    assert CaseRepository().get(case.case_id).version == 0 and drain(events_url) == []


def test_a_first_response_in_the_future_is_refused(api):
    handler, _, _ = api
    case = open_case("P2", 30)
    status, body = call(
        handler,
        "PATCH",
        f"/cases/{case.case_id}",
        body={"first_response_at": (NOW + timedelta(hours=2)).isoformat()},
    )
    assert status == 400 and "future" in body["message"]


def test_updating_an_unknown_case_is_404(api):
    handler, _, _ = api
    assert call(handler, "PATCH", "/cases/c_" + "0" * 32, body={"status": "pending"})[0] == 404
