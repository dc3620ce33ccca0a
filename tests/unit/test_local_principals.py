"""The local stack's development principal (socialcrm.local.principals, socialcrm.local.app): only a
loopback client may name itself with the X-Dev-* headers, and the demo's requests name the persona each
route allows unless told otherwise."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from socialcrm.local.app import _trusted
from socialcrm.local.principals import DevPrincipal, dev_headers, local_teams

OTHER_HEADERS = [(b"host", b"127.0.0.1:3000"), (b"content-type", b"application/json"), (b"x-reason", b"T-42")]
DEV_HEADERS = [(b"x-dev-persona", b"team-lead"), (b"X-Dev-Teams", b"support pr")]


NO_CLIENT = object()


def scope(client: Any) -> dict[str, Any]:
    """An ASGI scope from ``client`` (``NO_CLIENT``: a scope without one, as ASGI allows)."""
    headers = [OTHER_HEADERS[0], DEV_HEADERS[0], *OTHER_HEADERS[1:], DEV_HEADERS[1]]
    given = {"type": "http", "method": "GET", "path": "/cases", "headers": headers}
    return given if client is NO_CLIENT else {**given, "client": client}


@pytest.mark.parametrize("client", [("127.0.0.1", 53211), ("::1", 53211), ["127.0.0.1", 1]])
def test_a_loopback_client_keeps_its_dev_headers(client):
    # Given a request from the developer's own machine naming a persona
    given = scope(client)
    # When the local API passes it on / Then it is passed on as it came
    assert _trusted(given)["headers"] == given["headers"]


@pytest.mark.parametrize(
    "client",
    [
        pytest.param(("192.0.2.7", 53211), id="another machine"),
        pytest.param(("::ffff:192.0.2.7", 53211), id="another machine over IPv6"),
        pytest.param(None, id="client unknown"),
        pytest.param(NO_CLIENT, id="no client"),
        pytest.param(("testclient", 50000), id="not an address"),
    ],
)
def test_a_client_not_on_loopback_loses_its_dev_headers_and_keeps_the_others(client):
    # Given a request naming a persona from a client that is not on loopback (or that names none)
    given = scope(client)
    # When the local API passes it on
    passed = _trusted(given)
    # Then the development headers are dropped, whatever their case, and every other header kept in order
    assert passed["headers"] == OTHER_HEADERS
    assert passed["path"] == "/cases" and passed["method"] == "GET"
    assert given["headers"] != OTHER_HEADERS  # the scope it was given is left as it was


@pytest.mark.parametrize(
    ("method", "path", "persona"),
    [
        ("PATCH", "/cases/cs_1", "team-lead"),
        ("GET", "/cases", "team-lead"),
        ("POST", "/erasure-requests", "compliance-officer"),
        ("GET", "/reports/summary", "report-reader"),
        ("GET", "/health/platforms", "operator"),
    ],
)
def test_without_a_persona_a_request_acts_as_the_most_able_persona_of_its_route(
    monkeypatch, method, path, persona
):
    monkeypatch.delenv("RULES_FILE", raising=False)
    headers = dev_headers(method, path)
    assert headers == {"x-dev-persona": persona, "x-dev-teams": local_teams()}
    assert local_teams()  # every team of the repository's rules document


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/webhooks/meta"), ("GET", "/webhooks/x"), ("GET", "/no-such-route"), ("DELETE", "/cases")],
)
def test_a_webhook_or_unknown_route_gets_no_dev_headers(method, path):
    assert dev_headers(method, path) == {}
    assert dev_headers(method, path, "agent", "support") == {}


def test_a_named_persona_and_teams_are_sent_as_named():
    assert dev_headers("POST", "/erasure-requests", "agent", "") == {
        "x-dev-persona": "agent",
        "x-dev-teams": "",
    }
    assert dev_headers("GET", "/cases", "agent", "support") == {
        "x-dev-persona": "agent",
        "x-dev-teams": "support",
    }


def capturing() -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    return httpx.MockTransport(answer), seen


def test_dev_principal_adds_the_routes_persona_to_requests_that_name_none(monkeypatch):
    monkeypatch.delenv("RULES_FILE", raising=False)
    transport, seen = capturing()
    with httpx.Client(transport=transport, auth=DevPrincipal(), base_url="http://127.0.0.1:3000") as client:
        client.patch("/cases/cs_1", json={})
        client.post("/webhooks/meta", content=b"{}")
    assert seen[0].headers["x-dev-persona"] == "team-lead"
    assert seen[0].headers["x-dev-teams"] == local_teams()
    assert "x-dev-persona" not in seen[1].headers


def test_dev_principal_of_one_persona_names_it_on_every_route():
    transport, seen = capturing()
    auth = DevPrincipal("agent", "support")
    with httpx.Client(transport=transport, auth=auth, base_url="http://127.0.0.1:3000") as client:
        client.post("/erasure-requests", json={})
    assert (seen[0].headers["x-dev-persona"], seen[0].headers["x-dev-teams"]) == ("agent", "support")


def test_dev_principal_does_not_override_a_persona_the_request_names():
    # Given a client acting as an agent, and a request that names its own persona (in any case)
    transport, seen = capturing()
    auth = DevPrincipal("agent", "support")
    with httpx.Client(transport=transport, auth=auth, base_url="http://127.0.0.1:3000") as client:
        # When it is sent
        client.get("/cases", headers={"X-Dev-Persona": "team-lead", "X-Dev-Teams": "pr"})
        client.get("/cases", headers={"x-dev-persona": "operator"})
    # Then the request's own headers are sent, alone
    assert seen[0].headers.get_list("x-dev-persona") == ["team-lead"]
    assert seen[0].headers.get_list("x-dev-teams") == ["pr"]
    assert seen[1].headers.get_list("x-dev-persona") == ["operator"]
    assert "x-dev-teams" not in seen[1].headers
