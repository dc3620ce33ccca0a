"""The local HTTP API: every route of ``topology.ROUTES``, served by Powertools' ``HttpResolverLocal``.

Each function that serves routes gets its own resolver, built as its Lambda ``app`` is: the same
routers (each handler's ``app.include_router(build(runtime))`` lines, read from its source) over the
handler's own runtimes, the same resolver options (request validation), and the shared error handlers.
:class:`LocalApi`, the ASGI callable, plays API Gateway's part in front of them:

* it routes by ``topology.ROUTES`` (a request no route declares is a 404, as in API Gateway) and sets
  the function name the readable logs show;
* it reads the body once, answers 413 above Lambda's 6 MB, and answers 400 with the API's JSON error
  body when the body, a header or the query string is not valid UTF-8 (``HttpResolverLocal`` decodes
  them as UTF-8 and would otherwise fail with a 500). A valid UTF-8 body reaches the signature check
  byte for byte: the resolver decodes it and the webhook route encodes it back to the same bytes;
* it logs a line for each error answer (the route template and status, never a path with user ids).

The path arrives percent-decoded (uvicorn turns ``%2F`` into ``/`` before routing) and is routed as it
arrives, as a gateway may do: platform ids that hold such characters travel in the ``~`` form of
``socialcrm.api.path_ids``, which the routes decode. The shared error handlers also install the JSON body
rule (``socialcrm.api.responses.JsonBodyValidation``) on the resolvers that validate requests.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from aws_lambda_powertools.event_handler import HttpResolverLocal

from socialcrm.api.responses import register_error_handlers
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


@dataclass(frozen=True)
class RouterSource:
    """One ``app.include_router(build(runtime))`` of a handler module, which the local resolver repeats."""

    build: Callable[[Callable[[], Any]], Any]
    runtime: Callable[[], Any]
    prefix: str | None = None


def handler_composition(module: ModuleType) -> tuple[dict[str, Any], list[RouterSource]]:
    """How a handler module composes its Lambda ``app``: the resolver's options and its routers.

    Read from the module's source, so whatever a function serves in AWS (``app =
    APIGatewayHttpResolver(...)``, then ``app.include_router(x.build_router(y_runtime))``) is served
    locally by the same router builders over the handler's own runtimes.
    """
    options: dict[str, Any] = {}
    routers: list[RouterSource] = []
    for node in ast.parse(inspect.getsource(module)).body:
        if isinstance(node, ast.Assign) and [_dotted(t) for t in node.targets] == ["app"]:
            if isinstance(node.value, ast.Call):
                options = {kw.arg: _evaluate(kw.value, module) for kw in node.value.keywords if kw.arg}
        elif _is_call_of(node, "app.include_router"):
            routers.append(_router_source(node.value, module))  # type: ignore[attr-defined]
    if not routers:
        raise RuntimeError(f"{module.__name__} serves routes but its app includes no router")
    return options, routers


def _is_call_of(node: ast.stmt, name: str) -> bool:
    return (
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and _dotted(node.value.func) == name
    )


def _router_source(call: ast.Call, module: ModuleType) -> RouterSource:
    built = call.args[0] if len(call.args) == 1 else None
    if not isinstance(built, ast.Call) or len(built.args) != 1:
        raise RuntimeError(
            f"{module.__name__}: the local stack reads `app.include_router(build(runtime))`, "
            f"not {ast.unparse(call)!r}"
        )
    keywords = {kw.arg: _evaluate(kw.value, module) for kw in call.keywords if kw.arg}
    return RouterSource(
        _evaluate(built.func, module), _evaluate(built.args[0], module), keywords.get("prefix")
    )


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _evaluate(node: ast.expr, module: ModuleType) -> Any:
    """A literal, or a (dotted) name looked up in the module's namespace."""
    if isinstance(node, ast.Constant | ast.List | ast.Tuple | ast.Dict):
        return ast.literal_eval(node)
    name = _dotted(node)
    if name is None:
        raise RuntimeError(f"{module.__name__}: cannot read {ast.unparse(node)!r} without running it")
    head, *rest = name.split(".")
    value = getattr(module, head)
    for part in rest:
        value = getattr(value, part)
    return value


def function_resolver(function: str) -> tuple[HttpResolverLocal, list[RouterSource]]:
    """A resolver serving ``function``'s routes as its Lambda ``app`` does, and the routers it includes."""
    module = importlib.import_module(FUNCTIONS[function].handler.rpartition(".")[0])
    options, routers = handler_composition(module)
    resolver = HttpResolverLocal(**options)
    for source in routers:
        resolver.include_router(source.build(source.runtime), prefix=source.prefix)
    register_error_handlers(resolver)
    return resolver, routers


class LocalApi:
    """The ASGI application of the local stack (see the module docstring)."""

    def __init__(self) -> None:
        self.routes = compile_routes()
        self.resolvers: dict[str, HttpResolverLocal] = {}
        self._routers: list[RouterSource] = []
        for name in dict.fromkeys(route.function for route in self.routes):
            self.resolvers[name], routers = function_resolver(name)
            self._routers += routers

    def runtimes(self) -> list[Callable[[], Any]]:
        """The runtimes the routes use, to build them at start-up rather than on a first request."""
        return [source.runtime for source in self._routers]

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
            await self.resolvers[route.function](scope, _replay(body), send)
        finally:
            FUNCTION.reset(token)
            # The end of an invocation: Lambda's log_metrics empties the metric set; with metrics disabled
            # locally nothing would, and Powertools prints the set once a metric holds 100 values.
            metrics.clear_metrics()

    def _route(self, method: str, path: str) -> LocalRoute | None:
        return next((r for r in self.routes if r.method == method and r.pattern.fullmatch(path)), None)


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
