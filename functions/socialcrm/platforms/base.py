"""What every platform adapter provides, and the small pieces they share.

An adapter is a module-level object with four duties, each pure (no I/O):

* ``handshake(query, secret)`` answers the platform's GET verification;
* ``verify(delivery, secret, now)`` checks the signature over the raw bytes (constant time);
* ``normalise(delivery)`` turns the body into zero or more :class:`InteractionDraft` s: the customers'
  messages and, where the platform shows them, the brand's replies (``kind="brand_reply"``), each with
  the ``conversation_key`` of its platform (``docs/webhook-protocols.md``, "Brand replies and
  conversations"); what is neither (receipts, reactions, the brand's own posts) is skipped;
* ``secret_model`` names the pydantic model of its entry in the platform-secrets document.

Errors are the domain's (``socialcrm.errors``): ``SignatureError``/``StaleTimestampError`` → 401,
``VerifyTokenError`` → 403, ``UnparseableError`` → 400, ``BadRequestError`` → 400.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from socialcrm.errors import BadRequestError, UnparseableError
from socialcrm.models import InteractionDraft


@dataclass(frozen=True)
class Delivery:
    """One HTTP request as the platform sent it. Header names are lower-case."""

    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Intent:
    """A WebSub hub's verification of intent: what it asks socialcrm to confirm (``hub.mode``
    ``subscribe``, ``unsubscribe`` or ``denied``, for ``hub.topic``). Ingest answers only when it matches a
    request socialcrm made (``socialcrm.subscriptions.websub``)."""

    mode: str
    topic: str
    lease_seconds: int | None = None
    verify_token: str | None = None
    callback_key: str | None = None  # the ``key`` socialcrm put in the callback URL it gave the hub


@dataclass(frozen=True)
class HandshakeReply:
    body: str
    content_type: str = "text/plain"
    status: int = 200
    # Set when the answer stands only if the intent matches a request of ours (WebSub).
    intent: Intent | None = None


class PlatformAdapter(Protocol):
    name: ClassVar[str]
    secret_model: ClassVar[type[BaseModel]]

    def handshake(self, query: Mapping[str, str], secret: Any) -> HandshakeReply: ...

    def verify(self, delivery: Delivery, secret: Any, now: float) -> None: ...

    def normalise(self, delivery: Delivery) -> list[InteractionDraft]: ...


def digests_equal(expected: str, received: str) -> bool:
    """Constant-time comparison of two signature strings."""
    return hmac.compare_digest(expected.encode(), received.encode())


def required_query(query: Mapping[str, str], name: str) -> str:
    value = query.get(name)
    if not value:
        raise BadRequestError(f"The handshake needs the query parameter '{name}'.")
    return value


def load_json(document: bytes | str, what: str = "The body") -> Any:
    """Parse JSON, or raise ``UnparseableError`` (400) naming ``what``: never another exception.

    Besides malformed text, this covers nesting too deep for the parser: ``json.loads`` recurses once
    per array or object and raises ``RecursionError`` near a thousand levels, which no platform sends.

    >>> load_json(b'{"a": [1]}')
    {'a': [1]}
    >>> load_json(b"[" * 100_000)
    Traceback (most recent call last):
    ...
    socialcrm.errors.UnparseableError: The body is not valid JSON.
    """
    try:
        return json.loads(document)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise UnparseableError(f"{what} is not valid JSON.") from exc


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Parse a JSON object body, or raise ``UnparseableError``."""
    payload = load_json(body)
    if not isinstance(payload, dict):
        raise UnparseableError("The body must be a JSON object.")
    return payload


def text_id(value: Any) -> str | None:
    """An id sent as text: a string with a character that is not whitespace, as it is; anything else
    (a blank string, a number, null) is no id.

    >>> text_id("urn:li:person:Hq8vXw2Lk1"), text_id(" \\t"), text_id(2244994945)
    ('urn:li:person:Hq8vXw2Lk1', None, None)
    """
    return value if isinstance(value, str) and value.strip() else None


def integer_or_text_id(value: Any) -> str | None:
    """An id sent as text (:func:`text_id`) or as a JSON integer, written out exactly at any size.

    >>> integer_or_text_id(5603460101), integer_or_text_id("m_1"), integer_or_text_id(True)
    ('5603460101', 'm_1', None)
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text_id(value)


def conversation_key(kind: str, *ids: str | None) -> str | None:
    """``"kind:id:id…"``: one platform's conversation key, or ``None`` when one of its ids is unknown.

    The same call must be made for a customer's message and for the brand's reply in that conversation,
    so a key is always built from the same ids in the same order. ``Interaction.from_draft`` refuses
    the item when the key is longer than ``models.MAX_CONVERSATION_KEY_CHARS``.

    >>> conversation_key("dm", "102938475610293", "6543210987654321")
    'dm:102938475610293:6543210987654321'
    >>> conversation_key("dm", "102938475610293", None) is None
    True
    """
    known = [part for part in ids if part is not None]
    return ":".join((kind, *known)) if len(known) == len(ids) else None


def from_epoch_seconds(value: Any) -> datetime:
    """Epoch seconds (int, float or digit string) → aware UTC datetime; ``UnparseableError`` if not."""
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise UnparseableError(f"'{value}' is not a timestamp in seconds.") from exc


def from_epoch_millis(value: Any) -> datetime:
    """Epoch milliseconds → aware UTC datetime; ``UnparseableError`` if not."""
    try:
        return datetime.fromtimestamp(float(value) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise UnparseableError(f"'{value}' is not a timestamp in milliseconds.") from exc


def from_iso8601(value: Any) -> datetime:
    """ISO-8601 / RFC 3339 (``Z`` suffix, nanosecond fractions tolerated) → aware UTC datetime."""
    if not isinstance(value, str):
        raise UnparseableError(f"'{value}' is not an ISO-8601 time.")
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # trim fractions beyond microseconds: Python parses at most six digits
        digits = len(rest) - len(rest.lstrip("0123456789"))
        rest = rest[:digits][:6] + rest[digits:]
        text = f"{head}.{rest}"
    try:
        parsed = datetime.fromisoformat(text)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise UnparseableError(f"'{value}' is not an ISO-8601 time.") from exc
