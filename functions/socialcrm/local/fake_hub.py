"""A fake WebSub hub for the local stack and the tests, behaving as Google's (pubsubhubbub.appspot.com) does.

``POST /subscribe`` takes the form the ``websub`` function sends, answers ``202 Accepted`` at once and then,
on another thread, verifies the intent with a ``GET`` to ``hub.callback`` carrying ``hub.mode``,
``hub.topic``, ``hub.challenge`` (random), ``hub.lease_seconds`` (:data:`GRANTED_LEASE_SECONDS`, what
Google's hub grants whatever is asked) and the ``hub.verify_token`` it was given. The subscription is
active when the callback answers 200 with exactly the challenge. :meth:`FakeHub.publish` then sends a
notification to each active subscriber of a topic, signed ``X-Hub-Signature: sha1=…`` with the
``hub.secret`` that subscriber gave. Loopback only; thread-safe.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

GRANTED_LEASE_SECONDS = 432000  # five days


@dataclass
class HubSubscription:
    topic: str
    callback: str
    secret: str
    mode: str
    verified: bool = False
    verification_status: int | None = None  # what the callback answered the verification


class FakeHub:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._subscriptions: dict[tuple[str, str], HubSubscription] = {}
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.hub = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None
        self._verified = threading.Condition(self._lock)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def subscribe_url(self) -> str:
        return f"{self.url}/subscribe"

    def start(self) -> FakeHub:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def subscriptions(self) -> list[HubSubscription]:
        with self._lock:
            return [HubSubscription(**vars(item)) for item in self._subscriptions.values()]

    def wait_verified(self, topic: str, timeout: float = 10.0) -> bool:
        """Wait until the subscription of ``topic`` has been verified (True) or the time is up."""
        with self._verified:
            return self._verified.wait_for(
                lambda: any(s.topic == topic and s.verified for s in self._subscriptions.values()), timeout
            )

    def publish(self, topic: str, body: bytes, content_type: str = "application/atom+xml") -> list[int]:
        """Send ``body`` to every verified subscriber of ``topic``, signed with its secret; their statuses."""
        with self._lock:
            targets = [
                s
                for s in self._subscriptions.values()
                if s.topic == topic and s.verified and s.mode == "subscribe"
            ]
        statuses = []
        for target in targets:
            signature = hmac.new(target.secret.encode(), body, hashlib.sha1).hexdigest()
            request = urllib.request.Request(  # noqa: S310 (a loopback callback)
                target.callback,
                data=body,
                headers={"content-type": content_type, "x-hub-signature": f"sha1={signature}"},
                method="POST",
            )
            statuses.append(_status(request))
        return statuses

    # --- the hub's side ------------------------------------------------------------------------------

    def _subscribe(self, form: dict[str, str]) -> int:
        mode, topic, callback = form.get("hub.mode"), form.get("hub.topic"), form.get("hub.callback")
        if mode not in ("subscribe", "unsubscribe") or not topic or not callback:
            return 400
        item = HubSubscription(topic, callback, form.get("hub.secret", ""), mode)
        with self._lock:
            self._subscriptions[(topic, callback)] = item
        query = {
            "hub.mode": mode,
            "hub.topic": topic,
            "hub.challenge": secrets.token_hex(10),
            **({"hub.lease_seconds": str(GRANTED_LEASE_SECONDS)} if mode == "subscribe" else {}),
            **({"hub.verify_token": form["hub.verify_token"]} if "hub.verify_token" in form else {}),
        }
        threading.Thread(target=self._verify, args=(item, query), name="fake-hub-verify", daemon=True).start()
        return 202

    def _verify(self, item: HubSubscription, query: dict[str, str]) -> None:
        separator = "&" if "?" in item.callback else "?"
        request = urllib.request.Request(f"{item.callback}{separator}{urlencode(query)}")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                status, body = response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, body = exc.code, ""
        except OSError:
            status, body = 0, ""
        with self._verified:
            item.verification_status = status
            item.verified = status == 200 and body == query["hub.challenge"]
            self._verified.notify_all()


def _status(request: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_POST(self) -> None:
        hub: FakeHub = self.server.hub  # type: ignore[attr-defined]
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace")
        form = {key: values[0] for key, values in parse_qs(raw, keep_blank_values=True).items()}
        status = hub._subscribe(form) if self.path.split("?")[0] == "/subscribe" else 404
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # the topics and callbacks are no one's business
        return
