"""The checked-in contracts (JSON Schemas, OpenAPI) are the ones the code enforces."""

from __future__ import annotations

import json

import jsonschema
import pytest

from socialcrm import schemas
from socialcrm.errors import ConfigurationError
from socialcrm.secrets import PlatformSecrets, load_secrets_file
from tests.conftest import DEV_SECRETS


def test_no_checked_in_schema_or_openapi_document_has_drifted_from_the_code():
    assert schemas.drifted() == [], "run `make schemas` and commit the result"


def test_a_changed_model_is_reported_as_drift(tmp_path, monkeypatch):
    # Given a checked-in interaction schema that no longer matches the model
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "interaction.schema.json").write_text("{}\n")
    monkeypatch.setattr(schemas, "ROOT", tmp_path)
    # Then the check names it (and every file missing from that tree)
    assert "schemas/interaction.schema.json" in schemas.drifted()


def test_the_development_secrets_file_matches_the_published_schema():
    schema = json.loads((schemas.ROOT / "schemas" / "platform-secrets.schema.json").read_text())
    jsonschema.validate(json.loads(DEV_SECRETS.read_text()), schema)
    assert load_secrets_file(DEV_SECRETS).meta is not None


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ({"meta": {"app_secret": "a"}, "subject_pepper": "p" * 16}, "meta.verify_token"),
        ({"x": {"consumer_secret": "s"}}, "subject_pepper"),
        ({"generic": {"webhook_secret": "not-whsec"}, "subject_pepper": "p" * 16}, "generic.webhook_secret"),
        ({"tiktok": {"client_secret": "s", "typo": 1}, "subject_pepper": "p" * 16}, "tiktok.typo"),
    ],
)
def test_an_invalid_secrets_document_is_refused_with_the_field_named(document, named):
    with pytest.raises(ConfigurationError) as refused:
        PlatformSecrets.parse(document, origin="test.json")
    assert named in refused.value.message and "test.json" in refused.value.message


def test_a_secrets_file_that_is_not_json_is_refused_clearly(tmp_path):
    path = tmp_path / "secrets.json"
    path.write_text("{not json")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        load_secrets_file(path)


def test_the_openapi_document_lists_every_route_of_the_topology():
    from socialcrm.api.openapi import openapi_document
    from socialcrm.topology import ROUTES

    paths = openapi_document()["paths"]
    for method, path, _function, _iam in ROUTES:
        assert method.lower() in paths[path], f"{method} {path} is not documented"


def test_a_refused_secrets_document_never_shows_a_secret_value_in_the_error_or_its_cause():
    # Given a document whose generic secret is malformed and whose meta entry has a stray field
    document = json.loads(DEV_SECRETS.read_text())
    document["generic"]["webhook_secret"] = "not-whsec-TOPSECRET1"
    document["meta"]["app_secret"] = 12345678901
    # When parsed, Then the error (and the validation error it chains, which a traceback would show)
    # names the fields without their values
    with pytest.raises(ConfigurationError) as refused:
        PlatformSecrets.parse(document, origin="test")
    shown = f"{refused.value.message} {refused.value.__cause__}"
    assert "generic.webhook_secret" in shown and "meta.app_secret" in shown
    assert "TOPSECRET1" not in shown and "12345678901" not in shown
