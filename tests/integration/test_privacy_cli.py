"""``socialcrm privacy`` against the real handlers behind a loopback HTTP server (an API Gateway stand-in)."""

from __future__ import annotations

import argparse
import json
import os
import socket
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

import pytest

from socialcrm.cli import main
from socialcrm.cli import privacy as cli
from socialcrm.cli.http import api_of
from socialcrm.customers.store import CustomerStore, Identity, new_customer_id
from tests.support.apigw import LambdaContext, http_event
from tests.support.privacy import Person, World, privacy_world

ANA = Person("x", "ana-7788", "ana_on_x", "Ana Q.")
EARLIER = datetime.now(tz=UTC) - timedelta(days=1)
PRINCIPAL = "arn:aws:iam::123456789012:user/dpo"


class Gateway(BaseHTTPRequestHandler):
    """Hands each request to the function API Gateway would, as an HTTP API v2 event; IAM-signed requests
    get the caller's principal, as the IAM authoriser adds it; unsigned ones are the local stack's, from
    loopback with the development principal's headers. The erase consumer runs before the second
    status read, as it would in the background."""

    world: World
    requests: list[dict[str, Any]]
    consumer_after_reads = 1
    # Whether the function gets the path percent-decoded (as uvicorn hands it over) or as it was sent.
    decodes_paths = False

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else None
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.requests.append({"method": self.command, "path": self.path, "headers": headers})
        path, _, query = self.path.partition("?")
        if self.decodes_paths:
            path = unquote(path)
        if self.command == "GET" and path.startswith("/erasure-requests/"):
            reads = sum(1 for r in self.requests if r["path"] == self.path)
            if reads > self.consumer_after_reads:
                self.world.run_erasures()
        signed = "authorization" in headers
        event = http_event(
            self.command,
            path,
            body=body,
            headers=headers,
            query=dict(parse_qsl(query)),
            principal=PRINCIPAL if signed else None,
        )
        if not signed:  # the local stack: a loopback client naming its development principal
            event["requestContext"]["http"]["sourceIp"] = "127.0.0.1"
        function = "api" if path.endswith("/export") else "privacy"
        response = self.world.handlers[function].lambda_handler(event, LambdaContext())
        payload = response["body"].encode()
        self.send_response(response["statusCode"])
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _handle

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def api(monkeypatch, dev_secrets):
    monkeypatch.setattr(cli, "sleep", lambda seconds: None)
    monkeypatch.setenv("SOCIALCRM_DEV_PRINCIPALS", "1")  # the --local commands: as on the local stack
    with privacy_world(monkeypatch, dev_secrets) as world:
        requests: list[dict[str, Any]] = []
        handler = type("TestGateway", (Gateway,), {"world": world, "requests": requests})
        world.gateway = handler  # type: ignore[attr-defined]  # tests tune when the consumer runs
        with serving(handler) as url:
            yield world, url, requests


def run(capsys, *argv: str) -> tuple[int, str, str]:
    # What the test's own setup printed is not the command's: the pipeline's handlers flush CloudWatch
    # metrics (EMF) to stdout, and whether a flush falls in this test depends on the tests before it.
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_erase_and_wait_signs_with_sigv4_shows_progress_and_prints_the_proof(api, capsys):
    # Given Ana's data, and a deployed API reached with the caller's AWS credentials
    world, url, requests = api
    for n in range(2):
        world.store(ANA, n, f"ana {n}", EARLIER)
    # When the officer erases her and waits
    code, out, err = run(
        capsys, "privacy", "erase", "--api-url", url, "--region", "eu-west-1",
        "--platform", "x", "--user-id", ANA.user_id, "--reference", "T-42", "--wait", "--interval", "0",
    )  # fmt: skip
    # Then it ends COMPLETED and verified, with the counts per store
    assert code == 0, err
    assert "accepted (PENDING)" in out and "COMPLETED, verified yes" in out
    assert "interactions" in out and " 2 erased" in out and "requested by " + PRINCIPAL in out
    # And progress was shown while waiting
    assert "PENDING: erased nothing yet" in err and "COMPLETED: erased" in err
    # And every request was signed with SigV4 for execute-api in the region
    for request in requests:
        authorization = request["headers"]["authorization"]
        assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={os.environ['AWS_ACCESS_KEY_ID']}/")
        assert "/eu-west-1/execute-api/aws4_request" in authorization and "Signature=" in authorization
        assert "x-amz-date" in request["headers"]
        assert request["headers"]["x-amz-security-token"] == os.environ["AWS_SESSION_TOKEN"]
    assert list(world.traces(ANA.user_id, ANA.handle)) == []


def test_a_customer_is_erased_by_its_id_with_every_linked_identity(api, capsys):
    world, url, _ = api
    ana_web = Person("generic", "ana-4411", "ana_sunshine", "Ana Quixote")
    world.store(ANA, 0, "ana on x", EARLIER)
    customer_id = new_customer_id()
    identities = [Identity(p.platform, world.subject(p)) for p in (ANA, ana_web)]
    CustomerStore(world.table("customers")).create(
        customer_id, identities, reason="T-7", by="agent", at=EARLIER
    )
    code, out, err = run(
        capsys, "privacy", "erase", "--local", "--api-url", url,
        "--customer", customer_id, "--reference", "T-42", "--wait", "--interval", "0",
    )  # fmt: skip
    assert code == 0, err
    assert "2 subject(s)" in out and "COMPLETED, verified yes" in out and "customers" in out
    assert list(world.traces(ANA.user_id, customer_id)) == [("erasure_requests", customer_id)]


@pytest.mark.parametrize(
    ("argv", "message"),
    [(("--platform", "x"), "--platform and --user-id go together"), ((), "name someone")],
)
def test_an_erasure_naming_no_one_is_one_line(api, capsys, argv, message):
    _world, url, _ = api
    code, _out, err = run(
        capsys, "privacy", "erase", "--local", "--api-url", url, "--reference", "T-1", *argv
    )
    assert code == 2 and message in err


def test_an_erasure_that_found_nothing_for_an_id_completes_with_a_warning_naming_it(api, capsys):
    # Given Ana's data, and an officer who types her id with one digit wrong next to the right one
    world, url, _ = api
    world.store(ANA, 0, "ana 0", EARLIER)
    code, out, err = run(
        capsys, "privacy", "erase", "--api-url", url, "--region", "eu-west-1",
        "--platform", "x", "--user-id", "ana-7789", "--also", f"x:{ANA.user_id}",
        "--reference", "T-44", "--wait", "--interval", "0",
    )  # fmt: skip
    # Then the request completes (nothing is held under the wrong id) but the CLI says so, by id
    assert code == 0 and "COMPLETED, verified yes" in out
    assert "warning: nothing was held for 1 of 2 subject(s)" in out
    assert "warning: nothing was held for x:ana-7789" in err and f"x:{ANA.user_id}" not in err
    # And the proof lists what no erasure reaches
    assert "not reached: DynamoDB point-in-time recovery backups" in out


def test_status_retry_and_the_region_from_the_environment(api, capsys, monkeypatch):
    world, url, _ = api
    world.gateway.consumer_after_reads = 99  # the consumer does not run in this test
    monkeypatch.setenv("SOCIALCRM_API_URL", url)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    code, out, _ = run(capsys, "privacy", "erase", "--platform", "x", "--user-id", "1", "--reference", "T-1")
    request_id = out.split()[2]
    assert code == 0 and f"socialcrm privacy status {request_id}" in out
    code, out, _ = run(capsys, "privacy", "status", request_id, "--json")
    assert code == 0 and json.loads(out)["status"] == "PENDING"
    code, out, _ = run(capsys, "privacy", "retry", request_id)
    assert code == 0 and f"erasure request {request_id} restarted (was PENDING)" in out


def test_export_to_a_file_on_the_local_stack_is_unsigned_and_owner_readable(api, capsys, tmp_path):
    world, url, requests = api
    world.store(ANA, 0, "my parcel", EARLIER)
    target = tmp_path / "subject.json"
    # When the export is written to a file from the local stack
    code, _out, err = run(
        capsys, "privacy", "export", "--local", "--api-url", url,
        "--platform", "x", "--user-id", ANA.user_id, "-o", str(target),
    )  # fmt: skip
    # Then the file holds every store's data, readable by its owner only, and nothing was signed
    assert code == 0 and f"wrote {target}" in err and "interactions 1" in err
    document = json.loads(target.read_text())
    assert document["stores"]["interactions"][0]["text"] == "my parcel"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert "authorization" not in requests[-1]["headers"]


def test_the_access_log_shows_who_exported_a_subject_and_why(api, capsys, monkeypatch, tmp_path):
    world, url, _ = api
    world.store(ANA, 0, "my parcel", EARLIER)
    monkeypatch.setenv("SOCIALCRM_LOCAL_PRINCIPAL", "ines@support")
    # Given two exports, one with a reason
    for extra in ((), ("--reason", "T-77")):
        code, _out, _err = run(
            capsys, "privacy", "export", "--local", "--api-url", url,
            "--platform", "x", "--user-id", ANA.user_id, "-o", str(tmp_path / "a.json"), *extra,
        )  # fmt: skip
        assert code == 0
    # When the access log is printed, one entry per page
    code, out, _err = run(
        capsys, "privacy", "access-log", "--local", "--api-url", url,
        "--platform", "x", "--user-id", ANA.user_id, "--limit", "5",
    )  # fmt: skip
    # Then it lists both, newest first, with the reason, the route and who
    assert code == 0 and "2 entries, newest first" in out, out
    lines = [line for line in out.splitlines() if "GET /subjects/{platform}/{user_id}/export" in line]
    assert len(lines) == 2 and "T-77" in lines[0] and "T-77" not in lines[1]
    assert all("by ines@support" in line for line in lines)
    assert ANA.user_id not in out
    # And as JSON
    code, out, _err = run(capsys, "privacy", "access-log", "--local", "--api-url", url,
                          "--platform", "x", "--user-id", ANA.user_id, "--json")  # fmt: skip
    assert [e["reason"] for e in json.loads(out)["items"]] == ["T-77", None]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--platform", "x"), "--platform needs --user-id"),
        (("--customer", "cus_0", "--user-id", "a"), "--user-id needs --platform"),
        (("--customer", "cus_x"), "not a customer id"),
        (("--platform", "x", "--user-id", "a", "--limit", "0"), "--limit must be between"),
    ],
)
def test_access_log_arguments_are_checked_in_one_line(api, capsys, argv, message):
    _world, url, _ = api
    code, _out, err = run(capsys, "privacy", "access-log", "--local", "--api-url", url, *argv)
    assert code == 2 and message in err and "Traceback" not in err


def test_objections_are_recorded_shown_and_lifted(api, capsys):
    _, url, _ = api
    base = ("--local", "--api-url", url, "--platform", "x", "--user-id", ANA.user_id)
    code, out, _ = run(capsys, "privacy", "object", *base, "--reference", "T-5")
    assert code == 0 and "objection recorded for subject" in out
    code, out, _ = run(capsys, "privacy", "objection", *base)
    assert code == 0 and "objected since" in out
    code, out, _ = run(capsys, "privacy", "lift-objection", *base)
    assert code == 0 and "objection lifted" in out
    code, out, _ = run(capsys, "privacy", "objection", *base)
    assert "no objection" in out


AWKWARD_USER_IDS = [
    "shop/ana",
    "ana#1",
    "ana?x=1",
    'ana "the" customer',
    "dom\\ana",
    "ana\tq",
    "jose\u0301",
    "ana 🛍️",
    "~ana",
    "x" * 255 + "/",
]


@pytest.mark.parametrize("decodes_paths", [False, True], ids=["path as sent", "path decoded"])
def test_export_and_objections_reach_users_whose_ids_no_plain_path_segment_can_carry(
    api, capsys, decodes_paths
):
    # Given customers of a Standard Webhooks sender whose user ids hold /, #, ?, quotes, a backslash,
    # a tab, a combining accent, an emoji, a leading ~, or 256 characters, each with a stored review
    world, url, requests = api
    world.gateway.decodes_paths = decodes_paths
    people = [Person("generic", user_id, "customer", "A Customer") for user_id in AWKWARD_USER_IDS]
    for n, person in enumerate(people):
        world.deliver(person, f"cli-review-{n}", f"review {n}", EARLIER)
    world.enrich()
    for person in people:
        base = ("--local", "--api-url", url, "--platform", "generic", "--user-id", person.user_id)
        subject = world.subject(person)
        # When the officer exports the customer, records an objection, shows it and lifts it
        code, out, err = run(capsys, "privacy", "export", *base)
        assert code == 0, err
        document = json.loads(out)
        assert document["subject_id"] == subject
        assert [i["author"]["user_id"] for i in document["stores"]["interactions"]] == [person.user_id]
        code, out, err = run(capsys, "privacy", "object", *base, "--reference", "T-5")
        assert code == 0 and f"objection recorded for subject {subject}" in out, err
        code, out, _ = run(capsys, "privacy", "objection", *base)
        assert code == 0 and f"subject {subject}: objected since" in out
        code, out, _ = run(capsys, "privacy", "lift-objection", *base)
        assert code == 0 and f"objection lifted for subject {subject}" in out
        code, out, _ = run(capsys, "privacy", "objection", *base)
        assert code == 0 and f"subject {subject}: no objection" in out
    # Then every such id travelled as one ~ segment, with nothing for a gateway to decode
    sent = [r["path"].split("/")[3] for r in requests if r["path"].startswith("/subjects/")]
    assert len(sent) == 5 * len(people)
    assert all(segment.startswith("~") and "%" not in segment for segment in sent)


def test_plain_user_ids_travel_as_they_are(api, capsys):
    _, url, requests = api
    code, _, err = run(
        capsys, "privacy", "objection", "--local", "--api-url", url,
        "--platform", "whatsapp", "--user-id", "wa.id:+91-98765,43210=@x_y",
    )  # fmt: skip
    assert code == 0, err
    assert requests[-1]["path"] == "/subjects/whatsapp/wa.id:+91-98765,43210=@x_y/objection"


def test_a_failed_erasure_exits_1_naming_the_store_and_how_to_restart(api, capsys):
    world, url, _ = api
    world.store(ANA, 0, "hello", EARLIER)
    ports, _ = world.handlers["erase"].runtime()
    profiles = next(s for s in ports.stores.stores if s.name == "subjects")
    from tests.integration.test_erasure import FailingClient

    profiles._client = FailingClient(profiles.client, "delete_item", world.table("subjects"))
    code, out, _ = run(
        capsys, "privacy", "erase", "--local", "--api-url", url, "--platform", "x", "--user-id", ANA.user_id,
        "--reference", "T-42", "--wait", "--interval", "0",
    )  # fmt: skip
    assert code == 1
    assert "FAILED, verified no" in out and "failed at subjects: DeleteItem failed" in out
    assert "socialcrm privacy retry" in out


def test_the_api_refusal_is_one_line_with_its_message(api, capsys):
    _, url, _ = api
    code, out, err = run(
        capsys, "privacy", "erase", "--local", "--api-url", url, "--platform", "x", "--user-id", "1",
        "--reference", "Ana Quixote asked",
    )  # fmt: skip
    assert code == 2 and out == ""
    assert err.startswith("socialcrm: the API refused the request: 400 invalid_request: body.reference")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_waiting_too_long_says_how_to_check_later(api, capsys, monkeypatch):
    world, url, _ = api
    world.gateway.consumer_after_reads = 99  # the consumer never gets to it
    ticks = iter(range(0, 10_000, 400))
    monkeypatch.setattr(cli, "clock", lambda: next(ticks))
    code, _, err = run(
        capsys, "privacy", "erase", "--local", "--api-url", url, "--platform", "x", "--user-id", "1",
        "--reference", "T-1", "--wait", "--timeout", "600",
    )  # fmt: skip
    assert code == 2 and "is still PENDING after 600s; check again with: socialcrm privacy status" in err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # type: ignore[no-any-return]


def test_an_unreachable_api_is_one_clear_line(capsys):
    code, _, err = run(
        capsys, "privacy", "status", "r1", "--local", "--api-url", f"http://127.0.0.1:{free_port()}"
    )
    assert code == 2 and err.startswith("socialcrm: cannot reach the API at http://127.0.0.1:")
    assert "is the local stack running?" in err and err.count("\n") == 1


def test_missing_credentials_are_one_clear_line(capsys, monkeypatch, tmp_path):
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, err = run(
        capsys, "privacy", "status", "r1", "--api-url", "https://abc.execute-api.eu-west-1.amazonaws.com"
    )
    assert code == 2 and err.startswith("socialcrm: no AWS credentials found") and err.count("\n") == 1


def test_no_api_url_is_one_clear_line(capsys, monkeypatch):
    monkeypatch.delenv("SOCIALCRM_API_URL", raising=False)
    code, _, err = run(capsys, "privacy", "status", "r1")
    assert code == 2 and "pass --api-url (or set SOCIALCRM_API_URL), or --local" in err


class Forbidden(BaseHTTPRequestHandler):
    """API Gateway's answer when the IAM check fails: no socialcrm error code, just a message."""

    def do_GET(self) -> None:
        payload = b'{"message":"Forbidden"}'
        self.send_response(403)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


def test_an_iam_refusal_hints_at_the_permission(capsys):
    with serving(Forbidden) as url:
        code, _, err = run(capsys, "privacy", "status", "r1", "--api-url", url, "--region", "eu-west-1")
    assert code == 2
    assert "403 Forbidden" in err and "execute-api:Invoke" in err


def test_the_region_is_read_from_an_execute_api_url():
    args = argparse.Namespace(
        api_url="https://abc123.execute-api.ap-south-1.amazonaws.com", local=False, region=None
    )
    assert api_of(args).region == "ap-south-1"
