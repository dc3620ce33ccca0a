"""Teams see their own cases: work queues, cases, replies and messages scoped to the caller's teams (from
the socialcrm:teams tag), and what only a team lead may change in a case."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from socialcrm.api.path_ids import encode_path_id
from socialcrm.models import Interaction, Routing
from socialcrm.routing.case import Case, conversation_of
from socialcrm.routing.conversation import open_case
from socialcrm.routing.store import InteractionRouting
from tests.support.principals import tagged_role
from tests.support.privacy import DECISION, LEVELS, Person, World, privacy_world

EARLIER = datetime.now(tz=UTC) - timedelta(hours=2)
ANA = Person("x", "ana-7788", "ana_on_x", "Ana Q.")
PIA = Person("x", "pia-3141", "pia_on_x", "Pia R.")
UDO = Person("x", "udo-2718", "udo_on_x", "Udo S.")
SUPPORT_AGENT = tagged_role("teams-support-agent", "agent", "support")
PR_AGENT = tagged_role("teams-pr-agent", "agent", "pr")
BOTH_AGENT = tagged_role("teams-both-agent", "agent", "support pr")
PR_LEAD = tagged_role("teams-pr-lead", "team-lead", "pr")


@pytest.fixture
def world(monkeypatch, dev_secrets):
    with privacy_world(monkeypatch, dev_secrets) as built:
        yield built


def routed(
    world: World, person: Person, text: str, teams: tuple[str, ...], priority: str = "P2"
) -> tuple[Interaction, Case]:
    """A message stored, its case opened for ``teams``, and the routing written onto the message, as the
    route consumer does."""
    item = world.interaction(person, 0, text, EARLIER)
    assert world.interactions.store_new(item, enriched_at=datetime.now(tz=UTC))
    decision = dataclasses.replace(DECISION, teams=teams, priority=priority)
    now = datetime.now(tz=UTC)
    case = open_case(item, decision, LEVELS, conversation_ref=conversation_of(item), sequence=1, now=now)
    assert world.cases.open(case)
    routing = Routing(
        case_id=case.case_id, teams=list(teams), priority=priority, sla_due_at=case.sla_due_at, rules=[]
    )
    assert InteractionRouting().record(item.interaction_ref, routing)
    return item, case


def ids(body: dict) -> set[str]:
    return {case["case_id"] for case in body["items"]}


def test_a_work_queue_lists_only_the_callers_teams_cases(world):
    # Given a support case, a PR case and a case routed to both
    _, support = routed(world, ANA, "where is my refund", ("support",))
    _, pr = routed(world, PIA, "you are on the news", ("pr",))
    _, shared = routed(world, UDO, "refund and a journalist", ("support", "pr"))
    # When each agent reads their queue without naming a team
    _, mine = world.call("api", "GET", "/cases", principal=SUPPORT_AGENT)
    _, theirs = world.call("api", "GET", "/cases", principal=PR_AGENT)
    _, both = world.call("api", "GET", "/cases?limit=10", principal=BOTH_AGENT)
    # Then each sees their teams' cases only; an agent of both teams sees all three once
    assert ids(mine) == {support.case_id, shared.case_id}
    assert ids(theirs) == {pr.case_id, shared.case_id}
    assert ids(both) == {support.case_id, pr.case_id, shared.case_id} and len(both["items"]) == 3
    # And naming a team that is not theirs is a 403 that names the tag, not a quiet empty list
    status, refused = world.call("api", "GET", "/cases?team=pr", principal=SUPPORT_AGENT)
    assert (status, refused["error"]) == (403, "forbidden") and "socialcrm:teams" in refused["message"]


def test_a_queue_of_several_teams_pages_through_every_case_once(world):
    # Given five support cases and five PR cases
    opened = {
        routed(world, Person("x", f"p-{n}", "h", "N"), "hi", ("support",) if n % 2 else ("pr",))[1].case_id
        for n in range(10)
    }
    # When an agent of both teams pages through their queue three at a time
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        path = "/cases?limit=3" + (f"&cursor={cursor}" if cursor else "")
        status, page = world.call("api", "GET", path, principal=BOTH_AGENT)
        assert status == 200
        seen += [case["case_id"] for case in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    # Then every case comes once
    assert sorted(seen) == sorted(opened)


def test_another_teams_case_is_a_404_on_every_case_route(world):
    # Given a PR case
    _, case = routed(world, PIA, "you are on the news", ("pr",))
    # When a support agent reads, changes or answers it
    for method, path, body in [
        ("GET", f"/cases/{case.case_id}", None),
        ("PATCH", f"/cases/{case.case_id}", {"status": "pending"}),
        ("POST", f"/cases/{case.case_id}/replies", {"text": "On it"}),
        ("GET", f"/cases/{case.case_id}/replies", None),
    ]:
        status, answer = world.call("api", method, path, body, principal=SUPPORT_AGENT)
        # Then it does not exist for them (its existence is not disclosed), and nothing changed
        assert (status, answer["error"]) == (404, "not_found"), (method, path)
    assert world.cases.get(case.case_id) == case
    # While a PR agent reads it
    assert world.call("api", "GET", f"/cases/{case.case_id}", principal=PR_AGENT)[0] == 200


def test_a_message_routed_to_another_team_is_hidden_from_the_timeline_and_a_404(world):
    # Given Ana's message routed to PR, and one to support
    pr_item, _ = routed(world, ANA, "journalist here", ("pr",))
    support_item = world.interaction(ANA, 1, "where is my refund", EARLIER + timedelta(minutes=1))
    assert world.interactions.store_new(support_item, enriched_at=datetime.now(tz=UTC))
    # When a support agent reads Ana's timeline and the PR message
    status, timeline = world.call(
        "api", "GET", f"/subjects/x/{encode_path_id(ANA.user_id)}/interactions", principal=SUPPORT_AGENT
    )
    hidden, _ = world.call(
        "api", "GET", f"/interactions/{encode_path_id(pr_item.interaction_id)}", principal=SUPPORT_AGENT
    )
    # Then the PR message is left out and a 404; the message in no team's queue is shown
    assert status == 200
    assert [i["interaction_id"] for i in timeline["items"]] == [support_item.interaction_id]
    assert hidden == 404
    # And the PR agent sees both
    _, theirs = world.call(
        "api", "GET", f"/subjects/x/{encode_path_id(ANA.user_id)}/interactions", principal=PR_AGENT
    )
    assert len(theirs["items"]) == 2


def test_a_customer_shows_only_the_open_cases_of_the_callers_teams(world):
    # Given Ana with a support case and a PR case, as one customer
    _, support = routed(world, ANA, "where is my refund", ("support",))
    item = world.interaction(ANA, 1, "journalist here", EARLIER + timedelta(minutes=1))
    assert world.interactions.store_new(item, enriched_at=datetime.now(tz=UTC))
    pr_case = open_case(
        item,
        dataclasses.replace(DECISION, teams=("pr",)),
        LEVELS,
        conversation_ref=conversation_of(item) + "-pr",
        sequence=1,
        now=datetime.now(tz=UTC),
    )
    assert world.cases.open(pr_case)
    status, customer = world.call(
        "api", "POST", "/customers", {"identities": [ANA.ref()], "reason": "T-1"}, principal=SUPPORT_AGENT
    )
    assert status == 201, customer
    # When each agent reads the customer
    _, seen_by_support = world.call(
        "api", "GET", f"/customers/{customer['customer_id']}", principal=SUPPORT_AGENT
    )
    _, seen_by_pr = world.call("api", "GET", f"/customers/{customer['customer_id']}", principal=PR_AGENT)
    # Then each sees their own team's open case only
    assert seen_by_support["open_cases"] == [support.case_id]
    assert seen_by_pr["open_cases"] == [pr_case.case_id]


def test_only_a_team_lead_assigns_or_reprioritises_and_an_agent_still_works_the_case(world):
    # Given a PR case
    _, case = routed(world, PIA, "you are on the news", ("pr",), priority="P3")
    path = f"/cases/{case.case_id}"
    # When a PR agent assigns or re-prioritises it
    for body, field in (({"assignee": "ines"}, "assignee"), ({"priority": "P1"}, "priority")):
        status, answer = world.call("api", "PATCH", path, body, principal=PR_AGENT)
        # Then it is a 403 that says a team lead may, and the case is unchanged
        assert (status, answer["message"]) == (403, f"team-lead only: changing a case's {field}."), body
    assert world.cases.get(case.case_id).assignee is None
    # While the agent may change its status
    status, changed = world.call("api", "PATCH", path, {"status": "pending"}, principal=PR_AGENT)
    assert status == 200 and changed["status"] == "pending"
    # And the PR lead assigns and re-prioritises it, which moves it up the PR queue
    status, changed = world.call(
        "api", "PATCH", path, {"assignee": "ines", "priority": "P1"}, principal=PR_LEAD
    )
    assert status == 200 and (changed["assignee"], changed["priority"]) == ("ines", "P1")
    _, queue = world.call("api", "GET", "/cases?team=pr&status=pending&priority=P1", principal=PR_LEAD)
    assert ids(queue) == {case.case_id}


def test_a_principal_without_teams_or_with_malformed_teams_is_told_which_tag_to_fix(world):
    # Given an agent role without a teams tag, and one with commas in it
    untagged = tagged_role("teams-untagged", "agent")
    commas = tagged_role("teams-commas", "agent", "support,pr")
    nobody = tagged_role("teams-nobody", "")
    for principal, words in (
        (untagged, "no socialcrm:teams"),
        (commas, "socialcrm:teams tag is malformed"),
        (nobody, "no socialcrm:persona"),
    ):
        # When it reads the work queue
        status, answer = world.call("api", "GET", "/cases", principal=principal)
        # Then a 403 names the tag, and not the principal
        assert (status, answer["error"]) == (403, "forbidden") and words in answer["message"], answer
        assert "teams-" not in answer["message"] and "tester" not in answer["message"]


def test_a_spike_case_follows_the_teams_it_was_routed_to(world):
    # Given a spike case routed to PR
    _, case = routed(world, PIA, "everyone is angry", ("pr",))
    spike = case.model_copy(update={"case_id": "s_" + case.case_id[2:], "origin": "spike"})
    assert world.cases.open(spike)
    # Then the PR agent sees it and the support agent does not
    assert world.call("api", "GET", f"/cases/{spike.case_id}", principal=PR_AGENT)[0] == 200
    assert world.call("api", "GET", f"/cases/{spike.case_id}", principal=SUPPORT_AGENT)[0] == 404


def test_the_deployed_api_never_takes_the_development_principals_headers(world, monkeypatch):
    # Given the functions as deployed: no SOCIALCRM_DEV_PRINCIPALS
    monkeypatch.delenv("SOCIALCRM_DEV_PRINCIPALS", raising=False)
    claims = {"x-dev-persona": "compliance-officer", "x-dev-teams": "support"}
    body = {"subjects": [ANA.ref()], "reference": "T-1"}
    # When an agent's signed request claims to be the compliance officer
    status, answer = world.call(
        "privacy", "POST", "/erasure-requests", body, principal=SUPPORT_AGENT, headers=claims
    )
    # Then the IAM principal's tags decide: refused
    assert (status, answer["message"]) == (403, "compliance-officer only: POST /erasure-requests.")
    # And a request with no IAM principal is refused whatever it claims, even from loopback
    event_status, event_answer = world.call(
        "privacy", "POST", "/erasure-requests", body, principal="", headers=claims
    )
    assert event_status == 403 and "No IAM principal" in event_answer["message"]
    # And on the local stack the headers count only from loopback (the API Gateway event names the client)
    monkeypatch.setenv("SOCIALCRM_DEV_PRINCIPALS", "1")
    status, answer = world.call("privacy", "POST", "/erasure-requests", body, principal="", headers=claims)
    assert status == 403 and "No IAM principal" in answer["message"]
    assert world.scan_all()["erasure_requests"] == []


def test_a_merged_queue_reads_only_the_callers_teams_and_its_cursor_names_only_their_cases(
    world, monkeypatch
):
    import base64
    import json

    from socialcrm.routing.store import CaseItem

    # Given thirty PR cases ahead of a support case and a billing case
    for n in range(30):
        routed(world, Person("x", f"pr-{n}", "h", "N"), "news", ("pr",), priority="P1")
    _, support = routed(world, Person("x", "s-1", "h", "N"), "refund", ("support",), priority="P3")
    _, billing = routed(world, Person("x", "b-1", "h", "N"), "invoice", ("billing",), priority="P4")
    agent = tagged_role("teams-support-billing", "agent", "support billing")
    queries: list[str] = []
    original = CaseItem.by_queue.query

    def counted(key, *args, **kwargs):
        queries.append(key)
        return original(key, *args, **kwargs)

    monkeypatch.setattr(CaseItem.by_queue, "query", counted)
    # When the support-and-billing agent reads their queue one case at a time
    _, first = world.call("api", "GET", "/cases?limit=1", principal=agent)
    # Then the first page is the support case, read from the two teams' queues only
    assert ids(first) == {support.case_id}
    assert sorted(queries) == ["billing|open", "support|open"]
    # And its cursor names nothing but the caller's own case
    cursor = json.loads(base64.urlsafe_b64decode(first["next_cursor"] + "=="))
    assert cursor["case_id"]["S"] == support.case_id and "pr" not in cursor["queue"]["S"].split()
    # And the next page is the billing case, the last
    _, second = world.call("api", "GET", f"/cases?limit=1&cursor={first['next_cursor']}", principal=agent)
    assert ids(second) == {billing.case_id}
    if second["next_cursor"]:
        _, third = world.call("api", "GET", f"/cases?limit=1&cursor={second['next_cursor']}", principal=agent)
        assert third["items"] == [] and third["next_cursor"] is None
    # And a priority of the merged queue, and a cursor of another priority refused
    _, p4 = world.call("api", "GET", "/cases?priority=P4", principal=agent)
    assert ids(p4) == {billing.case_id}
    status, _ = world.call("api", "GET", f"/cases?priority=P4&cursor={first['next_cursor']}", principal=agent)
    assert status == 400


def test_a_team_that_joins_a_case_sees_its_earlier_messages(world):
    # Given Ana's message routed to support, its case since queued for PR too
    item, case = routed(world, ANA, "where is my refund", ("support",))
    world.cases.update(case.case_id, lambda current: current.model_copy(update={"teams": ["support", "pr"]}))
    # When the PR agent reads the message and Ana's timeline
    status, _ = world.call(
        "api", "GET", f"/interactions/{encode_path_id(item.interaction_id)}", principal=PR_AGENT
    )
    _, timeline = world.call(
        "api", "GET", f"/subjects/x/{encode_path_id(ANA.user_id)}/interactions", principal=PR_AGENT
    )
    # Then both show it: the case is theirs now
    assert status == 200
    assert [i["interaction_id"] for i in timeline["items"]] == [item.interaction_id]


def test_a_reply_of_another_teams_case_answers_as_any_unknown_reply(world):
    # Given a PR case
    _, case = routed(world, PIA, "you are on the news", ("pr",))
    # When a support agent asks for a reply on it, whether one exists or not
    status, answer = world.call(
        "api", "GET", f"/cases/{case.case_id}/replies/r_{'1' * 32}", principal=SUPPORT_AGENT
    )
    # Then it is the case that does not exist for them, named as for any other case
    assert (status, answer["message"]) == (404, f"No case '{case.case_id}'.")


def test_a_path_no_route_declares_is_a_404_not_a_refusal(world):
    for path in ("/cases/", "/nothing-here"):
        status, answer = world.call("api", "GET", path, principal=SUPPORT_AGENT)
        assert (status, answer["error"]) == (404, "not_found"), path


def test_when_the_cases_cannot_be_read_a_team_check_is_a_503_that_shows_nothing(world, monkeypatch):
    from socialcrm.dal.repository import StoreError
    from socialcrm.routing.store import CaseRepository

    # Given a message of a PR case, and a merged queue, while the cases table fails
    pr_item, _ = routed(world, PIA, "journalist here", ("pr",))

    def failing(*args, **kwargs):
        raise StoreError("Could not read the cases.")

    monkeypatch.setattr(CaseRepository, "teams_of", failing)
    monkeypatch.setattr(CaseRepository, "_merged_queue", failing)
    # When a support agent reads the message, and an agent of two teams their queue
    hidden = world.call(
        "api", "GET", f"/interactions/{encode_path_id(pr_item.interaction_id)}", principal=SUPPORT_AGENT
    )
    queue = world.call("api", "GET", "/cases", principal=BOTH_AGENT)
    # Then each is a 503 with its JSON error, and nothing of the message is shown
    for status, answer in (hidden, queue):
        assert status == 503 and set(answer) == {"error", "message"}, answer
