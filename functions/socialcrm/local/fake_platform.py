"""A fake of every platform API the send adapters call, for tests and the local stack.

:class:`FakePlatform` is a threaded HTTP server on 127.0.0.1 (port 0 picks a free port). Point a
``SendSecrets.base_urls`` at it with :meth:`FakePlatform.base_urls` (``{url}/meta``, ``{url}/instagram``,
``{url}/x``, ``{url}/linkedin``, ``{url}/tiktok``) and the generic sender at :attr:`FakePlatform.generic_url`
(``{url}/generic/replies``). It serves the calls of ``socialcrm.replies.adapters`` with the platforms'
documented answers (``docs/webhook-protocols.md`` §13):

* ``meta`` (graph.facebook.com): ``POST /{node}/messages`` (Send API: ``{"recipient_id", "message_id"}``;
  with ``messaging_product: whatsapp`` it is the WhatsApp Cloud API, recorded as ``whatsapp``),
  ``POST|GET /{comment}/comments`` (Facebook), ``POST|GET /{comment}/replies`` (Instagram, Facebook Login);
* ``instagram`` (graph.instagram.com): ``POST /{node}/messages``, ``POST|GET /{comment}/replies``;
* ``x``: ``POST /2/tweets``, ``GET /2/users/{id}/tweets``, ``POST /2/dm_conversations/with/{id}/messages``,
  ``GET /2/dm_conversations/with/{id}/dm_events``. A post whose text its author already posted is refused
  with X's ``403`` duplicate-content answer; nothing else is deduplicated anywhere (no platform does);
* ``linkedin``: ``POST|GET /rest/socialActions/{urn}/comments`` (``201``, ``x-restli-id``);
* ``tiktok``: ``POST /open_api/v1.3/business/message/send/`` (``{"code": 0, ...}``);
* ``generic``: ``POST /generic/replies``, a Standard Webhooks receiver (signatures checked when
  ``generic_secret`` is given: ``401`` otherwise).

What was accepted is kept, so the read-back GETs answer truthfully. Every request (but ``/_fake/…``) is
recorded: platform, method, path, query, headers (the values of ``Authorization`` and ``Access-Token``
replaced by ``"[redacted]"``), the JSON body, the raw body and the time — :meth:`FakePlatform.requests`.

An X user's id is the fake's :attr:`x_user_id` for any token, unless ``x_tokens`` maps the token to another.

**Faults**, per platform, for the platform's ``POST`` calls unless ``method`` says otherwise (the read-backs
answer truthfully by default): :meth:`fail` in code, or ``POST {url}/_fake/faults`` with
``{"platform", "mode", "times", "retry_after", "method", "status", "body", "headers"}``; ``GET {url}/_fake/requests``
(``?platform=``), ``GET {url}/_fake/accepted`` and ``POST {url}/_fake/reset`` likewise. Modes:

* ``429`` — refused before accepting, with ``Retry-After`` (X: ``x-rate-limit-reset``) and the platform's
  throttling body;
* ``500`` — refused before accepting, with HTTP 500;
* ``timeout`` — sleeps ``timeout_seconds`` (longer than the client's read timeout) without accepting;
* ``accept_then_timeout`` — accepts (and stores), then sleeps;
* ``accept_then_500`` — accepts, then answers 500;
* ``reject`` — answers ``status`` (default 400) with ``body`` (and ``headers``) without accepting, e.g. Meta's window error
  ``{"error": {"code": 10, "error_subcode": 2018278}}`` or TikTok's ``200 {"code": 40064}``.

Echoes: ``on_accept(platform, body)`` is called after accepting a Send API message (a Meta
``message_echoes`` delivery, ``object`` ``page``, platform ``messenger`` — a Facebook private reply comes
back as a Messenger message — or ``object`` ``instagram``, platform ``instagram``; Instagram through Facebook Login, on the ``meta`` prefix,
cannot be told from Messenger and echoes as the Page) or a WhatsApp message (a
``statuses`` delivery with status ``sent``, platform ``whatsapp``). Each is a body for the Meta webhook
route; the local stack posts it there (signed with its app secret). The callback runs on the request's
thread, outside the fake's lock; what it raises is kept in :attr:`FakePlatform.callback_errors`.

Thread-safe: one lock guards all state. ``stop()`` wakes every sleeping handler and joins the server's
threads, so a stopped fake leaves nothing running. Each connection serves one request (HTTP/1.0).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

PLATFORMS = ("meta", "instagram", "whatsapp", "x", "linkedin", "tiktok", "generic")
PREFIXES = ("meta", "instagram", "x", "linkedin", "tiktok", "generic")  # the URL paths' first segment
# Interaction platforms served by one of the fake's platforms.
ALIASES = {"facebook": "meta", "messenger": "meta"}
MODES = ("429", "500", "timeout", "accept_then_timeout", "accept_then_500", "reject")
REDACTED_HEADERS = frozenset({"authorization", "access-token"})
REDACTED = "[redacted]"
_X_EPOCH_MS = 1288834974657  # X's snowflake epoch
# X's answer to a post repeating its author's text (docs/webhook-protocols.md §13.4).
_X_DUPLICATE = {
    "detail": "You are not allowed to create a Tweet with duplicate content.",
    "type": "about:blank",
    "title": "Forbidden",
    "status": 403,
}

OnAccept = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class RecordedRequest:
    platform: str
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # the parsed JSON body, or None
    raw: str
    time: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Accepted:
    """A message the fake accepted: what a read-back may find."""

    platform: str
    kind: str  # fb_comment, ig_reply, message, whatsapp, post, dm, li_comment, tiktok, generic
    id: str
    text: str
    author: str | None = None
    parent: str | None = None  # the comment, post, conversation or path URN it answers
    recipient: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    time: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Fault:
    mode: str
    times: int
    method: str
    retry_after: float | None = None
    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Answer:
    status: int
    body: Any = None  # JSON-able, or None for an empty body
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _Call:
    platform: str
    method: str
    segments: list[str]  # the path's segments after the platform prefix, percent-decoded
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names, real values
    body: Any
    raw: bytes

    @property
    def token(self) -> str:
        bearer = self.headers.get("authorization", "")
        return bearer.removeprefix("Bearer ").strip() or self.headers.get("access-token", "")


class FakeError(ValueError):
    """A fault or request to the fake that it cannot take."""


class FakePlatform:
    """The platforms' send APIs on loopback, with faults; see the module docstring."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout_seconds: float = 11.0,
        on_accept: OnAccept | None = None,
        page_id: str = "102938475610293",
        instagram_account_id: str = "17841400000000001",
        waba_id: str = "104996122399160",
        x_user_id: str = "1500000000000000001",
        x_tokens: Mapping[str, str] | None = None,
        generic_secret: str | None = None,
    ) -> None:
        self._host, self._port = host, port
        self.timeout_seconds = timeout_seconds
        self.on_accept = on_accept
        self.page_id = page_id
        self.instagram_account_id = instagram_account_id
        self.waba_id = waba_id
        self.x_user_id = x_user_id
        self._x_tokens = dict(x_tokens or {})
        self._generic_verifier = Webhook(generic_secret) if generic_secret else None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._requests: list[RecordedRequest] = []
        self._accepted: list[Accepted] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._sequence = itertools.count(1)
        self._x_sequence = 0
        self._x_last_ms = 0
        self.callback_errors: list[BaseException] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> FakePlatform:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self._host, self._port), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-platform", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()
        self._server, self._thread = None, None

    def __enter__(self) -> FakePlatform:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("The fake platform is not started.")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def base_urls(self) -> dict[str, str]:
        """The ``SendSecrets.base_urls`` document pointing every platform at this fake."""
        return {name: f"{self.url}/{name}" for name in ("meta", "instagram", "x", "linkedin", "tiktok")}

    @property
    def generic_url(self) -> str:
        return f"{self.url}/generic/replies"

    # --- control -----------------------------------------------------------------------------------------

    def fail(
        self,
        platform: str,
        mode: str,
        times: int = 1,
        retry_after: float | None = None,
        *,
        method: str = "POST",
        status: int | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """The next ``times`` ``method`` calls to ``platform`` fail as ``mode`` (see the module docstring)."""
        name = _platform(platform)
        if mode not in MODES:
            raise FakeError(f"Unknown fault mode {mode!r}; one of {', '.join(MODES)}.")
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise FakeError("times must be a positive integer.")
        if retry_after is not None and (not isinstance(retry_after, int | float) or retry_after < 0):
            raise FakeError("retry_after must be a non-negative number of seconds.")
        if status is not None and (not isinstance(status, int) or not 100 <= status <= 599):
            raise FakeError("status must be an HTTP status.")
        fault = _Fault(mode, times, method.upper(), retry_after, status, body, dict(headers or {}))
        with self._lock:
            self._faults.setdefault(name, []).append(fault)

    def reset(self) -> None:
        """Forget requests, accepted messages, faults and callback errors."""
        with self._lock:
            self._requests.clear()
            self._accepted.clear()
            self._faults.clear()
            self.callback_errors.clear()

    def requests(self, platform: str | None = None) -> list[RecordedRequest]:
        name = None if platform is None else _platform(platform)
        with self._lock:
            return [r for r in self._requests if name is None or r.platform == name]

    def accepted(self, platform: str | None = None) -> list[Accepted]:
        name = None if platform is None else _platform(platform)
        with self._lock:
            return [a for a in self._accepted if name is None or a.platform == name]

    # --- request handling (on the server's threads) ------------------------------------------------------

    def _handle(self, method: str, target: str, headers: Mapping[str, str], raw: bytes) -> _Answer:
        split = urlsplit(target)
        segments = [unquote(part) for part in split.path.split("/") if part]
        query = {key: values[-1] for key, values in parse_qs(split.query, keep_blank_values=True).items()}
        lowered = {name.lower(): value for name, value in headers.items()}
        if segments[:1] == ["_fake"]:
            return self._control(method, segments[1:], query, raw)
        body = _json_or_none(raw)
        platform = segments[0] if segments else ""
        if platform not in PREFIXES:
            return _Answer(404, {"error": "not_found"})
        if platform == "meta" and method == "POST" and _dict(body).get("messaging_product") == "whatsapp":
            platform = "whatsapp"  # the WhatsApp Cloud API shares graph.facebook.com
        call = _Call(platform, method, segments[1:], query, lowered, body, raw)
        self._record(call, split.path)
        fault = self._take_fault(platform, method)
        if fault is not None and fault.mode not in ("accept_then_timeout", "accept_then_500"):
            return self._refuse(call, fault)
        answer = self._route(call)
        if fault is not None and 200 <= answer.status < 300:
            if fault.mode == "accept_then_timeout":
                self._stopping.wait(self.timeout_seconds)
                return answer
            return _Answer(500, _server_error_body(platform))
        return answer

    def _record(self, call: _Call, path: str) -> None:
        headers = {
            name: (REDACTED if name in REDACTED_HEADERS else value) for name, value in call.headers.items()
        }
        record = RecordedRequest(
            platform=call.platform,
            method=call.method,
            path=path,
            query=dict(call.query),
            headers=headers,
            body=call.body,
            raw=call.raw.decode("utf-8", errors="replace"),
            time=time.time(),
        )
        with self._lock:
            self._requests.append(record)

    def _take_fault(self, platform: str, method: str) -> _Fault | None:
        with self._lock:
            queue = self._faults.get(platform, [])
            for fault in queue:
                if fault.method == method:
                    fault.times -= 1
                    if fault.times == 0:
                        queue.remove(fault)
                    return fault
        return None

    def _refuse(self, call: _Call, fault: _Fault) -> _Answer:
        if fault.mode == "timeout":
            self._stopping.wait(self.timeout_seconds)
            return _Answer(504, _server_error_body(call.platform))
        if fault.mode == "500":
            return _Answer(500, _server_error_body(call.platform))
        if fault.mode == "reject":
            return _Answer(fault.status or 400, fault.body, fault.headers)
        wait = 1.0 if fault.retry_after is None else fault.retry_after
        headers = {"Retry-After": str(math.ceil(wait))}
        if call.platform == "x":  # X says when its window resets, in epoch seconds
            headers = {
                "x-rate-limit-reset": str(math.ceil(time.time() + wait)),
                "x-rate-limit-remaining": "0",
            }
        return _Answer(429, _throttled_body(call.platform), headers)

    def _control(self, method: str, segments: list[str], query: Mapping[str, str], raw: bytes) -> _Answer:
        action = segments[0] if len(segments) == 1 else ""
        try:
            if method == "POST" and action == "faults":
                spec = _dict(_json_or_none(raw))
                times = spec.get("times", 1)
                self.fail(
                    str(spec.get("platform", "")),
                    str(spec.get("mode", "")),
                    times=times if isinstance(times, int) else -1,
                    retry_after=spec.get("retry_after"),
                    method=str(spec.get("method") or "POST"),
                    status=spec.get("status"),
                    body=spec.get("body"),
                    headers={str(k): str(v) for k, v in _dict(spec.get("headers")).items()},
                )
                return _Answer(200, {"ok": True})
            if method == "POST" and action == "reset":
                self.reset()
                return _Answer(200, {"ok": True})
            if method == "GET" and action == "requests":
                found = self.requests(query.get("platform") or None)
                return _Answer(200, {"requests": [r.to_json() for r in found]})
            if method == "GET" and action == "accepted":
                kept = self.accepted(query.get("platform") or None)
                return _Answer(200, {"accepted": [a.to_json() for a in kept]})
        except FakeError as exc:
            return _Answer(400, {"error": str(exc)})
        return _Answer(404, {"error": "not_found"})

    def _route(self, call: _Call) -> _Answer:
        s, m = call.segments, call.method
        if call.platform in ("meta", "instagram", "whatsapp") and len(s) == 2:
            node, edge = s
            if call.platform == "whatsapp" and edge == "messages":
                return self._whatsapp_send(call, node)
            if edge == "messages" and m == "POST":
                return self._send_api(call)
            if call.platform == "meta" and edge == "comments" and m in ("POST", "GET"):
                return self._fb_comment(call, node) if m == "POST" else self._fb_comments(call, node)
            if edge == "replies" and m in ("POST", "GET"):
                return self._ig_reply(call, node) if m == "POST" else self._ig_replies(call, node)
            return _graph_error(400, 100, "Unsupported request: this fake serves no such edge.", subcode=33)
        if call.platform == "x":
            return self._x(call)
        if (
            call.platform == "linkedin"
            and len(s) == 4
            and s[:2] == ["rest", "socialActions"]
            and s[3] == "comments"
        ):
            return self._li_comment(call, s[2]) if m == "POST" else self._li_comments(call, s[2])
        if (
            call.platform == "tiktok"
            and s == ["open_api", "v1.3", "business", "message", "send"]
            and m == "POST"
        ):
            return self._tiktok_send(call)
        if call.platform == "generic" and s == ["replies"] and m == "POST":
            return self._generic(call)
        return _Answer(404, {"error": "not_found"})

    # --- storing ---------------------------------------------------------------------------------------

    def _new_id(self) -> str:
        return f"{int(time.time() * 1000)}{next(self._sequence):06d}"

    def _keep(self, item: Accepted) -> None:
        with self._lock:
            self._accepted.append(item)

    def _matching(self, predicate: Callable[[Accepted], bool]) -> list[Accepted]:
        with self._lock:
            return [a for a in self._accepted if predicate(a)]

    def _echo(self, platform: str, body: dict[str, Any]) -> None:
        callback = self.on_accept
        if callback is None:
            return
        try:
            callback(platform, body)
        except Exception as exc:  # kept for the test to see; the request is still answered
            with self._lock:
                self.callback_errors.append(exc)

    # --- Meta: Send API, Facebook comments, Instagram replies --------------------------------------------

    def _send_api(self, call: _Call) -> _Answer:
        body = _dict(call.body)
        recipient = _dict(body.get("recipient"))
        message = _dict(body.get("message"))
        text = message.get("text")
        if not isinstance(text, str) or not text:
            return _graph_error(400, 100, "(#100) The parameter message[text] is required.")
        to = recipient.get("id") or recipient.get("comment_id") or recipient.get("post_id")
        if not isinstance(to, str) or not to:
            return _graph_error(400, 100, "(#100) The parameter recipient is required.")
        instagram = call.platform == "instagram"
        user = recipient.get("id") if isinstance(recipient.get("id"), str) else _scoped_id(to)
        mid = "m_" + base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("=")
        metadata = message.get("metadata")
        now = time.time()
        self._keep(
            Accepted(
                call.platform,
                "message",
                mid,
                text,
                author=self.instagram_account_id if instagram else self.page_id,
                parent=None if "id" in recipient else to,
                recipient=user,
                extra={"metadata": metadata, "recipient": dict(recipient)},
                time=now,
            )
        )
        account = self.instagram_account_id if instagram else self.page_id
        echo_message: dict[str, Any] = {"mid": mid, "is_echo": True, "text": text}
        if isinstance(metadata, str):
            echo_message["metadata"] = metadata
        event = {
            "sender": {"id": account},
            "recipient": {"id": user},
            "timestamp": int(now * 1000),
            "message": echo_message,
        }
        echo = {
            "object": "instagram" if instagram else "page",
            "entry": [{"id": account, "time": int(now * 1000), "messaging": [event]}],
        }
        self._echo("instagram" if instagram else "messenger", echo)
        return _Answer(200, {"recipient_id": user, "message_id": mid})

    def _fb_comment(self, call: _Call, comment_id: str) -> _Answer:
        message = _dict(call.body).get("message")
        if not isinstance(message, str) or not message:
            return _graph_error(400, 100, "(#100) The parameter message is required.")
        new_id = f"{comment_id.split('_')[0]}_{self._new_id()}"
        self._keep(
            Accepted("meta", "fb_comment", new_id, message, self.page_id, parent=comment_id, time=time.time())
        )
        return _Answer(200, {"id": new_id})

    def _fb_comments(self, call: _Call, comment_id: str) -> _Answer:
        found = self._matching(lambda a: a.kind == "fb_comment" and a.parent == comment_id)
        if call.query.get("order") == "reverse_chronological":
            found.reverse()
        data = [
            {
                "id": a.id,
                "message": a.text,
                "from": {"id": a.author, "name": "Fake Page"},
                "created_time": _graph_time(a.time),
            }
            for a in found
        ]
        return _Answer(200, {"data": data, "paging": {"cursors": {"before": "MA==", "after": "MQ=="}}})

    def _ig_reply(self, call: _Call, comment_id: str) -> _Answer:
        message = _dict(call.body).get("message")
        if not isinstance(message, str) or not message:
            return _graph_error(400, 100, "(#100) The parameter message is required.")
        new_id = self._new_id()
        self._keep(
            Accepted(
                call.platform,
                "ig_reply",
                new_id,
                message,
                self.instagram_account_id,
                parent=comment_id,
                time=time.time(),
            )
        )
        return _Answer(200, {"id": new_id})

    def _ig_replies(self, call: _Call, comment_id: str) -> _Answer:
        found = self._matching(lambda a: a.kind == "ig_reply" and a.parent == comment_id)
        data = [
            {
                "id": a.id,
                "text": a.text,
                "from": {"id": a.author, "username": "fake_account"},
                "timestamp": _graph_time(a.time),
            }
            for a in found
        ]
        return _Answer(200, {"data": data, "paging": {"cursors": {"before": "MA==", "after": "MQ=="}}})

    # --- WhatsApp ----------------------------------------------------------------------------------------

    def _whatsapp_send(self, call: _Call, phone_number_id: str) -> _Answer:
        body = _dict(call.body)
        to = body.get("to")
        bsuid = body.get("recipient")
        kind = body.get("type")
        if kind == "text":
            text = _dict(body.get("text")).get("body")
        elif kind == "template":
            text = _dict(body.get("template")).get("name")
        else:
            text = None
        if not (isinstance(to, str) and to) and not (isinstance(bsuid, str) and bsuid):
            return _graph_error(400, 100, "(#100) The parameter to is required.", whatsapp=True)
        if not isinstance(text, str) or not text:
            return _graph_error(
                400, 100, "(#100) Invalid parameter: the message has no content.", whatsapp=True
            )
        wa_id = re.sub(r"[^0-9]", "", to) if isinstance(to, str) and to else None
        wamid = "wamid." + base64.b64encode(secrets.token_bytes(30)).decode()
        marker = body.get("biz_opaque_callback_data")
        now = time.time()
        self._keep(
            Accepted(
                "whatsapp",
                "whatsapp",
                wamid,
                text,
                author=phone_number_id,
                recipient=wa_id or str(bsuid),
                extra={"type": kind, "template": body.get("template"), "biz_opaque_callback_data": marker},
                time=now,
            )
        )
        status: dict[str, Any] = {"id": wamid, "status": "sent", "timestamp": str(int(now))}
        if wa_id:
            status["recipient_id"] = wa_id
        else:
            status["recipient_user_id"] = bsuid
        if isinstance(marker, str):
            status["biz_opaque_callback_data"] = marker
        category = "utility" if kind == "template" else "service"
        status["pricing"] = {"billable": kind == "template", "pricing_model": "PMP", "category": category}
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
            "statuses": [status],
        }
        echo = {
            "object": "whatsapp_business_account",
            "entry": [{"id": self.waba_id, "changes": [{"field": "messages", "value": value}]}],
        }
        self._echo("whatsapp", echo)
        contact = {"input": to if wa_id else bsuid, "wa_id" if wa_id else "user_id": wa_id or bsuid}
        return _Answer(
            200, {"messaging_product": "whatsapp", "contacts": [contact], "messages": [{"id": wamid}]}
        )

    # --- X -----------------------------------------------------------------------------------------------

    def _x_user(self, call: _Call) -> str:
        return self._x_tokens.get(call.token, self.x_user_id)

    def _x_id(self) -> str:
        """A snowflake: increasing with time, as X's ids are (``since_id`` relies on it)."""
        with self._lock:
            ms = max(int(time.time() * 1000), self._x_last_ms)
            if ms == self._x_last_ms:
                self._x_sequence += 1
            else:
                self._x_last_ms, self._x_sequence = ms, 0
            return str(((ms - _X_EPOCH_MS) << 22) | (self._x_sequence & 0xFFF))

    def _x(self, call: _Call) -> _Answer:
        s, m = call.segments, call.method
        if s == ["2", "tweets"] and m == "POST":
            return self._x_post(call)
        if len(s) == 4 and s[:2] == ["2", "users"] and s[3] == "tweets" and m == "GET":
            return self._x_timeline(call, s[2])
        if len(s) == 5 and s[:3] == ["2", "dm_conversations", "with"]:
            if s[4] == "messages" and m == "POST":
                return self._x_dm(call, s[3])
            if s[4] == "dm_events" and m == "GET":
                return self._x_dm_events(call, s[3])
        return _Answer(404, _x_problem(404, "Not Found Error", "The requested resource was not found."))

    def _x_post(self, call: _Call) -> _Answer:
        body = _dict(call.body)
        text = body.get("text")
        if not isinstance(text, str) or not text:
            return _Answer(400, _x_problem(400, "Invalid Request", "The `text` field is required."))
        author = self._x_user(call)
        reply_to = _dict(body.get("reply")).get("in_reply_to_tweet_id")
        post_id = self._x_id()
        item = Accepted(
            "x",
            "post",
            post_id,
            text,
            author,
            parent=reply_to if isinstance(reply_to, str) else None,
            time=time.time(),
        )
        with self._lock:  # check and store at once: two concurrent posts of one text cannot both pass
            if any(a.kind == "post" and a.author == author and a.text == text for a in self._accepted):
                return _Answer(403, _X_DUPLICATE)
            self._accepted.append(item)
        return _Answer(201, {"data": {"id": post_id, "text": text, "edit_history_tweet_ids": [post_id]}})

    def _x_timeline(self, call: _Call, user_id: str) -> _Answer:
        fields = set(call.query.get("tweet.fields", "").split(","))
        since = _int_or_none(call.query.get("since_id"))
        size = _int_or_none(call.query.get("max_results")) or 10
        if not 5 <= size <= 100:
            return _Answer(400, _x_problem(400, "Invalid Request", "max_results must be between 5 and 100."))
        posts = [
            a
            for a in self._matching(lambda a: a.kind == "post" and a.author == user_id)
            if since is None or int(a.id) > since
        ]
        posts.sort(key=lambda a: int(a.id), reverse=True)
        page, rest = posts[:size], posts[size:]
        data = []
        for post in page:
            item: dict[str, Any] = {"id": post.id, "text": post.text, "edit_history_tweet_ids": [post.id]}
            if "referenced_tweets" in fields and post.parent:
                item["referenced_tweets"] = [{"type": "replied_to", "id": post.parent}]
            data.append(item)
        meta: dict[str, Any] = {"result_count": len(data)}
        if data:
            meta.update(newest_id=data[0]["id"], oldest_id=data[-1]["id"])
        if rest:
            meta["next_token"] = "fake_next_" + rest[0].id
        return _Answer(200, {"data": data, "meta": meta} if data else {"meta": meta})

    @staticmethod
    def _conversation(one: str, other: str) -> str:
        low, high = sorted((one, other), key=lambda v: (len(v), v))
        return f"{low}-{high}"

    def _x_dm(self, call: _Call, participant: str) -> _Answer:
        text = _dict(call.body).get("text")
        if not isinstance(text, str) or not text:
            return _Answer(400, _x_problem(400, "Invalid Request", "The `text` field is required."))
        sender = self._x_user(call)
        conversation = self._conversation(sender, participant)
        event_id = self._x_id()
        self._keep(
            Accepted(
                "x",
                "dm",
                event_id,
                text,
                sender,
                parent=conversation,
                recipient=participant,
                time=time.time(),
            )
        )
        return _Answer(201, {"data": {"dm_conversation_id": conversation, "dm_event_id": event_id}})

    def _x_dm_events(self, call: _Call, participant: str) -> _Answer:
        fields = set(call.query.get("dm_event.fields", "").split(","))
        conversation = self._conversation(self._x_user(call), participant)
        events = self._matching(lambda a: a.kind == "dm" and a.parent == conversation)
        events.sort(key=lambda a: int(a.id), reverse=True)
        data = []
        for event in events[:100]:
            item: dict[str, Any] = {"id": event.id, "event_type": "MessageCreate", "text": event.text}
            if "sender_id" in fields:
                item["sender_id"] = event.author
            if "dm_conversation_id" in fields:
                item["dm_conversation_id"] = conversation
            if "created_at" in fields:
                item["created_at"] = _graph_time(event.time, iso=True)
            data.append(item)
        meta: dict[str, Any] = {"result_count": len(data)}
        if len(events) > 100:
            meta["next_token"] = "fake_next_" + events[100].id
        return _Answer(200, {"data": data, "meta": meta} if data else {"meta": meta})

    # --- LinkedIn ----------------------------------------------------------------------------------------

    def _li_comment(self, call: _Call, urn: str) -> _Answer:
        if (
            not call.headers.get("linkedin-version")
            or call.headers.get("x-restli-protocol-version") != "2.0.0"
        ):
            return _Answer(
                400, _li_error(400, "LinkedIn-Version and X-Restli-Protocol-Version: 2.0.0 are required.")
            )
        body = _dict(call.body)
        text = _dict(body.get("message")).get("text")
        actor, obj = body.get("actor"), body.get("object")
        if not (isinstance(text, str) and text and isinstance(actor, str) and isinstance(obj, str)):
            return _Answer(422, _li_error(422, "actor, object and message.text are required."))
        comment_id = self._new_id()
        comment_urn = f"urn:li:comment:({obj},{comment_id})"
        parent = body.get("parentComment")
        now = time.time()
        self._keep(
            Accepted(
                "linkedin",
                "li_comment",
                comment_urn,
                text,
                actor,
                parent=urn,
                extra={"object": obj, "comment_id": comment_id, "parentComment": parent},
                time=now,
            )
        )
        element = self._li_element(self._matching(lambda a: a.id == comment_urn)[0])
        return _Answer(201, element, {"x-restli-id": comment_id})

    @staticmethod
    def _li_element(item: Accepted) -> dict[str, Any]:
        element: dict[str, Any] = {
            "commentUrn": item.id,
            "id": item.extra["comment_id"],
            "actor": item.author,
            "object": item.extra["object"],
            "message": {"text": item.text, "attributes": []},
            "created": {"actor": item.author, "time": int(item.time * 1000)},
        }
        if item.extra.get("parentComment"):
            element["parentComment"] = item.extra["parentComment"]
        return element

    def _li_comments(self, call: _Call, urn: str) -> _Answer:
        if not call.headers.get("linkedin-version"):
            return _Answer(400, _li_error(400, "LinkedIn-Version is required."))
        found = self._matching(lambda a: a.kind == "li_comment" and a.parent == urn)
        elements = [self._li_element(item) for item in found]
        paging = {"start": 0, "count": len(elements), "total": len(elements), "links": []}
        return _Answer(200, {"elements": elements, "paging": paging})

    # --- TikTok ------------------------------------------------------------------------------------------

    def _tiktok_send(self, call: _Call) -> _Answer:
        request_id = secrets.token_hex(16)
        if not call.headers.get("access-token"):
            return _Answer(
                200, {"code": 40104, "message": "Access token is empty.", "request_id": request_id}
            )
        body = _dict(call.body)
        text = _dict(body.get("text")).get("body")
        conversation = body.get("recipient")
        valid = (
            isinstance(body.get("business_id"), str)
            and body.get("recipient_type") == "CONVERSATION"
            and isinstance(conversation, str)
            and conversation
            and body.get("message_type") == "TEXT"
            and isinstance(text, str)
            and text
        )
        if not valid:
            return _Answer(200, {"code": 40002, "message": "Invalid parameters.", "request_id": request_id})
        message_id = self._new_id()
        self._keep(
            Accepted(
                "tiktok",
                "tiktok",
                message_id,
                str(text),
                body.get("business_id"),
                parent=str(conversation),
                time=time.time(),
            )
        )
        return _Answer(
            200,
            {
                "code": 0,
                "message": "OK",
                "request_id": request_id,
                "data": {"message": {"message_id": message_id}},
            },
        )

    # --- generic -----------------------------------------------------------------------------------------

    def _generic(self, call: _Call) -> _Answer:
        if self._generic_verifier is not None:
            try:
                self._generic_verifier.verify(call.raw, dict(call.headers))
            except WebhookVerificationError:
                return _Answer(401, {"error": "invalid_signature"})
        data = _dict(_dict(call.body).get("data"))
        text = data.get("text")
        msg_id = call.headers.get("webhook-id") or self._new_id()
        self._keep(
            Accepted(
                "generic",
                "generic",
                msg_id,
                text if isinstance(text, str) else "",
                parent=data.get("in_reply_to") if isinstance(data.get("in_reply_to"), str) else None,
                recipient=data.get("customer_id") if isinstance(data.get("customer_id"), str) else None,
                extra={"reply_id": data.get("reply_id")},
                time=time.time(),
            )
        )
        return _Answer(200, {"ok": True})


# --- the HTTP server -------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = True  # stop() joins the handlers (the sleeping ones are woken first)
    request_queue_size = 128  # the default 5 makes a burst of connections wait for SYN retransmits
    fake: FakePlatform


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakePlatform/1.0"
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers in keep-alive
    timeout = 5  # a client that connects and sends nothing does not hold stop() for long

    def _serve(self) -> None:
        fake = cast(_Server, self.server).fake
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length > 0 else b""
            headers = {name: value for name, value in self.headers.items()}
            answer = fake._handle(self.command, self.path, headers, raw)
        except Exception:  # a bug in the fake: answer 500 rather than drop the connection
            answer = _Answer(500, {"error": "fake_platform_error"})
        payload = b"" if answer.body is None else json.dumps(answer.body).encode("utf-8")
        try:
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if answer.body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (a timeout fault): nothing to answer
            pass

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # paths hold ids: no request log
        return


# --- small helpers ----------------------------------------------------------------------------------------


def _platform(name: str) -> str:
    platform = ALIASES.get(name, name)
    if platform not in PLATFORMS:
        raise FakeError(f"Unknown platform {name!r}; one of {', '.join(PLATFORMS + tuple(ALIASES))}.")
    return platform


def _json_or_none(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _scoped_id(value: str) -> str:
    """A stable page-scoped id for the author of a comment (Meta answers a private reply with it)."""
    return str(int.from_bytes(hashlib.sha256(value.encode()).digest()[:7], "big") + 10**16)


def _graph_time(seconds: float, *, iso: bool = False) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{stamp}.000Z" if iso else f"{stamp}+0000"


def _graph_error(
    status: int, code: int, message: str, *, subcode: int | None = None, whatsapp: bool = False
) -> _Answer:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if whatsapp:
        error["error_data"] = {"messaging_product": "whatsapp", "details": message}
    error["fbtrace_id"] = secrets.token_urlsafe(12)
    return _Answer(status, {"error": error})


def _x_problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": "about:blank", "status": status}


def _li_error(status: int, message: str) -> dict[str, Any]:
    return {"message": message, "serviceErrorCode": status, "status": status}


def _throttled_body(platform: str) -> Any:
    if platform in ("meta", "instagram"):
        return _graph_error(429, 4, "(#4) Application request limit reached").body
    if platform == "whatsapp":
        return _graph_error(429, 130429, "(#130429) Rate limit hit", whatsapp=True).body
    if platform == "x":
        return _x_problem(429, "Too Many Requests", "Too Many Requests")
    if platform == "linkedin":
        return _li_error(429, "Resource level throttle limit reached.")
    if platform == "tiktok":
        return {"code": 40100, "message": "Too many requests.", "request_id": secrets.token_hex(16)}
    return {"error": "too_many_requests"}


def _server_error_body(platform: str) -> Any:
    if platform in ("meta", "instagram", "whatsapp"):
        return _graph_error(500, 2, "An unexpected error has occurred. Please retry your request later.").body
    if platform == "x":
        return _x_problem(500, "Internal Server Error", "Something went wrong.")
    if platform == "linkedin":
        return _li_error(500, "Internal Server Error")
    return {"error": "internal_error"}
