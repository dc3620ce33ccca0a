"""The development principal of the local stack: who a request says it is, in place of IAM.

The local stack has no IAM authoriser. A request names its persona and teams in the ``X-Dev-Persona`` and
``X-Dev-Teams`` headers, which the functions read only when ``SOCIALCRM_DEV_PRINCIPALS`` is set (the local
stack sets it; the CDK app never does) and the request carries no IAM principal
(``socialcrm.api.callers``); the local API drops them from any client that is not on loopback.

The demo, the end-to-end tests and the CLI on the local stack send them. Without an explicit persona a
request acts as the persona its route allows that may do the most (a team lead over an agent) (``socialcrm.personas``), of every team of the local
rules document: a developer can call any route, and a persona named on purpose is refused as it would be
in AWS.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml

from socialcrm.api.callers import DEV_PERSONA_HEADER, DEV_TEAMS_HEADER
from socialcrm.personas import most_able, route_of


@lru_cache(maxsize=4)
def _teams_of(rules_file: str) -> str:
    document = yaml.safe_load(Path(rules_file).read_text(encoding="utf-8")) or {}
    return " ".join(document.get("teams") or [])


def local_teams() -> str:
    """Every team of the local stack's rules document (``RULES_FILE``, else the repository's)."""
    from socialcrm.routing.source import REPO_RULES_FILE

    return _teams_of(os.environ.get("RULES_FILE") or str(REPO_RULES_FILE))


def dev_headers(
    method: str, path: str, persona: str | None = None, teams: str | None = None
) -> dict[str, str]:
    """The development principal's headers for a request: ``persona`` (default: the most able persona the
    route allows) of ``teams`` (default: every local team); none for a webhook or an unknown route.

    >>> dev_headers("POST", "/webhooks/x")
    {}
    """
    route = route_of(method, path)
    most = most_able(route) if route else None
    if most is None:  # a webhook, or no route: no persona calls it
        return {}
    return {DEV_PERSONA_HEADER: persona or most, DEV_TEAMS_HEADER: local_teams() if teams is None else teams}


class DevPrincipal(httpx.Auth):
    """An ``httpx`` auth adding the development principal to each request that names none.

    ``DevPrincipal()`` acts as whoever each route allows; ``DevPrincipal("agent", "support")`` as one
    persona, so the routes it may not call are refused.
    """

    def __init__(self, persona: str | None = None, teams: str | None = None) -> None:
        self.persona, self.teams = persona, teams

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if DEV_PERSONA_HEADER not in request.headers:
            path = urlsplit(str(request.url)).path
            request.headers.update(dev_headers(request.method, path, self.persona, self.teams))
        yield request
