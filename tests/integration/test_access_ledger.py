"""The access ledger: every route that shows a person's data writes one entry first, naming whose data,
who read it, through which route and why; without the ledger it shows nothing (503)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from socialcrm.api.path_ids import encode_path_id
from socialcrm.personas import PERSONAS
from socialcrm.privacy.ledger import NO_PERSONAL_DATA, READS_PERSONAL_DATA
from socialcrm.topology import ROUTES
from tests.integration.test_erasure import ANA_WEB, ANA_X, BOB_X, case_of_interaction
from tests.support.principals import role_arn
from tests.support.privacy import Person, World, allow_sending, privacy_world

AGENT = role_arn("team-lead", "ines")  # a team lead: the walk assigns a case
DPO = "arn:aws:iam::123456789012:user/dpo"
EARLIER = datetime.now(tz=UTC) - timedelta(hours=3)


@pytest.fixture
def world(monkeypatch, dev_secrets, tmp_path):
    with privacy_world(monkeypatch, dev_secrets) as built:
        allow_sending(built, monkeypatch, tmp_path)
        yield built
        built.handlers["api"].cases_runtime.cache_clear()


def ledger_items(world: World) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb")
    return client.scan(TableName=world.table("access_ledger"))["Items"]


def entries(world: World) -> dict[str, set[str]]:
    """Each entry id and the keys (s#subject, c#customer) its items are filed under."""
    out: dict[str, set[str]] = {}
    for item in ledger_items(world):
        out.setdefault(item["entry_id"]["S"], set()).add(item["pk"]["S"])
    return out


def ledger(world: World) -> Any:
    return world.handlers["api"].runtime().ledger


def seeded(world: World) -> dict[str, Any]:
    """Ana on X (two messages, a case), Bob on X (one message, a case)."""
    ana = [
        world.store(ANA_X, n, f"ana on x {n}: where is my refund", EARLIER + timedelta(minutes=n))
        for n in range(2)
    ]
    bob = world.store(BOB_X, 0, "bob on x: thanks", EARLIER)
    return {
        "ana": ana,
        "bob": bob,
        "case": case_of_interaction(world, ana[0]),
        "bob_case": case_of_interaction(world, bob),
    }


def path_of(person: Person) -> str:
    return f"{person.platform}/{encode_path_id(person.user_id)}"


def test_every_route_either_writes_the_ledger_or_says_why_not():
    routes = {f"{method} {path}" for method, path, _, _ in ROUTES}
    assert READS_PERSONAL_DATA.isdisjoint(NO_PERSONAL_DATA)
    assert READS_PERSONAL_DATA | set(NO_PERSONAL_DATA) == routes, (
        f"classify: {sorted(routes - READS_PERSONAL_DATA - set(NO_PERSONAL_DATA))}"
    )


def test_each_read_of_personal_data_writes_one_entry_naming_whose_data_who_which_route_and_why(world):
    data = seeded(world)
    ana, bob = world.subject(ANA_X), world.subject(BOB_X)
    web = world.subject(ANA_WEB)
    reason = {"x-reason": "T-99"}
    walked: set[str] = set()
    state: dict[str, str] = {}

    def call(route: str, path: str, body: Any = None, *, subjects: set[str], customer: bool = False) -> Any:
        before, writes = entries(world), ledger(world).writes
        method = route.split(" ", 1)[0]
        # the agent, or the compliance officer on the routes that are theirs (exports)
        who = AGENT if route in PERSONAS["agent"].routes else DPO
        status, answer = world.call("api", method, path, body, principal=who, headers=reason)
        assert status < 300, (route, answer)
        new = {k: v for k, v in entries(world).items() if k not in before}
        # one entry, written in one call, filed under every subject shown (and the customer named)
        assert len(new) == 1 and ledger(world).writes == writes + 1, route
        (keys,) = new.values()
        expected = {f"s#{s}" for s in subjects} | ({f"c#{state['customer']}"} if customer else set())
        assert keys == expected, route
        item = next(i for i in ledger_items(world) if i["entry_id"]["S"] in new)
        assert (item["principal"]["S"], item["route"]["S"], item["reason"]["S"]) == (who, route, "T-99")
        walked.add(route)
        return answer

    call(
        "GET /interactions/{interaction_id}",
        f"/interactions/{encode_path_id(data['ana'][0].interaction_id)}",
        subjects={ana},
    )
    call(
        "GET /subjects/{platform}/{user_id}/interactions",
        f"/subjects/{path_of(ANA_X)}/interactions",
        subjects={ana},
    )
    call("GET /subjects/{platform}/{user_id}/export", f"/subjects/{path_of(ANA_X)}/export", subjects={ana})
    call("GET /cases", "/cases?limit=100", subjects={ana, bob})
    call("GET /cases/{case_id}", f"/cases/{data['case']}", subjects={ana})
    call("PATCH /cases/{case_id}", f"/cases/{data['case']}", {"assignee": "ines"}, subjects={ana})
    reply = call(
        "POST /cases/{case_id}/replies",
        f"/cases/{data['case']}/replies",
        {"text": "On its way"},
        subjects={ana},
    )
    call("GET /cases/{case_id}/replies", f"/cases/{data['case']}/replies", subjects={ana})
    call(
        "GET /cases/{case_id}/replies/{reply_id}",
        f"/cases/{data['case']}/replies/{reply['reply_id']}",
        subjects={ana},
    )
    state["customer"] = ""
    created = world.call(
        "api", "POST", "/customers", {"identities": [ANA_X.ref()], "reason": "T-7"}, principal=AGENT
    )
    assert created[0] == 201
    state["customer"] = created[1]["customer_id"]
    customer = f"/customers/{state['customer']}"
    call(
        "POST /customers/{customer_id}/identities",
        f"{customer}/identities",
        {**ANA_WEB.ref(), "reason": "T-8"},
        subjects={ana, web},
        customer=True,
    )
    call("GET /customers/{customer_id}", customer, subjects={ana, web}, customer=True)
    call(
        "GET /customers/{customer_id}/interactions",
        f"{customer}/interactions",
        subjects={ana, web},
        customer=True,
    )
    call("GET /customers/{customer_id}/export", f"{customer}/export", subjects={ana, web}, customer=True)
    call(
        "DELETE /customers/{customer_id}/identities/{platform}/{user_id}",
        f"{customer}/identities/{path_of(ANA_WEB)}?reason=T-9",
        subjects={ana, web},
        customer=True,
    )
    before = set(entries(world))
    state["customer"] = "pending"
    status, body = world.call(
        "api", "POST", "/customers", {"identities": [BOB_X.ref()], "reason": "T-7"}, principal=AGENT
    )
    assert status == 201
    (new,) = set(entries(world)) - before
    assert entries(world)[new] == {f"s#{bob}", f"c#{body['customer_id']}"}
    walked.add("POST /customers")
    # Then every route that shows personal data was walked, and the ledger holds no raw id, name or text
    assert walked == READS_PERSONAL_DATA
    text = json.dumps(ledger_items(world))
    for needle in (ANA_X.user_id, ANA_X.handle, ANA_WEB.user_id, BOB_X.user_id, "refund", "On its way"):
        assert needle not in text


def test_the_access_logs_list_the_reads_newest_first_and_outlive_the_erasure(world):
    seeded(world)
    status, created = world.call(
        "api", "POST", "/customers", {"identities": [BOB_X.ref()], "reason": "T-7"}, principal=AGENT
    )
    customer_id = created["customer_id"]
    for n in range(3):
        status, _ = world.call(
            "api",
            "GET",
            f"/subjects/{path_of(BOB_X)}/interactions",
            principal=AGENT,
            headers={"X-Reason": f"T-{n}"},
        )
        assert status == 200
    assert world.call("api", "GET", f"/customers/{customer_id}", principal=AGENT)[0] == 200
    # When Bob is erased
    world.request_erasure(BOB_X)
    assert world.run_erasures() == []
    # Then his log still lists every read, newest first, and pages
    status, page = world.call(
        "privacy", "GET", f"/subjects/{path_of(BOB_X)}/access-log?limit=3", principal=DPO
    )
    assert status == 200, page
    assert page["key"] == world.subject(BOB_X)
    assert [e["route"] for e in page["items"]] == [
        "GET /customers/{customer_id}",
        "GET /subjects/{platform}/{user_id}/interactions",
        "GET /subjects/{platform}/{user_id}/interactions",
    ]
    assert [e["reason"] for e in page["items"]] == [None, "T-2", "T-1"]
    assert page["items"][0]["principal"] == AGENT
    status, rest = world.call(
        "privacy",
        "GET",
        f"/subjects/{path_of(BOB_X)}/access-log?limit=3&cursor={page['next_cursor']}",
        principal=DPO,
    )
    assert [e["reason"] for e in rest["items"]] == ["T-0", None] and rest["next_cursor"] is None
    assert rest["items"][-1]["route"] == "POST /customers"
    # And the customer's log names the identities each read returned
    status, log = world.call("privacy", "GET", f"/customers/{customer_id}/access-log", principal=DPO)
    assert status == 200 and [e["subject_ids"] for e in log["items"]] == [[world.subject(BOB_X)]] * 5
    # (its identity's reads through the subject routes are filed under the customer too)
    assert [e["route"] for e in log["items"]].count("GET /subjects/{platform}/{user_id}/interactions") == 3


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/subjects/x/bob/access-log?cursor=not-a-cursor", "cursor"),
        ("/customers/cus_nothex/access-log", "customer id"),
        ("/subjects/x/bob/access-log?limit=0", ""),
    ],
)
def test_bad_access_log_requests_are_400_saying_why(world, path, error):
    status, body = world.call("privacy", "GET", path, principal=DPO)
    assert status in (400, 422) and error in json.dumps(body)


def test_a_reason_that_is_not_a_ticket_reference_is_a_400_and_shows_nothing(world):
    seeded(world)
    status, body = world.call(
        "api", "GET", f"/subjects/{path_of(ANA_X)}/interactions", headers={"X-Reason": "ana called me"}
    )
    assert status == 400 and "X-Reason" in body["message"] and "items" not in body
    assert ledger_items(world) == []


class BrokenLedger:
    def __init__(self, client: Any) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def transact_write_items(self, **_: Any) -> Any:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, "TransactWriteItems")


def test_without_the_ledger_every_read_of_personal_data_is_a_503_that_shows_and_changes_nothing(
    world, monkeypatch
):
    data = seeded(world)
    status, created = world.call("api", "POST", "/customers", {"identities": [ANA_X.ref()], "reason": "T-7"})
    customer = f"/customers/{created['customer_id']}"
    book = ledger(world)
    monkeypatch.setattr(book, "_client", BrokenLedger(book.client))  # one ledger per process: restored after
    case_before = world.cases.get(data["case"])
    customers_before = boto3.client("dynamodb").scan(TableName=world.table("customers"))["Items"]
    queued_before = world.receive("outbound")
    calls = [
        ("GET", f"/interactions/{encode_path_id(data['ana'][0].interaction_id)}", None),
        ("GET", f"/subjects/{path_of(ANA_X)}/interactions", None),
        ("GET", f"/subjects/{path_of(ANA_X)}/export", None),
        ("GET", "/cases", None),
        ("GET", f"/cases/{data['case']}", None),
        ("PATCH", f"/cases/{data['case']}", {"assignee": "ines"}),
        ("POST", f"/cases/{data['case']}/replies", {"text": "On its way"}),
        ("GET", f"/cases/{data['case']}/replies", None),
        ("POST", "/customers", {"identities": [BOB_X.ref()], "reason": "T-7"}),
        ("GET", customer, None),
        ("GET", f"{customer}/interactions", None),
        ("GET", f"{customer}/export", None),
        ("POST", f"{customer}/identities", {**ANA_WEB.ref(), "reason": "T-8"}),
        ("DELETE", f"{customer}/identities/{path_of(ANA_X)}?reason=T-9", None),
    ]
    for method, path, body in calls:
        status, answer = world.call("api", method, path, body)
        assert status == 503 and answer["error"] == "access_ledger_unavailable", (method, path, answer)
        assert set(answer) == {"error", "message"}
    # Nothing changed: the case, the customers, no reply queued
    assert world.cases.get(data["case"]) == case_before
    assert boto3.client("dynamodb").scan(TableName=world.table("customers"))["Items"] == customers_before
    assert world.receive("outbound") == queued_before == []
    assert queued_before == []
