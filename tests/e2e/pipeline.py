"""Drive the local stack as the outside world does: a platform posting signed webhooks, a CRM user reading."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from socialcrm.api.path_ids import encode_path_id
from socialcrm.local.deliveries import Payload, Signer
from socialcrm.local.principals import DevPrincipal

DEADLINE_SECONDS = 20.0
_numbers = itertools.count(int(time.time() * 1000) % 10**12)


def unique_number() -> int:
    """A number no other delivery of this test session uses (native ids must not collide)."""
    return next(_numbers)


def now() -> datetime:
    return datetime.now(tz=UTC)


class Pipeline:
    """An HTTP client of the local stack with the platform's signing and the CRM user's reads."""

    def __init__(self, url: str, signer: Signer) -> None:
        self.http = httpx.Client(base_url=url, timeout=15.0, auth=DevPrincipal())
        self.signer = signer

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.http.close()

    def deliver(self, payload: Payload, headers: dict[str, str] | None = None) -> httpx.Response:
        """POST the payload as its platform would: signed now, unless ``headers`` are given."""
        sent = headers if headers is not None else self.signer.sign(payload).headers
        return self.http.post(f"/webhooks/{payload.route}", content=payload.body, headers=sent)

    def interaction(self, interaction_id: str, deadline: float = DEADLINE_SECONDS) -> dict[str, Any]:
        """The interaction once the pipeline has stored it, read through ``GET /interactions/{id}``."""
        response = poll(lambda: self.http.get(f"/interactions/{encode_path_id(interaction_id)}"), deadline)
        return response.json()  # type: ignore[no-any-return]

    def timeline(self, platform: str, user_id: str, **params: Any) -> httpx.Response:
        return self.http.get(f"/subjects/{platform}/{user_id}/interactions", params=params)

    def export(self, platform: str, user_id: str) -> httpx.Response:
        return self.http.get(f"/subjects/{platform}/{user_id}/export")


def poll(request: Callable[[], httpx.Response], deadline: float = DEADLINE_SECONDS) -> httpx.Response:
    """Repeat ``request`` until it answers 200, failing after ``deadline`` seconds with the last answer."""
    give_up = time.monotonic() + deadline
    while True:
        response = request()
        if response.status_code == 200 or time.monotonic() > give_up:
            assert response.status_code == 200, (
                f"still {response.status_code} after {deadline} s: {response.text}"
            )
            return response
        time.sleep(0.05)


def wait_until(
    condition: Callable[[], bool], deadline: float = DEADLINE_SECONDS, what: str = "condition"
) -> None:
    give_up = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < give_up, f"{what} not met after {deadline} s"
        time.sleep(0.05)
