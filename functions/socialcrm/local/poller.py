"""The local event source mapping: one poller per SQS queue of the topology, feeding its function.

Each :class:`QueuePoller` does for its queue what Lambda's SQS event source mapping does, with the
queue's own settings from ``socialcrm.topology``:

* it gathers up to ``batch_size`` messages (and at most 6 MB of bodies, Lambda's payload limit),
  waiting at most ``batching_window_seconds`` after the first one arrives (with no window, it invokes
  with what one poll returned);
* it calls the handler named by the function's ``FunctionSpec`` with a real-shaped SQS event and a
  Lambda-like context;
* it deletes the records that succeeded and makes the ``batchItemFailures`` visible again after a
  short local delay (instead of the queue's visibility timeout), so they are retried soon. A handler
  exception, or a response naming a message that is not in the batch, fails the whole batch, as Lambda
  does;
* redrive to the DLQ after ``max_receive_count`` receives is the queue's own ``RedrivePolicy``: moto
  moves a message whose receive count reached the limit to the DLQ on the next receive, as SQS does
  (``tests/e2e`` verifies it on the real inbound queue).
"""

from __future__ import annotations

import base64
import importlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from socialcrm.local.logs import FUNCTION
from socialcrm.observability import logger, metrics
from socialcrm.topology import FUNCTIONS, QUEUES, FunctionSpec, QueueSpec

Handler = Callable[[dict[str, Any], Any], Any]

MAX_BATCH_BYTES = 6 * 1024 * 1024  # Lambda's synchronous payload limit, which caps a batch
SQS_RECEIVE_MAX = 10  # messages per ReceiveMessage / DeleteMessageBatch call
IDLE_WAIT_SECONDS = 1  # long poll while the queue is empty (also bounds how long stop() waits)
ACCOUNT = "123456789012"  # moto's default account


class LocalLambdaContext:
    """What a handler reads from Lambda's context object, for one local invocation."""

    def __init__(self, function: FunctionSpec, region: str) -> None:
        self.function_name = f"socialcrm-{function.key}"
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = function.memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{self.function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + function.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def sqs_event(messages: Sequence[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda hands a function for ``messages`` as ``ReceiveMessage`` returned them."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes", {})),
                "messageAttributes": {
                    name: _lambda_attribute(value)
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


def _lambda_attribute(value: dict[str, Any]) -> dict[str, Any]:
    binary = value.get("BinaryValue")
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode() if isinstance(binary, bytes) else binary,
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": list(value.get("BinaryListValues", [])),
        "dataType": value.get("DataType", "String"),
    }


def failed_message_ids(response: Any, message_ids: Sequence[str]) -> set[str]:
    """The messages Lambda would retry after a handler returned ``response`` (partial batch response).

    No failures for an empty response or an empty list; every message when the response names a
    message that is not in the batch, or is not the documented shape.

    >>> failed_message_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, ["a", "b"])
    {'b'}
    >>> sorted(failed_message_ids({"batchItemFailures": [{"itemIdentifier": "zz"}]}, ["a", "b"]))
    ['a', 'b']
    """
    if response is None or response == "":
        return set()
    if not isinstance(response, dict):
        return set(message_ids)
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return set(message_ids)
    known, failed = set(message_ids), set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in known:
            return set(message_ids)
        failed.add(identifier)
    return failed


def import_handler(path: str) -> Handler:
    """The callable a ``FunctionSpec.handler`` names, e.g. ``"enrich.handler.lambda_handler"``."""
    module_name, _, attribute = path.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    if not callable(handler):
        raise TypeError(f"{path} is not callable")
    return handler  # type: ignore[no-any-return]


@dataclass
class PollerCounts:
    invocations: int = 0
    deleted: int = 0
    retried: int = 0


class QueuePoller:
    """Feeds one SQS queue to one function, as Lambda's event source mapping does (module docstring)."""

    def __init__(
        self,
        queue: QueueSpec,
        function: FunctionSpec,
        handler: Handler,
        *,
        sqs: Any,
        queue_url: str,
        region: str,
        retry_delay_seconds: int = 1,
        batching_window_seconds: float | None = None,
    ) -> None:
        self.queue = queue
        self.function = function
        self.handler = handler
        self.queue_url = queue_url
        self.region = region
        self.retry_delay_seconds = retry_delay_seconds
        self.window = (
            queue.batching_window_seconds if batching_window_seconds is None else batching_window_seconds
        )
        self.counts = PollerCounts()
        self._sqs = sqs
        self._queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self._carried: list[dict[str, Any]] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"poller-{queue.key}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def signal_stop(self) -> None:
        """Ask the poller to stop after its current receive or batch (``stop`` waits for it)."""
        self._stopping.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop polling; a batch being handled is finished first."""
        self.signal_stop()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        FUNCTION.set(self.function.key)
        while not self._stopping.is_set():
            try:
                batch = self._gather()
                if self._stopping.is_set():
                    self._retry_later(batch, delay=0)
                    return
                if batch:
                    self._invoke(batch)
            except Exception:  # the embedded AWS went away or hiccupped: keep the poller alive
                if self._stopping.is_set():
                    return
                logger.exception("poller error", queue=self.queue.key)
                self._stopping.wait(1.0)

    def _gather(self) -> list[dict[str, Any]]:
        batch, self._carried = self._carried, []
        size = sum(len(m["Body"].encode()) for m in batch)
        deadline = time.monotonic() + self.window if batch else None
        while not self._stopping.is_set() and len(batch) < self.queue.batch_size:
            if deadline is None:
                wait = IDLE_WAIT_SECONDS
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait = int(remaining)
            received = self._receive(min(SQS_RECEIVE_MAX, self.queue.batch_size - len(batch)), wait)
            if not received:
                if deadline is not None and wait == 0:
                    self._stopping.wait(min(0.05, max(0.0, deadline - time.monotonic())))
                continue
            for message in received:
                message_bytes = len(message["Body"].encode())
                if self._carried or (batch and size + message_bytes > MAX_BATCH_BYTES):
                    self._carried.append(message)  # over 6 MB: it opens the next batch
                else:
                    batch.append(message)
                    size += message_bytes
            if self._carried:
                break
            if deadline is None:
                if self.window <= 0:
                    break
                deadline = time.monotonic() + self.window
        return batch

    def _receive(self, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def _invoke(self, batch: list[dict[str, Any]]) -> None:
        ids = [message["MessageId"] for message in batch]
        self.counts.invocations += 1
        try:
            response = self.handler(
                sqs_event(batch, self._queue_arn, self.region), LocalLambdaContext(self.function, self.region)
            )
        except Exception:
            logger.exception("invocation failed", function=self.function.key, records=len(batch))
            failed = set(ids)
        else:
            failed = failed_message_ids(response, ids)
        finally:
            metrics.clear_metrics()  # log_metrics does not empty the set while metrics are disabled
        done = [m for m in batch if m["MessageId"] not in failed]
        retry = [m for m in batch if m["MessageId"] in failed]
        self._delete(done)
        if retry:
            self._report_retries(retry)
            self._retry_later(retry, delay=self.retry_delay_seconds)

    def _report_retries(self, messages: Iterable[dict[str, Any]]) -> None:
        for message in messages:
            receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            last = receives >= self.queue.max_receive_count
            logger.warning(
                "dead-letter" if last else "retry",
                queue=self.queue.key,
                message_id=message["MessageId"],
                receives=receives,
                max_receives=self.queue.max_receive_count,
            )

    def _delete(self, messages: Sequence[dict[str, Any]]) -> None:
        for chunk in _chunks(messages):
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)],
            )
        self.counts.deleted += len(messages)

    def _retry_later(self, messages: Sequence[dict[str, Any]], *, delay: int) -> None:
        for chunk in _chunks(messages):
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": delay}
                    for n, m in enumerate(chunk)
                ],
            )
        self.counts.retried += len(messages)


def _chunks(messages: Sequence[dict[str, Any]]) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(messages), SQS_RECEIVE_MAX):
        yield messages[start : start + SQS_RECEIVE_MAX]


def build_pollers(
    sqs: Any,
    queue_urls: dict[str, str],
    *,
    region: str,
    retry_delay_seconds: int = 1,
    batching_window_seconds: float | None = None,
) -> list[QueuePoller]:
    """One poller per queue of the topology that feeds a function, its handler imported by name."""
    pollers = []
    for queue in QUEUES.values():
        consumers = [spec for spec in FUNCTIONS.values() if spec.queue == queue.key]
        for function in consumers:
            pollers.append(
                QueuePoller(
                    queue,
                    function,
                    import_handler(function.handler),
                    sqs=sqs,
                    queue_url=queue_urls[queue.key],
                    region=region,
                    retry_delay_seconds=retry_delay_seconds,
                    batching_window_seconds=batching_window_seconds,
                )
            )
    return pollers
