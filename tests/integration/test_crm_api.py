"""The CRM read routes under moto: one interaction, a timeline page by page, a subject's export."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from moto import mock_aws

from socialcrm.api.path_ids import encode_path_id
from socialcrm.dal.repository import InteractionRepository
from socialcrm.local.resources import create_resources
from socialcrm.models import interaction_ref, subject_id
from tests.conftest import DEV_SECRETS
from tests.support.apigw import LambdaContext, http_event
from tests.support.pipeline import analysed, interaction

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


@pytest.fixture
def api(monkeypatch, dev_secrets):
    with mock_aws():
        resources = create_resources()
        for name, value in resources.environment.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SOCIALCRM_SECRETS_FILE", str(DEV_SECRETS))
        import api.handler as handler

        handler.runtime.cache_clear()
        handler.runtime()  # binds the tables
        pepper = dev_secrets.subject_pepper.get_secret_value()
        yield handler, pepper
        handler.runtime.cache_clear()


def seed(pepper: str, user: str, count: int, platform: str = "x", native: str | None = None) -> None:
    for n in range(count):
        native_id = native or f"{user}-{n}"
        item = interaction(n, user=user, platform=platform, minutes=n, text=f"message {n}")
        item = item.model_copy(
            update={
                "interaction_id": f"{platform}:{native_id}",
                "interaction_ref": interaction_ref(pepper, f"{platform}:{native_id}"),
                "native_id": native_id,
                "subject_id": subject_id(pepper, platform, user),
            }
        )
        InteractionRepository().store_new(analysed(item), enriched_at=NOW)


def get(handler, path: str, query: dict | None = None) -> tuple[int, dict]:
    response = handler.lambda_handler(http_event("GET", path, query=query), LambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_an_interaction_is_read_by_its_id(api):
    handler, pepper = api
    seed(pepper, "42", 1)
    status, body = get(handler, "/interactions/x:42-0")
    assert status == 200
    assert (
        body["interaction_id"] == "x:42-0"
        and body["text"] == "message 0"
        and body["sentiment"]["label"] == "NEGATIVE"
    )


@pytest.mark.parametrize(
    "native_id",
    [
        "t1/3kx9/comment-77",
        "a#b?c=d",
        'say "hi" \\ bye',
        "e\u0301te",
        "🎉-42",
        "~starts-with-tilde",
        "n" * 240,
    ],
)
def test_an_interaction_whose_id_no_plain_segment_can_carry_is_read_by_its_encoded_id(api, native_id):
    # Given an interaction whose native id holds characters a path segment cannot carry as they are
    handler, pepper = api
    seed(pepper, "42", 1, platform="generic", native=native_id)
    # When the CRM reads it with its id in the path-id encoding
    status, body = get(handler, f"/interactions/{encode_path_id('generic:' + native_id)}")
    # Then it is that interaction
    assert status == 200, body
    assert body["interaction_id"] == f"generic:{native_id}" and body["native_id"] == native_id


def test_an_interaction_id_segment_that_is_not_base64url_is_a_400_saying_so(api):
    handler, _ = api
    status, body = get(handler, "/interactions/~x:42")
    assert status == 400 and body["error"] == "bad_request"
    assert body["message"] == "The interaction id segment starts with '~' but is not base64url (RFC 4648 §5)."


def test_an_unknown_interaction_is_404_with_a_json_error(api):
    handler, _ = api
    status, body = get(handler, "/interactions/x:nope")
    assert status == 404 and body["error"] == "not_found"


def test_a_timeline_is_newest_first_and_pages_with_an_opaque_cursor(api):
    handler, pepper = api
    seed(pepper, "42", 5)
    seed(pepper, "77", 2)  # another customer, never mixed in
    status, first = get(handler, "/subjects/x/42/interactions", {"limit": "2"})
    assert status == 200
    assert [i["native_id"] for i in first["items"]] == ["42-4", "42-3"]
    seen = [i["native_id"] for i in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        _, page = get(handler, "/subjects/x/42/interactions", {"limit": "2", "cursor": cursor})
        seen += [i["native_id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert seen == ["42-4", "42-3", "42-2", "42-1", "42-0"]


@pytest.mark.parametrize(
    ("path", "query", "error"),
    [
        ("/subjects/x/42/interactions", {"cursor": "not-a-cursor"}, "bad_request"),
        ("/subjects/x/42/interactions", {"limit": "0"}, "invalid_request"),
        ("/subjects/x/42/interactions", {"limit": "many"}, "invalid_request"),
        ("/subjects/myspace/42/interactions", None, "bad_request"),
        ("/subjects/myspace/42/export", None, "bad_request"),
    ],
)
def test_bad_timeline_requests_are_400_saying_why(api, path, query, error):
    handler, _ = api
    status, body = get(handler, path, query)
    assert status == 400 and body["error"] == error and body["message"]


def test_a_cursor_of_another_customer_is_refused(api):
    handler, pepper = api
    seed(pepper, "42", 3)
    seed(pepper, "77", 3)
    _, page = get(handler, "/subjects/x/77/interactions", {"limit": "1"})
    status, body = get(handler, "/subjects/x/42/interactions", {"cursor": page["next_cursor"]})
    assert status == 400 and body["error"] == "bad_request"


def test_the_export_holds_the_profile_and_every_interaction_of_the_subject_only(api):
    handler, pepper = api
    seed(pepper, "42", 3)
    seed(pepper, "77", 2)
    status, export = get(handler, "/subjects/x/42/export")
    assert status == 200
    assert export["subject_id"] == subject_id(pepper, "x", "42")
    assert sorted(i["native_id"] for i in export["stores"]["interactions"]) == ["42-0", "42-1", "42-2"]
    assert export["stores"]["subjects"]["interactions"] == 3
    assert export["stores"]["subjects"]["handles"] == ["x:shopper"]
