"""Who may do what: the personas and the routes each may call, in one table.

The CDK app builds one managed policy per persona from it (``infra/personas.py``): ``execute-api:Invoke``
on exactly these routes, plus the few grants outside the API a persona needs. The README's table and the
``routes_per_persona`` figure are generated from it, and an infrastructure test judges each policy with
IAM's own matching rules against every route, so the table, the policies and the README cannot drift.

Routes are written as in ``topology.ROUTES``: ``"METHOD /path/{param}"``. The webhook routes belong to no
persona (platforms call them, signed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from socialcrm.topology import ROUTES

# Reading and working cases: the work queues, a case and its replies, the messages and customers behind them.
_WORK = frozenset(
    {
        "GET /cases",
        "GET /cases/{case_id}",
        "PATCH /cases/{case_id}",
        "POST /cases/{case_id}/replies",
        "GET /cases/{case_id}/replies",
        "GET /cases/{case_id}/replies/{reply_id}",
        "GET /interactions/{interaction_id}",
        "GET /subjects/{platform}/{user_id}/interactions",
        "POST /customers",
        "GET /customers/{customer_id}",
        "GET /customers/{customer_id}/interactions",
        "POST /customers/{customer_id}/identities",
        "DELETE /customers/{customer_id}/identities/{platform}/{user_id}",
    }
)


@dataclass(frozen=True)
class Persona:
    name: str
    summary: str
    routes: frozenset[str]
    # Grants outside the API, by name (infra/personas.py turns each into IAM statements).
    extras: tuple[str, ...] = ()
    # Works cases of their teams (the socialcrm:teams tag): work queues, cases and messages by team.
    works_cases: bool = False
    # What the handlers allow beyond the routes (IAM sees the route, not the fields of a PATCH).
    abilities: frozenset[str] = frozenset()


PERSONAS: dict[str, Persona] = {
    persona.name: persona
    for persona in (
        Persona(
            "agent",
            "reads and works the cases of their teams: messages, timelines, customers, replies",
            _WORK,
            works_cases=True,
        ),
        Persona(
            "team-lead",
            "as an agent, and assigns and re-prioritises their teams' cases, and tries rules documents "
            "against stored messages (rules dry-run)",
            _WORK,
            extras=("rules-dry-run",),
            works_cases=True,
            abilities=frozenset({"assign", "prioritise"}),
        ),
        Persona(
            "compliance-officer",
            "erasure requests, exports, objections and access logs; no work queues",
            frozenset(
                {
                    "POST /erasure-requests",
                    "GET /erasure-requests/{request_id}",
                    "POST /erasure-requests/{request_id}/retry",
                    "GET /subjects/{platform}/{user_id}/objection",
                    "PUT /subjects/{platform}/{user_id}/objection",
                    "DELETE /subjects/{platform}/{user_id}/objection",
                    "GET /subjects/{platform}/{user_id}/export",
                    "GET /customers/{customer_id}/export",
                    "GET /subjects/{platform}/{user_id}/access-log",
                    "GET /customers/{customer_id}/access-log",
                }
            ),
        ),
        Persona(
            "report-reader",
            "the report summary and the daily reports; never a person's data",
            frozenset({"GET /reports/summary"}),
            extras=("daily-reports",),
        ),
        Persona(
            "operator",
            "platform health, bus replays and rules deployments; no personal data",
            frozenset({"GET /health/platforms"}),
            extras=("replay", "rules-deployment"),
        ),
    )
}

# The routes no persona calls: the platforms' webhooks (signed by the platform, not IAM-authorised).
PUBLIC_ROUTES = frozenset(f"{method} {path}" for method, path, _fn, iam in ROUTES if not iam)


# Each route as a path matcher: a path parameter is one segment (as API Gateway matches it).
_MATCHERS = tuple(
    (
        f"{method} {path}",
        re.compile("[^/]+".join(re.escape(part) for part in re.split(r"\{[^/{}]+\}", path))),
    )
    for method, path, _fn, _iam in ROUTES
)


# The functions that serve IAM-authorised routes: they read their callers' tags (socialcrm.api.callers).
CALLER_FUNCTIONS = frozenset(fn for _method, _path, fn, iam in ROUTES if iam)


def route_keys() -> frozenset[str]:
    """Every IAM-authorised route of the API, as ``"METHOD /path"``."""
    return frozenset(f"{method} {path}" for method, path, _fn, iam in ROUTES if iam)


def allowed(persona: str) -> frozenset[str]:
    return PERSONAS[persona].routes


def personas_allowed(route: str) -> list[str]:
    """The personas that may call ``route``, in the table's order (what a 403 names).

    >>> personas_allowed("POST /erasure-requests")
    ['compliance-officer']
    """
    return [name for name, persona in PERSONAS.items() if route in persona.routes]


def most_able(route: str) -> str | None:
    """Of the personas that may call ``route``, the one allowed the most (a team lead over an agent): who
    a developer acts as on the local stack when they name no persona.

    >>> most_able("PATCH /cases/{case_id}"), most_able("POST /webhooks/{platform}")
    ('team-lead', None)
    """
    allowed = personas_allowed(route)
    return max(allowed, key=lambda name: len(PERSONAS[name].abilities)) if allowed else None


def personas_able(ability: str) -> list[str]:
    """The personas with ``ability`` (``assign``, ``prioritise``), in the table's order."""
    return [name for name, persona in PERSONAS.items() if ability in persona.abilities]


def route_of(method: str, path: str) -> str | None:
    """The route (``"GET /cases/{case_id}"``) a request's method and path match, or None.

    >>> route_of("get", "/customers/cu_1/access-log")
    'GET /customers/{customer_id}/access-log'
    """
    for key, pattern in _MATCHERS:
        if key.startswith(method.upper() + " ") and pattern.fullmatch(path):
            return key
    return None


def resource_path(route: str) -> str:
    """The part of an ``execute-api`` ARN after the stage that names a route, a path parameter a ``*``.

    >>> resource_path("GET /customers/{customer_id}/access-log")
    'GET/customers/*/access-log'
    """
    method, path = route.split(" ", 1)
    return method + re.sub(r"\{[^}/]+\}", "*", path)


def routes_per_persona() -> dict[str, list[str]]:
    """Each persona's routes, sorted (the README's table and the ``routes_per_persona`` figure)."""
    return {name: sorted(persona.routes) for name, persona in PERSONAS.items()}


def markdown_table() -> str:
    """The README's table of personas and their routes (a test keeps the README's copy equal to it)."""
    lines = ["| persona | what for | routes | outside the API |", "| --- | --- | --- | --- |"]
    for name, persona in PERSONAS.items():
        routes = "<br>".join(f"`{route}`" for route in sorted(persona.routes, key=_route_order))
        extras = ", ".join(persona.extras) or "—"
        lines.append(f"| `{name}` | {persona.summary} | {routes} | {extras} |")
    return "\n".join(lines)


def _route_order(route: str) -> tuple[str, str]:
    method, path = route.split(" ", 1)
    return path, method


if __name__ == "__main__":
    print(markdown_table())
