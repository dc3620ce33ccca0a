"""Who is calling (socialcrm.api.callers): the persona and teams of an IAM principal's tags, read from IAM
and kept a while, and the local stack's development headers, read only from loopback without a principal."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from socialcrm.api.callers import (
    FAILURE_BACKOFF_SECONDS,
    MAX_TEAMS,
    PERSONA_TAG,
    STALE_GRACE_SECONDS,
    TEAMS_TAG,
    Callers,
    IamTags,
    entity_of,
    local_principal,
    parse_tags,
)
from socialcrm.errors import ForbiddenError, PrincipalUnavailableError
from socialcrm.personas import PERSONAS
from tests.support.apigw import http_event

ACCOUNT = "123456789012"
SESSION = "ines.doe@example.com"
ROLE = "socialcrm-agents"
ROLE_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{SESSION}"


def tags(persona: str | None, teams: str | None = None) -> dict[str, str]:
    return {
        **({PERSONA_TAG: persona} if persona is not None else {}),
        **({TEAMS_TAG: teams} if teams is not None else {}),
    }


# parse_tags ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PERSONAS))
def test_each_persona_tag_names_its_persona(name):
    # Given a principal tagged with a persona and a team
    # When its tags are parsed
    persona, teams = parse_tags(tags(name, "support"))
    # Then it is that persona, of that team
    assert persona is PERSONAS[name]
    assert teams == frozenset({"support"})


def test_teams_are_separated_by_any_whitespace():
    persona, teams = parse_tags(tags(" team-lead ", "support\tpr  sales_emea"))
    assert persona.name == "team-lead"
    assert teams == frozenset({"support", "pr", "sales_emea"})


@pytest.mark.parametrize("name", ["agent", "team-lead"])
@pytest.mark.parametrize("teams", [None, "", "   "], ids=["absent", "empty", "blank"])
def test_a_persona_that_works_cases_without_teams_is_refused_naming_the_teams_tag(name, teams):
    # Given an agent or team lead whose role has no teams
    # When its tags are parsed
    with pytest.raises(ForbiddenError) as refused:
        parse_tags(tags(name, teams))
    # Then the 403 names the teams tag to add
    assert refused.value.status == 403
    assert TEAMS_TAG in refused.value.message
    assert "no work queue" in refused.value.message


@pytest.mark.parametrize("name", ["report-reader", "operator", "compliance-officer"])
def test_a_persona_without_work_queues_needs_no_teams(name):
    persona, teams = parse_tags(tags(name))
    assert persona.name == name
    assert teams == frozenset()


@pytest.mark.parametrize(
    ("given", "tag", "says"),
    [
        pytest.param(tags(None, "support"), PERSONA_TAG, "has no", id="no persona tag"),
        pytest.param(tags("", "support"), PERSONA_TAG, "has no", id="empty persona"),
        pytest.param(tags("   ", "support"), PERSONA_TAG, "has no", id="blank persona"),
        pytest.param(tags("admin", "support"), PERSONA_TAG, "is not a persona", id="unknown persona"),
        pytest.param(tags("Agent", "support"), PERSONA_TAG, "is not a persona", id="persona in capitals"),
        pytest.param(tags("agent", "support,pr"), TEAMS_TAG, "is malformed", id="teams with commas"),
        pytest.param(tags("agent", "Support"), TEAMS_TAG, "is malformed", id="team in capitals"),
        pytest.param(
            tags("agent", "support 9lives"), TEAMS_TAG, "is malformed", id="team starting with a digit"
        ),
        pytest.param(tags("agent", "x" * 41), TEAMS_TAG, "is malformed", id="team name too long"),
        pytest.param(
            tags("agent", " ".join(f"team{i}" for i in range(MAX_TEAMS + 1))),
            TEAMS_TAG,
            "is malformed",
            id="more than 50 teams",
        ),
        pytest.param(
            tags("report-reader", "support,pr"),
            TEAMS_TAG,
            "is malformed",
            id="malformed teams of any persona",
        ),
    ],
)
def test_a_missing_or_malformed_tag_is_refused_naming_the_tag(given, tag, says):
    # Given tags with a missing or malformed persona or teams
    # When they are parsed
    with pytest.raises(ForbiddenError) as refused:
        parse_tags(given)
    # Then the 403 names the tag and says what is wrong with it, and how to fix it
    message = refused.value.message
    assert f"{tag} tag {says}" in message or f"has no {tag} tag" in message
    assert "administrator" in message or "must be" in message


def test_a_malformed_teams_tag_says_what_a_team_name_is():
    with pytest.raises(ForbiddenError) as refused:
        parse_tags(tags("agent", "support,pr"))
    assert "separated by spaces" in refused.value.message
    assert f"at most {MAX_TEAMS}" in refused.value.message


def test_exactly_the_most_teams_allowed_are_accepted():
    many = " ".join(f"team{i}" for i in range(MAX_TEAMS))
    _, teams = parse_tags(tags("agent", many))
    assert len(teams) == MAX_TEAMS


def test_an_unknown_persona_is_refused_listing_the_personas():
    with pytest.raises(ForbiddenError) as refused:
        parse_tags(tags("admin"))
    assert all(name in refused.value.message for name in PERSONAS)


# entity_of ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arn", "entity"),
    [
        pytest.param(ROLE_ARN, ("role", ROLE), id="assumed role"),
        pytest.param(
            f"arn:aws-us-gov:sts::{ACCOUNT}:assumed-role/r/s", ("role", "r"), id="another partition"
        ),
        pytest.param(
            f"arn:aws:iam::{ACCOUNT}:role/socialcrm-agents", ("role", "socialcrm-agents"), id="role"
        ),
        pytest.param(
            f"arn:aws:iam::{ACCOUNT}:role/people/emea/socialcrm-agents",
            ("role", "socialcrm-agents"),
            id="role with a path",
        ),
        pytest.param(f"arn:aws:iam::{ACCOUNT}:user/dpo", ("user", "dpo"), id="user"),
        pytest.param(f"arn:aws:iam::{ACCOUNT}:user/people/dpo", ("user", "dpo"), id="user with a path"),
    ],
)
def test_the_entity_of_a_role_or_user_principal_is_its_role_or_user(arn, entity):
    assert entity_of(arn) == entity


@pytest.mark.parametrize(
    "arn",
    [
        pytest.param(f"arn:aws:iam::{ACCOUNT}:root", id="account root"),
        pytest.param(f"arn:aws:sts::{ACCOUNT}:federated-user/bob", id="federated user"),
        pytest.param(f"arn:aws:iam::{ACCOUNT}:group/admins", id="group"),
        pytest.param(f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}", id="assumed role without a session"),
        pytest.param(f"arn:aws:sts::12345:assumed-role/{ROLE}/s", id="short account id"),
        pytest.param("not an arn", id="garbage"),
        pytest.param("", id="empty"),
    ],
)
def test_any_other_principal_has_no_entity(arn):
    assert entity_of(arn) is None


# IamTags ------------------------------------------------------------------------------------------------


class FakeIam:
    """An IAM client whose paginators serve ``pages`` (or raise ``error``), counting the calls."""

    def __init__(self, pages: list[dict[str, Any]] | None = None, error: Exception | None = None) -> None:
        self.pages = pages if pages is not None else []
        self.error = error
        self.calls: list[tuple[str, dict[str, str]]] = []

    def get_paginator(self, operation: str) -> FakeIam._Paginator:
        return FakeIam._Paginator(self, operation)

    class _Paginator:
        def __init__(self, client: FakeIam, operation: str) -> None:
            self.client, self.operation = client, operation

        def paginate(self, **kwargs: str) -> Iterator[dict[str, Any]]:
            self.client.calls.append((self.operation, kwargs))
            if self.client.error is not None:
                raise self.client.error
            yield from self.client.pages


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def page(**values: str) -> dict[str, Any]:
    return {"Tags": [{"Key": key, "Value": value} for key, value in values.items()]}


AGENT_TAGS = {PERSONA_TAG: "agent", TEAMS_TAG: "support pr"}


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} for {ROLE}"}}, "ListRoleTags")


def test_a_role_s_tags_are_read_with_list_role_tags_by_role_name():
    # Given a role whose tags come in two pages
    iam = FakeIam([{"Tags": [{"Key": PERSONA_TAG, "Value": "agent"}]}, page(**{TEAMS_TAG: "support pr"})])
    # When the tags of a session of that role are read
    found = IamTags(client=iam).tags(ROLE_ARN)
    # Then both pages are merged, read by the role's name
    assert found == AGENT_TAGS
    assert iam.calls == [("list_role_tags", {"RoleName": ROLE})]


def test_a_user_s_tags_are_read_with_list_user_tags_by_user_name():
    iam = FakeIam([page(**{PERSONA_TAG: "compliance-officer"})])
    found = IamTags(client=iam).tags(f"arn:aws:iam::{ACCOUNT}:user/people/dpo")
    assert found == {PERSONA_TAG: "compliance-officer"}
    assert iam.calls == [("list_user_tags", {"UserName": "dpo"})]


def test_a_principal_without_a_role_or_user_has_no_tags_and_iam_is_not_asked():
    iam = FakeIam([page(**AGENT_TAGS)])
    assert IamTags(client=iam).tags(f"arn:aws:iam::{ACCOUNT}:root") == {}
    assert iam.calls == []


def test_tags_are_kept_within_the_cache_time():
    # Given tags kept 300 seconds
    iam, clock = FakeIam([page(**AGENT_TAGS)]), Clock()
    source = IamTags(client=iam, cache_seconds=300, clock=clock)
    # When two sessions of one role are looked up within that time
    first = source.tags(ROLE_ARN)
    clock.now += 299
    second = source.tags(f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/another-session")
    # Then IAM is asked once
    assert first == second == AGENT_TAGS
    assert len(iam.calls) == 1


def test_tags_are_read_again_once_the_cache_time_has_passed():
    # Given tags kept 300 seconds, read once
    iam, clock = FakeIam([page(**AGENT_TAGS)]), Clock()
    source = IamTags(client=iam, cache_seconds=300, clock=clock)
    source.tags(ROLE_ARN)
    # When the role's teams change and the time passes
    iam.pages = [page(**{PERSONA_TAG: "agent", TEAMS_TAG: "billing"})]
    clock.now += 300
    # Then the new teams are read
    assert source.tags(ROLE_ARN)[TEAMS_TAG] == "billing"
    assert len(iam.calls) == 2


def test_distinct_roles_are_kept_apart():
    iam = FakeIam([page(**AGENT_TAGS)])
    source = IamTags(client=iam, clock=Clock())
    source.tags(ROLE_ARN)
    source.tags(f"arn:aws:sts::{ACCOUNT}:assumed-role/another-role/{SESSION}")
    source.tags(f"arn:aws:iam::{ACCOUNT}:user/{ROLE}")  # a user of the role's name is another entity
    assert [call[1] for call in iam.calls] == [
        {"RoleName": ROLE},
        {"RoleName": "another-role"},
        {"UserName": ROLE},
    ]


def test_an_unknown_role_has_no_tags():
    iam = FakeIam(error=client_error("NoSuchEntity"))
    assert IamTags(client=iam).tags(ROLE_ARN) == {}


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(client_error("Throttling"), id="throttled"),
        pytest.param(client_error("AccessDenied"), id="access denied"),
        pytest.param(EndpointConnectionError(endpoint_url="https://iam.amazonaws.com/"), id="no connection"),
    ],
)
def test_tags_that_cannot_be_read_make_the_principal_unavailable(error):
    # Given IAM failing
    iam = FakeIam(error=error)
    # When the tags are read
    with pytest.raises(PrincipalUnavailableError) as unavailable:
        IamTags(client=iam).tags(ROLE_ARN)
    # Then the answer is a 503 that may be retried, naming no principal
    assert unavailable.value.status == 503
    assert "retry" in unavailable.value.message
    assert ROLE not in unavailable.value.message and SESSION not in unavailable.value.message


def test_a_failed_read_is_retried_after_a_short_back_off_not_on_every_request():
    # Given IAM throttling once
    iam, clock = FakeIam(error=client_error("Throttling")), Clock()
    source = IamTags(client=iam, clock=clock)
    with pytest.raises(PrincipalUnavailableError):
        source.tags(ROLE_ARN)
    calls = len(iam.calls)
    # When IAM recovers, a request within the back-off is still a 503 without asking IAM again
    iam.error, iam.pages = None, [page(**AGENT_TAGS)]
    with pytest.raises(PrincipalUnavailableError):
        source.tags(ROLE_ARN)
    assert len(iam.calls) == calls
    # Then after it, the tags are read
    clock.now += FAILURE_BACKOFF_SECONDS + 1
    assert source.tags(ROLE_ARN) == AGENT_TAGS


def test_while_iam_cannot_be_read_the_tags_read_last_still_answer_for_an_hour():
    # Given tags read once, then IAM failing after they expired
    iam, clock = FakeIam(pages=[page(**AGENT_TAGS)]), Clock()
    source = IamTags(client=iam, clock=clock, cache_seconds=300)
    assert source.tags(ROLE_ARN) == AGENT_TAGS
    iam.error = client_error("ServiceUnavailable")
    clock.now += 301
    # When the tags are asked for / Then the last ones answer (the caller keeps working)
    assert source.tags(ROLE_ARN) == AGENT_TAGS
    # But not past the grace: then it is a 503
    clock.now += STALE_GRACE_SECONDS + FAILURE_BACKOFF_SECONDS
    with pytest.raises(PrincipalUnavailableError):
        source.tags(ROLE_ARN)


def test_iam_tags_reads_the_tags_of_real_roles_and_users():
    with mock_aws():
        # Given a role and a user tagged as an administrator would tag them (in moto's IAM)
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_role(RoleName="socialcrm-agents", AssumeRolePolicyDocument="{}", Path="/people/")
        iam.tag_role(
            RoleName="socialcrm-agents",
            Tags=[{"Key": PERSONA_TAG, "Value": "agent"}, {"Key": TEAMS_TAG, "Value": "support pr"}],
        )
        iam.create_user(UserName="dpo")
        iam.tag_user(
            UserName="dpo",
            Tags=[{"Key": PERSONA_TAG, "Value": "compliance-officer"}, {"Key": "cost-centre", "Value": "42"}],
        )
        source = IamTags(client=iam)
        # When their principals' tags are read
        role = source.tags(f"arn:aws:sts::{ACCOUNT}:assumed-role/socialcrm-agents/{SESSION}")
        user = source.tags(f"arn:aws:iam::{ACCOUNT}:user/dpo")
        unknown = source.tags(f"arn:aws:sts::{ACCOUNT}:assumed-role/no-such-role/{SESSION}")
    # Then they are the tags IAM holds (and an unknown role has none)
    assert role == AGENT_TAGS
    assert user == {PERSONA_TAG: "compliance-officer", "cost-centre": "42"}
    assert unknown == {}
    assert parse_tags(role) == (PERSONAS["agent"], frozenset({"support", "pr"}))


# Callers.of ---------------------------------------------------------------------------------------------


class Tags:
    """A tag source of fixed tags per principal ARN, recording what it was asked."""

    def __init__(self, by_arn: Mapping[str, Mapping[str, str]]) -> None:
        self.by_arn = by_arn
        self.asked: list[str] = []

    def tags(self, principal_arn: str) -> Mapping[str, str]:
        self.asked.append(principal_arn)
        return self.by_arn.get(principal_arn, {})


DEV = {"X-Dev-Persona": "compliance-officer", "X-Dev-Teams": ""}


def event(
    *,
    principal: str | None = None,
    headers: dict[str, str] | None = None,
    source_ip: str | None = "192.0.2.1",
) -> APIGatewayProxyEventV2:
    raw = http_event("GET", "/cases", headers=headers, principal=principal)
    if source_ip is None:
        del raw["requestContext"]["http"]["sourceIp"]
    else:
        raw["requestContext"]["http"]["sourceIp"] = source_ip
    return APIGatewayProxyEventV2(raw)


@pytest.mark.parametrize("dev_principals", [False, True])
@pytest.mark.parametrize("source_ip", ["192.0.2.1", "127.0.0.1", None])
def test_an_iam_principal_is_its_tags_and_dev_headers_are_ignored(dev_principals, source_ip):
    # Given a request signed by an agent's role that also carries development headers
    callers = Callers(Tags({ROLE_ARN: AGENT_TAGS}), dev_principals=dev_principals)
    request = event(principal=ROLE_ARN, headers=DEV, source_ip=source_ip)
    # When its caller is resolved
    caller = callers.of(request)
    # Then the role's tags win: the headers are not read
    assert caller.principal == ROLE_ARN
    assert caller.persona is PERSONAS["agent"]
    assert caller.teams == frozenset({"support", "pr"})


def test_a_request_without_a_principal_is_refused_outside_the_local_stack():
    # Given the functions as deployed (no development principals) and a request without an IAM principal
    callers = Callers(Tags({}), dev_principals=False)
    # When its caller is resolved, from loopback and with development headers
    with pytest.raises(ForbiddenError) as refused:
        callers.of(event(headers=DEV, source_ip="127.0.0.1"))
    # Then it is refused: the route is IAM-authorised
    assert "No IAM principal" in refused.value.message


def test_dev_headers_from_a_client_that_is_not_on_loopback_are_refused():
    callers = Callers(Tags({}), dev_principals=True)
    with pytest.raises(ForbiddenError) as refused:
        callers.of(event(headers=DEV, source_ip="192.0.2.1"))
    assert "No IAM principal" in refused.value.message


def test_dev_headers_from_an_unparseable_source_address_are_refused():
    callers = Callers(Tags({}), dev_principals=True)
    with pytest.raises(ForbiddenError):
        callers.of(event(headers=DEV, source_ip="not-an-address"))


@pytest.mark.parametrize("source_ip", [None, "", "127.0.0.1", "127.8.9.10", "::1"])
def test_dev_headers_on_the_local_stack_from_loopback_name_the_caller(source_ip):
    # Given the local stack (development principals) and a loopback request naming a persona and teams
    callers = Callers(Tags({}), dev_principals=True)
    request = event(headers={"X-Dev-Persona": "agent", "X-Dev-Teams": "support pr"}, source_ip=source_ip)
    # When its caller is resolved
    caller = callers.of(request)
    # Then it is that persona of those teams, recorded as the local principal
    assert caller.persona is PERSONAS["agent"]
    assert caller.teams == frozenset({"support", "pr"})
    assert caller.principal == local_principal()


@pytest.mark.parametrize(
    ("headers", "tag"),
    [
        pytest.param(
            {"X-Dev-Persona": "agent", "X-Dev-Teams": "support,pr"}, TEAMS_TAG, id="teams with commas"
        ),
        pytest.param({"X-Dev-Persona": "agent"}, TEAMS_TAG, id="no teams"),
        pytest.param({"X-Dev-Persona": "root"}, PERSONA_TAG, id="unknown persona"),
        pytest.param({}, PERSONA_TAG, id="no headers"),
    ],
)
def test_malformed_dev_headers_are_refused_naming_the_headers(headers, tag):
    callers = Callers(Tags({}), dev_principals=True)
    with pytest.raises(ForbiddenError) as refused:
        callers.of(event(headers=headers, source_ip="127.0.0.1"))
    assert tag in refused.value.message
    assert "X-Dev-Persona / X-Dev-Teams header" in refused.value.message


@pytest.mark.parametrize(
    "given",
    [
        pytest.param({}, id="untagged"),
        pytest.param(tags("admin", "support"), id="unknown persona"),
        pytest.param(tags("agent"), id="agent without teams"),
        pytest.param(tags("agent", "support,pr"), id="teams with commas"),
    ],
)
def test_a_refusal_never_names_the_principal(given):
    # Given a session, named by an email, of a role with missing or malformed tags
    callers = Callers(Tags({ROLE_ARN: given}))
    # When its caller is resolved
    with pytest.raises(ForbiddenError) as refused:
        callers.of(event(principal=ROLE_ARN))
    # Then the 403 names neither the ARN, the role nor the session
    message = refused.value.message
    assert ROLE_ARN not in message and ROLE not in message and SESSION not in message
    assert "ines" not in message and ACCOUNT not in message


def test_a_principal_of_another_account_is_refused_without_reading_its_tags():
    # Given a request whose principal is of another account than the API's
    source = Tags({ROLE_ARN.replace(ACCOUNT, "999999999999"): AGENT_TAGS})
    request = event(principal=ROLE_ARN.replace(ACCOUNT, "999999999999"))
    # When its caller is resolved / Then it is refused, and no tags were read
    with pytest.raises(ForbiddenError, match="not of this API's account"):
        Callers(source).of(request)
    assert source.asked == []
