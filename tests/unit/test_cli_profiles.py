"""The CLI's ``--profile`` (socialcrm.cli.http): on the local stack the AWS profile's socialcrm_persona and
socialcrm_teams say who the command acts as, and a refusal by persona is one line saying who may."""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from socialcrm.cli import CliError, main
from socialcrm.cli.http import LOCAL_URL, Api, api_of

AWS_CONFIG = """\
[profile dpo]
region = eu-west-1
socialcrm_persona = compliance-officer

[profile agent]
socialcrm_persona = agent
socialcrm_teams = support pr

[profile plain]
region = eu-west-1
"""
REFUSAL = {"error": "forbidden", "message": "compliance-officer only: POST /erasure-requests."}


@pytest.fixture(autouse=True)
def aws_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An AWS config file of three profiles, and no shared credentials."""
    config, credentials = tmp_path / "config", tmp_path / "credentials"
    config.write_text(AWS_CONFIG, encoding="utf-8")
    credentials.write_text("", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("SOCIALCRM_API_URL", raising=False)
    return config


def args(*, profile: str | None, local: bool = True, api_url: str | None = None) -> argparse.Namespace:
    return argparse.Namespace(api_url=api_url, local=local, region=None, profile=profile, reason=None)


class Refusing(BaseHTTPRequestHandler):
    """A stand-in for the local API refusing every request by persona, keeping each request's headers."""

    seen: list[dict[str, str]]

    def do_POST(self) -> None:
        self.seen.append({name.lower(): value for name, value in self.headers.items()})
        self.rfile.read(int(self.headers.get("content-length") or 0))
        payload = json.dumps(REFUSAL).encode()
        self.send_response(403)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def refusing() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Refuser", (Refusing,), {"seen": seen}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_local_profile_acts_as_its_persona():
    # Given the AWS profile of a data protection officer
    # When a command on the local stack names it
    api = api_of(args(profile="dpo"))
    # Then it talks to the local stack unsigned, as a compliance officer of no team
    assert isinstance(api, Api)
    assert api.base_url == LOCAL_URL and api.credentials is None
    assert (api.persona, api.teams) == ("compliance-officer", "")


def test_a_local_profile_s_teams_are_its_socialcrm_teams():
    api = api_of(args(profile="agent"))
    assert (api.persona, api.teams) == ("agent", "support pr")


def test_without_a_profile_a_local_command_acts_as_each_route_allows():
    api = api_of(args(profile=None))
    assert (api.persona, api.teams) == (None, None)


def test_a_local_profile_without_a_persona_is_one_line_naming_the_key():
    # Given a profile without socialcrm_persona
    # When a command on the local stack names it
    with pytest.raises(CliError) as error:
        api_of(args(profile="plain"))
    # Then one line says which key to add to which profile
    message = str(error.value)
    assert "socialcrm_persona" in message and "'plain'" in message
    assert "\n" not in message


def test_an_unknown_local_profile_is_one_line():
    with pytest.raises(CliError) as error:
        api_of(args(profile="nobody"))
    assert "'nobody'" in str(error.value) and "\n" not in str(error.value)


def test_the_command_line_prints_the_missing_persona_and_exits_2(capsys):
    code = main(["privacy", "status", "r1", "--local", "--profile", "plain"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("socialcrm: the AWS profile 'plain' has no socialcrm_persona")
    assert err.count("\n") == 1


def test_a_refusal_by_persona_is_one_line_saying_who_may():
    with refusing() as (url, seen):
        # Given the local stack refusing an agent's erasure request
        api = api_of(args(profile="agent", api_url=url))
        # When the agent's profile asks for one
        with pytest.raises(CliError) as error:
            api.call("POST", "/erasure-requests", {"subject": "x:1"})
    # Then the error is the API's message, said as a refusal
    assert str(error.value) == "not allowed: compliance-officer only: POST /erasure-requests."
    # And the request named the profile's persona and teams
    assert len(seen) == 1
    assert (seen[0]["x-dev-persona"], seen[0]["x-dev-teams"]) == ("agent", "support pr")


def test_a_local_dpo_profile_sends_its_persona():
    with refusing() as (url, seen), pytest.raises(CliError):
        api_of(args(profile="dpo", api_url=url)).call("POST", "/erasure-requests", {})
    assert seen[0]["x-dev-persona"] == "compliance-officer"
    assert seen[0]["x-dev-teams"] == ""


def test_headers_a_command_sets_itself_win_over_the_profile_s():
    with refusing() as (url, seen), pytest.raises(CliError):
        api = api_of(args(profile="agent", api_url=url))
        api.call("POST", "/erasure-requests", {}, headers={"x-dev-persona": "compliance-officer"})
    assert seen[0]["x-dev-persona"] == "compliance-officer"


def test_a_dry_run_refused_by_iam_says_it_is_for_team_leads():
    from botocore.exceptions import ClientError

    from socialcrm.cli.rules import DRY_RUN_DENIED, _denied
    from socialcrm.dal.repository import StoreError

    # Given a store error caused by IAM's refusal, and one caused by a throttle
    def store_error(code: str) -> StoreError:
        try:
            try:
                raise ClientError({"Error": {"Code": code, "Message": "no"}}, "Scan")
            except ClientError as cause:
                raise StoreError("Could not read the interactions.") from cause
        except StoreError as exc:
            return exc

    # Then only the refusal reads as "not allowed", and the line names the persona that may
    assert _denied(store_error("AccessDeniedException"))
    assert not _denied(store_error("ProvisionedThroughputExceededException"))
    assert DRY_RUN_DENIED.startswith("not allowed: team-lead only")
