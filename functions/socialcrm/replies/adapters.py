"""One send adapter per platform (:class:`socialcrm.replies.outbound.Adapter`), keyed by interaction platform.

Every request, answer and error code follows ``docs/webhook-protocols.md`` §13 ("Sending replies"). An
adapter makes exactly one platform call per :meth:`send` and sorts the answer into one outcome:

* ``sent`` — the platform returned the new message's id (the id its echo or status webhook carries);
* ``permanent`` — refused for a reason a retry cannot fix (window closed, recipient unreachable,
  permission, invalid parameter, duplicate);
* ``retryable`` — refused before accepting: a rate limit (HTTP 429 or the platform's throttling code;
  ``retry_after`` from ``Retry-After``, X's ``x-rate-limit-reset`` or Meta's ``X-Business-Use-Case-Usage``)
  or a transport failure before the request was written (:class:`TransportError` with ``sent=False``);
* ``ambiguous`` — may have been accepted: a timeout or reset after the request was written, any other
  ``5xx``, the platforms' "unexpected error" codes, a ``2xx`` whose body lacks the id.

Meta and TikTok are classified by their error codes, not the HTTP status (§13.0 rule 5). ``Outcome.code`` is
the platform's code as text (``"10/2018278"``, ``"429"``, ``"timeout"``); ``Outcome.message`` is a sentence for
a support agent. Neither ever holds the reply's text, a token or a person's id, and nothing here logs.

Choices where §13 leaves room:

* Meta's Send API is called as ``/me/messages`` (the Page, or the Instagram account, of the token): the
  Page id is not part of the send configuration.
* A public answer to a Facebook or Instagram comment goes to the **top-level** comment (the target's
  ``parent_id`` when the target is a ``reply``), so it stays in the thread §12 keys.
* Facebook read-back matches our comment by its text (the page id being unknown, ``from.id == page`` cannot
  be checked); a comment by the customer (``from.id == target.user_id``) never matches. Instagram likewise.
* Texts are compared after undoing what the platforms do to them: HTML entities (X escapes ``&<>``), NFC,
  links (X shortens them to t.co) and runs of white space.
* A read-back answers ``absent`` only when it saw everything that could hold our reply: no further page,
  or (X direct messages, newest first) a page that reaches the customer's message we answered. Otherwise
  ``cannot_tell``, as for any failed read.
* Graph code ``368`` (temporarily blocked for policy violations) and WhatsApp's ``131048``/``131049`` ("stop
  and alert") are ``permanent``: a retry in the send loop would fail again; an agent can try later.
* Meta's ``11357046`` ("the messages are all sent successfully, but the endpoint returns an error"), as a
  code or a subcode, is ``ambiguous``.
* WhatsApp recipients: a ``wa_id`` (digits) is sent in its ``+`` form as Meta recommends; anything else is
  a business-scoped user id (BSUID) and is sent as ``recipient`` [UNCONFIRMED field name].
* LinkedIn: the comment answered is the target's ``parent_id`` when it is a comment URN (LinkedIn threads
  have two levels: a reply to a reply joins the top-level comment), else its ``native_id`` when that is one;
  the request's path is that comment's URN (``parentComment`` in the body, "Get Comments on Comments" for
  the read-back). The inbound adapter stores a notification id as ``native_id``, so a customer's top-level
  comment arrives here without its URN: the answer is then a comment on the post (``thread_id``).
* TikTok: code ``40064`` (daily conversation quota) is retryable at the next 00:00 UTC; ``40100`` (TikTok
  Business API "too many requests") retryable; ``5xxxx`` (TikTok's system errors) ambiguous; every other
  non-zero code permanent [UNCONFIRMED codes, §13.10].
* Generic (Standard Webhooks): ``2xx`` sent; ``410`` permanent; ``429``/``502``/``503``/``504`` retryable
  (``Retry-After``); any other ``5xx`` ambiguous (settled by a re-send with the same ``webhook-id``, which the
  receiver deduplicates); other statuses (``3xx`` — never followed — and ``4xx``) permanent.
"""

from __future__ import annotations

import html
import json
import re
import time
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, unquote, urlencode

from standardwebhooks.webhooks import Webhook

from socialcrm.replies.outbound import (
    Adapter,
    HttpRequest,
    HttpResponse,
    Outcome,
    Outgoing,
    ReadBackResult,
    Reconcile,
    Target,
    Transport,
    TransportError,
)
from socialcrm.secrets import SendSecrets

Clock = Callable[[], float]

_JSON = "application/json"
_CANNOT_TELL = ReadBackResult("cannot_tell")
_ABSENT = ReadBackResult("absent")

# --- Meta (Graph API) error codes, docs/webhook-protocols.md §13.2 and §13.3 ---------------------------------
META_RATE_CODES = frozenset({4, 17, 32, 613, 80001, 80006, 341})
META_AMBIGUOUS_CODES = frozenset({1, 2})
META_SENT_WITH_ERROR = 11357046  # "The messages are all sent successfully, but the endpoint returns an error"
META_WINDOW_SUBCODES = frozenset({2018278, 2534022})
WHATSAPP_RATE_CODES = META_RATE_CODES | {130429, 131056, 80007}
WHATSAPP_AMBIGUOUS_CODES = META_AMBIGUOUS_CODES | {131000}
_META_PERMANENT_CODES = frozenset({3, 10, 100, 190, 368, 506, 551, *range(200, 300)})

WHATSAPP_SENTENCES: dict[int, str] = {
    131047: "More than 24 hours have passed since the customer last wrote on WhatsApp: send an approved "
    "template instead",
    131026: "WhatsApp could not deliver to this customer (not a WhatsApp number, terms not accepted or an "
    "outdated app)",
    131051: "WhatsApp does not support this type of message",
    131050: "The customer has stopped marketing messages from the business on WhatsApp",
    132000: "The template's parameters do not match the approved WhatsApp template",
    132001: "The WhatsApp template does not exist in this language or is not approved",
    132012: "The WhatsApp template's parameters are not in the expected format",
    132015: "The WhatsApp template is paused",
    132016: "The WhatsApp template is disabled",
    131042: "The WhatsApp Business account has a payment problem",
    131031: "The WhatsApp Business account is restricted",
    131048: "WhatsApp restricts how many messages this number may send (flagged as spam): stop and check the "
    "account's quality",
    131049: "WhatsApp did not deliver the message to maintain healthy engagement: wait at least a day before "
    "trying this customer again",
    368: "Meta has temporarily blocked the account for policy violations: try again later",
    100: "WhatsApp refused the message as invalid (a wrong recipient or parameter)",
    190: "The WhatsApp access token has expired or was revoked: reconnect the account",
}

TIKTOK_DAILY_LIMIT = 40064  # "You are sending messages too fast. Take a rest." — the daily conversation quota
TIKTOK_RATE_LIMIT = 40100  # TikTok API for Business: too many requests [UNCONFIRMED for messaging]

GENERIC_EVENT_TYPE = "brand_reply.created"
_GENERIC_THROTTLED = frozenset({429, 502, 503, 504})

_URL = re.compile(r"https?://\S+")
_SPACES = re.compile(r"\s+")
_COMMENT_URN = "urn:li:comment:"
_SHORT_COMMENT_URN = re.compile(r"urn:li:comment:\((?!urn:li:)")
_COMMENT_URN_PARTS = re.compile(r"urn:li:comment:\((?P<object>.+),(?P<id>[^,()]+)\)")
_DIGITS = re.compile(r"[0-9]+")


# --- helpers -----------------------------------------------------------------------------------------------


def _json_bytes(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _post(url: str, payload: Mapping[str, Any], headers: Mapping[str, str]) -> HttpRequest:
    return HttpRequest("POST", url, {**headers, "Content-Type": _JSON, "Accept": _JSON}, _json_bytes(payload))


def _get(url: str, headers: Mapping[str, str]) -> HttpRequest:
    return HttpRequest("GET", url, {**headers, "Accept": _JSON})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _object(body: bytes) -> dict[str, Any]:
    """The answer's JSON object, or ``{}`` when it is none."""
    try:
        parsed = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _id(value: Any) -> str | None:
    """A platform id: a non-blank string, or an integer written out."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value)
    return None


def _ok(response: HttpResponse) -> bool:
    return 200 <= response.status < 300


def _seconds(value: Any) -> float | None:
    """A non-negative number of seconds, or ``None``."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 and seconds == seconds and seconds != float("inf") else None


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """``Retry-After`` in seconds: delta-seconds, or an HTTP-date counted from ``now`` (never negative).

    >>> retry_after({"retry-after": "120"}, 0.0)
    120.0
    >>> retry_after({"retry-after": "Thu, 01 Jan 1970 00:02:00 GMT"}, 60.0)
    60.0
    """
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if _DIGITS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def _business_use_case_wait(headers: Mapping[str, str]) -> float | None:
    """Meta's ``X-Business-Use-Case-Usage`` ``estimated_time_to_regain_access`` (minutes) in seconds."""
    raw = headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    minutes = [
        _seconds(entry.get("estimated_time_to_regain_access"))
        for entries in _dict(usage).values()
        for entry in _list(entries)
        if isinstance(entry, dict)
    ]
    longest = max((m for m in minutes if m is not None), default=None)
    return longest * 60 if longest else None


def _normal_text(text: str) -> str:
    text = unicodedata.normalize("NFC", html.unescape(text))
    return _SPACES.sub(" ", _URL.sub("<link>", text)).strip()


def same_text(ours: str, theirs: Any) -> bool:
    """Whether the platform's copy of a text is ours, allowing for what platforms do to a text.

    >>> same_text("Fish & chips: https://example.com/a", "Fish &amp; chips:  https://t.co/xyz")
    True
    """
    return isinstance(theirs, str) and _normal_text(ours) == _normal_text(theirs)


def _exchange(transport: Transport, request: HttpRequest, name: str) -> HttpResponse | Outcome:
    """The platform's answer, or the outcome of a call that got none."""
    try:
        return transport(request)
    except TransportError as exc:
        if exc.sent:
            return Outcome(
                "ambiguous",
                code="timeout",
                message=f"{name} did not answer in time: the reply may have gone out and is being checked.",
            )
        return Outcome(
            "retryable",
            code="unreachable",
            message=f"{name} could not be reached: nothing was sent, the reply will be tried again.",
        )


def _read(transport: Transport, request: HttpRequest) -> dict[str, Any] | None:
    """The JSON object a read-back GET answered, or ``None`` when the read failed."""
    try:
        response = transport(request)
    except TransportError:
        return None
    if not _ok(response):
        return None
    body = _object(response.body)
    return body or None


def _no_id(name: str) -> Outcome:
    return Outcome(
        "ambiguous",
        code="no_id",
        message=f"{name} accepted the request but did not return the new message's id: it is being checked.",
    )


def _server_error(name: str, status: int) -> Outcome:
    return Outcome(
        "ambiguous",
        code=str(status),
        message=f"{name} had a server error (HTTP {status}): the reply may have gone out and is being checked.",
    )


def _throttled(name: str, code: str, wait: float | None) -> Outcome:
    return Outcome(
        "retryable",
        code=code,
        message=f"{name} is limiting how fast the account may send: the reply will be tried again later.",
        retry_after=wait,
    )


def _not_configured(name: str) -> Outcome:
    return Outcome(
        "permanent",
        code="not_configured",
        message=f"No {name} credentials are configured: the reply cannot be sent.",
    )


def _cannot_address(name: str, what: str) -> Outcome:
    return Outcome(
        "permanent", code="no_target", message=f"The reply cannot be sent on {name}: {what} is not known."
    )


def _top_level_comment(target: Target) -> str:
    """The comment a public answer goes to: the top-level one (Facebook and Instagram nest one level)."""
    if target.kind == "reply" and target.parent_id:
        return target.parent_id
    return target.native_id


def _root(base_url: str) -> str:
    return base_url.rstrip("/")


def _path_id(value: str) -> str:
    return quote(value, safe="")


class _Base:
    platform: str
    name: str

    def __init__(self, *, clock: Clock = time.time) -> None:
        self._clock = clock


# --- Meta: Facebook, Messenger, Instagram ---------------------------------------------------------------


def _meta_error(body: dict[str, Any]) -> tuple[int | None, int | None]:
    error = _dict(body.get("error"))
    return _int(error.get("code")), _int(error.get("error_subcode"))


def _code_text(code: int, subcode: int | None) -> str:
    return f"{code}/{subcode}" if subcode is not None else str(code)


def _meta_outcome(
    response: HttpResponse,
    *,
    name: str,
    id_field: str,
    window: str,
    now: float,
) -> Outcome:
    """A Graph answer (Facebook, Messenger, Instagram) as an outcome; ``window``: the sentence for 10/2018278."""
    body = _object(response.body)
    if _ok(response):
        message_id = _id(body.get(id_field))
        return Outcome("sent", message_id=message_id) if message_id else _no_id(name)
    code, subcode = _meta_error(body)
    wait = retry_after(response.headers, now) or _business_use_case_wait(response.headers)
    if code is None:
        return _by_status(response.status, name=name, wait=wait)
    text = _code_text(code, subcode)
    if code in META_RATE_CODES:
        return _throttled(name, text, wait)
    if code in META_AMBIGUOUS_CODES or META_SENT_WITH_ERROR in (code, subcode):
        return Outcome(
            "ambiguous",
            code=text,
            message=f"{name} answered with a temporary error: the reply may have gone out and is being "
            f"checked (Meta {text}).",
        )
    if code not in _META_PERMANENT_CODES:
        if response.status == 429:
            return _throttled(name, text, wait)
        if response.status >= 500:
            return _server_error(name, response.status)
    return Outcome(
        "permanent", code=text, message=f"{_meta_sentence(name, code, subcode, window)} (Meta {text})."
    )


def _meta_sentence(name: str, code: int, subcode: int | None, window: str) -> str:
    if code == 10 and subcode in META_WINDOW_SUBCODES:
        return window
    if code == 551:
        return f"This person isn't available on {name} right now"
    if code == 100:
        return f"{name} refused the reply as invalid: a wrong recipient, a text too long or a parameter not allowed"
    if code == 190:
        return f"The {name} access token has expired or was revoked: reconnect the account"
    if code in (3, 10) or 200 <= code <= 299:
        return f"The {name} account lacks the permission to send this reply"
    if code == 506:
        return f"{name} refused the reply as a duplicate of one just posted"
    if code == 368:
        return "Meta has temporarily blocked the account for policy violations: try again later"
    return f"{name} refused the reply"


def _by_status(status: int, *, name: str, wait: float | None) -> Outcome:
    """An error answer without a platform code, by its HTTP status."""
    if status == 429:
        return _throttled(name, "429", wait)
    if status >= 500:
        return _server_error(name, status)
    return Outcome("permanent", code=str(status), message=f"{name} refused the reply (HTTP {status}).")


def _send_api_body(recipient: dict[str, str], outgoing: Outgoing, *, conversation: bool) -> dict[str, Any]:
    """A Send API body; ``conversation``: a message in a conversation (not a private reply to a comment)."""
    body: dict[str, Any] = {"recipient": recipient}
    if conversation and outgoing.messaging_type != "NONE":
        body["messaging_type"] = outgoing.messaging_type
    if conversation and outgoing.tag:
        body["tag"] = outgoing.tag
    body["message"] = {"text": outgoing.text, "metadata": outgoing.reply_id}
    return body


def _dm_window(name: str, outgoing: Outgoing) -> str:
    if outgoing.messaging_type == "MESSAGE_TAG":
        return f"The 7-day window for a person to answer this customer on {name} has closed"
    return f"The 24-hour window to answer this customer on {name} has closed"


def _private_reply_window(name: str) -> str:
    return f"The time to answer this comment privately on {name} has passed"


def _comment_read_back(
    transport: Transport,
    url: str,
    token: str,
    *,
    text_field: str,
    target: Target,
    outgoing: Outgoing,
) -> ReadBackResult:
    """Find our answer among a comment's comments (Facebook) or replies (Instagram), by its text."""
    page = _read(transport, _get(url, _bearer(token)))
    if page is None or not isinstance(page.get("data"), list):
        return _CANNOT_TELL
    for item in _list(page.get("data")):
        item = _dict(item)
        author = _id(_dict(item.get("from")).get("id"))
        comment_id = _id(item.get("id"))
        if comment_id and author != target.user_id and same_text(outgoing.text, item.get(text_field)):
            return ReadBackResult("found", comment_id)
    return _CANNOT_TELL if _dict(page.get("paging")).get("next") else _ABSENT


class FacebookAdapter(_Base):
    """Facebook Page comments: a public comment reply, or a private reply (Messenger) to the commenter."""

    platform = "facebook"
    name = "Facebook"

    def reconcile_by(self, target: Target, outgoing: Outgoing) -> Reconcile:
        return "read_back" if outgoing.visibility == "public" else "echo"

    def send(self, target: Target, outgoing: Outgoing, secrets: SendSecrets, transport: Transport) -> Outcome:
        if secrets.facebook is None:
            return _not_configured(self.name)
        token = secrets.facebook.access_token.get_secret_value()
        base = _root(secrets.base_urls.meta)
        if outgoing.visibility == "public":
            url = f"{base}/{_path_id(_top_level_comment(target))}/comments"
            request = _post(url, {"message": outgoing.text}, _bearer(token))
            id_field, window = "id", _private_reply_window(self.name)
        else:
            recipient = {"post_id" if target.kind == "post" else "comment_id": target.native_id}
            payload = _send_api_body(recipient, outgoing, conversation=False)
            request = _post(f"{base}/me/messages", payload, _bearer(token))
            id_field, window = "message_id", _private_reply_window(self.name)
        answer = _exchange(transport, request, self.name)
        if isinstance(answer, Outcome):
            return answer
        return _meta_outcome(answer, name=self.name, id_field=id_field, window=window, now=self._clock())

    def read_back(
        self, target: Target, outgoing: Outgoing, secrets: SendSecrets, transport: Transport
    ) -> ReadBackResult:
        """The Page's answer among the top-level comment's comments, newest first, matched by its text."""
        if outgoing.visibility != "public" or secrets.facebook is None:
            return _CANNOT_TELL
        query = urlencode(
            {"filter": "stream", "order": "reverse_chronological", "fields": "id,message,from", "limit": 100}
        )
        url = f"{_root(secrets.base_urls.meta)}/{_path_id(_top_level_comment(target))}/comments?{query}"
        token = secrets.facebook.access_token.get_secret_value()
        return _comment_read_back(
            transport, url, token, text_field="message", target=target, outgoing=outgoing
        )


class MessengerAdapter(_Base):
    """Messenger: the Send API to the customer's PSID, our reply id as ``message.metadata``."""

    platform = "messenger"
    name = "Messenger"

    def reconcile_by(self, target: Target, outgoing: Outgoing) -> Reconcile:
        return "echo"

    def send(self, target: Target, outgoing: Outgoing, secrets: SendSecrets, transport: Transport) -> Outcome:
        if secrets.facebook is None:
            return _not_configured(self.name)
        token = secrets.facebook.access_token.get_secret_value()
        payload = _send_api_body({"id": target.user_id}, outgoing, conversation=True)
        request = _post(f"{_root(secrets.base_urls.meta)}/me/messages", payload, _bearer(token))
        answer = _exchange(transport, request, self.name)
        if isinstance(answer, Outcome):
            return answer
        return _meta_outcome(
            answer,
            name=self.name,
            id_field="message_id",
            window=_dm_window(self.name, outgoing),
            now=self._clock(),
        )

    def read_back(
        self, target: Target, outgoing: Outgoing, secrets: SendSecrets, transport: Transport
    ) -> ReadBackResult:
        return _CANNOT_TELL  # reconciled by the echo of message.metadata


class InstagramAdapter(_Base):
    """Instagram: direct messages and private replies through the Send API, public replies to comments.

    With an Instagram user token (Instagram Login) the calls go to ``base_urls.instagram``; otherwise to
    ``base_urls.meta`` with the Page token (Facebook Login)."""

    platform = "instagram"
    name = "Instagram"

    def reconcile_by(self, target: Target, outgoing: Outgoing) -> Reconcile:
        return "read_back" if self._public_comment(target, outgoing) else "echo"

    @staticmethod
    def _public_comment(target: Target, outgoing: Outgoing) -> bool:
        return target.kind != "direct_message" and outgoing.visibility == "public"

    @staticmethod
    def _account(secrets: SendSecrets) -> tuple[str, str] | None:
        if secrets.instagram is not None:
            return _root(secrets.base_urls.instagram), secrets.instagram.access_token.get_secret_value()
        if secrets.facebook is not None:
            return _root(secrets.base_urls.meta), secrets.facebook.access_token.get_secret_value()
        return None

    def send(self, target: Target, outgoing: Outgoing, secrets: SendSecrets, transport: Transport) -> Outcome:
        account = self._account(secrets)
        if account is None:
            return _not_configured(self.name)
        base, token = account
        if target.kind == "direct_message":
            payload = _send_api_body({"id": target.user_id}, outgoing, conversation=True)
            request = _post(f"{base}/me/messages", payload, _bearer(token))
            id_field, window = "message_id", _dm_window(self.name, outgoing)
        elif outgoing.visibility == "private":
            payload = _send_api_body({"comment_id": target.native_id}, outgoing, conversation=False)
            request = _post(f"{base}/me/messages", payload, _bearer(token))
            id_field, window = "message_id", _private_reply_window(self.name)
        else:
            url = f"{base}/{_path_id(_top_level_comment(target))}/replies"
            request = _post(url, {"message": outgoing.text}, _bearer(token))
            id_field, window = "id", _private_reply_window(self.name)
        answer = _exchange(transport, request, self.name)
        if isinstance(answer, Outcome):
            return answer
        return _meta_outcome(answer, name=self.name, id_field=id_field, window=window, now=self._clock())

    def read_back(
        self, target: Target, outgoing: Outgoing, secrets: SendSecrets, transport: Transport
    ) -> ReadBackResult:
        """The account's reply among the top-level comment's replies, matched by its text."""
        account = self._account(secrets)
        if account is None or not self._public_comment(target, outgoing):
            return _CANNOT_TELL
        base, token = account
        query = urlencode({"fields": "id,text,from,timestamp"})
        url = f"{base}/{_path_id(_top_level_comment(target))}/replies?{query}"
        return _comment_read_back(transport, url, token, text_field="text", target=target, outgoing=outgoing)


# --- WhatsApp ---------------------------------------------------------------------------------------------


class WhatsAppAdapter(_Base):
    """WhatsApp Cloud API: a text, or an approved template outside the 24-hour window; our reply id as
    ``biz_opaque_callback_data`` (echoed in the ``sent`` status)."""

    platform = "whatsapp"
    name = "WhatsApp"

    def reconcile_by(self, target: Target, outgoing: Outgoing) -> Reconcile:
        return "echo"

    @staticmethod
    def payload(target: Target, outgoing: Outgoing) -> dict[str, Any]:
        body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
        if _DIGITS.fullmatch(target.user_id):
            body["to"] = f"+{target.user_id}"
        else:  # a business-scoped user id (a username user whose number is withheld)
            body["recipient"] = target.user_id
        template = outgoing.template
        if template is None:
            body["type"] = "text"
            body["text"] = {"preview_url": False, "body": outgoing.text}
        else:
            spec: dict[str, Any] = {"name": template.name, "language": {"code": template.language}}
            if template.params:
                parameters = [{"type": "text", "text": param} for param in template.params]
                spec["components"] = [{"type": "body", "parameters": parameters}]
            body["type"] = "template"
            body["template"] = spec
        body["biz_opaque_callback_data"] = outgoing.reply_id
        return body

    def send(self, target: Target, outgoing: Outgoing, secrets: SendSecrets, transport: Transport) -> Outcome:
        if secrets.whatsapp is None:
            return _not_configured(self.name)
        account = secrets.whatsapp
        url = f"{_root(secrets.base_urls.meta)}/{_path_id(account.phone_number_id)}/messages"
        request = _post(url, self.payload(target, outgoing), _bearer(account.access_token.get_secret_value()))
        answer = _exchange(transport, request, self.name)
        if isinstance(answer, Outcome):
            return answer
        return self._outcome(answer)

    def _outcome(self, response: HttpResponse) -> Outcome:
        body = _object(response.body)
        if _ok(response):
            message_id = _id(_dict(next(iter(_list(body.get("messages"))), None)).get("id"))
            return Outcome("sent", message_id=message_id) if message_id else _no_id(self.name)
        code, subcode = _meta_error(body)
        wait = retry_after(response.headers, self._clock()) or _business_use_case_wait(response.headers)
        if code is None:
            return _by_status(response.status, name=self.name, wait=wait)
        text = _code_text(code, subcode)
        if code in WHATSAPP_RATE_CODES:
            return _throttled(self.name, text, wait)
        if code in WHATSAPP_AMBIGUOUS_CODES:
            return Outcome(
                "ambiguous",
                code=text,
                message="WhatsApp answered with a temporary error: the message may have gone out and is "
                f"being checked (WhatsApp {text}).",
            )
        sentence = WHATSAPP_SENTENCES.get(code)
        if sentence is None:
            if code in _META_PERMANENT_CODES:
                sentence = _meta_sentence(self.name, code, subcode, WHATSAPP_SENTENCES[131047])
            elif response.status == 429:
                return _throttled(self.name, text, wait)
            elif response.status >= 500:
                return _server_error(self.name, response.status)
            else:
                sentence = "WhatsApp refused the message"
        return Outcome("permanent", code=text, message=f"{sentence} (WhatsApp {text}).")

    def read_back(
        self, target: Target, outgoing: Outgoing, secrets: SendSecrets, transport: Transport
    ) -> ReadBackResult:
        return _CANNOT_TELL  # the Cloud API lists no sent messages: the sent status carries our marker


# --- X ----------------------------------------------------------------------------------------------------


class XAdapter(_Base):
    """X API v2: a reply post (public) or a direct message (private), as the brand's user."""

    platform = "x"
    name = "X"

    def reconcile_by(self, target: Target, outgoing: Outgoing) -> Reconcile:
        return "read_back"

    def send(self, target: Target, outgoing: Outgoing, secrets: SendSecrets, transport: Transport) -> Outcome:
        if secrets.x is None:
            return _not_configured(self.name)
        token = secrets.x.access_token.get_secret_value()
        base = _root(secrets.base_urls.x)
        if outgoing.visibility == "public":
            payload: dict[str, Any] = {
                "text": outgoing.text,
                "reply": {"in_reply_to_tweet_id": target.native_id},
            }
            request = _post(f"{base}/2/tweets", payload, _bearer(token))
            id_field = "id"
        else:
            url = f"{base}/2/dm_conversations/with/{_path_id(target.user_id)}/messages"
            request = _post(url, {"text": outgoing.text}, _bearer(token))
            id_field = "dm_event_id"
        answer = _exchange(transport, request, self.name)
        if isinstance(answer, Outcome):
            return answer
        return self._outcome(answer, id_field, public=outgoing.visibility == "public")

    def _outcome(self, response: HttpResponse, id_field: str, *, public: bool) -> Outcome:
        body = _object(response.body)
        status = response.status
        if _ok(response):
            message_id = _id(_dict(body.get("data")).get(id_field))
            return Outcome("sent", message_id=message_id) if message_id else _no_id(self.name)
        if status == 429:
            now = self._clock()
            wait = retry_after(response.headers, now)
            reset = _seconds(response.headers.get("x-rate-limit-reset"))
            if wait is None and reset is not None:
                wait = max(0.0, reset - now)
            return _throttled(self.name, "429", wait)
        if status >= 500:
            return _server_error(self.name, status)
        if status == 403 and self._duplicate(body):
            return Outcome(
                "permanent",
                code="duplicate",
                message="X refused the post because this account already posted the same text (X 403 duplicate).",
            )
        return Outcome(
            "permanent", code=str(status), message=f"{self._sentence(status, public)} (X {status})."
        )

    @staticmethod
    def _duplicate(body: dict[str, Any]) -> bool:
        details = [body.get("detail"), body.get("title")]
        for error in _list(body.get("errors")):
            error = _dict(error)
            if _int(error.get("code")) == 187:
                return True
            details += [error.get("message"), error.get("detail")]
        return any(isinstance(d, str) and "duplicate" in d.lower() for d in details)

    @staticmethod
    def _sentence(status: int, public: bool) -> str:
        if status == 401:
            return "The X access token has expired or was revoked: reconnect the account"
        if status == 403 and public:
            return (
                "X refused the reply: the brand may only answer a post whose author mentioned it, or the "
                "account lacks the permission"
            )
        if status == 403:
            return (
                "X refused the direct message: the customer does not accept messages from this account, or "
                "the account lacks the permission"
            )
        if status == 404:
            return "The post or the customer no longer exists on X"
        if status == 400:
            return "X refused the request as invalid"
        return "X refused the reply"

    def read_back(
        self, target: Target, outgoing: Outgoing, secrets: SendSecrets, transport: Transport
    ) -> ReadBackResult:
        if secrets.x is None:
            return _CANNOT_TELL
        token = secrets.x.access_token.get_secret_value()
        brand = secrets.x.user_id
        base = _root(secrets.base_urls.x)
        if outgoing.visibility == "public":
            return self._find_post(transport, base, token, brand, target, outgoing)
        return self._find_message(transport, base, token, brand, target, outgoing)

    @staticmethod
    def _find_post(
        transport: Transport, base: str, token: str, brand: str, target: Target, outgoing: Outgoing
    ) -> ReadBackResult:
        """Among the brand's posts since the one answered: a reply to it with our text."""
        params = {"max_results": "100", "tweet.fields": "referenced_tweets"}
        if _DIGITS.fullmatch(target.native_id):
            params["since_id"] = target.native_id  # our reply is newer than the post it answers
        url = f"{base}/2/users/{_path_id(brand)}/tweets?{urlencode(params)}"
        page = _read(transport, _get(url, _bearer(token)))
        if page is None:
            return _CANNOT_TELL
        for post in _list(page.get("data")):
            post = _dict(post)
            replied_to = {
                _id(_dict(ref).get("id"))
                for ref in _list(post.get("referenced_tweets"))
                if _dict(ref).get("type") == "replied_to"
            }
            post_id = _id(post.get("id"))
            if post_id and target.native_id in replied_to and same_text(outgoing.text, post.get("text")):
                return ReadBackResult("found", post_id)
        return _CANNOT_TELL if _dict(page.get("meta")).get("next_token") else _ABSENT

    @staticmethod
    def _find_message(
        transport: Transport, base: str, token: str, brand: str, target: Target, outgoing: Outgoing
    ) -> ReadBackResult:
        """Among the conversation's events, newest first: a message from the brand with our text."""
        params = {
            "dm_event.fields": "id,text,sender_id,created_at",
            "event_types": "MessageCreate",
            "max_results": "100",
        }
        url = f"{base}/2/dm_conversations/with/{_path_id(target.user_id)}/dm_events?{urlencode(params)}"
        page = _read(transport, _get(url, _bearer(token)))
        if page is None:
            return _CANNOT_TELL
        reached_answered = False
        for event in _list(page.get("data")):
            event = _dict(event)
            event_id = _id(event.get("id"))
            if event_id == target.native_id:
                reached_answered = True
            if (
                event_id
                and _id(event.get("sender_id")) == brand
                and same_text(outgoing.text, event.get("text"))
            ):
                return ReadBackResult("found", event_id)
        complete = reached_answered or not _dict(page.get("meta")).get("next_token")
        return _ABSENT if complete else _CANNOT_TELL


# --- LinkedIn ---------------------------------------------------------------------------------------------


def _full_comment_urn(value: str | None) -> str | None:
    """A comment URN in its full form (``urn:li:comment:(urn:li:activity:1,2)``), or ``None``."""
    if value is None or not value.startswith(_COMMENT_URN):
        return None
    return _SHORT_COMMENT_URN.sub("urn:li:comment:(urn:li:", value, count=1)


class LinkedInAdapter(_Base):
    """LinkedIn Community Management API: the organisation's comment on a post, or its reply to a comment."""

    platform = "linkedin"
    name = "LinkedIn"

    def reconcile_by(self, target: Target, outgoing: Outgoing) -> Reconcile:
        return "read_back"

    @staticmethod
    def where(target: Target) -> tuple[str, str, str | None] | None:
        """``(URN in the path, the post, the comment answered)``, or ``None`` when no post is known."""
        comment = _full_comment_urn(target.parent_id) or _full_comment_urn(target.native_id)
        post: str | None = None
        if target.thread_id and target.thread_id.startswith("urn:li:"):
            post = target.thread_id
        elif comment is not None and (parts := _COMMENT_URN_PARTS.fullmatch(comment)):
            post = parts["object"]
        elif target.native_id.startswith("urn:li:"):
            post = target.native_id
        if post is None:
            return None
        return comment or post, post, comment

    @staticmethod
    def _headers(token: str, version: str) -> dict[str, str]:
        return {**_bearer(token), "LinkedIn-Version": version, "X-Restli-Protocol-Version": "2.0.0"}

    def send(self, target: Target, outgoing: Outgoing, secrets: SendSecrets, transport: Transport) -> Outcome:
        if secrets.linkedin is None:
            return _not_configured(self.name)
        account = secrets.linkedin
        where = self.where(target)
        if where is None:
            return _cannot_address(self.name, "the post to comment on")
        path, post, comment = where
        payload: dict[str, Any] = {
            "actor": account.organization_urn,
            "object": post,
            "message": {"text": outgoing.text},
        }
        if comment is not None:
            payload["parentComment"] = comment
        url = f"{_root(secrets.base_urls.linkedin)}/rest/socialActions/{_path_id(path)}/comments"
        headers = self._headers(account.access_token.get_secret_value(), account.version)
        answer = _exchange(transport, _post(url, payload, headers), self.name)
        if isinstance(answer, Outcome):
            return answer
        return self._outcome(answer, post)

    def _outcome(self, response: HttpResponse, post: str) -> Outcome:
        body = _object(response.body)
        status = response.status
        if _ok(response):
            comment = self._comment_urn(body, response.headers.get("x-restli-id"), post)
            return Outcome("sent", message_id=comment) if comment else _no_id(self.name)
        if status == 429:
            return _throttled(self.name, "429", retry_after(response.headers, self._clock()))
        if status >= 500:
            return _server_error(self.name, status)
        sentence = {
            401: "The LinkedIn access token has expired or was revoked: reconnect the account",
            403: "The LinkedIn member lacks the role or permission to comment for the organisation",
            404: "The LinkedIn post or comment no longer exists",
        }.get(
            status,
            "LinkedIn refused the comment as invalid"
            if status in (400, 422)
            else "LinkedIn refused the comment",
        )
        service_code = _int(body.get("serviceErrorCode"))
        code = str(status) if service_code is None or service_code == status else f"{status}/{service_code}"
        return Outcome("permanent", code=code, message=f"{sentence} (LinkedIn {code}).")

    @staticmethod
    def _comment_urn(body: dict[str, Any], header: str | None, post: str) -> str | None:
        """The new comment's URN: the body's ``commentUrn``, else built from an id (body or ``x-restli-id``)."""
        urn = _full_comment_urn(_id(body.get("commentUrn")))
        if urn:
            return urn
        raw = unquote(header) if header else _id(body.get("id"))
        if raw is None or not raw.strip():
            return None
        if raw.startswith(_COMMENT_URN):
            return _full_comment_urn(raw)
        return f"urn:li:comment:({_id(body.get('object')) or post},{raw})"

    def read_back(
        self, target: Target, outgoing: Outgoing, secrets: SendSecrets, transport: Transport
    ) -> ReadBackResult:
        """The organisation's comment with our text among the comments of the post (or the comment)."""
        if secrets.linkedin is None:
            return _CANNOT_TELL
        account = secrets.linkedin
        where = self.where(target)
        if where is None:
            return _CANNOT_TELL
        path, post, _comment = where
        url = f"{_root(secrets.base_urls.linkedin)}/rest/socialActions/{_path_id(path)}/comments"
        headers = self._headers(account.access_token.get_secret_value(), account.version)
        page = _read(transport, _get(url, headers))
        if page is None or not isinstance(page.get("elements"), list):
            return _CANNOT_TELL
        elements = _list(page.get("elements"))
        for element in elements:
            element = _dict(element)
            text = _dict(element.get("message")).get("text")
            if element.get("actor") == account.organization_urn and same_text(outgoing.text, text):
                comment = self._comment_urn(element, None, post)
                return ReadBackResult("found", comment) if comment else _CANNOT_TELL
        paging = _dict(page.get("paging"))
        total, start = _int(paging.get("total")), _int(paging.get("start")) or 0
        more = any(_dict(link).get("rel") == "next" for link in _list(paging.get("links")))
        if more or (total is not None and total > start + len(elements)):
            return _CANNOT_TELL
        return _ABSENT


# --- TikTok -----------------------------------------------------------------------------------------------


class TikTokAdapter(_Base):
    """TikTok Business Messaging: a text to the conversation (the target's ``thread_id``)."""

    platform = "tiktok"
    name = "TikTok"

    def reconcile_by(self, target: Target, outgoing: Outgoing) -> Reconcile:
        return "none"  # no marker, no read-back: an ambiguous send ends unknown

    def send(self, target: Target, outgoing: Outgoing, secrets: SendSecrets, transport: Transport) -> Outcome:
        if secrets.tiktok is None:
            return _not_configured(self.name)
        if not target.thread_id:
            return _cannot_address(self.name, "the conversation")
        account = secrets.tiktok
        payload = {
            "business_id": account.business_id,
            "recipient_type": "CONVERSATION",
            "recipient": target.thread_id,
            "message_type": "TEXT",
            "text": {"body": outgoing.text},
        }
        url = f"{_root(secrets.base_urls.tiktok)}/open_api/v1.3/business/message/send/"
        request = _post(url, payload, {"Access-Token": account.access_token.get_secret_value()})
        answer = _exchange(transport, request, self.name)
        if isinstance(answer, Outcome):
            return answer
        return self._outcome(answer)

    def _outcome(self, response: HttpResponse) -> Outcome:
        body = _object(response.body)
        if not _ok(response):
            return _by_status(
                response.status, name=self.name, wait=retry_after(response.headers, self._clock())
            )
        code = _int(body.get("code"))
        if code == 0:
            message_id = _id(_dict(_dict(body.get("data")).get("message")).get("message_id"))
            return Outcome("sent", message_id=message_id) if message_id else _no_id(self.name)
        if code is None:
            return _no_id(self.name)
        if code == TIKTOK_DAILY_LIMIT:
            return Outcome(
                "retryable",
                code=str(code),
                message="TikTok's daily limit of conversations for this account is reached: the reply will be "
                f"tried again tomorrow (TikTok {code}).",
                retry_after=self._until_midnight_utc(),
            )
        if code == TIKTOK_RATE_LIMIT:
            return _throttled(self.name, str(code), retry_after(response.headers, self._clock()))
        if 50000 <= code <= 59999:
            return Outcome(
                "ambiguous",
                code=str(code),
                message=f"TikTok answered with a system error: the reply may have gone out (TikTok {code}).",
            )
        return Outcome("permanent", code=str(code), message=f"TikTok refused the message (TikTok {code}).")

    def _until_midnight_utc(self) -> float:
        now = datetime.fromtimestamp(self._clock(), tz=UTC)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return (midnight - now).total_seconds()

    def read_back(
        self, target: Target, outgoing: Outgoing, secrets: SendSecrets, transport: Transport
    ) -> ReadBackResult:
        return _CANNOT_TELL


# --- Generic (Standard Webhooks) --------------------------------------------------------------------------


class GenericAdapter(_Base):
    """A Standard Webhooks-signed POST of the reply to the sender's configured URL.

    ``webhook-id`` is ``msg_<reply id>`` on every attempt, so the receiver deduplicates a re-send: an
    ambiguous delivery is settled by sending it again."""

    platform = "generic"
    name = "The receiving system"

    def reconcile_by(self, target: Target, outgoing: Outgoing) -> Reconcile:
        return "resend"

    @staticmethod
    def webhook_id(outgoing: Outgoing) -> str:
        return f"msg_{outgoing.reply_id}"

    def request(self, target: Target, outgoing: Outgoing, secrets: SendSecrets) -> HttpRequest | None:
        """The signed request (``None`` without configuration)."""
        if secrets.generic is None:
            return None
        now = self._clock()
        moment = datetime.fromtimestamp(now, tz=UTC)
        data: dict[str, Any] = {
            "reply_id": outgoing.reply_id,
            "in_reply_to": target.native_id,
            "customer_id": target.user_id,
            "text": outgoing.text,
        }
        if target.thread_id:
            data["thread_id"] = target.thread_id
        payload = {
            "type": GENERIC_EVENT_TYPE,
            "timestamp": moment.isoformat().replace("+00:00", "Z"),
            "data": data,
        }
        body = _json_bytes(payload)
        msg_id = self.webhook_id(outgoing)
        signer = Webhook(secrets.generic.webhook_secret.get_secret_value())
        signature = signer.sign(msg_id, datetime.fromtimestamp(int(now), tz=UTC), body.decode("utf-8"))
        headers = {
            "Content-Type": _JSON,
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now)),
            "webhook-signature": signature,
        }
        return HttpRequest("POST", secrets.generic.url, headers, body)

    def send(self, target: Target, outgoing: Outgoing, secrets: SendSecrets, transport: Transport) -> Outcome:
        request = self.request(target, outgoing, secrets)
        if request is None:
            return _not_configured("generic webhook")
        answer = _exchange(transport, request, self.name)
        if isinstance(answer, Outcome):
            return answer
        status = answer.status
        if _ok(answer):
            return Outcome("sent", message_id=self.webhook_id(outgoing))
        if status == 410:
            return Outcome(
                "permanent",
                code="410",
                message="The receiving system has retired its endpoint (HTTP 410 Gone): update the generic URL.",
            )
        if status in _GENERIC_THROTTLED:
            return Outcome(
                "retryable",
                code=str(status),
                message=f"The receiving system asked to slow down (HTTP {status}): the reply will be tried again.",
                retry_after=retry_after(answer.headers, self._clock()),
            )
        if status >= 500:
            return _server_error(self.name, status)
        return Outcome(
            "permanent", code=str(status), message=f"The receiving system refused the reply (HTTP {status})."
        )

    def read_back(
        self, target: Target, outgoing: Outgoing, secrets: SendSecrets, transport: Transport
    ) -> ReadBackResult:
        return _CANNOT_TELL  # settled by a re-send with the same webhook-id


ADAPTERS: dict[str, Adapter] = {
    adapter.platform: adapter
    for adapter in (
        FacebookAdapter(),
        MessengerAdapter(),
        InstagramAdapter(),
        WhatsAppAdapter(),
        XAdapter(),
        LinkedInAdapter(),
        TikTokAdapter(),
        GenericAdapter(),
    )
}


def adapter_for(platform: str) -> Adapter | None:
    """The send adapter of an interaction platform (``None`` for YouTube and unknown platforms).

    >>> adapter_for("messenger").platform, adapter_for("youtube")
    ('messenger', None)
    """
    return ADAPTERS.get(platform)
