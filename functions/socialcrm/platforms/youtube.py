"""YouTube push notifications over WebSub / PubSubHubbub (``docs/webhook-protocols.md`` §6).

Handshake (verification of intent, W3C WebSub §5.3): the hub GETs
``?hub.mode=subscribe|unsubscribe&hub.topic=...&hub.challenge=...&hub.lease_seconds=...`` (and, for the
PubSubHubbub 0.3 hubs such as Google's, the ``hub.verify_token`` socialcrm sent with its request). The
adapter reads it into an :class:`Intent` and the challenge to echo as ``text/plain``; ingest answers only
when the intent matches a request socialcrm made and that is still pending
(``socialcrm.subscriptions.websub``), else 404, so nobody can subscribe the callback to a feed or use it
to echo text. ``hub.mode=denied`` (the hub refusing or revoking a subscription; ``hub.topic`` and
``hub.reason``, no challenge) is an intent too, acknowledged with an empty 200 for a topic of ours. Any
other mode, no topic, or no challenge is ``BadRequestError`` (400).

Signature (WebSub §7.1): ``X-Hub-Signature: <method>=<hex>`` with method ``sha1`` (what Google's hub
uses), ``sha256``, ``sha384`` or ``sha512``; HMAC of the raw body keyed by ``hub_secret``.

Body: an Atom feed. Each ``<entry>`` (a video uploaded, or its title/description changed) becomes a
``post`` whose ``native_id`` and ``thread_id`` are ``yt:videoId``, author ``yt:channelId`` with
``author/name`` as display name, text the ``title`` and time ``published`` (else ``updated``). A title
edit re-delivers the same video id, so it dedupes onto the first notification. Tombstones
(``at:deleted-entry``) carry no interaction and give no draft. YouTube sends no comments this way.
An entry that names no video or no channel (absent, or only whitespace) is skipped and the rest of the
feed kept: failing the notification would make the hub retry it and then drop the good entries with
it. A video entry without a readable time is unparseable (400).

XML safety: the body is parsed with the standard library's ``xml.etree.ElementTree`` (the project
takes no ``defusedxml`` dependency). ElementTree never fetches external entities, the Expat it uses
limits entity amplification, and the tree is built without recursion (a hundred thousand nested
elements parse in milliseconds and are never walked: only the feed's entries and their children are
read). But a WebSub notification has no business declaring a DTD at all, so DTDs are refused twice,
and nothing is ever expanded ("billion laughs") or fetched (XXE):

1. any body containing ``<!DOCTYPE`` or ``<!ENTITY`` (after decoding it as UTF-8) is
   ``UnparseableError`` before it reaches the parser;
2. the parser's target refuses a doctype declaration the moment Expat reports one, before the
   internal subset is read. This closes what a text scan cannot see: Expat detects UTF-16 from the
   bytes ``3C 00`` even in text handed over as UTF-8, and UTF-16 of ASCII markup is valid UTF-8
   (with NULs), so ``<!DOCTYPE`` written in UTF-16 without a byte-order mark would slip past step 1.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Final

from pydantic import BaseModel, ValidationError

from socialcrm.errors import BadRequestError, SignatureError, UnparseableError
from socialcrm.models import Author, InteractionDraft
from socialcrm.platforms.base import Delivery, HandshakeReply, Intent, from_iso8601
from socialcrm.secrets import YouTubeSecret

PLATFORM: Final = "youtube"
SIGNATURE_HEADER = "x-hub-signature"
ALGORITHMS: dict[str, Any] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}
_HEX = re.compile(r"[0-9a-fA-F]+")

ATOM = "http://www.w3.org/2005/Atom"
YT = "http://www.youtube.com/xml/schemas/2015"
TOMBSTONES = "http://purl.org/atompub/tombstones/1.0"
_NS = {"atom": ATOM, "yt": YT, "at": TOMBSTONES}
_FORBIDDEN_MARKUP = ("<!DOCTYPE", "<!ENTITY")
_VIDEO_ID_PREFIX = "yt:video:"


class YouTubeAdapter:
    """YouTube (WebSub): verification of intent against our requests, ``X-Hub-Signature``, Atom entries."""

    name: ClassVar[str] = "youtube"
    secret_model: ClassVar[type[BaseModel]] = YouTubeSecret

    def handshake(self, query: Mapping[str, str], secret: YouTubeSecret) -> HandshakeReply:
        """The hub's verification of intent: the challenge to echo, and the intent ingest must match first.

        >>> from socialcrm.secrets import YouTubeSecret
        >>> query = {"hub.mode": "subscribe", "hub.topic": "t", "hub.challenge": "42", "hub.lease_seconds": "432000"}
        >>> adapter.handshake(query, YouTubeSecret(hub_secret="h"))
        HandshakeReply(body='42', content_type='text/plain', status=200, intent=Intent(mode='subscribe', topic='t', lease_seconds=432000, verify_token=None, callback_key=None))
        """
        mode = query.get("hub.mode")
        if mode not in ("subscribe", "unsubscribe", "denied"):
            raise BadRequestError("hub.mode must be 'subscribe', 'unsubscribe' or 'denied'.")
        topic = query.get("hub.topic")
        if not topic:
            raise BadRequestError("The verification of intent needs the query parameter 'hub.topic'.")
        key = query.get("key")
        if mode == "denied":
            return HandshakeReply(body="", intent=Intent(mode, topic, callback_key=key))
        challenge = query.get("hub.challenge")
        if not challenge:
            raise BadRequestError("The handshake needs the query parameter 'hub.challenge'.")
        lease = query.get("hub.lease_seconds", "")
        return HandshakeReply(
            body=challenge,
            intent=Intent(
                mode,
                topic,
                lease_seconds=int(lease)
                if lease.isascii() and lease.isdigit() and len(lease) <= 10
                else None,
                verify_token=query.get("hub.verify_token"),
                callback_key=key,
            ),
        )

    def verify(self, delivery: Delivery, secret: YouTubeSecret, now: float) -> None:
        """Check ``X-Hub-Signature: <method>=<hex>`` against the raw body (WebSub signs no time)."""
        header = delivery.header(SIGNATURE_HEADER)
        if header is None:
            raise SignatureError("The X-Hub-Signature header is missing.")
        method, equals, received = header.strip().partition("=")
        algorithm = ALGORITHMS.get(method.lower())
        if not equals or algorithm is None:
            raise SignatureError("X-Hub-Signature must be '<sha1|sha256|sha384|sha512>=<hex>'.")
        if not _HEX.fullmatch(received) or len(received) != 2 * algorithm().digest_size:
            raise SignatureError("The X-Hub-Signature value is not a hex digest of its method.")
        expected = hmac.new(
            secret.hub_secret.get_secret_value().encode(), delivery.body, algorithm
        ).hexdigest()
        if not hmac.compare_digest(expected.encode(), received.lower().encode()):
            raise SignatureError("The X-Hub-Signature does not match the body.")

    def normalise(self, delivery: Delivery) -> list[InteractionDraft]:
        """One ``post`` per video entry of the feed; tombstones and other elements give none."""
        feed = _parse_feed(delivery.body)
        return [draft for entry in feed.findall("atom:entry", _NS) if (draft := _video(entry)) is not None]


adapter = YouTubeAdapter()


def signed_headers(body: bytes, secret: YouTubeSecret, now: float, **extra: Any) -> dict[str, str]:
    """The header the hub would send with ``body``; ``method="sha256"`` etc. to pick another method.

    >>> from socialcrm.secrets import YouTubeSecret
    >>> signed_headers(b"<feed/>", YouTubeSecret(hub_secret="websub_secret"), 0)
    {'x-hub-signature': 'sha1=e28b5809b59f74255244ce8ce05fc37daa958a2f'}
    """
    method = extra.pop("method", "sha1")
    if extra:
        raise TypeError(f"Unexpected arguments: {sorted(extra)}")
    digest = hmac.new(secret.hub_secret.get_secret_value().encode(), body, ALGORITHMS[method]).hexdigest()
    return {SIGNATURE_HEADER: f"{method}={digest}"}


class _DtdRefusedError(Exception):
    """Raised from inside the parser to stop it at a doctype declaration."""


class _TreeBuilderRefusingDtds(ET.TreeBuilder):
    """ElementTree's tree builder, except that a doctype declaration aborts the parse."""

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise _DtdRefusedError(name)


def _parse_feed(body: bytes) -> ET.Element:
    """The Atom ``<feed>`` root; ``UnparseableError`` for non-UTF-8, DTDs, malformed XML, other roots."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnparseableError("The body is not UTF-8 XML.") from exc
    if any(markup in text for markup in _FORBIDDEN_MARKUP):
        raise UnparseableError("The body declares a DTD or entities, which a WebSub notification never does.")
    parser = ET.XMLParser(target=_TreeBuilderRefusingDtds())  # noqa: S314 - DTDs refused (module docstring)
    try:
        parser.feed(text)
        root = parser.close()
    except _DtdRefusedError as exc:
        raise UnparseableError("The body declares a DTD, which a WebSub notification never does.") from exc
    except (ET.ParseError, ValueError) as exc:
        raise UnparseableError("The body is not well-formed XML.") from exc
    if root.tag != f"{{{ATOM}}}feed":
        raise UnparseableError("The body is not an Atom feed.")
    return root


def _video(entry: ET.Element) -> InteractionDraft | None:
    """The ``post`` of one Atom entry, or None when the entry names no video or no channel."""
    video_id = _text(entry, "yt:videoId") or _video_id_from_atom_id(_text(entry, "atom:id"))
    channel_id = _text(entry, "yt:channelId") or _channel_from_uri(_text(entry, "atom:author/atom:uri"))
    if video_id is None or channel_id is None:
        return None
    time_text = _text(entry, "atom:published") or _text(entry, "atom:updated")
    if time_text is None:
        raise UnparseableError("A YouTube entry has neither 'published' nor 'updated'.")
    try:
        return InteractionDraft(
            platform=PLATFORM,
            kind="post",
            native_id=video_id,
            thread_id=video_id,
            author=Author(user_id=channel_id, display_name=_text(entry, "atom:author/atom:name")),
            text=(entry.findtext("atom:title", default="", namespaces=_NS) or "").strip(),
            occurred_at=_time(time_text),
        )
    except ValidationError as exc:
        raise UnparseableError("A YouTube entry does not make a valid interaction.") from exc


def _text(entry: ET.Element, path: str) -> str | None:
    """The stripped text at ``path``, or None when absent or blank."""
    value = entry.findtext(path, namespaces=_NS)
    if value is None:
        return None
    return value.strip() or None


def _video_id_from_atom_id(atom_id: str | None) -> str | None:
    if atom_id and atom_id.startswith(_VIDEO_ID_PREFIX):
        return atom_id.removeprefix(_VIDEO_ID_PREFIX).strip() or None
    return None


def _channel_from_uri(uri: str | None) -> str | None:
    """``https://www.youtube.com/channel/UC...`` → ``UC...``."""
    if uri and "/channel/" in uri:
        return uri.rsplit("/channel/", 1)[1].strip("/").strip() or None
    return None


def _time(value: str) -> datetime:
    try:
        return from_iso8601(value)
    except OverflowError as exc:  # an offset that pushes the time past datetime's range
        raise UnparseableError("A YouTube entry's time is out of range.") from exc
