"""The pieces every adapter shares: JSON bodies, handshake parameters and the platforms' ways of writing time.

Each refusal becomes the 400 body the platform's developer reads, so its message is part of the contract.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from socialcrm.errors import BadRequestError, UnparseableError
from socialcrm.platforms.base import (
    from_epoch_millis,
    from_epoch_seconds,
    from_iso8601,
    load_json,
    parse_json_object,
    required_query,
)


def test_a_body_that_is_not_json_is_refused_saying_so():
    # Given a body that is not JSON, When it is parsed
    with pytest.raises(UnparseableError) as raised:
        load_json(b"{not json")
    # Then the 400 says the body is not valid JSON
    assert raised.value.message == "The body is not valid JSON."


def test_a_refusal_names_the_part_that_is_not_json():
    # Given a field whose value should itself hold JSON, When it does not
    with pytest.raises(UnparseableError) as raised:
        load_json("{", "The 'content' field")
    # Then the 400 names that field
    assert raised.value.message == "The 'content' field is not valid JSON."


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"42", b"null"])
def test_a_json_body_that_is_not_an_object_is_refused_saying_it_must_be_one(body):
    with pytest.raises(UnparseableError) as raised:
        parse_json_object(body)
    assert raised.value.message == "The body must be a JSON object."


@pytest.mark.parametrize("query", [{}, {"hub.challenge": ""}])
def test_a_handshake_without_its_parameter_is_a_400_naming_it(query):
    with pytest.raises(BadRequestError) as raised:
        required_query(query, "hub.challenge")
    assert raised.value.message == "The handshake needs the query parameter 'hub.challenge'."


def test_a_time_in_seconds_that_is_not_a_number_is_refused_quoting_it():
    with pytest.raises(UnparseableError) as raised:
        from_epoch_seconds("soon")
    assert raised.value.message == "'soon' is not a timestamp in seconds."


def test_a_time_in_milliseconds_that_is_not_a_number_is_refused_quoting_it():
    with pytest.raises(UnparseableError) as raised:
        from_epoch_millis("soon")
    assert raised.value.message == "'soon' is not a timestamp in milliseconds."


@pytest.mark.parametrize("value", [1755600000, "2025-08-19T10:40:00+25:00", "yesterday"])
def test_an_iso_time_that_is_not_one_is_refused_quoting_it(value):
    # Given a number, an offset beyond a day, or words, When read as an ISO-8601 time
    with pytest.raises(UnparseableError) as raised:
        from_iso8601(value)
    # Then the 400 quotes the value
    assert raised.value.message == f"'{value}' is not an ISO-8601 time."


@pytest.mark.parametrize("suffix", ["Z", "z"])
def test_a_utc_designator_in_either_case_is_read_as_utc(suffix):
    # Given an RFC 3339 time ending in Z or z (RFC 3339 allows both), When it is read
    read = from_iso8601(f"2025-08-19T10:40:00{suffix}")
    # Then it is that instant in UTC
    assert read == datetime(2025, 8, 19, 10, 40, tzinfo=UTC)
    assert read.utcoffset() == timedelta(0)


def test_a_time_without_an_offset_is_read_as_utc_whatever_the_machine_zone(machine_in_india):
    # Given a machine whose local zone is UTC+05:30, When a time without offset is read
    read = from_iso8601("2025-08-19T10:40:00")
    # Then it is taken as UTC, not as the machine's local time, and it is aware
    assert read == datetime(2025, 8, 19, 10, 40, tzinfo=UTC)
    assert read.utcoffset() == timedelta(0)


def test_a_time_with_an_offset_is_given_in_utc_whatever_the_machine_zone(machine_in_india):
    # Given a time written with a -08:00 offset, When it is read on a machine at UTC+05:30
    read = from_iso8601("2025-08-19T02:40:00-08:00")
    # Then it is the same instant, written in UTC (what the CRM stores and shows)
    assert read == datetime(2025, 8, 19, 10, 40, tzinfo=UTC)
    assert read.utcoffset() == timedelta(0)
    assert read.isoformat() == "2025-08-19T10:40:00+00:00"
