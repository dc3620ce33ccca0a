"""Fuzz figures: what a bounded fuzz of every HTTP route sends to the local stack, and how many answers
are 500 or more (the goal is none). The stack runs whole (embedded AWS, queues, consumers); its HTTP app
(``socialcrm.local.app.LocalApi``) is called in process, as ASGI, with the scope uvicorn would build.

* ``fuzz_requests`` / ``fuzz_5xx``: schemathesis over the OpenAPI document (``socialcrm.api.openapi``),
  every CRM route (interactions, subject timelines, exports and objections, erasure requests, cases,
  reports): its example, coverage and fuzzing phases, data that fits the schema and data that does not,
  with the bodies and content types it generates. Each operation runs twice: once with every parameter
  generated, once with the path naming records that exist (an interaction, its subject, a routed case,
  an erasure request), so the fuzz reaches past "not found".
* ``fuzz_webhook_requests`` / ``fuzz_webhook_5xx``: ``POST /webhooks/{platform}`` for every platform
  with bodies signed as the platform signs them (most validly, some stale, forged or unsigned), so the
  fuzz gets into the parsers: arbitrary JSON and mutations of real deliveries, YouTube's Atom too
  (``tests/support/webhook_fuzz.py``); and ``GET /webhooks/{platform}`` with fuzzed handshake query
  strings.

Bounded and repeatable: a fixed number of examples per operation and platform, Hypothesis derandomised
with no example database, so the same code and library versions send the same number of requests. An
answer of 500 or more, or an exception out of the app (uvicorn's 500), is counted and the first few
requests are printed to reproduce it.

Run on its own: ``python bench/fuzz.py`` (the bench's bounds) or ``python bench/fuzz.py --quick``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import importlib
import json
import logging
import os
import re
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

CRM_EXAMPLES = 200  # generated cases per CRM operation and pass, besides schemathesis' examples and coverage
WEBHOOK_EXAMPLES = 1_000  # signed deliveries per platform
HANDSHAKE_EXAMPLES = 200  # handshake query strings per platform
QUICK = {"crm_examples": 20, "webhook_examples": 60, "handshake_examples": 20}
KEPT_FAILURES = 5  # requests kept per part to reproduce a 5xx
SEED_DEADLINE_SECONDS = 60.0
BATCHING_WINDOW_SECONDS = 0.2  # the queues' batching window, shortened so the seeded records arrive soon

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]


def measure(
    crm_examples: int = CRM_EXAMPLES,
    webhook_examples: int = WEBHOOK_EXAMPLES,
    handshake_examples: int = HANDSHAKE_EXAMPLES,
) -> dict[str, Any]:
    """The four figures, on a fresh local stack started and stopped here (its environment restored)."""
    from socialcrm.local.app import LocalApi
    from socialcrm.local.stack import LocalStack

    with contextlib.ExitStack() as cleanup:
        cleanup.enter_context(_quiet())
        # The daily report (00:30 UTC) would write under reports/: a fuzz run keeps it in a temporary folder.
        cleanup.enter_context(
            _environment("REPORTS_DIR", cleanup.enter_context(tempfile.TemporaryDirectory()))
        )
        stack = cleanup.enter_context(
            LocalStack(port=0, batching_window_seconds=BATCHING_WINDOW_SECONDS, retry_delay_seconds=0)
        )
        assert stack.secrets is not None
        app = RecordingApp(LocalApi())
        records = _seed(app, stack.secrets)
        started = time.perf_counter()
        crm = _fuzz_crm(app, records, crm_examples)
        print(f"  CRM routes: {crm.summary()} ({time.perf_counter() - started:.0f} s)", flush=True)
        started = time.perf_counter()
        webhooks = _fuzz_webhooks(app, stack.secrets, webhook_examples, handshake_examples)
        print(f"  webhook routes: {webhooks.summary()} ({time.perf_counter() - started:.0f} s)", flush=True)
        print(f"  after the fuzz: {_queue_depths(stack)}", flush=True)
    for name, tally in (("CRM", crm), ("webhook", webhooks)):
        for failure in tally.failures:
            print(f"  5xx on a {name} route, to reproduce: {failure}", flush=True)
    return {
        "fuzz_requests": crm.requests,
        "fuzz_5xx": crm.server_errors,
        "fuzz_webhook_requests": webhooks.requests,
        "fuzz_webhook_5xx": webhooks.server_errors,
    }


# --- the app under test, every request counted -------------------------------------------------------


@dataclass
class Tally:
    """Requests and answers of one part of the fuzz."""

    requests: int = 0
    server_errors: int = 0
    by_route: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def record(self, route: str, status: int, request: Callable[[], str]) -> None:
        self.requests += 1
        self.by_route[route] += 1
        self.statuses.setdefault(route, Counter())[status] += 1
        if status >= 500:
            self.server_errors += 1
            if len(self.failures) < KEPT_FAILURES:
                self.failures.append(request())

    def summary(self) -> str:
        return f"{self.requests} requests, {self.server_errors} answers of 500 or more"

    def lines(self) -> Iterator[str]:
        for route in sorted(self.by_route):
            statuses = ", ".join(f"{status}: {n}" for status, n in sorted(self.statuses[route].items()))
            yield f"{route}: {self.by_route[route]} ({statuses})"


class RecordingApp:
    """An ASGI app in front of the local API: counts each request by route template and status into
    ``tally``, keeps the requests answered 500 or more, and answers 500 itself when the app raises (as
    uvicorn does)."""

    def __init__(self, app: Any) -> None:
        from socialcrm.local.app import compile_routes

        self.app = app
        self.routes = compile_routes()
        self.tally = Tally()

    def template(self, method: str, path: str) -> str:
        """The route a request counts under: ``GET /cases/{case_id}``, the platform's for a webhook
        (``POST /webhooks/meta``), or none (a method a path does not serve, a path no route matches)."""
        route = next((r for r in self.routes if r.method == method and r.pattern.fullmatch(path)), None)
        if route is None:
            return "a method or path no route declares"
        return f"{method} {path if route.template.startswith('/webhooks/') else route.template}"

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        statuses: list[int] = []
        error: BaseException | None = None

        async def recording_receive() -> Message:
            message: Message = await receive()
            chunks.append(message.get("body", b""))
            return message

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                statuses.append(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, recording_receive, recording_send)
        except Exception as exc:  # uvicorn answers 500 and logs it; so does this
            error = exc
            if not statuses:
                statuses.append(500)
                await send({"type": "http.response.start", "status": 500, "headers": []})
                await send({"type": "http.response.body", "body": b""})

        def request() -> str:
            raw_path = scope.get("raw_path") or scope["path"].encode()
            query = scope.get("query_string", b"")
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
            body = b"".join(chunks)
            shown = body if len(body) <= 2_000 else body[:2_000] + b"...(%d bytes)" % len(body)
            raised = f" raised {type(error).__name__}: {error}" if error else ""
            return (
                f"{scope['method']} {raw_path.decode('latin-1')}{'?' + query.decode('latin-1') if query else ''}"
                f" headers={headers} body={shown!r} -> {statuses[0]}{raised}"
            )

        self.tally.record(self.template(scope["method"], scope["path"]), statuses[0], request)


def call(
    app: Any,
    method: str,
    path: str,
    *,
    query: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
) -> tuple[int, bytes]:
    """One request through the ASGI ``app``, with the scope uvicorn builds (``path`` percent-decoded)."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"127.0.0.1"), *(headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(int(m["status"]) for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def _settings(max_examples: int) -> Any:
    from hypothesis import HealthCheck, Phase, Verbosity, settings

    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
        report_multiple_bugs=False,
    )


# --- records for the fuzz to find ----------------------------------------------------------------------


@dataclass(frozen=True)
class Records:
    """Parameters naming records that exist on the stack (and a report's days that parse)."""

    platform: str
    user_id: str
    interaction_id: str
    case_id: str
    request_id: str
    day: str
    reply_id: str

    def override(self, template: str) -> Any | None:
        """Fixed values for the parameters of the route ``template`` that name a record; None if none do."""
        from schemathesis.generation.overrides import Override

        path = {name: getattr(self, name) for name in re.findall(r"\{(\w+)\}", template)}
        query = {"from": self.day, "to": self.day} if template == "/reports/summary" else {}
        return Override(path_parameters=path, query=query) if path or query else None


def _seed(app: RecordingApp, secrets: Any) -> Records:
    """A customer's complaint (ingested, enriched, routed to a case) and an erasure request for another."""
    from datetime import UTC, datetime

    from socialcrm.local import deliveries

    app.tally = Tally()
    user_id = "fuzz-customer"
    payload = deliveries.generic_review(
        "fuzz-seed-1",
        user_id,
        "fuzz_customer",
        "My kettle arrived broken and nobody answers my emails. Terrible service, I want a refund.",
        datetime.now(tz=UTC),
    )
    delivery = deliveries.Signer(secrets).sign(payload)
    status, body = call(app, "POST", delivery.path, headers=_header_list(delivery.headers), body=payload.body)
    if status != 200:
        raise RuntimeError(f"the seed delivery was refused: {status} {body!r}")
    interaction_id = payload.interaction_ids[0]

    def routed_case() -> str | None:
        if call(app, "GET", f"/interactions/{interaction_id}")[0] != 200:
            return None
        cases: list[dict[str, Any]] = json.loads(call(app, "GET", "/cases")[1]).get("items", [])
        return str(cases[0]["case_id"]) if cases else None

    case_id = _wait_for(routed_case, "the seed interaction to be routed")
    erasure = json.dumps(
        {"subjects": [{"platform": "generic", "user_id": "fuzz-erased"}], "reference": "FUZZ-1"}
    )
    status, body = call(
        app,
        "POST",
        "/erasure-requests",
        headers=[(b"content-type", b"application/json")],
        body=erasure.encode(),
    )
    if status != 202:
        raise RuntimeError(f"the seed erasure request was refused: {status} {body!r}")
    request_id = json.loads(body)["request_id"]
    status, body = call(
        app,
        "POST",
        f"/cases/{case_id}/replies",
        headers=[(b"content-type", b"application/json")],
        body=json.dumps({"text": "Sorry! A new kettle is on its way."}).encode(),
    )
    if status != 202:
        raise RuntimeError(f"the seed reply was refused: {status} {body!r}")
    reply_id = json.loads(body)["reply_id"]
    return Records(
        "generic",
        user_id,
        interaction_id,
        str(case_id),
        request_id,
        datetime.now(tz=UTC).date().isoformat(),
        reply_id,
    )


def _wait_for(ready: Callable[[], Any], what: str) -> Any:
    give_up = time.monotonic() + SEED_DEADLINE_SECONDS
    while not (value := ready()):
        if time.monotonic() > give_up:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


# --- part 1: the CRM routes, by schemathesis -------------------------------------------------------------


def _fuzz_crm(app: RecordingApp, records: Records, max_examples: int) -> Tally:
    import schemathesis
    from schemathesis.config import SchemathesisConfig
    from schemathesis.core.result import Err
    from schemathesis.generation.hypothesis.builder import (
        HypothesisTestConfig,
        HypothesisTestMode,
        create_test,
    )
    from schemathesis.generation.overrides import Override

    from socialcrm.api.openapi import openapi_document
    from socialcrm.topology import ROUTES

    schema = schemathesis.openapi.from_dict(copy.deepcopy(openapi_document()), config=SchemathesisConfig())
    schema.app = app  # requests go to the ASGI app in process
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # an operation the document describes wrongly
        if not result.ok().path.startswith("/webhooks/"):
            operations.append(result.ok())
    documented = {f"{op.method.upper()} {op.path}" for op in operations}
    declared = {f"{method} {path}" for method, path, _fn, _iam in ROUTES if not path.startswith("/webhooks/")}
    if documented != declared:
        raise RuntimeError(f"the OpenAPI document and the routes differ: {sorted(documented ^ declared)}")

    app.tally = Tally()
    unsent: Counter[str] = Counter()
    for operation in operations:
        named = records.override(operation.path)
        for override in [Override()] if named is None else [Override(), named]:

            def send(case: Any) -> None:
                try:
                    case.call()
                except Exception as exc:  # a case schemathesis could not serialise: no request was sent
                    unsent[f"{case.operation.label}: {type(exc).__name__}"] += 1

            # What `schema.parametrize()` builds for pytest: the examples, coverage and fuzzing phases,
            # in both generation modes (data that fits the schema, and data that does not).
            test = create_test(
                operation=operation,
                test_func=send,
                config=HypothesisTestConfig(
                    project=schema.config,
                    modes=list(HypothesisTestMode),
                    settings=_settings(max_examples),
                    apply_ci_profile=False,
                    override=override,
                ),
            )
            test()
    for line in app.tally.lines():
        print(f"    {line}", flush=True)
    if unsent:
        print(f"    not sent (schemathesis could not serialise the case): {dict(unsent)}", flush=True)
    missed = declared - {route for route in app.tally.by_route}
    if missed:
        raise RuntimeError(f"routes the fuzz never reached: {sorted(missed)}")
    return app.tally


# --- part 2: the webhook routes, signed --------------------------------------------------------------------

SIGNATURES = ("valid",) * 6 + ("stale", "forged", "missing")
STALE_SECONDS = 3_600


def _fuzz_webhooks(app: RecordingApp, secrets: Any, max_examples: int, handshake_examples: int) -> Tally:
    from socialcrm.platforms import ROUTE_PLATFORMS

    app.tally = Tally()
    for platform in ROUTE_PLATFORMS:
        secret = secrets.for_platform(platform)
        if secret is None:
            raise RuntimeError(f"the secrets document has no entry for {platform}")
        # the platform's own verify token (Meta, YouTube), so a handshake can succeed
        token = getattr(secret, "verify_token", None)
        tokens = (token.get_secret_value(),) if token is not None else ()
        outcome = _fuzz_platform(app, platform, secret, tokens, max_examples, handshake_examples)
        print(f"    {platform}: accepted deliveries held {dict(sorted(outcome.items()))}", flush=True)
    for line in app.tally.lines():
        print(f"    {line}", flush=True)
    return app.tally


def _fuzz_platform(
    app: RecordingApp, platform: str, secret: Any, tokens: tuple[str, ...], max_examples: int, handshakes: int
) -> Counter[str]:
    """Signed deliveries and handshakes to one platform's route; what the accepted deliveries held."""
    from hypothesis import given
    from hypothesis import strategies as st

    from tests.support.webhook_fuzz import CONTENT_TYPES, handshake_queries, webhook_bodies

    sign = importlib.import_module(f"socialcrm.platforms.{platform}").signed_headers
    path = f"/webhooks/{platform}"
    outcome: Counter[str] = Counter()

    @_settings(max_examples)
    @given(body=webhook_bodies(platform), content_type=CONTENT_TYPES, signature=st.sampled_from(SIGNATURES))
    def deliver(body: bytes, content_type: str | None, signature: str) -> None:
        headers = _signed(sign, secret, body, signature)
        if content_type is not None:
            headers["content-type"] = content_type
        status, answer = call(app, "POST", path, headers=_header_list(headers), body=body)
        if status == 200:  # how far the fuzz got: interactions the parser found, queued or refused alone
            outcome.update({key: int(value) for key, value in json.loads(answer).items()})

    @_settings(handshakes)
    @given(query=handshake_queries(tokens))
    def handshake(query: str) -> None:
        call(app, "GET", path, query=query.encode("utf-8", "surrogatepass"))

    deliver()
    handshake()
    return outcome


def _signed(sign: Callable[..., dict[str, str]], secret: Any, body: bytes, how: str) -> dict[str, str]:
    """The platform's signature headers for ``body``: valid now, an hour old, over other bytes, or none."""
    now = time.time()
    try:
        if how == "valid":
            return sign(body, secret, now)
        if how == "stale":
            return sign(body, secret, now - STALE_SECONDS)
        if how == "forged":
            return sign(body + b" ", secret, now)
    except UnicodeDecodeError:  # Standard Webhooks signs text: a body that is not UTF-8 goes unsigned
        pass
    return {}


def _header_list(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("utf-8")) for name, value in headers.items()]


def _queue_depths(stack: Any) -> str:
    """Messages still queued and dead-lettered (interactions the fuzz got queued are still being worked)."""
    import boto3

    sqs = boto3.client("sqs")

    def depth(url: str) -> int:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    queued = {name: depth(url) for name, url in stack.resources.queue_urls.items()}
    dead = {name: depth(url) for name, url in stack.resources.dlq_urls.items()}
    return f"queued {queued}, dead letters {dead}"


# --- keeping the run quiet and contained ------------------------------------------------------------------


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Refusals are the fuzz's everyday answer: log errors only (a 5xx is still logged), and no warning
    about an invocation that published no metric."""
    from socialcrm.observability import logger

    level = logger.log_level
    logger.setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        try:
            yield
        finally:
            logger.setLevel(level)


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help=f"fewer examples: {QUICK}")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    figures = measure(**QUICK) if args.quick else measure()
    print(json.dumps(figures), f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
