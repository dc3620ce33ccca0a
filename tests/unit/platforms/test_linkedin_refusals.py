"""LinkedIn adapter: what each refusal tells LinkedIn or the operator, the secret's checks, and mentions.

A refusal's message is the body of the 400/401 that is answered, so it is pinned here.
"""

from __future__ import annotations

from typing import Any

import pytest

from socialcrm.errors import BadRequestError, ConfigurationError, SignatureError, UnparseableError
from socialcrm.platforms.linkedin import SIGNATURE_HEADER, challenge_response
from socialcrm.secrets import XSecret
from tests.unit.platforms.hostile_inputs import refusal
from tests.unit.platforms.test_linkedin import (
    ORG,
    VECTOR_BODY,
    VECTOR_CHALLENGE,
    VECTOR_CHALLENGE_RESPONSE,
    VECTOR_SECRET,
    normalise,
    verify,
)

PERSON = "urn:li:person:Hq8vXw2Lk1"


def mention(**changes: Any) -> dict[str, Any]:
    """A SHARE_MENTION notification: someone's post that names the organisation."""
    notification: dict[str, Any] = {
        "action": "SHARE_MENTION",
        "notificationId": 5603460101,
        "lastModifiedAt": 1691580000000,
        "organizationalEntity": ORG,
        "sourcePost": "urn:li:activity:7094637247890620500",
        "decoratedGeneratedActivity": {
            "share": {"owner": PERSON, "text": "Thanks @Acme for the quick fix!"},
        },
    }
    notification.update(changes)
    return notification


# --- secret ----------------------------------------------------------------------------------------


def test_the_challenge_can_be_answered_with_the_client_secret_given_as_text():
    assert challenge_response(VECTOR_CHALLENGE, "linkedin_client_secret") == VECTOR_CHALLENGE_RESPONSE


@pytest.mark.parametrize(
    "secret",
    [pytest.param("", id="empty-string"), pytest.param(XSecret(consumer_secret="x"), id="another-platforms")],
)
def test_an_empty_or_foreign_secret_is_a_configuration_error_not_a_signature(secret):
    # Given a deployment whose LinkedIn secret is empty or another platform's
    # When the challenge is answered, Then nothing is signed and the operator is told what is expected
    message = refusal(ConfigurationError, challenge_response, VECTOR_CHALLENGE, secret)
    assert message == "The linkedin secret must be a LinkedInSecret with a client_secret."


def test_a_challenge_that_is_not_a_uuid4_is_told_what_is_expected():
    message = refusal(BadRequestError, challenge_response, "not-a-uuid", VECTOR_SECRET)
    assert message == (
        "The challengeCode must be a version-4 UUID in its canonical form, 8-4-4-4-12 hex digits "
        "(for example 890e4665-4dfe-4ab1-b689-ed553bceeed0)."
    )


# --- signature -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "message"),
    [
        pytest.param(None, f"The {SIGNATURE_HEADER} header is missing.", id="missing"),
        pytest.param("abc", f"The {SIGNATURE_HEADER} header is not a hex SHA-256 digest.", id="not-hex"),
        pytest.param("0" * 64, "The signature does not match the body.", id="wrong-digest"),
    ],
)
def test_each_signature_refusal_says_what_is_wrong(header, message):
    assert refusal(SignatureError, verify, VECTOR_BODY, header) == message


# --- body ------------------------------------------------------------------------------------------


def test_a_body_that_is_neither_an_object_nor_a_list_is_told_what_is_expected():
    message = refusal(UnparseableError, normalise, b'"text"')
    assert message == "The body must be a JSON object or a list of notifications."


def test_notifications_that_are_not_a_list_are_refused_saying_so():
    message = refusal(UnparseableError, normalise, {"notifications": {"0": mention()}})
    assert message == "'notifications' must be a list."


def test_an_envelope_without_a_type_is_read_as_social_action_notifications():
    [draft] = normalise({"notifications": [mention()]})
    assert draft.native_id == "5603460101"


def test_a_mention_is_written_by_the_owner_of_the_post_that_mentions():
    # Given a share mention with no actor: only the share names its owner
    [draft] = normalise({"notifications": [mention()]})
    # Then the mention's author is that owner, with the post's words
    assert draft.kind == "mention"
    assert draft.author.user_id == PERSON
    assert draft.text == "Thanks @Acme for the quick fix!"


def test_a_mention_whose_post_has_commentary_rather_than_text_keeps_the_commentary():
    activity = {"share": {"owner": PERSON, "commentary": "Shout-out to @Acme support."}}
    [draft] = normalise({"notifications": [mention(decoratedGeneratedActivity=activity)]})
    assert draft.text == "Shout-out to @Acme support."


def test_a_mention_without_words_is_kept_with_empty_text():
    [draft] = normalise({"notifications": [mention(decoratedGeneratedActivity={"share": {"owner": PERSON}})]})
    assert draft.text == ""


def test_a_text_that_is_not_a_string_is_passed_over_for_the_next_one():
    activity = {"share": {"owner": PERSON, "text": 42, "commentary": "Great service."}}
    [draft] = normalise({"notifications": [mention(decoratedGeneratedActivity=activity)]})
    assert draft.text == "Great service."


@pytest.mark.parametrize("when", [True, None, [1691580000000]], ids=["boolean", "null", "list"])
def test_a_notification_whose_time_is_not_a_number_is_skipped(when):
    assert normalise({"notifications": [mention(lastModifiedAt=when)]}) == []
