"""Ask a WebSub hub to subscribe or unsubscribe (W3C WebSub §5.1; ``docs/webhook-protocols.md`` §6).

One form-encoded ``POST`` to the hub: ``hub.callback``, ``hub.mode``, ``hub.topic``, ``hub.lease_seconds``,
``hub.secret`` (the key the hub signs notifications with), and for hubs that still implement
PubSubHubbub 0.3 (Google's) ``hub.verify=async`` and a one-time ``hub.verify_token``. The hub answers
``202 Accepted`` and then verifies the intent with a ``GET`` to the callback (some answer ``204`` after
verifying synchronously). The hub secret is sent only over HTTPS (a loopback hub excepted: the local stack).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from socialcrm.errors import ConfigurationError

ACCEPTED = (202, 204)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class HubRequest:
    mode: str  # "subscribe" or "unsubscribe"
    topic: str
    callback: str
    secret: str
    verify_token: str
    lease_seconds: int


@dataclass(frozen=True)
class HubAnswer:
    status: int  # the hub's HTTP status; 0 when no answer came

    @property
    def accepted(self) -> bool:
        return self.status in ACCEPTED


class Hub(Protocol):
    def ask(self, request: HubRequest) -> HubAnswer: ...


def checked_hub_url(url: str) -> str:
    """The hub's URL, refused unless it is HTTPS (or a loopback hub, for the local stack)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return url
    raise ConfigurationError(
        "WEBSUB_HUB_URL must be an https:// URL: the hub secret travels with each request."
    )


class HttpHub:
    """The hub over HTTP (urllib3, no retries here: the next scheduled run asks again)."""

    def __init__(self, url: str, *, connect_timeout: float = 3.0, read_timeout: float = 10.0) -> None:
        import urllib3

        self.url = checked_hub_url(url)
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout), retries=False
        )

    def ask(self, request: HubRequest) -> HubAnswer:
        import urllib3

        fields: dict[str, Any] = {
            "hub.callback": request.callback,
            "hub.mode": request.mode,
            "hub.topic": request.topic,
            "hub.verify": "async",
            "hub.verify_token": request.verify_token,
        }
        if request.mode == "subscribe":
            fields |= {"hub.lease_seconds": str(request.lease_seconds), "hub.secret": request.secret}
        try:
            response = self._http.request("POST", self.url, fields=fields, encode_multipart=False)
        except urllib3.exceptions.HTTPError:
            return HubAnswer(0)
        return HubAnswer(response.status)
