"""The HTTP transport of the send adapters (:class:`socialcrm.replies.outbound.Transport`), over ``urllib3``.

One pooled :class:`urllib3.PoolManager` per transport; no retries (an adapter makes exactly one call and
the send function decides what follows) and no redirects (a ``3xx`` is an answer, never followed: a
redirected POST could be sent twice, and the Standard Webhooks spec counts a redirect as a failure).

When no answer comes, :class:`TransportError` says whether the request may have reached the server:

* ``sent=False`` only when it certainly did not: the name did not resolve, the connection was refused or
  timed out, the TLS handshake failed, the URL was unusable. Every one of these fails inside the
  connection's ``connect()`` (TCP and TLS) or before it, which is what is checked: the transport's own
  connection classes note, per thread, that ``connect()`` failed for the request under way;
* ``sent=True`` otherwise: a read timeout, a reset or a protocol error once the connection was up (the
  request may have been written and processed), and any failure on a connection reused from the pool.

Messages name the failure's kind only: never the URL, which holds people's ids.
"""

from __future__ import annotations

import http.client
import threading
from typing import Any

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, LocationValueError, MaxRetryError

from socialcrm.replies.outbound import HttpRequest, HttpResponse, TransportError

CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 10.0
MAX_BODY_BYTES = 1_048_576  # a platform's answer is a few hundred bytes; a bigger one is cut here

# Per thread: did ``connect()`` fail for the request this thread is making?
_attempt = threading.local()


def _note_connect_failure() -> None:
    _attempt.connect_failed = True


class _TrackedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        try:
            super().connect()
        except BaseException:
            _note_connect_failure()
            raise


class _TrackedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:  # TCP connect and TLS handshake
        try:
            super().connect()
        except BaseException:
            _note_connect_failure()
            raise


class _TrackedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _TrackedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


class UrllibTransport:
    """:class:`~socialcrm.replies.outbound.Transport` over a pooled ``urllib3.PoolManager``.

    Thread-safe: the pool manager is, and the connect-failure note is kept per thread.
    """

    def __init__(
        self,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        read_timeout: float = READ_TIMEOUT_SECONDS,
        max_connections_per_host: int = 10,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._max_body = max_body_bytes
        self._pool = urllib3.PoolManager(maxsize=max_connections_per_host, block=False, retries=False)
        self._pool.pool_classes_by_scheme = {
            "http": _TrackedHTTPConnectionPool,
            "https": _TrackedHTTPSConnectionPool,
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        _attempt.connect_failed = False
        try:
            response = self._pool.request(
                request.method,
                request.url,
                body=request.body,
                headers=dict(request.headers),
                redirect=False,
                retries=False,
                timeout=self._timeout,
                preload_content=False,
            )
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError, ValueError) as exc:
            raise self._failure(exc) from exc
        try:
            body = response.read(self._max_body + 1)
            complete = len(body) <= self._max_body
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            response.close()
            raise TransportError(
                f"The answer broke off while it was read ({type(exc).__name__}).", sent=True
            ) from exc
        headers = {name.lower(): response.headers[name] for name in response.headers}
        if complete:
            response.release_conn()
        else:  # the rest is never read: drop the connection rather than return it to the pool half-read
            response.close()
            body = body[: self._max_body]
        return HttpResponse(status=response.status, headers=headers, body=body)

    def close(self) -> None:
        """Close the pooled connections."""
        self._pool.clear()

    @staticmethod
    def _failure(exc: BaseException) -> TransportError:
        reason: Any = exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc
        kind = type(reason).__name__
        refused_before_sending = isinstance(reason, ConnectTimeoutError | LocationValueError) or (
            # http.client's checks of the request line and headers, made before anything is written
            isinstance(reason, ValueError) and not isinstance(reason, urllib3.exceptions.HTTPError)
        )
        if refused_before_sending or getattr(_attempt, "connect_failed", False):
            # ConnectTimeoutError covers NewConnectionError (refused, unreachable) and NameResolutionError.
            return TransportError(
                f"The platform could not be reached; nothing was sent ({kind}).", sent=False
            )
        return TransportError(f"No answer came after the request was made ({kind}).", sent=True)
