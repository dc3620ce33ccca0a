"""Readable logs for the local stack: one line per record a person can follow.

The functions log JSON through Powertools' Logger (``socialcrm.observability``), as they do in Lambda.
Locally, every record is rendered as one line instead, e.g.::

    10:00:01 ingest  received   platform=meta interactions=2 queued=2 duplicates=0
    10:00:06 enrich  enriched   interaction_id=facebook:12345_98765 subject_id=3f9c21ab07d4… language=hi

The function column comes from :data:`FUNCTION`, a context variable the local HTTP app and the queue
pollers set to the topology's function key, so a line says which function wrote it. The records carry
no personal data (the functions log ids and the pseudonymous ``subject_id`` only); the renderer adds
none and shortens ``subject_id`` so lines stay readable.

A value may still carry text from a request (a path, a header, a platform's id), so a line must never be
forged by what it shows: a value (and a key, the message, the level and the function) that is not a
plain token of safe characters is written as a JSON string, with every control, format, surrogate and
line or paragraph separator character escaped. A rendered record is therefore one line, and
``key=value`` pairs are told apart from text that only looks like one. The traceback of an exception
follows on indented lines, with the same characters escaped.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

# Which function of the topology is running in this thread or request ("ingest", "api", "enrich"...).
FUNCTION: ContextVar[str] = ContextVar("socialcrm_local_function", default="local")

# Keys every Powertools record carries, or that ``inject_lambda_context`` adds: not worth a column.
_HIDDEN = frozenset(
    {
        "level",
        "location",
        "message",
        "timestamp",
        "service",
        "sampling_rate",
        "xray_trace_id",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "correlation_id",
        "exception",
        "exception_name",
        "exception_notes",
        "stack_trace",
    }
)
_SHORTENED = {"subject_id": 12}
# What a value (or key, level, function) may hold and still be written as it is: ids, codes, numbers,
# comma-joined lists and the ellipsis of a shortened id. Anything else is written as a JSON string.
_PLAIN_TOKEN = re.compile(r"[A-Za-z0-9_.,:/@+#%~…-]+")
# A message is a short phrase: plain words separated by single spaces ("queueing failed").
_PLAIN_MESSAGE = re.compile(r"[A-Za-z0-9_.,:;/@+#%~…()'!?-]+(?: [A-Za-z0-9_.,:;/@+#%~…()'!?-]+)*")
# Unicode categories never written as they are: controls (C0, DEL, C1), format characters (bidi
# overrides, zero-width joiners), lone surrogates, private use, unassigned, line and paragraph separators.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_FUNCTION_WIDTH = 7
_MESSAGE_WIDTH = 10


def render(record: dict[str, Any], function: str, when: datetime | None = None) -> str:
    r"""One readable line for a structured log record.

    >>> render({"level": "INFO", "message": "received", "platform": "meta", "queued": 2}, "ingest",
    ...        datetime(2026, 1, 1, 10, 0, 1))
    '10:00:01 ingest  received   platform=meta queued=2'
    >>> render({"level": "WARNING", "message": "refused", "status": 401}, "ingest", datetime(2026, 1, 1, 10, 0, 2))
    '10:00:02 ingest  refused    status=401 [WARNING]'

    Text that is not a plain token is quoted, so a value can neither break the line nor fake a field:

    >>> print(render({"message": "request failed", "path": "/webhooks/x\n10:00:04 api forged=1"}, "api",
    ...              datetime(2026, 1, 1, 10, 0, 3)))
    10:00:03 api     request failed path="/webhooks/x\n10:00:04 api forged=1"
    """
    stamp = (when or datetime.now()).strftime("%H:%M:%S")
    level = str(record.get("level", "INFO"))
    message = _message(str(record.get("message", "")))
    fields = " ".join(
        f"{_token(str(key))}={_value(key, value)}"
        for key, value in record.items()
        if key not in _HIDDEN and value is not None
    )
    if level not in ("INFO", "DEBUG"):
        fields = f"{fields} [{_token(level)}]".lstrip()
    line = f"{stamp} {_token(function):<{_FUNCTION_WIDTH}} {message:<{_MESSAGE_WIDTH}} {fields}".rstrip()
    exception = record.get("exception")
    if exception:
        line += "\n" + "\n".join(f"    {_escaped(row)}" for row in str(exception).splitlines())
    return line


def _value(key: str, value: Any) -> str:
    r"""``value`` as one token: lists comma-joined, long ids shortened, any text that is not plain quoted.

    >>> _value("teams", ["support", "product"]), _value("rules", []), _value("route", "GET /x")
    ('support,product', '-', '"GET /x"')
    >>> _value("subject_id", "3f9c21ab07d4e5f6"), _value("path", "a=b"), _value("note", 'say "hi"')
    ('3f9c21ab07d4…', '"a=b"', '"say \\"hi\\""')
    """
    if isinstance(value, list | tuple | set):
        text = ",".join(str(item) for item in value) or "-"
    else:
        text = str(value)
    keep = _SHORTENED.get(key)
    if keep and len(text) > keep:
        text = text[:keep] + "…"
    return _token(text)


def _token(text: str) -> str:
    r"""``text`` as it is when it is a plain token, else as a JSON string with nothing unprintable in it.

    >>> _token("facebook:12345_98765"), _token(""), _token("a\rb"), _token("x\u2028y")
    ('facebook:12345_98765', '""', '"a\\rb"', '"x\\u2028y"')
    """
    return text if _PLAIN_TOKEN.fullmatch(text) else _quoted(text)


def _message(text: str) -> str:
    """The message as it is when it is a phrase of plain words, else as a JSON string.

    >>> _message("queueing failed"), _message("refused status=401"), _message("")
    ('queueing failed', '"refused status=401"', '')
    """
    return text if not text or _PLAIN_MESSAGE.fullmatch(text) else _quoted(text)


def _quoted(text: str) -> str:
    r"""A JSON string of ``text`` (which ``json.loads`` reads back) that holds no unprintable character.

    ``json.dumps`` escapes the C0 controls, quotes and backslashes; what it leaves raw with
    ``ensure_ascii=False`` (DEL, C1 controls such as NEL, bidi overrides, lone surrogates, U+2028 and
    U+2029) is escaped here.

    >>> _quoted("tab\there \x1b[31m \x85 \u202e \ud800 ok é")
    '"tab\\there \\u001b[31m \\u0085 \\u202e \\ud800 ok é"'
    """
    return _escaped(json.dumps(text, ensure_ascii=False))


def _escaped(text: str) -> str:
    r"""``text`` with every character of :data:`_ESCAPED_CATEGORIES` written as a JSON ``\uXXXX`` escape."""
    if text.isprintable():
        return text
    return "".join(
        _escape(char) if unicodedata.category(char) in _ESCAPED_CATEGORIES else char for char in text
    )


def _escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # beyond the BMP: a surrogate pair, as JSON writes it
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


class ReadableFormatter(LambdaPowertoolsFormatter):
    """Powertools' formatter (same keys, same handling of extras) serialised as one readable line."""

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        return render(log, FUNCTION.get())


def install(logger: Logger, level: str | int = "INFO") -> Callable[[], None]:
    """Render ``logger``'s records readably at ``level``; returns a function that undoes it."""
    handler = logger.registered_handler
    previous_formatter, previous_level = handler.formatter, logger.log_level
    handler.setFormatter(ReadableFormatter())
    logger.setLevel(level)

    def undo() -> None:
        handler.setFormatter(previous_formatter)
        logger.setLevel(previous_level)

    return undo
