"""Every data subject can be reached by the API, whatever their platform id holds: the timeline, the
export (GDPR Art. 15) and the objection (Art. 21) of Standard Webhooks users whose ids carry ``/``, ``#``,
``?``, quotes, backslashes, tabs, combining accents, emoji or a leading ``~``, through the handlers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from socialcrm.api.path_ids import encode_path_id
from tests.support.privacy import Person, World, privacy_world

EARLIER = datetime.now(tz=UTC) - timedelta(hours=1)

# User ids a Standard Webhooks sender may use, and that no plain path segment can carry.
AWKWARD_USER_IDS = {
    "slash": "shop/ana",
    "hash": "ana#1",
    "question mark": "ana?x=1",
    "double quote": 'ana "the" customer',
    "backslash": "dom\\ana",
    "tab": "ana\tq",
    "combining accent": "jose\u0301",
    "emoji": "ana 🛍️",
    "leading tilde": "~ana",
    "percent": "50%off",
    "dot dot": "..",
    "256 characters": "é/" * 128,
}
IDS = list(AWKWARD_USER_IDS)


@pytest.fixture(scope="module")
def world(dev_secrets):
    # Given each awkward user id wrote one review through the generic platform, and was stored
    with pytest.MonkeyPatch.context() as patch, privacy_world(patch, dev_secrets) as built:
        for n, user_id in enumerate(AWKWARD_USER_IDS.values()):
            built.deliver(person(user_id), f"review-{n}", f"review {n}: the parcel came late", EARLIER)
        built.enrich()
        yield built


def person(user_id: str) -> Person:
    return Person("generic", user_id, "customer", "A Customer")


def subject_path(user_id: str, suffix: str) -> str:
    return f"/subjects/generic/{encode_path_id(user_id)}/{suffix}"


@pytest.mark.parametrize("kind", IDS)
def test_the_timeline_of_any_user_id_is_reached_through_its_encoded_segment(world: World, kind):
    user_id = AWKWARD_USER_IDS[kind]
    # When the CRM reads the customer's timeline with the id in the path-id encoding
    status, page = world.call("api", "GET", subject_path(user_id, "interactions"))
    # Then it holds their review, and only theirs
    assert status == 200, page
    assert [i["author"]["user_id"] for i in page["items"]] == [user_id]


@pytest.mark.parametrize("kind", IDS)
def test_the_export_of_any_user_id_is_reached_through_its_encoded_segment(world: World, kind):
    user_id = AWKWARD_USER_IDS[kind]
    # When the export is asked for with the id in the path-id encoding
    status, document = world.call("api", "GET", subject_path(user_id, "export"))
    # Then it is the subject's, with their review
    assert status == 200, document
    assert document["subject_id"] == world.subject(person(user_id))
    assert [i["author"]["user_id"] for i in document["stores"]["interactions"]] == [user_id]


@pytest.mark.parametrize("kind", IDS)
def test_an_objection_of_any_user_id_is_recorded_shown_and_lifted(world: World, kind):
    user_id = AWKWARD_USER_IDS[kind]
    path = subject_path(user_id, "objection")
    subject = world.subject(person(user_id))
    # When the objection is recorded, shown, lifted and shown again through the encoded segment
    recorded = world.call("privacy", "PUT", path, {"reference": "T-50"})
    shown = world.call("privacy", "GET", path)
    lifted = world.call("privacy", "DELETE", path)
    after = world.call("privacy", "GET", path)
    # Then each answer is about that subject, and the objection stood until lifted
    for status, view in (recorded, shown, lifted, after):
        assert status == 200 and view["subject_id"] == subject, view
    assert [v["objection"] for _, v in (recorded, shown, lifted, after)] == [True, True, False, False]


def test_a_composed_and_a_decomposed_accent_reach_the_same_subject(world: World):
    # Given "josé" stored as the sender wrote it (e + combining acute accent)
    # When the CRM asks with the composed é
    status, page = world.call("api", "GET", subject_path("jos\u00e9", "interactions"))
    # Then it is the same person (user ids are matched in Unicode normal form C)
    assert status == 200 and [i["author"]["user_id"] for i in page["items"]] == ["jose\u0301"]


def test_a_percent_encoded_plain_segment_is_decoded(world: World):
    # When a client percent-encodes an id with a space instead of using the ~ form
    status, page = world.call("api", "GET", "/subjects/generic/ana%20%F0%9F%9B%8D%EF%B8%8F/interactions")
    # Then the segment is read percent-decoded
    assert status == 200 and [i["author"]["user_id"] for i in page["items"]] == ["ana 🛍️"]


@pytest.mark.parametrize(
    ("segment", "problem"),
    [
        ("~not*base64", "is not base64url"),
        ("~YQ=", "is not base64url"),
        ("~YR", "is not canonical base64url"),
        ("~_w", "does not encode UTF-8 text"),
        ("%FF", "is not valid UTF-8"),
    ],
)
@pytest.mark.parametrize(("function", "method", "suffix"), [
    ("api", "GET", "interactions"),
    ("api", "GET", "export"),
    ("privacy", "GET", "objection"),
    ("privacy", "DELETE", "objection"),
])  # fmt: skip
def test_a_segment_that_is_not_a_valid_id_is_a_400_saying_so(
    world: World, segment, problem, function, method, suffix
):
    # When a route is called with a segment that decodes to no id
    status, body = world.call(function, method, f"/subjects/generic/{segment}/{suffix}")
    # Then the answer is a 400 that says what is wrong with it
    assert status == 400 and body["error"] == "bad_request"
    assert "user id" in body["message"] and problem in body["message"]


def test_an_empty_encoded_user_id_is_a_400(world: World):
    status, body = world.call("privacy", "GET", "/subjects/generic/~/objection")
    assert status == 400 and body["error"] == "bad_request"
