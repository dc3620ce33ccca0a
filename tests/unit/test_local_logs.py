"""The local stack's readable log: plain values stay readable, and nothing a value holds can forge a line."""

from __future__ import annotations

import io
import json
import logging
import re
from datetime import datetime
from typing import Any

import pytest
from aws_lambda_powertools import Logger
from hypothesis import given, settings
from hypothesis import strategies as st

from socialcrm.local import logs

WHEN = datetime(2026, 1, 1, 10, 0, 1)
# One field as rendered: a plain token or a JSON string, for the key and for the value.
_PART = r'(?:"(?:[^"\\]|\\.)*"|[^\s="\\]+)'
_FIELD = re.compile(rf"({_PART})=({_PART})(?= |$)")
# Characters a line must never hold raw: C0 and C1 controls, DEL, line and paragraph separators,
# bidi and other format characters, lone surrogates.
_UNPRINTABLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)

HOSTILE = [
    pytest.param("/webhooks/x\n10:00:02 ingest  queued     interaction_id=x:1", id="newline"),
    pytest.param("/webhooks/x\r10:00:02 ingest  queued", id="carriage return"),
    pytest.param("/webhooks/x\r\n\r\nforged", id="CRLF"),
    pytest.param("\x1b[2K\x1b[1A\x1b[31mforged\x1b[0m", id="terminal escape sequences"),
    pytest.param("a=b", id="equals"),
    pytest.param("ok platform=meta", id="a fake field"),
    pytest.param('say "hi" \\ bye', id="quotes and backslash"),
    pytest.param("line\u2028separator\u2029paragraph", id="unicode line separators"),
    pytest.param("next\x85line", id="NEL"),
    pytest.param("\x0bvertical\x0cform\x1cfile\x1dgroup\x1erecord", id="other line breaks"),
    pytest.param("admin\u202etxt.exe", id="bidi override"),
    pytest.param("zero\u200bwidth\ufeffbom", id="format characters"),
    pytest.param("half an emoji \ud83d", id="lone surrogate"),
    pytest.param("\x00\x07\x7f", id="NUL BEL DEL"),
    pytest.param("", id="empty"),
    pytest.param(" ", id="a space"),
]


def fields_of(line: str) -> dict[str, str]:
    """The ``key=value`` fields of a rendered line, with quoted parts read back as JSON."""
    read = lambda part: json.loads(part) if part.startswith('"') else part  # noqa: E731
    return {read(key): read(value) for key, value in _FIELD.findall(line)}


def test_plain_values_keep_the_readable_format():
    # Given a record of plain ids, numbers, a list and a shortened subject id
    record = {
        "level": "INFO",
        "message": "enriched",
        "interaction_id": "facebook:12345_98765",
        "subject_id": "3f9c21ab07d4e5f60718",
        "teams": ["support", "product"],
        "rules": [],
        "queued": 2,
        "score": 0.5,
    }
    # When rendered / Then nothing is quoted
    assert logs.render(record, "enrich", WHEN) == (
        "10:00:01 enrich  enriched   interaction_id=facebook:12345_98765 subject_id=3f9c21ab07d4… "
        "teams=support,product rules=- queued=2 score=0.5"
    )


def test_a_message_of_plain_words_and_a_warning_level_keep_the_readable_format():
    record = {"level": "WARNING", "message": "queueing failed", "platform": "meta", "failed": 1}
    assert logs.render(record, "ingest", WHEN) == (
        "10:00:01 ingest  queueing failed platform=meta failed=1 [WARNING]"
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_value_stays_on_its_line_and_reads_back_exactly(value):
    # Given a request path (decoded from %0A, %0D, %E2%80%A8...) that reaches a log value
    record = {"level": "WARNING", "message": "request failed", "path": value, "status": 404}
    # When rendered
    line = logs.render(record, "api", WHEN)
    # Then it is one line with no raw control, separator or format character
    assert line.splitlines() == [line]
    assert not _UNPRINTABLE.search(line)
    line.encode("utf-8")
    # And its fields are exactly the record's: the value cannot add one or hide the next
    assert fields_of(line) == {"path": value, "status": "404"}
    assert line.endswith(" status=404 [WARNING]")


@pytest.mark.parametrize("text", HOSTILE)
def test_a_hostile_key_message_level_or_function_cannot_forge_a_line_or_a_field(text):
    # Given a record whose key, message and level all hold hostile text, in a function named likewise
    record = {"level": text or "ERROR", "message": text, text or "k": "v", "status": 1}
    # When rendered
    line = logs.render(record, text, WHEN)
    # Then it is one printable line whose fields are the record's
    assert line.splitlines() == [line]
    assert not _UNPRINTABLE.search(line)
    fields = fields_of(line)
    assert fields[text or "k"] == "v" and fields["status"] == "1"


def test_a_message_that_looks_like_a_field_is_quoted():
    line = logs.render({"message": "refused status=200", "status": 401}, "ingest", WHEN)
    assert line == '10:00:01 ingest  "refused status=200" status=401'
    assert fields_of(line) == {"status": "401"}


def test_an_exception_stays_on_indented_lines_with_nothing_unprintable():
    # Given a record with a traceback whose message carries a forged line and escape sequences
    exception = 'Traceback (most recent call last):\n  File "x.py"\nValueError: bad\n10:00:02 api forged\x1b[2K\u2028x'
    record = {"level": "ERROR", "message": "unexpected error", "exception": exception}
    # When rendered
    first, *rows = logs.render(record, "api", WHEN).split("\n")
    # Then the record is its first line, and every row of the traceback is indented and printable
    assert first == "10:00:01 api     unexpected error [ERROR]"
    assert rows and all(row.startswith("    ") for row in rows)
    assert not any(_UNPRINTABLE.search(row) for row in rows)


def test_a_logger_installed_with_the_readable_format_writes_one_line_per_record():
    # Given a Powertools logger writing to a buffer in the readable format
    buffer = io.StringIO()
    logger = Logger(service="socialcrm-test", logger_handler=logging.StreamHandler(buffer))
    undo = logs.install(logger, "INFO")
    try:
        # When a request path holding an encoded newline and a fake line is logged
        logger.warning(
            "request failed", route="GET /webhooks/{platform}", path="/webhooks/x\n10:00:02 forged=1"
        )
    finally:
        undo()
    # Then the buffer holds one line, with the path quoted
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 1
    assert fields_of(lines[0])["path"] == "/webhooks/x\n10:00:02 forged=1"


ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40)
VALUES = (
    ANY_TEXT | st.integers() | st.floats(allow_nan=False) | st.lists(ANY_TEXT.filter(str.isalnum), max_size=3)
)


@settings(max_examples=300, deadline=None)
# A shortened field (a subject id) reads back shortened: its own test above.
@given(
    record=st.dictionaries(
        ANY_TEXT.filter(lambda key: key not in logs._HIDDEN and key not in logs._SHORTENED),
        VALUES,
        max_size=5,
    )
)
def test_any_record_renders_as_one_printable_line_whose_fields_read_back(record: dict[str, Any]):
    # Given any keys and values, text of every Unicode category included
    # When rendered
    line = logs.render({"message": "received", **record}, "ingest", WHEN)
    # Then it is one printable, encodable line and each field reads back as the value's text
    assert line.splitlines() == [line]
    assert not _UNPRINTABLE.search(line)
    line.encode("utf-8")
    expected = {
        key: ",".join(value) or "-" if isinstance(value, list) else str(value)
        for key, value in record.items()
    }
    assert fields_of(line) == expected
