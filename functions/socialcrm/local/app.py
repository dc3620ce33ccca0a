"""The local HTTP API: every route of ``topology.ROUTES``, served by Powertools' ``HttpResolverLocal``.

Each function that serves routes gets its own resolver, built as its Lambda ``app`` is: from the
``COMPOSITION`` its handler declares (``socialcrm.api.composition``: the same routers over the handler's
own runtimes, the same resolver options, the shared error handlers).
:class:`LocalApi`, the ASGI callable, plays API Gateway's part in front of them:

* it routes by ``topology.ROUTES`` (a request no route declares is a 404, as in API Gateway) and sets
  the function name the readable logs show;
* it reads the body once, answers 413 above Lambda's 6 MB, and answers 400 with the API's JSON error
  body when the body, a header or the query string is not valid UTF-8 (``HttpResolverLocal`` decodes
  them as UTF-8 and would otherwise fail with a 500). A valid UTF-8 body reaches the signature check
  byte for byte: the resolver decodes it and the webhook route encodes it back to the same bytes;
* it passes on the development principal's headers (``socialcrm.local.principals``) from loopback
  clients only;
* it logs a line for each error answer (the route template and status, never a path with user ids).

The path arrives percent-decoded (uvicorn turns ``%2F`` into ``/`` before routing) and is routed as it
arrives, as a gateway may do: platform ids that hold such characters travel in the ``~`` form of
``socialcrm.api.path_ids``, which the routes decode. The shared error handlers also install the JSON body
rule (``socialcrm.api.validation.JsonBodyValidation``) on the resolvers that validate requests.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import HttpResolverLocal

from socialcrm.api.callers import DEV_HEADERS, is_loopback
from socialcrm.api.composition import Composition
from socialcrm.local.logs import FUNCTION
from socialcrm.observability import logger, metrics
from socialcrm.topology import FUNCTIONS, MAX_WEBHOOK_BYTES, ROUTES

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class LocalRoute:
    method: str
    template: str  # API Gateway syntax, e.g. /interactions/{interaction_id}
    pattern: re.Pattern[str]
    function: str


def compile_routes(routes: tuple[tuple[str, str, str, bool], ...] = ROUTES) -> list[LocalRoute]:
    """API Gateway route keys (``GET /interactions/{interaction_id}``) as path matchers.

    >>> compile_routes((("GET", "/a/{id}/b", "api", True),))[0].pattern.fullmatch("/a/x:1/b") is not None
    True
    """
    compiled = []
    for method, path, function, _iam in routes:
        literal_parts = re.split(r"\{[^/{}]+\}", path)
        pattern = "[^/]+".join(re.escape(part) for part in literal_parts)
        compiled.append(LocalRoute(method, path, re.compile(pattern), function))
    return compiled


def function_resolver(function: str) -> tuple[HttpResolverLocal, Composition]:
    """A resolver serving ``function``'s routes as its Lambda ``app`` does: from the ``COMPOSITION`` its
    handler declares (``socialcrm.api.composition``)."""
    module = importlib.import_module(FUNCTIONS[function].handler.rpartition(".")[0])
    composition = getattr(module, "COMPOSITION", None)
    if not isinstance(composition, Composition):
        raise RuntimeError(f"{module.__name__} serves routes but declares no COMPOSITION")
    return composition.compose(HttpResolverLocal(**composition.options)), composition


class LocalApi:
    """The ASGI application of the local stack (see the module docstring)."""

    def __init__(self) -> None:
        self.routes = compile_routes()
        self.resolvers: dict[str, HttpResolverLocal] = {}
        self._compositions: list[Composition] = []
        for name in dict.fromkeys(route.function for route in self.routes):
            self.resolvers[name], composition = function_resolver(name)
            self._compositions.append(composition)

    def runtimes(self) -> list[Callable[[], Any]]:
        """The runtimes the routes use, to build them at start-up rather than on a first request."""
        return [runtime for composition in self._compositions for runtime in composition.runtimes()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        route = self._route(scope["method"], scope["path"])
        if route is None:
            await _error(send, 404, "not_found", "No such route.")
            return
        token = FUNCTION.set(route.function)
        send = _logging_refusals(send, route, scope)
        try:
            body = await _read_body(receive)
            if body is None:
                await _error(send, 413, "payload_too_large", f"The body is over {MAX_WEBHOOK_BYTES} bytes.")
                return
            problem = _undecodable(scope, body)
            if problem:
                await _error(send, 400, "bad_request", problem)
                return
            await self.resolvers[route.function](_trusted(scope), _replay(body), send)
        finally:
            FUNCTION.reset(token)
            # The end of an invocation: Lambda's log_metrics empties the metric set; with metrics disabled
            # locally nothing would, and Powertools prints the set once a metric holds 100 values.
            metrics.clear_metrics()

    def _route(self, method: str, path: str) -> LocalRoute | None:
        return next((r for r in self.routes if r.method == method and r.pattern.fullmatch(path)), None)


def _trusted(scope: Scope) -> Scope:
    """``scope`` without the development principal's headers unless the client is on loopback: only a
    developer's own machine may say who it is (``socialcrm.local.principals``)."""
    client = scope.get("client") or ("", 0)
    if is_loopback(client[0]):
        return scope
    headers = [(k, v) for k, v in scope.get("headers", []) if k.decode("latin-1").lower() not in DEV_HEADERS]
    return {**scope, "headers": headers}


def _logging_refusals(send: Send, route: LocalRoute, scope: Scope) -> Send:
    """``send``, logging a line when the answer is an error (API Gateway's access log, locally).

    The line names the route template and, for webhooks, the platform: never a path with user ids.
    """
    status: list[int] = []

    async def logging_send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(int(message["status"]))
        elif message["type"] == "http.response.body" and status and status[0] >= 400:
            fields: dict[str, Any] = {"status": status[0], "route": f"{route.method} {route.template}"}
            if route.template.startswith("/webhooks/"):
                fields["platform"] = scope["path"].rsplit("/", 1)[-1]
            fields["error"] = _error_code(message.get("body", b""))
            if status[0] >= 500:
                logger.error("failed", **fields)
            elif "platform" in fields:
                logger.warning("refused", **fields)
            else:
                logger.info("answered", **fields)
        await send(message)

    return logging_send


def _error_code(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document.get("error") if isinstance(document, dict) else None


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None once it is over Lambda's limit."""
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_WEBHOOK_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _undecodable(scope: Scope, body: bytes) -> str | None:
    """What ``HttpResolverLocal`` could not decode as UTF-8, said for a person; None when all is fine."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "The body is not valid UTF-8 text."
    for name, value in scope.get("headers", []):
        try:
            name.decode("utf-8")
            value.decode("utf-8")
        except UnicodeDecodeError:
            return f"The header {name.decode('latin-1')!r} is not valid UTF-8."
    try:
        scope.get("query_string", b"").decode("utf-8")
    except UnicodeDecodeError:
        return "The query string is not valid UTF-8."
    return None


def _replay(body: bytes) -> Receive:
    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": code, "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
