"""Customers under moto: identities linked and unlinked through the API, the 360° view, the merged
timeline, one owner per identity under concurrency, and an erasure that leaves no link behind."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from socialcrm.api.path_ids import encode_path_id
from socialcrm.customers.store import CustomerStore, Identity, IdentityLinkedError, new_customer_id
from socialcrm.local.moto_tables import speed_up_and_serialise_tables
from socialcrm.local.resources import create_resources
from socialcrm.models import subject_id
from socialcrm.privacy.runtime import personal_data_tables
from socialcrm.privacy.stores import CustomerLinkStore, SubjectScope
from socialcrm.settings import ApiSettings
from tests.conftest import DEV_SECRETS
from tests.integration.test_crm_api import seed
from tests.support.apigw import call_json

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


@pytest.fixture
def api(monkeypatch, dev_secrets):
    # moto runs each request on its caller's thread with no isolation, where DynamoDB's transactions are
    # serializable: the local stack's DynamoDB lock gives the threads below what DynamoDB gives.
    speed_up_and_serialise_tables()
    with mock_aws():
        resources = create_resources()
        for name, value in resources.environment.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SOCIALCRM_SECRETS_FILE", str(DEV_SECRETS))
        import api.handler as handler

        for cached in (handler.runtime, handler.cases_runtime, handler.customers_runtime):
            cached.cache_clear()
        handler.customers_runtime()
        pepper = dev_secrets.subject_pepper.get_secret_value()
        yield handler, pepper, resources
        for cached in (handler.runtime, handler.cases_runtime, handler.customers_runtime):
            cached.cache_clear()


def call(handler, method: str, path: str, body: dict | None = None, query: dict | None = None):
    return call_json(handler, method, path, body, query)


def ident(platform: str, user_id: str) -> dict[str, str]:
    return {"platform": platform, "user_id": user_id}


def create(handler, *identities: dict[str, str], reason: str = "T-1") -> tuple[int, dict]:
    return call(handler, "POST", "/customers", {"identities": list(identities), "reason": reason})


def test_a_customer_links_identities_and_names_them_only_by_pseudonymous_ids(api):
    handler, pepper, resources = api
    status, body = create(handler, ident("x", "2244994945"), ident("whatsapp", "919000012345"))
    assert status == 201, body
    assert body["customer_id"].startswith("cus_")
    assert {(i["platform"], i["subject_id"]) for i in body["identities"]} == {
        ("x", subject_id(pepper, "x", "2244994945")),
        ("whatsapp", subject_id(pepper, "whatsapp", "919000012345")),
    }
    assert all(i["reason"] == "T-1" for i in body["identities"])
    stored = boto3.client("dynamodb").scan(TableName=resources.environment["CUSTOMERS_TABLE"])["Items"]
    text = json.dumps(stored)
    assert "2244994945" not in text and "919000012345" not in text
    status, again = call(handler, "GET", f"/customers/{body['customer_id']}")
    assert status == 200 and again["identities"] == body["identities"]
    # and the subject's own timeline names its customer
    status, timeline = call(handler, "GET", "/subjects/x/2244994945/interactions")
    assert status == 200 and timeline["customer_id"] == body["customer_id"]
    status, timeline = call(handler, "GET", "/subjects/x/somebody-else/interactions")
    assert status == 200 and timeline["customer_id"] is None


def test_bad_requests_are_told_why_and_change_nothing(api):
    handler, _pepper, _resources = api
    assert create(handler, ident("x", "1"), ident("x", "1"))[0] == 400  # the same identity twice
    assert create(handler)[0] == 400  # no identity
    assert create(handler, ident("x", "1"), reason="free text with spaces")[0] == 400  # not a reference
    assert create(handler, ident("myspace", "1"))[0] == 400
    status, _ = call(handler, "GET", "/customers/cus_" + "0" * 24)
    assert status == 404
    status, _ = call(handler, "GET", "/customers/not-a-customer")
    assert status == 404
    status, body = create(handler, ident("x", "1"))
    assert status == 201, body  # nothing of the refused requests was kept


def test_an_identity_has_one_customer_and_the_refusal_names_it(api):
    handler, _pepper, _resources = api
    _status, first = create(handler, ident("x", "7"))
    status, body = create(handler, ident("tiktok", "9"), ident("x", "7"))
    assert status == 409 and first["customer_id"] in body["message"]
    status, body = call(handler, "GET", f"/customers/{first['customer_id']}")
    assert len(body["identities"]) == 1  # the refused customer linked nothing
    _status, second = create(handler, ident("tiktok", "9"))
    status, body = call(
        handler,
        "POST",
        f"/customers/{second['customer_id']}/identities",
        {**ident("x", "7"), "reason": "T-2"},
    )
    assert status == 409 and first["customer_id"] in body["message"]


def test_linking_and_unlinking(api):
    handler, pepper, _resources = api
    _status, customer = create(handler, ident("x", "7"))
    path = f"/customers/{customer['customer_id']}/identities"
    status, body = call(handler, "POST", path, {**ident("instagram", "1784"), "reason": "T-3"})
    assert status == 201 and len(body["identities"]) == 2
    status, body = call(handler, "POST", path, {**ident("instagram", "1784"), "reason": "T-3"})
    assert status == 200 and len(body["identities"]) == 2  # linked already: nothing changes
    status, _ = call(
        handler, "POST", "/customers/cus_" + "1" * 24 + "/identities", {**ident("x", "8"), "reason": "T"}
    )
    assert status == 404
    gone = f"{path}/instagram/{encode_path_id('1784')}"
    assert call(handler, "DELETE", gone)[0] == 400  # the reason is required
    status, body = call(handler, "DELETE", gone, query={"reason": "T-4"})
    assert status == 200 and [i["platform"] for i in body["identities"]] == ["x"]
    assert call(handler, "DELETE", gone, query={"reason": "T-4"})[0] == 404
    _status, other = create(handler, ident("instagram", "1784"))  # free to join another customer now
    assert other["identities"][0]["subject_id"] == subject_id(pepper, "instagram", "1784")


def test_the_view_adds_up_every_identity_and_the_timeline_merges_them(api):
    handler, pepper, _resources = api
    seed(pepper, "alice-x", 5, platform="x")
    seed(pepper, "alice-wa", 4, platform="whatsapp")
    seed(pepper, "someone-else", 6, platform="x")
    _status, customer = create(handler, ident("x", "alice-x"), ident("whatsapp", "alice-wa"))
    status, view = call(handler, "GET", f"/customers/{customer['customer_id']}")
    assert status == 200
    assert view["interactions"] == 9 and view["by_platform"] == {"x": 5, "whatsapp": 4}
    assert sum(view["by_sentiment"].values()) == 9
    assert view["first_contact"] <= view["last_contact"]
    mine = {subject_id(pepper, "x", "alice-x"), subject_id(pepper, "whatsapp", "alice-wa")}
    items, cursor, pages = [], None, 0
    while True:
        query = {"limit": "4", **({"cursor": cursor} if cursor else {})}
        status, page = call(handler, "GET", f"/customers/{customer['customer_id']}/interactions", query=query)
        assert status == 200, page
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(items) == 9 and pages == 3
    assert {i["subject_id"] for i in items} == mine
    assert [i["occurred_at"] for i in items] == sorted((i["occurred_at"] for i in items), reverse=True)
    status, body = call(
        handler, "GET", f"/customers/{customer['customer_id']}/interactions", query={"cursor": "AAAA"}
    )
    assert status == 400 and body["error"]


def test_of_two_requests_linking_one_identity_at_once_one_wins(api):
    _handler, pepper, resources = api
    store = CustomerStore(resources.environment["CUSTOMERS_TABLE"])
    customers = [new_customer_id() for _ in range(2)]
    for customer in customers:
        store.create(customer, [], reason="T-5", by="tester", at=NOW)
    contested = Identity("x", subject_id(pepper, "x", "contested"))

    def link(customer: str) -> str:
        try:
            store.link(customer, contested, reason="T-5", by="tester", at=NOW)
        except IdentityLinkedError as exc:
            return f"refused:{exc.owner}"
        return f"linked:{customer}"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(link, customers))
    winner = store.owner_of(contested.subject_id)
    assert outcomes == sorted([f"linked:{winner}", f"refused:{winner}"])


def test_an_erasure_leaves_no_link_and_keeps_the_customer(api):
    handler, pepper, resources = api
    _status, customer = create(handler, ident("x", "erase-me"), ident("tiktok", "keep-me"))
    settings = ApiSettings.from_env()
    links = CustomerLinkStore("customers", table_name=personal_data_tables(settings)["customers"])
    scope = SubjectScope(subject_id(pepper, "x", "erase-me"), now=NOW)
    exported = links.export(scope)
    assert len(exported) == 2 and all(r.get("subject_id") == scope.subject_id for r in exported)
    assert links.erase(scope) == 2
    assert links.remaining(scope) == 0
    status, view = call(handler, "GET", f"/customers/{customer['customer_id']}")
    assert status == 200 and [i["platform"] for i in view["identities"]] == ["tiktok"]
    stored = json.dumps(boto3.client("dynamodb").scan(TableName=resources.environment["CUSTOMERS_TABLE"]))
    assert scope.subject_id not in stored


def test_the_export_of_a_customer_is_every_identity_s_export_and_nothing_of_others(api):
    handler, pepper, _resources = api
    seed(pepper, "bea-x", 2, platform="x")
    seed(pepper, "bea-wa", 3, platform="whatsapp")
    seed(pepper, "not-bea", 4, platform="x")
    _status, customer = create(handler, ident("x", "bea-x"), ident("whatsapp", "bea-wa"))
    status, export = call(handler, "GET", f"/customers/{customer['customer_id']}/export")
    assert status == 200, export
    assert export["customer"]["identities"] == customer["identities"]
    subjects = {document["subject_id"]: document for document in export["subjects"]}
    assert set(subjects) == {subject_id(pepper, "x", "bea-x"), subject_id(pepper, "whatsapp", "bea-wa")}
    assert sorted(len(d["stores"]["interactions"]) for d in subjects.values()) == [2, 3]
    assert all(len(d["stores"]["customers"]) == 2 for d in subjects.values())  # owner row and link
    assert subject_id(pepper, "x", "not-bea") not in json.dumps(export)
    assert call(handler, "GET", "/customers/cus_" + "2" * 24 + "/export")[0] == 404


def test_a_customer_links_at_most_25_identities_even_when_asked_at_once(api):
    handler, _pepper, resources = api
    identities = [ident("x", f"many-{n}") for n in range(25)]
    _status, customer = create(handler, *identities)
    path = f"/customers/{customer['customer_id']}/identities"
    status, body = call(handler, "POST", path, {**ident("x", "one-more"), "reason": "T-6"})
    assert status == 409 and body["error"] == "too_many_identities"
    store = CustomerStore(resources.environment["CUSTOMERS_TABLE"])
    status, _ = call(handler, "DELETE", f"{path}/x/many-0", query={"reason": "T-6"})
    assert status == 200

    def link(n: int) -> bool:
        try:
            store.link(customer["customer_id"], Identity("x", f"{n:064x}"), reason="T-6", by="t", at=NOW)
        except Exception:
            return False
        return True

    with ThreadPoolExecutor(max_workers=4) as pool:
        linked = list(pool.map(link, range(4)))
    assert sum(linked) == 1  # one place was free
    assert len(store.get(customer["customer_id"]).identities) == 25


def test_a_link_made_after_the_erasure_of_its_subject_is_found_by_the_verification(api):
    handler, pepper, _resources = api
    create(handler, ident("x", "late-link"))
    settings = ApiSettings.from_env()
    links = CustomerLinkStore("customers", table_name=personal_data_tables(settings)["customers"])
    scope = SubjectScope(subject_id(pepper, "x", "late-link"), now=NOW)
    assert links.erase(scope) == 2
    create(handler, ident("x", "late-link"))  # linked again while the erasure is being verified
    assert links.remaining(scope) == 2  # the verification sees it: the run fails and is retried
    assert links.erase(scope) == 2 and links.remaining(scope) == 0
