"""The fuzz harness of the HTTP routes: what a caller can send, and what every answer must be.

Whatever arrives (any body, header, content type or path segment), an answer is below 500, and an
error is the API's JSON body ``{"error": code, "message": text}``.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from socialcrm.models import PLATFORMS
from socialcrm.topology import ROUTES

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)

# Bodies that are nearly right for a CRM route, so the fuzz reaches past the first check.
NEAR_MISSES = st.sampled_from(
    [
        b'{"subjects":[{"platform":"generic","user_id":"a/b"}],"reference":"T-1"}',
        b'{"subjects":[{"platform":"x","user_id":"\\u0000"}],"reference":"T-1"}',
        b'{"subjects":[{"platform":"x","user_id":"1"}],"reference":"T-1","extra":1}',
        b'{"subjects":[[[[[[[[[[]]]]]]]]]],"reference":"T-1"}',
        b'{"reference":"T-9"}',
        b'{"customers":["cus_000000000000000000000000"],"reference":"T-1"}',
        b'{"customers":["cus_x"],"subjects":[],"reference":"T-1"}',
        b'{"customers":[],"subjects":[],"reference":"T-1"}',
        b'{"identities":[{"platform":"whatsapp","user_id":"34600000000"}],"reason":"T-1"}',
        b'{"reference":"a b"}',
        b'{"status":"resolved"}',
        b'{"status":"closed","assignee":1}',
        b'{"first_response_at":"not a time"}',
        b'{"first_response_at":"2026-11-22T10:00:00"}',
        b'{"a":' * 50 + b"1" + b"}" * 50,
        b"[" * 1_000 + b"]" * 1_000,
        b"[" * 100_000,
        b'{"a": "\\ud800"}',
        b"\xef\xbb\xbf{}",
        b"",
        b"null",
        b'--x\r\nContent-Disposition: form-data; name="reference"\r\n\r\nT-1\r\n--x--\r\n',
        b"reference=T-1&status=resolved",
        b"<reference>T-1</reference>",
    ]
)

BODIES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    NEAR_MISSES,
)

CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            'application/json; charset="UTF-8"',
            "application/json; charset=latin-1",
            "APPLICATION/JSON",
            "application/merge-patch+json",
            "application/jsonp",
            "text/plain",
            "text/plain; charset=utf-8",
            "application/xml",
            "text/xml",
            "multipart/form-data",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencoded",
            "application/octet-stream",
            "",
            ";",
            "application/json, text/plain",
        ]
    ),
    st.text(max_size=40),
)

HEADER_NAMES = st.one_of(
    st.sampled_from(
        [
            "accept",
            "content-encoding",
            "content-length",
            "transfer-encoding",
            "authorization",
            "x-amz-date",
            "x-forwarded-for",
            "cookie",
            "origin",
            "x-reason",
            "idempotency-key",
        ]
    ),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
)
HEADERS = st.dictionaries(
    HEADER_NAMES, st.one_of(st.text(max_size=60), st.sampled_from(["text/csv", "gzip", "-1", ""])), max_size=3
)


def _encoded(raw: bytes) -> str:
    return "~" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


# Path segments: plain ids, ids in the API's ~ encoding (of UTF-8 text or of any bytes), ~ junk,
# percent-encoded junk and raw characters a path should never hold.
PATH_SEGMENTS = st.one_of(
    st.from_regex(r"[A-Za-z0-9._:@+=,-]{1,40}", fullmatch=True),
    st.text(min_size=1, max_size=40).map(lambda text: _encoded(text.encode("utf-8", "surrogatepass"))),
    st.binary(max_size=40).map(_encoded),
    st.text(
        alphabet="~ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/%", max_size=20
    ).map(lambda text: "~" + text),
    st.binary(min_size=1, max_size=20).map(lambda raw: quote(raw, safe="")),
    st.text(min_size=1, max_size=20).map(lambda text: quote(text.encode("utf-8", "surrogatepass"), safe="")),
    st.text(max_size=20),
    st.sampled_from(["", ".", "..", "~", "~~", "%", "%2", "%zz", "%ff", "%2F", "%00", "x:0", "generic", "x"]),
)

# Every CRM route: method, template, function (the webhooks are fuzzed on their own: their bodies are
# the platforms' and checked by signature).
CRM_ROUTES: list[tuple[str, str, str]] = [
    (method, path, function) for method, path, function, _iam in ROUTES if not path.startswith("/webhooks/")
]

QUERIES = st.dictionaries(
    st.sampled_from(["limit", "cursor", "team", "status", "priority", "from", "to", "platform"]),
    st.one_of(
        st.text(max_size=30),
        st.sampled_from(["1", "0", "101", "open", "P1", "2026-11-22", "2026-02-30", "x", "support"]),
    ),
    max_size=3,
)


# What each route parameter gets: often a value that passes its first check, so the fuzz gets further.
PARAMETERS: dict[str, st.SearchStrategy[str]] = {
    "platform": st.one_of(st.sampled_from(PLATFORMS), PATH_SEGMENTS),
    "user_id": PATH_SEGMENTS,
    "interaction_id": st.one_of(PATH_SEGMENTS.map(lambda segment: "x:" + segment), PATH_SEGMENTS),
    "request_id": st.one_of(st.from_regex(r"[0-9a-f]{32}", fullmatch=True), PATH_SEGMENTS),
    "case_id": st.one_of(st.from_regex(r"[cs]_[0-9a-f]{32}", fullmatch=True), PATH_SEGMENTS),
    "reply_id": st.one_of(st.from_regex(r"r_[0-9a-f]{32}", fullmatch=True), PATH_SEGMENTS),
    "customer_id": st.one_of(st.from_regex(r"cus_[0-9a-f]{24}", fullmatch=True), PATH_SEGMENTS),
}


def concrete_paths(template: str) -> st.SearchStrategy[str]:
    """Paths of the route ``template`` (``/subjects/{platform}/{user_id}/export``) with fuzzed parameters."""
    names = [part[1:-1] for part in template.split("/") if part.startswith("{") and part.endswith("}")]

    def fill(values: dict[str, str]) -> str:
        path = template
        for name, value in values.items():
            path = path.replace("{" + name + "}", value)
        return path

    return st.fixed_dictionaries({name: PARAMETERS[name] for name in names}).map(fill)


def assert_json_answer_below_500(status: int, body: str | bytes, context: Any = None) -> None:
    """Never a 5xx; an error is ``{"error": code, "message": text}`` with both strings."""
    assert status < 500, (status, body, context)
    if status >= 400:
        document = json.loads(body)
        assert set(document) == {"error", "message"}, (document, context)
        assert isinstance(document["error"], str) and isinstance(document["message"], str), document
