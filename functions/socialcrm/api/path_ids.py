"""Platform ids in URL path segments: one encoding for every route and for the command line.

A platform's id can hold anything (a Standard Webhooks sender's user id may carry ``/``, ``?``, ``#``,
quotes, tabs, combining accents or emoji), and gateways do not agree on how a percent-encoded ``/``,
``?`` or ``#`` in a path reaches a function: some decode it before routing, so the path no longer matches
its route. Such ids therefore travel in a form made of characters every gateway passes as they are:

* a segment that starts with ``~`` is the base64url (RFC 4648 §5, padding optional) of the id's UTF-8
  bytes: ``a/b`` is ``~YS9i``;
* any other segment is the id itself, percent-decoded (``%20`` is a space): ``1422556069``, ``x:42``.

An id that starts with ``~``, or holds ``%`` (a ``%`` in a plain segment always starts an escape), must be
sent encoded; so must ``.`` and ``..``, which clients and servers resolve as "this" and "the parent"
folder. The CLI encodes every id that is not made only of ``A-Z a-z 0-9 . _ : @ + = , -``. Ids are used as
decoded: no Unicode normalisation here (``socialcrm.models.subject_id`` matches user ids in NFC).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated
from urllib.parse import unquote_to_bytes

from aws_lambda_powertools.event_handler.openapi.params import Path

from socialcrm.errors import BadRequestError

ENCODED_PREFIX = "~"
# Ids made only of these characters travel as they are; the CLI encodes every other id.
PLAIN_ID = re.compile(r"[A-Za-z0-9._:@+=,-]+")
_DOT_SEGMENTS = frozenset({".", ".."})
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")

# The rule as the OpenAPI document and the README state it.
PATH_ID_RULE = (
    "A segment that starts with `~` is the base64url (RFC 4648 §5, padding optional) of the id's UTF-8 "
    "bytes (`a/b` is `~YS9i`); any other segment is the id itself, percent-decoded. Send an id encoded "
    "when it holds anything but letters, digits and `._:@+=,-`, starts with `~`, or is `.` or `..`: "
    "gateways may decode `%2F`, `%3F` or `%23` before routing. A `~` segment that is not base64url of "
    "UTF-8 text is a 400."
)

# Route parameters that carry a platform's id in this encoding (the route decodes them).
UserIdSegment = Annotated[str, Path(description="The platform's id of the person. " + PATH_ID_RULE)]
InteractionIdSegment = Annotated[
    str, Path(description="The interaction's id, `{platform}:{native_id}`. " + PATH_ID_RULE)
]


def encode_path_id(value: str) -> str:
    """The path segment for the id ``value``: the id itself when that is safe, else its ``~`` form.

    >>> encode_path_id("1422556069"), encode_path_id("x:wamid.HBgL=="), encode_path_id("a/b")
    ('1422556069', 'x:wamid.HBgL==', '~YS9i')
    >>> encode_path_id("~me"), encode_path_id(".."), encode_path_id("")
    ('~fm1l', '~Li4', '~')
    """
    if PLAIN_ID.fullmatch(value) and value not in _DOT_SEGMENTS:
        return value
    return ENCODED_PREFIX + base64.urlsafe_b64encode(value.encode("utf-8")).decode("ascii").rstrip("=")


def decode_path_id(segment: str, what: str = "id") -> str:
    """The id a path segment carries; a ``~`` segment that is not base64url of UTF-8 text is a 400.

    ``what`` names the id in the error message (``"user id"``).

    >>> decode_path_id("~YS9i"), decode_path_id("~YQ"), decode_path_id("~YQ=="), decode_path_id("a%20b")
    ('a/b', 'a', 'a', 'a b')
    >>> decode_path_id("~not base64")
    Traceback (most recent call last):
    ...
    socialcrm.errors.BadRequestError: The id segment starts with '~' but is not base64url (RFC 4648 §5).
    """
    if not segment.startswith(ENCODED_PREFIX):
        return _utf8(unquote_to_bytes(segment), f"The {what} is not valid UTF-8 once percent-decoded.")
    encoded = segment[len(ENCODED_PREFIX) :]
    unpadded = encoded.rstrip("=")
    padding = len(encoded) - len(unpadded)
    not_base64url = f"The {what} segment starts with '~' but is not base64url (RFC 4648 §5)."
    if not _BASE64URL.fullmatch(unpadded) or len(unpadded) % 4 == 1 or padding not in (0, -len(unpadded) % 4):
        raise BadRequestError(not_base64url)
    try:
        raw = base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except binascii.Error as exc:  # pragma: no cover - the checks above rule it out
        raise BadRequestError(not_base64url) from exc
    if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != unpadded:
        # Unused bits set in the last character: another spelling of the same bytes, refused so that
        # each id has exactly one encoded form.
        raise BadRequestError(f"The {what} segment starts with '~' but is not canonical base64url.")
    return _utf8(raw, f"The {what} segment starts with '~' but does not encode UTF-8 text.")


def _utf8(raw: bytes, problem: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestError(problem) from exc
