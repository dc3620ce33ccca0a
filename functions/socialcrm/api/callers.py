"""Who is calling: the persona and teams of the caller's IAM principal, checked before every CRM route.

API Gateway's IAM authoriser has already checked that the principal may invoke the route (its persona's
managed policy, ``infra/personas.py``). The handler needs more than IAM sees: the caller's teams (a case
of another team is a 404, a work queue lists only the caller's teams) and the fields of a ``PATCH`` that
only a team lead may change. Both come from two tags on the role the caller assumed (or the IAM user):

* ``socialcrm:persona`` — one of ``socialcrm.personas.PERSONAS`` (``agent``, ``team-lead``, …);
* ``socialcrm:teams`` — the agent's or team lead's teams, separated by spaces (tag values cannot hold
  commas), each a team name of the rules document.

The tags are read with ``iam:ListRoleTags`` / ``iam:ListUserTags`` and kept for ``cache_seconds`` per
principal, so a change of teams reaches a warm function within minutes. The handler checks the persona
against the same table as the policies (defence in depth: a role whose tag and policy disagree gets the
smaller of the two).

The local stack has no IAM authoriser: there, and only there (``SOCIALCRM_DEV_PRINCIPALS``, set by the
local stack and by nothing the CDK app deploys), the ``X-Dev-Persona`` and ``X-Dev-Teams`` headers stand
for the tags. They are never read when the request carries an IAM principal or comes from anything but
loopback, and the local API drops them from any other client.

Errors name the tag or the persona that may, never the principal (a session name is often an email).
"""

from __future__ import annotations

import ipaddress
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from socialcrm.errors import ConfigurationError, ForbiddenError, PrincipalUnavailableError
from socialcrm.models import Interaction
from socialcrm.observability import logger
from socialcrm.personas import PERSONAS, Persona, personas_allowed, route_keys
from socialcrm.settings import CallerSettings

PERSONA_TAG = "socialcrm:persona"
TEAMS_TAG = "socialcrm:teams"
DEV_PERSONA_HEADER = "x-dev-persona"
DEV_TEAMS_HEADER = "x-dev-teams"
DEV_HEADERS = (DEV_PERSONA_HEADER, DEV_TEAMS_HEADER)
# A team name as the rules document spells it (socialcrm.routing.rules.TeamName).
TEAM_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
MAX_TEAMS = 50
CONTEXT_KEY = "caller"
# Who asked, when the request did not come through API Gateway's IAM authoriser (the local stack): the
# name in SOCIALCRM_LOCAL_PRINCIPAL, else this. Every deployed route is IAM-authorised, so has an ARN.
LOCAL_PRINCIPAL = "local-stack (unauthenticated loopback)"
LOCAL_PRINCIPAL_VARIABLE = "SOCIALCRM_LOCAL_PRINCIPAL"
IAM_ROUTES = route_keys()
# How long tags read earlier still answer while IAM cannot be read, and how long a failed read is not
# repeated for the same principal (IAM's control plane is one region's: a burst of failures should not
# become one IAM call per request).
STALE_GRACE_SECONDS = 3600
FAILURE_BACKOFF_SECONDS = 5
# arn:aws:sts::<account>:assumed-role/<role>/<session>, arn:aws:iam::<account>:role|user/<path>/<name>
_ASSUMED_ROLE = re.compile(r"^arn:aws[a-z-]*:sts::\d{12}:assumed-role/([\w+=,.@-]{1,64})/[^/]+$")
_IAM_ENTITY = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:(role|user)/(?:[\x21-\x7e]*/)?([\w+=,.@-]{1,128})$")


@dataclass(frozen=True)
class Caller:
    """Who is calling: the principal (as the access ledger records it), its persona and its teams."""

    principal: str
    persona: Persona
    teams: frozenset[str] = frozenset()

    def sees(self, teams: Iterable[str]) -> bool:
        """Whether the caller may see what is routed to ``teams`` (a persona without teams sees none).

        >>> Caller("p", PERSONAS["agent"], frozenset({"support"})).sees(["pr", "support"])
        True
        """
        return not self.teams.isdisjoint(teams)

    def may(self, ability: str) -> bool:
        return ability in self.persona.abilities

    def shown(self, interaction: Interaction) -> bool:
        """Whether the caller sees a message by its own routing: one routed to teams is seen by those
        teams; one that is in no team's queue (a brand reply, a message recorded without a case or not
        routed yet) by any caller of the route."""
        routing = interaction.routing
        return routing is None or not routing.teams or self.sees(routing.teams)

    def visible(self, items: Sequence[Interaction], case_teams: CaseTeams | None) -> list[Interaction]:
        """``items`` the caller sees: by their own routing, or by the teams their case is queued for now
        (a case that gained the caller's team since shows its earlier messages too)."""
        unsure = sorted(
            {i.routing.case_id for i in items if not self.shown(i) and i.routing and i.routing.case_id}
        )
        now = case_teams(unsure) if unsure and case_teams is not None else {}
        return [
            i
            for i in items
            if self.shown(i) or (i.routing is not None and self.sees(now.get(i.routing.case_id or "", ())))
        ]


def parse_tags(tags: Mapping[str, str], *, source: str = "tag") -> tuple[Persona, frozenset[str]]:
    """The persona and teams ``tags`` name; a 403 naming the missing or malformed tag (never its owner).

    >>> persona, teams = parse_tags({"socialcrm:persona": "agent", "socialcrm:teams": "support  pr"})
    >>> persona.name, sorted(teams)
    ('agent', ['pr', 'support'])
    """
    name = tags.get(PERSONA_TAG)
    if name is None or not name.strip():
        raise ForbiddenError(
            f"Your IAM principal has no {PERSONA_TAG} {source}: ask an administrator to tag your role with "
            f"one of {', '.join(PERSONAS)}."
        )
    persona = PERSONAS.get(name.strip())
    if persona is None:
        raise ForbiddenError(
            f"Your IAM principal's {PERSONA_TAG} {source} is not a persona: it must be one of "
            f"{', '.join(PERSONAS)}."
        )
    raw = tags.get(TEAMS_TAG)
    if raw is None or not raw.strip():
        if persona.works_cases:
            raise ForbiddenError(
                f"Your IAM principal has no {TEAMS_TAG} {source}, so you have no work queue: ask an "
                "administrator to tag your role with your teams, separated by spaces."
            )
        return persona, frozenset()
    teams = raw.split()
    if len(teams) > MAX_TEAMS or not all(TEAM_NAME.match(team) for team in teams):
        raise ForbiddenError(
            f"Your IAM principal's {TEAMS_TAG} {source} is malformed: it must be team names (lower case "
            f"letters, digits, - and _; at most {MAX_TEAMS}) separated by spaces."
        )
    return persona, frozenset(teams)


# The teams each of some cases is queued for now (socialcrm.routing.store.CaseRepository.teams_of).
CaseTeams = Callable[[Sequence[str]], Mapping[str, list[str]]]


class TagSource(Protocol):
    def tags(self, principal_arn: str) -> Mapping[str, str]: ...


@dataclass
class IamTags:
    """The tags of the IAM role or user behind a principal ARN, read with ``iam:ListRoleTags`` or
    ``iam:ListUserTags`` and kept ``cache_seconds``. An ARN of anything else (the account root, a
    federated user) has no tags; an unknown role or user has none either."""

    client: Any | None = None
    cache_seconds: int = 300
    clock: Callable[[], float] = time.monotonic
    _cache: dict[tuple[str, str], tuple[float, dict[str, str]]] = field(default_factory=dict)
    _failed: dict[tuple[str, str], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def tags(self, principal_arn: str) -> Mapping[str, str]:
        entity = entity_of(principal_arn)
        if entity is None:
            return {}
        now = self.clock()
        with self._lock:
            cached = self._cache.get(entity)
            failed_until = self._failed.get(entity, 0.0)
        if cached is not None and cached[0] > now:
            return cached[1]
        stale = cached[1] if cached is not None and cached[0] + STALE_GRACE_SECONDS > now else None
        if failed_until > now:  # IAM failed for this principal a moment ago: not again yet
            if stale is not None:
                return stale
            raise PrincipalUnavailableError("Your IAM principal's tags could not be read; retry.")
        try:
            tags = self._read(*entity)
        except PrincipalUnavailableError:
            with self._lock:
                self._failed[entity] = now + FAILURE_BACKOFF_SECONDS
            if stale is not None:  # the tags read last, while IAM cannot be read
                logger.warning("principal tags stale")
                return stale
            raise
        with self._lock:
            if len(self._cache) > 1000:  # many distinct principals: start again rather than grow
                self._cache.clear()
                self._failed.clear()
            self._cache[entity] = (now + self.cache_seconds, tags)
            self._failed.pop(entity, None)
        return tags

    def _read(self, kind: str, name: str) -> dict[str, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client or _iam_client()
        operation, key = ("list_role_tags", "RoleName") if kind == "role" else ("list_user_tags", "UserName")
        tags: dict[str, str] = {}
        try:
            for page in client.get_paginator(operation).paginate(**{key: name}):
                tags.update({tag["Key"]: tag["Value"] for tag in page.get("Tags", [])})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return {}
            logger.warning("principal tags unavailable", error=exc.response.get("Error", {}).get("Code"))
            raise PrincipalUnavailableError("Your IAM principal's tags could not be read; retry.") from exc
        except BotoCoreError as exc:
            logger.warning("principal tags unavailable", error=type(exc).__name__)
            raise PrincipalUnavailableError("Your IAM principal's tags could not be read; retry.") from exc
        return tags


def entity_of(principal_arn: str) -> tuple[str, str] | None:
    """The IAM role or user whose tags describe a principal: ``("role"|"user", name)``, or None.

    >>> entity_of("arn:aws:sts::123456789012:assumed-role/socialcrm-agent/ines")
    ('role', 'socialcrm-agent')
    >>> entity_of("arn:aws:iam::123456789012:user/people/dpo")
    ('user', 'dpo')
    >>> entity_of("arn:aws:iam::123456789012:root") is None
    True
    """
    assumed = _ASSUMED_ROLE.match(principal_arn)
    if assumed:
        return "role", assumed.group(1)
    entity = _IAM_ENTITY.match(principal_arn)
    if entity:
        return entity.group(1), entity.group(2)
    return None


@lru_cache(maxsize=1)
def _iam_client() -> Any:
    import boto3

    return boto3.client("iam")


@dataclass(frozen=True)
class Callers:
    """Resolves the caller of a request (see the module docstring)."""

    tags: TagSource
    dev_principals: bool = False

    def of(self, event: Any) -> Caller:
        arn = _user_arn(event)
        if arn:
            account = _account_of(event)
            if account and f":{account}:" not in arn:  # only this account's roles and users are tagged here
                raise ForbiddenError("Your IAM principal is not of this API's account.")
            persona, teams = parse_tags(self.tags.tags(arn))
            return Caller(arn, persona, teams)
        if self.dev_principals and _from_loopback(event):
            headers = getattr(event, "headers", None) or {}
            dev = {
                PERSONA_TAG: headers.get(DEV_PERSONA_HEADER, ""),
                TEAMS_TAG: headers.get(DEV_TEAMS_HEADER, ""),
            }
            persona, teams = parse_tags(dev, source="(X-Dev-Persona / X-Dev-Teams header, local stack)")
            return Caller(local_principal(), persona, teams)
        raise ForbiddenError("No IAM principal: this route is IAM-authorised (sign the request with SigV4).")


def principal_of(event: Any) -> str:
    """The caller's IAM principal (API Gateway's IAM authoriser), or the local stack's name for it: who the
    access log, an erasure request, a reply or a customer link records."""
    return _user_arn(event) or local_principal()


def local_principal() -> str:
    """Who the local stack (and a CLI command on it) records as the caller: no IAM authoriser there."""
    return os.environ.get(LOCAL_PRINCIPAL_VARIABLE) or LOCAL_PRINCIPAL


def _user_arn(event: Any) -> str:
    context = getattr(event, "request_context", None)
    try:
        return (context.authorizer.iam.user_arn or "") if context is not None else ""
    except (AttributeError, KeyError, TypeError):
        return ""


def _request_context(event: Any) -> dict[str, Any]:
    raw = getattr(event, "raw_event", None) or {}
    return raw.get("requestContext") or {}


def _account_of(event: Any) -> str:
    return str(_request_context(event).get("accountId") or "")


def _from_loopback(event: Any) -> bool:
    """True unless the event names a source address that is not loopback (API Gateway always names one;
    the local API only passes on the development headers of loopback clients)."""
    source = (_request_context(event).get("http") or {}).get("sourceIp")
    return not source or is_loopback(source)


def is_loopback(address: str) -> bool:
    """Whether ``address`` is a loopback IP address (anything else, a host name included, is not).

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("192.0.2.7"), is_loopback("localhost")
    (True, True, False, False)
    """
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1)
def directory() -> Callers:
    """The functions' resolver of callers, from ``CallerSettings`` (one IAM client, one cache)."""
    settings = CallerSettings.from_env()
    return Callers(IamTags(cache_seconds=settings.cache_seconds), dev_principals=settings.dev_principals)


def authorise(app: Any, next_middleware: Callable[[Any], Any]) -> Any:
    """Powertools middleware of every resolver: the caller of an IAM-authorised route must be of a persona
    allowed it (``socialcrm.personas``), or the answer is a 403 saying which personas are."""
    route = f"{app.request.method.upper()} {app.request.route}"
    if route not in IAM_ROUTES:  # a webhook, or no route at all (the resolver's 404)
        return next_middleware(app)
    caller = directory().of(app.current_event)
    if route not in caller.persona.routes:
        raise ForbiddenError(f"{' or '.join(personas_allowed(route)) or 'nobody'} only: {route}.")
    app.append_context(**{CONTEXT_KEY: caller})
    return next_middleware(app)


def caller_of(router: Any) -> Caller:
    """The caller ``authorise`` resolved for the current request."""
    caller = router.context.get(CONTEXT_KEY)
    if not isinstance(caller, Caller):
        raise ConfigurationError("No caller: the resolver runs without socialcrm.api.callers.authorise.")
    return caller
