"""LinkedIn webhooks: the challenge validation, ``X-LI-Signature`` and organisation social actions.

Protocol reference: ``docs/webhook-protocols.md`` §4. The validation answers ``challengeCode`` with its hex
HMAC-SHA256 keyed with the app's client secret, as JSON. LinkedIn documents the code as a random type-4
UUID, and only that is answered: signing any other text would make the validation a signing oracle for
``X-LI-Signature`` (a caller could send a delivery body as the code and get its signature back; see
"Handshakes are not signing oracles" in the protocol reference). Which bytes LinkedIn signs is ambiguous in
its own documentation (§4.2), so the verifier is tolerant: the header may carry an ``hmacsha256=``
prefix and hex in either case, and it may be the HMAC of ``"hmacsha256=" + body`` (the majority
reading) or of the body alone.

Deliveries are ``{"type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS", "notifications": [...]}``
(a bare list or a single notification is accepted too). Choices where the platform leaves room:

* ``COMMENT`` → ``comment``, or ``reply`` when the comment's object is another comment (``parent_id``
  is then that comment); ``SHARE_MENTION`` and ``ADMIN_MENTION`` → ``mention``.
* The organisation's own comment (``ADMIN_COMMENT``, or a ``COMMENT`` whose author is the
  ``organizationalEntity``) that replies to a comment is a ``brand_reply``, authored by the
  organisation; which customer it answers is not in the notification (``customer_id`` stays unset).
  Its top-level comment on its own post answers nobody and is skipped.
* Skipped: ``SHARE`` (a reshare carries no words of its author), ``LIKE`` (no text), ``COMMENT_EDIT``
  and ``COMMENT_DELETE`` (changes to an interaction already taken in; they carry a new notification
  id, so taking them would duplicate it), any other action, and a mention by the organisation itself.
* ``native_id`` is the ``notificationId`` (LinkedIn's documented dedupe key), so a redelivery maps to
  the same interaction. ``thread_id`` is ``sourcePost``. LinkedIn shares no names with page apps:
  the author is the person URN only. No language hint.
* ``conversation_key``: a comment thread is ``comments:<root comment URN>``, the top-level comment's own
  URN (``comment.entity``, else ``generatedActivity``) or, for a reply, the comment it is on
  (``comment.object``). Comment URNs are read in their full form: LinkedIn writes the same comment as
  ``urn:li:comment:(urn:li:activity:1,2)`` and ``urn:li:comment:(activity:1,2)`` in one notification, and
  the short one is given its ``urn:li:`` prefix. A mention made in a comment is keyed as that comment;
  one made in a post is ``post:<URN of the post>``.
* A body that is not JSON, or a ``notifications`` that is not a list, is unparseable (400). A single
  notification lacking its id, author or time is skipped: failing the batch of ten would make
  LinkedIn redeliver it for eight hours and drop the good ones with it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from socialcrm.errors import BadRequestError, ConfigurationError, SignatureError, UnparseableError
from socialcrm.models import BRAND_REPLY, Author, InteractionDraft, Kind
from socialcrm.platforms.base import (
    Delivery,
    HandshakeReply,
    conversation_key,
    digests_equal,
    from_epoch_millis,
    integer_or_text_id,
    load_json,
    required_query,
    text_id,
)
from socialcrm.secrets import LinkedInSecret

SIGNATURE_HEADER = "x-li-signature"
SIGNED_PREFIX = b"hmacsha256="
EVENT_TYPE = "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS"
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
# An RFC 4122 version-4 UUID in its canonical 8-4-4-4-12 form, hex digits in either case.
_UUID4 = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-4[0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}")
HEADER_PREFIX = "hmacsha256="  # optional on the header value, in any case
_MENTIONS = frozenset({"SHARE_MENTION", "ADMIN_MENTION"})
ADMIN_COMMENT = "ADMIN_COMMENT"
_COMMENT_URN_PREFIX = "urn:li:comment:"
# A comment URN whose object lacks its "urn:li:" prefix: "urn:li:comment:(activity:1,2)".
_SHORT_COMMENT_URN = re.compile(r"urn:li:comment:\((?!urn:li:)")


class LinkedInAdapter:
    """The ``linkedin`` route: organisation social action notifications, signed with the client secret."""

    name: ClassVar[str] = "linkedin"
    secret_model: ClassVar[type[BaseModel]] = LinkedInSecret

    def handshake(self, query: Mapping[str, str], secret: LinkedInSecret) -> HandshakeReply:
        """Answer the validation: ``{"challengeCode": code, "challengeResponse": hex HMAC(code)}``.

        The code must be a version-4 UUID (``BadRequestError``, 400, otherwise).
        """
        code = required_query(query, "challengeCode")
        body = json.dumps({"challengeCode": code, "challengeResponse": challenge_response(code, secret)})
        return HandshakeReply(body=body, content_type="application/json")

    def verify(self, delivery: Delivery, secret: LinkedInSecret, now: float) -> None:
        """Check ``X-LI-Signature`` (either reading, optional prefix, any hex case); no timestamp signed."""
        header = delivery.header(SIGNATURE_HEADER)
        if not header:
            raise SignatureError(f"The {SIGNATURE_HEADER} header is missing.")
        received = header.strip()
        if received[: len(HEADER_PREFIX)].lower() == HEADER_PREFIX:
            received = received[len(HEADER_PREFIX) :]
        if not _HEX_DIGEST.fullmatch(received):
            raise SignatureError(f"The {SIGNATURE_HEADER} header is not a hex SHA-256 digest.")
        received = received.lower()
        key = _key(secret)
        prefixed = digests_equal(_hex_hmac(key, SIGNED_PREFIX + delivery.body), received)
        bare = digests_equal(_hex_hmac(key, delivery.body), received)
        if not (prefixed or bare):
            raise SignatureError("The signature does not match the body.")

    def normalise(self, delivery: Delivery) -> list[InteractionDraft]:
        """Every comment and mention by someone other than the organisation; the rest is skipped."""
        drafts = (_draft(notification) for notification in _notifications(delivery.body))
        return [draft for draft in drafts if draft is not None]


adapter = LinkedInAdapter()


def challenge_response(challenge_code: str, secret: LinkedInSecret | str) -> str:
    """The hex HMAC-SHA256 of a validation challenge, which must be a version-4 UUID.

    >>> challenge_response("890e4665-4dfe-4ab1-b689-ed553bceeed0", "linkedin_client_secret")
    'c813f311661c3a733dcae599bb95c7cabc666e22dc36e2a84a3d3ce27c9de8de'
    >>> challenge_response('{"notifications": []}', "linkedin_client_secret")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    socialcrm.errors.BadRequestError: The challengeCode must be a version-4 UUID ...
    """
    if not _UUID4.fullmatch(challenge_code):
        raise BadRequestError(
            "The challengeCode must be a version-4 UUID in its canonical form, 8-4-4-4-12 hex digits "
            "(for example 890e4665-4dfe-4ab1-b689-ed553bceeed0)."
        )
    return _hex_hmac(_key(secret), challenge_code.encode("ascii"))


def body_signature(body: bytes, secret: LinkedInSecret | str) -> str:
    """The ``X-LI-Signature`` value of the majority reading: bare lowercase hex of HMAC(prefix + body)."""
    return _hex_hmac(_key(secret), SIGNED_PREFIX + body)


def signed_headers(body: bytes, secret: LinkedInSecret | str, now: float, **extra: str) -> dict[str, str]:
    """Headers LinkedIn would send with ``body`` (sender side, for tests, the demo and benchmarks).

    ``now`` is accepted for a uniform interface; LinkedIn signs no timestamp. ``extra`` adds headers,
    with ``_`` in a keyword read as ``-`` (``content_type="application/json"``).
    """
    headers = {key.replace("_", "-").lower(): value for key, value in extra.items()}
    headers[SIGNATURE_HEADER] = body_signature(body, secret)
    return headers


def _hex_hmac(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _key(secret: LinkedInSecret | str) -> bytes:
    if isinstance(secret, LinkedInSecret):
        return secret.client_secret.get_secret_value().encode("utf-8")
    if isinstance(secret, str) and secret:
        return secret.encode("utf-8")
    raise ConfigurationError("The linkedin secret must be a LinkedInSecret with a client_secret.")


def _notifications(body: bytes) -> list[dict[str, Any]]:
    """The notification objects of a delivery: the envelope, a bare list, or one notification."""
    payload = load_json(body)
    if isinstance(payload, list):
        items: list[Any] = payload
    elif not isinstance(payload, dict):
        raise UnparseableError("The body must be a JSON object or a list of notifications.")
    elif "notifications" in payload:
        if not isinstance(payload["notifications"], list):
            raise UnparseableError("'notifications' must be a list.")
        if payload.get("type", EVENT_TYPE) != EVENT_TYPE:
            return []  # another subscription's event type: nothing for the CRM
        items = payload["notifications"]
    elif "action" in payload or "notificationId" in payload:
        items = [payload]
    else:
        items = []
    return [item for item in items if isinstance(item, dict)]


def _draft(notification: dict[str, Any]) -> InteractionDraft | None:
    kind = _kind(notification)
    if kind is None:
        return None
    activity = _obj(notification.get("decoratedGeneratedActivity"))
    comment = _obj(activity.get("comment"))
    share = _obj(activity.get("share"))
    native_id = _notification_id(notification.get("notificationId"))
    author = _urn(comment.get("owner")) or _urn(share.get("owner")) or _urn(notification.get("actor"))
    occurred_at = _millis(notification.get("lastModifiedAt"))
    organisation = _urn(notification.get("organizationalEntity"))
    if author is not None and author == organisation:
        if kind == "mention":
            return None  # the organisation naming itself
        kind = BRAND_REPLY
    if kind == BRAND_REPLY:
        author = organisation or author
    if native_id is None or author is None or occurred_at is None:
        return None
    commented_on = _comment_urn(_urn(comment.get("object")))
    on_a_comment = commented_on is not None and commented_on.startswith(_COMMENT_URN_PREFIX)
    is_reply = kind != "mention" and on_a_comment
    if kind == BRAND_REPLY and not is_reply:
        return None  # the organisation's top-level comment on its own post answers nobody
    if comment:  # a comment (a mention too may be one): the thread of its top-level comment
        own = _comment_urn(_urn(comment.get("entity")) or _urn(notification.get("generatedActivity")))
        key = conversation_key("comments", commented_on if on_a_comment else own)
    else:  # a post that mentions the organisation
        post = _urn(share.get("entity")) or _urn(notification.get("generatedActivity"))
        key = conversation_key("post", post)
    text = (
        _text(comment.get("text"))
        or _text(_obj(comment.get("message")).get("text"))
        or _text(share.get("text"))
        or _text(share.get("commentary"))
    )
    try:
        return InteractionDraft(
            platform="linkedin",
            kind="reply" if is_reply and kind == "comment" else kind,
            native_id=native_id,
            thread_id=_urn(notification.get("sourcePost")),
            parent_id=commented_on if is_reply else None,
            author=Author(user_id=author),
            text=text or "",
            language=None,
            occurred_at=occurred_at,
            conversation_key=key,
        )
    except ValidationError:  # unreachable with the readers above; a guard, not a path
        return None


def _kind(notification: dict[str, Any]) -> Kind | None:
    action = notification.get("action")
    if action == "COMMENT":
        return "comment"
    if action == ADMIN_COMMENT:
        return BRAND_REPLY
    if isinstance(action, str) and action in _MENTIONS:
        return "mention"
    return None


def _comment_urn(value: str | None) -> str | None:
    """A comment URN in its full form; any other URN as it is.

    >>> _comment_urn("urn:li:comment:(activity:7094637247890620418,7094977717598625792)")
    'urn:li:comment:(urn:li:activity:7094637247890620418,7094977717598625792)'
    """
    if value is None or not value.startswith(_COMMENT_URN_PREFIX):
        return value
    return _SHORT_COMMENT_URN.sub("urn:li:comment:(urn:li:", value, count=1)


# ``notificationId``: LinkedIn sends a number; a string is accepted as is.
_notification_id = integer_or_text_id


def _millis(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return from_epoch_millis(value)
    except UnparseableError:
        return None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


_urn = text_id


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
