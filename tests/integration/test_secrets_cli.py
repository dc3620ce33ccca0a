"""``socialcrm secrets set``: one section merged, the pepper kept, an invalid document never written."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from moto import mock_aws

from socialcrm.cli import main
from tests.conftest import DEV_SECRETS

PEPPER = "generated-pepper-0123456789abcdefghij"


@pytest.fixture
def secret():
    with mock_aws():
        client = boto3.client("secretsmanager")
        arn = client.create_secret(
            Name="socialcrm-prod-data/platform-secrets", SecretString=json.dumps({"subject_pepper": PEPPER})
        )["ARN"]
        yield client, arn


def stored(client, arn) -> dict:
    return json.loads(client.get_secret_value(SecretId=arn)["SecretString"])


def test_a_platform_is_merged_into_the_generated_document_keeping_the_pepper(secret, capsys):
    client, arn = secret
    assert main(["secrets", "set", "meta", "app_secret=abc", "verify_token=tok", "--secret-id", arn]) == 0
    assert main(["secrets", "set", "send.facebook", "access_token=page-token", "--secret-id", arn]) == 0
    document = stored(client, arn)
    assert document == {
        "subject_pepper": PEPPER,
        "meta": {"app_secret": "abc", "verify_token": "tok"},
        "send": {"facebook": {"access_token": "page-token"}},
    }
    out = capsys.readouterr().out
    assert "abc" not in out and "page-token" not in out and "subject_pepper kept" in out


def test_a_value_can_come_from_standard_input(secret, monkeypatch):
    client, arn = secret
    monkeypatch.setattr("sys.stdin", io.StringIO("from-stdin\n"))
    assert main(["secrets", "set", "x", "consumer_secret=-", "--secret-id", arn]) == 0
    assert stored(client, arn)["x"] == {"consumer_secret": "from-stdin"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["generic", "webhook_secret=not-whsec"], "generic.webhook_secret"),
        (["meta", "app_secret=abc"], "meta.verify_token"),
        (["meta", "subject_pepper=x"], "never set by hand"),
        (["send.whatsapp", "access_token=t", "phone_number_id=abc"], "send.whatsapp.phone_number_id"),
        (["x", "noequals"], "KEY=VALUE"),
    ],
)
def test_an_invalid_document_is_refused_naming_the_field_and_nothing_is_written(
    secret, capsys, argv, message
):
    client, arn = secret
    before = stored(client, arn)
    assert main(["secrets", "set", *argv, "--secret-id", arn]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert stored(client, arn) == before


def test_a_document_without_its_pepper_is_never_written(tmp_path, capsys):
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"meta": {"app_secret": "a", "verify_token": "b"}}))
    assert main(["secrets", "set", "x", "consumer_secret=s", "--file", str(path)]) == 2
    assert "no subject_pepper" in capsys.readouterr().err
    assert "x" not in json.loads(path.read_text())


def test_a_local_file_is_updated_in_place(tmp_path):
    path = tmp_path / "secrets.json"
    path.write_text(DEV_SECRETS.read_text())
    assert main(["secrets", "set", "send.x", "access_token=t", "user_id=42", "--file", str(path)]) == 0
    document = json.loads(path.read_text())
    assert document["send"]["x"] == {"access_token": "t", "user_id": "42"}
    assert document["subject_pepper"] == json.loads(DEV_SECRETS.read_text())["subject_pepper"]
