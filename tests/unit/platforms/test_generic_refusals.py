"""Generic adapter: what each refusal tells the sender, and signatures that hold in any time zone.

A refusal's message is the body of the 400/401/405 the sender's developer reads, so it is pinned here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from socialcrm.errors import (
    BadRequestError,
    ConfigurationError,
    MethodNotAllowedError,
    SignatureError,
    StaleTimestampError,
)
from socialcrm.platforms.base import Delivery
from socialcrm.platforms.generic import adapter, signed_headers
from socialcrm.secrets import GenericSecret
from tests.unit.platforms.hostile_inputs import refusal
from tests.unit.platforms.test_generic import NOW, SECRET, VECTOR_BODY, VECTOR_HEADERS, VECTOR_T, review


def verify(headers: dict[str, str], now: float = VECTOR_T, body: bytes = VECTOR_BODY) -> None:
    adapter.verify(Delivery(body, headers), SECRET, now)


def normalise(payload: dict[str, Any], **headers: str) -> list:
    return adapter.normalise(Delivery(json.dumps(payload).encode(), headers))


# --- handshake and signature -----------------------------------------------------------------------


def test_a_get_is_told_that_senders_only_post():
    message = refusal(MethodNotAllowedError, adapter.handshake, {}, SECRET)
    assert message == "The generic platform has no verification handshake: senders only POST to this route."


def test_a_delivery_missing_two_headers_is_told_both_names():
    # Given a delivery carrying only the signature header
    headers = {"webhook-signature": VECTOR_HEADERS["webhook-signature"]}
    # When verified, Then the 401 lists both missing headers, comma-separated
    message = refusal(SignatureError, verify, headers)
    assert message == "Missing Standard Webhooks header(s): webhook-id, webhook-timestamp."


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        pytest.param(
            {"webhook-timestamp": "1614265330.5"},
            SignatureError,
            "webhook-timestamp must be an integer number of seconds.",
            id="fractional-timestamp",
        ),
        pytest.param(
            {"webhook-timestamp": str(VECTOR_T - 301)},
            StaleTimestampError,
            "webhook-timestamp is more than 300 s away from now.",
            id="stale",
        ),
        pytest.param(
            {"webhook-signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
            SignatureError,
            "No webhook-signature entry matches the body.",
            id="wrong-signature",
        ),
        pytest.param(
            {"webhook-signature": "v1,bogus"},
            SignatureError,
            "The webhook-signature header is malformed.",
            id="malformed-entry",
        ),
    ],
)
def test_each_signature_refusal_says_what_is_wrong(change, error, message):
    assert refusal(error, verify, {**VECTOR_HEADERS, **change}) == message


def test_a_signature_made_now_verifies_on_a_machine_in_another_time_zone(machine_in_india):
    # Given a machine whose local zone is UTC+05:30 and a delivery signed there by the sender helper
    body = json.dumps(review()).encode()
    headers = signed_headers(body, SECRET, NOW)
    # When it is verified there, Then it is accepted (the signed time is the header's, in UTC)
    adapter.verify(Delivery(body, headers), SECRET, NOW)


def test_the_reference_vector_verifies_on_a_machine_in_another_time_zone(machine_in_india):
    verify(VECTOR_HEADERS)


def test_the_sender_helper_refuses_an_unknown_argument_naming_it():
    with pytest.raises(TypeError) as raised:
        signed_headers(b"{}", SECRET, NOW, colour="red")
    assert str(raised.value) == "Unexpected arguments: ['colour']"


def test_a_deployment_secret_that_is_not_whsec_base64_is_reported_as_a_configuration_error():
    # Given a deployment whose whsec_ secret has impossible base64 padding
    bad = GenericSecret(webhook_secret="whsec_A")
    message = refusal(
        ConfigurationError, adapter.verify, Delivery(VECTOR_BODY, VECTOR_HEADERS), bad, VECTOR_T
    )
    # Then the operator is told what the secret must look like
    assert message == "The generic webhook_secret is not 'whsec_' + non-empty base64."


# --- body ------------------------------------------------------------------------------------------


def test_an_interaction_time_is_given_in_utc_on_a_machine_in_another_time_zone(machine_in_india):
    # Given an interaction written with a +02:00 offset, read on a machine at UTC+05:30
    [draft] = normalise(review(data__occurred_at="2026-11-22T11:59:00+02:00"))
    # Then its time is the same instant, written in UTC
    assert draft.occurred_at.isoformat() == "2026-11-22T09:59:00+00:00"


def test_a_time_that_leaves_the_calendar_once_in_utc_is_refused_naming_the_field():
    payload = review(data__occurred_at="0001-01-01T00:00:00+05:00")
    message = refusal(BadRequestError, normalise, payload)
    assert message == "data.occurred_at: out of range once converted to UTC"


def test_an_interaction_with_no_time_anywhere_is_refused_naming_the_field():
    payload = review(timestamp=..., data__occurred_at=...)
    message = refusal(BadRequestError, normalise, payload)
    assert message == (
        "data.occurred_at: Field required when neither 'timestamp' nor the webhook-timestamp header is given"
    )


def test_an_id_of_spaces_is_refused_saying_an_id_cannot_be_only_whitespace():
    message = refusal(BadRequestError, normalise, review(data__native_id="   "))
    assert message == "data.native_id: Value error, an id cannot be only whitespace"


def test_several_problems_are_listed_together_separated_by_semicolons():
    # Given an unknown kind and no author id, When normalised, Then the 400 lists both, "; " between them
    payload = review(data__kind="letter", data__author__user_id=...)
    message = refusal(BadRequestError, normalise, payload)
    assert message.split("; ") == [
        "data.kind: Input should be 'comment', 'mention', 'direct_message', 'reply', 'review', 'post' or 'brand_reply'",
        "data.author.user_id: Field required",
    ]


def test_exactly_ten_problems_are_all_listed_with_no_remainder():
    # Given data carrying ten fields the schema does not know
    payload = review(**{f"data__unknown_{n}": n for n in range(10)})
    # When normalised, Then the ten are listed and nothing says "more"
    message = refusal(BadRequestError, normalise, payload)
    assert message.count("Extra inputs are not permitted") == 10
    assert "more" not in message


def test_eleven_problems_list_ten_and_count_the_rest():
    payload = review(**{f"data__unknown_{n}": n for n in range(11)})
    message = refusal(BadRequestError, normalise, payload)
    assert message.count("Extra inputs are not permitted") == 10
    assert message.endswith("; and 1 more")


def test_a_very_long_unknown_field_name_is_shown_cut_to_64_characters():
    name = "x" * 100
    message = refusal(BadRequestError, normalise, review(**{f"data__{name}": 1}))
    assert message == f"data.{'x' * 64}: Extra inputs are not permitted"
