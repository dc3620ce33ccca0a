"""Make four of moto's hot paths cost what they cost in AWS, for the local stack under load.

Like ``socialcrm.local.moto_patches`` (transactions), these keep moto's behaviour and answers and
remove work that grows with nothing a caller can see:

* The server: to route each request to a service, moto lists its own package directory (``os.listdir``
  and an ``isdir`` per entry, some 200 system calls) while holding the lock every request takes.
  The list never changes while the process runs, so it is read once.
* EventBridge: delivering an event to a target builds a JSONPath parser (``jsonpath_ng.ext.parse``,
  a PLY grammar) for each of the eight paths of the default input template, for every event and
  target, about 1 ms each. The parsed expressions are immutable, so they are cached by their text.
* SQS: the queue's attribute map counts every message of the queue (visible, in flight, delayed),
  and moto builds it for one setting where it needs no count: ``SendMessage`` (content-based
  deduplication) and, through ``get_queue_attributes``, ``ReceiveMessage`` for each message it
  returns (the retention period), three times over. A send or a receive then costs time
  proportional to the queue's depth, squared for a batch. The counts are left out of the map
  while a send runs, or while attributes that are not counts are asked for.
* SQS clock: every receive asks each message of the queue whether it is visible yet, and each asks the
  time through ``datetime`` with a time zone (and an import) per call: with a backlog of thousands, a
  receive took milliseconds. The SQS model reads the clock with ``time.time`` instead (the same
  milliseconds since the epoch; the embedded AWS runs on the real clock).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

_applied = False
_skip = threading.local()  # .counts: nothing running on this thread now reads the message counts
_COUNT_NAMES = frozenset(
    {
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    }
)
_COUNTS = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_not_visible",
    "approximate_number_of_messages_delayed",
)


@contextmanager
def _without_counts() -> Iterator[None]:
    outer = getattr(_skip, "counts", False)
    _skip.counts = True
    try:
        yield
    finally:
        _skip.counts = outer


def speed_up_events_and_queues() -> None:
    """Apply once per process, before moto serves requests."""
    global _applied
    if _applied:
        return
    import jsonpath_ng.ext
    from moto import backends
    from moto.sqs import models as sqs_models
    from moto.sqs.models import Queue, SQSBackend

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    jsonpath_ng.ext.parse = lru_cache(maxsize=256)(jsonpath_ng.ext.parse)  # moto imports it per call

    original_send = SQSBackend.send_message
    original_attributes = SQSBackend.get_queue_attributes

    def send_message(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
        with _without_counts():
            return original_send(self, *args, **kwargs)

    def get_queue_attributes(self: SQSBackend, queue_name: str, attribute_names: list[str]) -> Any:
        if "All" in attribute_names or _COUNT_NAMES.intersection(attribute_names):
            return original_attributes(self, queue_name, attribute_names)
        with _without_counts():
            return original_attributes(self, queue_name, attribute_names)

    for name in _COUNTS:
        count = getattr(Queue, name).fget

        def count_unless_skipped(self: Queue, _count: Any = count) -> int:
            return 0 if getattr(_skip, "counts", False) else int(_count(self))

        setattr(Queue, name, property(count_unless_skipped))
    original_millis = sqs_models.unix_time_millis

    def unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else float(original_millis(dt))

    sqs_models.unix_time_millis = unix_time_millis
    SQSBackend.send_message = send_message  # type: ignore[method-assign]
    SQSBackend.get_queue_attributes = get_queue_attributes  # type: ignore[method-assign]
    _applied = True
