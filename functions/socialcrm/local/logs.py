"""Readable logs for the local stack: one line per record a person can follow.

The functions log JSON through Powertools' Logger (``socialcrm.observability``), as they do in Lambda.
Locally, every record is rendered as one line instead, e.g.::

    10:00:01 ingest  received   platform=meta interactions=2 queued=2 duplicates=0
    10:00:06 enrich  enriched   interaction_id=facebook:12345_98765 subject_id=3f9c21ab07d4… language=hi

The function column comes from :data:`FUNCTION`, a context variable the local HTTP app and the queue
pollers set to the topology's function key, so a line says which function wrote it. The records carry
no personal data (the functions log ids and the pseudonymous ``subject_id`` only); the renderer adds
none and shortens ``subject_id`` so lines stay readable.
"""

from __future__ import annotations

import json
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
_FUNCTION_WIDTH = 7
_MESSAGE_WIDTH = 10


def render(record: dict[str, Any], function: str, when: datetime | None = None) -> str:
    """One readable line for a structured log record.

    >>> render({"level": "INFO", "message": "received", "platform": "meta", "queued": 2}, "ingest",
    ...        datetime(2026, 1, 1, 10, 0, 1))
    '10:00:01 ingest  received   platform=meta queued=2'
    >>> render({"level": "WARNING", "message": "refused", "status": 401}, "ingest", datetime(2026, 1, 1, 10, 0, 2))
    '10:00:02 ingest  refused    status=401 [WARNING]'
    """
    stamp = (when or datetime.now()).strftime("%H:%M:%S")
    level = str(record.get("level", "INFO"))
    message = str(record.get("message", ""))
    fields = " ".join(
        f"{key}={_value(key, value)}"
        for key, value in record.items()
        if key not in _HIDDEN and value is not None
    )
    if level not in ("INFO", "DEBUG"):
        fields = f"{fields} [{level}]"
    line = f"{stamp} {function:<{_FUNCTION_WIDTH}} {message:<{_MESSAGE_WIDTH}} {fields}".rstrip()
    exception = record.get("exception")
    if exception:
        line += "\n" + "\n".join(f"    {row}" for row in str(exception).splitlines())
    return line


def _value(key: str, value: Any) -> str:
    """``value`` as one token: lists comma-joined, long ids shortened, text with spaces quoted.

    >>> _value("teams", ["support", "product"]), _value("rules", []), _value("route", "GET /x")
    ('support,product', '-', '"GET /x"')
    """
    if isinstance(value, list | tuple | set):
        text = ",".join(str(item) for item in value) or "-"
    else:
        text = str(value)
    keep = _SHORTENED.get(key)
    if keep and len(text) > keep:
        return text[:keep] + "…"
    return json.dumps(text, ensure_ascii=False) if " " in text else text


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
