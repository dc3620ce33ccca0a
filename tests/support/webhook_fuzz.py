"""The fuzz harness of the webhook routes: bodies a platform could sign, and handshake query strings.

A signed body gets past the signature check into the platform's parser, so these strategies make the
bodies a parser must survive: arbitrary JSON (XML for YouTube) and mutations of real deliveries (the
shapes in ``tests/events`` and the builders of ``socialcrm.local.deliveries``) in which any value may
become a wrong type, a huge number, an id with control characters, a lone surrogate escaped in JSON
(``"\\ud83d"``), nesting near and past the parser's depth limit, or go missing, and a list may repeat.
Whatever the body, the answer must be below 500.

Bodies are built as text: a mutated value is a raw JSON fragment put in the place of a marker, so
nesting deeper than Python's recursion limit and tokens ``json.dumps`` never writes (``1e400``,
``"\\udc00"``) reach the parser as a platform could send them.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from hypothesis import strategies as st

from socialcrm.local import deliveries
from socialcrm.platforms import ROUTE_PLATFORMS
from tests.support.fuzz import JSON_VALUES

EVENTS = Path(__file__).resolve().parents[1] / "events"
WHEN = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)

# Depths around the parser's limit (``json.loads`` recurses once per level, about a thousand deep) and
# well past it: a body that parses near the limit must not fail later, when it is walked or written.
DEPTHS = (2, 10, 100, 500, 900, 950, 975, 985, 990, 995, 998, 999, 1000, 1001, 1100, 5_000, 100_000)

# Raw JSON fragments no ordinary encoder writes, or that are the wrong type wherever they land.
SPECIAL_FRAGMENTS = (
    # lone and paired surrogates, escaped as a platform's JSON encoder may send them
    '"\\ud83d"',
    '"\\udc00"',
    '"a\\ud83dz"',
    '"\\ude00\\ud83d"',
    '"\\ud83d\\ude00"',
    # control and odd characters
    '"\\u0000"',
    '"id\\u0000"',
    '"\\n"',
    '"a\\tb"',
    '"\\r\\n"',
    '"\\u001f"',
    '"\\u007f"',
    '"\\u0085"',
    '"\\u2028"',
    '"\\u202e"',
    '"\\ufeff"',
    '"\\uffff"',
    # ids that look like paths, keys or nothing
    '""',
    '" "',
    '"~"',
    '"."',
    '".."',
    '"a/b"',
    '"%2F"',
    '"x:1"',
    '"-1"',
    '"1e400"',
    '"null"',
    # numbers: huge, tiny, negative, not numbers at all
    "0",
    "-0",
    "-1",
    "1.5",
    "1e400",
    "-1e400",
    "1e-400",
    "NaN",
    "Infinity",
    "-Infinity",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "1" + "0" * 4_300,
    "1" + "0" * 5_000,
    "0." + "1" * 5_000,
    # wrong types
    "null",
    "true",
    "false",
    "[]",
    "{}",
    "[null]",
    '{"": null}',
    "[[]]",
    '{"id": {}}',
    # long: over the 256-character id cap, and over the queue's 256 KiB item limit
    '"' + "9" * 257 + '"',
    '"' + "x" * 300_000 + '"',
)

# Values a parser turns into a time: out of range, before year 1, past 9999, not a number, wrong zone.
TIME_FRAGMENTS = (
    "1e400",
    "-1e400",
    "NaN",
    "1e20",
    "-1",
    "0",
    "253402300800",
    "253402300800000",
    "-62135596801",
    "9" * 30,
    '"1e400"',
    '"NaN"',
    '"253402300800000"',
    '"-62135596801"',
    '"0001-01-01T00:00:00+01:00"',
    '"9999-12-31T23:59:59-01:00"',
    '"2026-02-30T00:00:00Z"',
    '"2026-11-22T10:00:00+24:00"',
    '"2026-11-22T10:00:00"',
    '"2026-11-22T10:00:00.1234567890123Z"',
    '"2026-11-22T10:00:00.Z"',
    '"2026-11-22"',
    '"Sun Nov 22 10:00:00 +0000 2026"',
    '"Sun Nov 22 10:00:00 +9999 2026"',
    '"Mon Feb 30 10:00:00 +0000 2026"',
    '""',
)

# Ids a platform must never be trusted to send well: halves of emoji, controls, blanks, paths, numbers
# where text belongs (and past 64 bits), text where a number belongs, over the 256-character cap.
ID_FRAGMENTS = (
    '"\\ud83d"',
    '"\\ude00"',
    '"1\\udc00"',
    '"\\u0000"',
    '"1\\n2"',
    '"\\t"',
    '"\\u2028"',
    '"\\u202e1"',
    '""',
    '" "',
    '"~"',
    '".."',
    '"a/b?c#d"',
    '"1e400"',
    "1e400",
    "-1",
    "1.5",
    "18446744073709551616",
    "1" + "0" * 400,
    "true",
    "null",
    "[]",
    "{}",
    '"' + "9" * 257 + '"',
)

_ID_KEY = re.compile(r"(?i)(^|_)(id|ids|id_str|mid|wamid|openid|urn|owner|from|sender|author|user)$|Id$")
_TIME_KEY = re.compile(r"(?i)time|_at$|At$|date|created|published|updated|modified")


def deep_array(depth: int) -> str:
    return "[" * depth + "]" * depth


def deep_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _json_text(value: Any) -> str:
    """ASCII JSON (lone surrogates escaped); NaN and infinities as Python writes them."""
    return json.dumps(value, ensure_ascii=True)


# Any character, lone surrogates and C0 controls included.
CHARACTERS = st.one_of(
    st.characters(codec=None, exclude_categories=()),
    st.integers(0xD800, 0xDFFF).map(chr),
    st.integers(0, 0x1F).map(chr),
)
TEXTS = st.text(alphabet=CHARACTERS, max_size=40)
# Characters XML 1.0 allows (no controls, surrogates or noncharacters): values a feed can carry.
XML_TEXTS = st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs", "Cn")), max_size=40)


def fragments(keys: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Raw JSON fragments: the specials, deep nesting, and generated values (keyed by ``keys`` often,
    so a subtree carries the names the parser looks for)."""
    keyed = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | TEXTS,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.sampled_from(keys) | st.text(max_size=8), children, max_size=5)
        ),
        max_leaves=16,
    )
    return st.one_of(
        st.sampled_from(SPECIAL_FRAGMENTS),
        st.sampled_from(DEPTHS).flatmap(
            lambda depth: st.sampled_from([deep_array(depth), deep_object(depth)])
        ),
        TEXTS.map(_json_text),
        st.integers().map(str),
        st.floats().map(_json_text),
        JSON_VALUES.map(_json_text),
        keyed.map(_json_text),
    )


# --- the real deliveries every mutation starts from -------------------------------------------------


def _built(platform: str) -> list[bytes]:
    """Deliveries from the local stack's builders (the sender side of the demo)."""
    d = deliveries
    made: dict[str, list[Callable[[], d.Payload]]] = {
        "meta": [
            lambda: d.facebook_comment("4455_6677", "7234001", "Ana", "Is this available in blue?", WHEN),
            lambda: d.instagram_message("aWdfZAG1fuzz", "1784001", "Love the new colours!", WHEN),
            lambda: d.whatsapp_message("wamid.fuzz1", "919000001", "Ravi", "Price please?", WHEN),
            lambda: d.whatsapp_read_receipt("wamid.fuzz1", "919000001", WHEN),
        ],
        "x": [
            lambda: d.x_mention("1790000000000000001", "7001", "fuzz_user", "@acme where is it?", "en", WHEN),
            lambda: d.x_direct_message("1790000000000000002", "7002", "fuzz_dm", "Hello?", WHEN),
        ],
        "linkedin": [
            lambda: d.linkedin_comment(7100000000000000001, "urn:li:person:fuzz1", "Congrats!", WHEN)
        ],
        "tiktok": [lambda: d.tiktok_message("7300000000000000001", "-000fuzz1", "fuzzer", "In stock?", WHEN)],
        "youtube": [lambda: d.youtube_upload("dQw4w9WgXcQ", "UCfuzz1", "Fuzz", "A new video", WHEN)],
        "generic": [lambda: d.generic_review("r-fuzz-1", "cust-fuzz-1", "fuzzer", "Good kettle.", WHEN)],
    }
    return [make().body for make in made[platform]]


@cache
def templates(platform: str) -> tuple[bytes, ...]:
    """Real deliveries of ``platform``: the fixtures in ``tests/events/<platform>`` and the builders'."""
    if platform not in ROUTE_PLATFORMS:
        raise ValueError(platform)
    folder = EVENTS / platform
    fixtures = [path.read_bytes() for path in sorted(folder.iterdir()) if path.suffix in (".json", ".xml")]
    return tuple(fixtures + _built(platform))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path to a value below the root, parents before children."""
    children: Iterator[tuple[Any, Any]]
    if isinstance(node, dict):
        children = iter(node.items())
    elif isinstance(node, list):
        children = iter(enumerate(node))
    else:
        return
    for key, child in children:
        yield (*prefix, key)
        yield from _paths(child, (*prefix, key))


def _parent(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        document = document[key]
    return document


@cache
def template_keys(platform: str) -> tuple[str, ...]:
    """The object keys that occur in ``platform``'s JSON deliveries (nested ``content`` strings too)."""
    keys: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            keys.update(node)
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)
        elif isinstance(node, str) and node[:1] in ("{", "["):
            with contextlib.suppress(ValueError):
                collect(json.loads(node))

    for body in templates(platform):
        if body.lstrip()[:1] in (b"{", b"["):
            collect(json.loads(body))
    return tuple(sorted(keys)) or ("id",)


MUTATIONS = (
    "replace",
    "replace",
    "replace_id",
    "replace_id",
    "replace_id",
    "replace_time",
    "delete",
    "add_key",
    "repeat",
    "inner",
    "stringify",
)


@st.composite
def mutated_json(draw: st.DrawFn, template: bytes, keys: tuple[str, ...], depth: int = 0) -> str:
    """``template`` with one to three mutations, as JSON text."""
    document = json.loads(template)
    filled: dict[str, str] = {}
    for number in range(draw(st.integers(1, 3))):
        paths = list(_paths(document))
        if not paths:
            break
        mutation = draw(st.sampled_from(MUTATIONS))
        targeted = {"replace_id": _ID_KEY, "replace_time": _TIME_KEY}.get(mutation)
        named = [p for p in paths if targeted and isinstance(p[-1], str) and targeted.search(p[-1])]
        path = draw(st.sampled_from(named or paths))
        parent, key = _parent(document, path), path[-1]
        marker = f"@@fuzz{number}@@"
        if mutation == "replace":
            parent[key] = marker
            filled[marker] = draw(fragments(keys))
        elif mutation == "replace_id":
            parent[key] = marker
            filled[marker] = draw(st.sampled_from(ID_FRAGMENTS) | fragments(keys))
        elif mutation == "replace_time":
            parent[key] = marker
            filled[marker] = draw(st.sampled_from(TIME_FRAGMENTS) | fragments(keys))
        elif mutation == "delete":
            del parent[key]
        elif mutation == "add_key" and isinstance(parent[key], dict):
            parent[key][draw(st.sampled_from(keys))] = marker
            filled[marker] = draw(fragments(keys))
        elif mutation == "repeat" and isinstance(parent[key], list):
            parent[key] = parent[key] * draw(st.sampled_from([0, 2, 50, 500]))
        elif (
            mutation == "inner"
            and isinstance(parent[key], str)
            and parent[key][:1] in ("{", "[")
            and depth < 2
        ):
            # a JSON document inside a string (TikTok's ``content``): mutate it, send it back as text
            try:
                inner = parent[key].encode("utf-8", "surrogatepass")
                json.loads(inner)
            except ValueError:
                continue
            parent[key] = marker
            filled[marker] = _json_text(draw(mutated_json(inner, keys, depth + 1)))
        elif mutation == "stringify":
            # the right value, the wrong type: 1 → "1", {"a": 1} → "{\"a\":1}", "12" → 12, "a" → ["a"]
            value = parent[key]
            parent[key] = marker
            if not isinstance(value, str):
                filled[marker] = _json_text(_json_text(value))
            elif re.fullmatch(r"-?\d{1,30}", value):
                filled[marker] = value
            else:
                filled[marker] = _json_text([value])
    text = json.dumps(document, ensure_ascii=draw(st.booleans()), separators=(",", ":"))
    for marker, fragment in filled.items():
        text = text.replace(json.dumps(marker), fragment, 1)
    return text


# Whole-body damage after the mutations, most often none.
WHOLE_BODY = st.sampled_from(
    ["none", "none", "none", "none", "none", "truncate", "bom", "duplicate_key", "trailing", "wrap_list"]
)


@st.composite
def damaged(draw: st.DrawFn, text: str) -> str:
    how = draw(WHOLE_BODY)
    if how == "truncate" and text:
        return text[: draw(st.integers(0, len(text) - 1))]
    if how == "bom":
        return "\ufeff" + text
    if how == "duplicate_key" and text.startswith("{"):
        return '{"' + draw(st.sampled_from(("id", "object", "type", "data", "entry"))) + '":null,' + text[1:]
    if how == "trailing":
        return text + draw(st.sampled_from([",", "]", "}", " ", "\x00", "\n{}"]))
    if how == "wrap_list":
        return "[" + text + "]"
    return text


def json_bodies(platform: str) -> st.SearchStrategy[bytes]:
    """Bodies for a JSON platform: mutated real deliveries (most), arbitrary JSON, raw text."""
    keys = template_keys(platform)
    json_templates = [t for t in templates(platform) if t.lstrip()[:1] in (b"{", b"[")]
    mutated = st.sampled_from(json_templates).flatmap(lambda template: mutated_json(template, keys))
    keyed_object = st.dictionaries(st.sampled_from(keys), fragments(keys), min_size=1, max_size=6).map(
        lambda members: "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in members.items()) + "}"
    )
    return st.one_of(
        mutated,
        mutated,
        mutated,
        mutated.flatmap(damaged),
        keyed_object,
        fragments(keys),
        st.text(max_size=200),
    ).map(lambda text: text.encode("utf-8", "surrogatepass"))


# --- YouTube: Atom XML -----------------------------------------------------------------------------

XML_FRAGMENTS = (
    "",
    " ",
    "&#0;",
    "&#xD83D;",
    "&#x1F600;",
    "&#x10FFFF;",
    "&#x110000;",
    "&amp;",
    "&lol;",
    "&",
    "<",
    "]]>",
    "<![CDATA[x]]>",
    "<!-- -->",
    "<?pi x?>",
    "\x00",
    "\x01",
    "\x0b",
    "\ufffe",
    "x" * 257,
    "x" * 300_000,
    "9" * 5_000,
    "99999-12-31T00:00:00+00:00",
    "2026-02-30T00:00:00+00:00",
    "2026-11-22T10:00:00+99:00",
    "2026-11-22T10:00:00",
    "0000-00-00T00:00:00Z",
    "-2026-11-22",
    "1e400",
    "NaN",
    "yt:video:",
    "<yt:videoId>a</yt:videoId><yt:videoId>b</yt:videoId>",
    "<entry/>",
    "<a>" * 1_000 + "</a>" * 1_000,
    "<a>" * 100_000,
)
PROLOGUES = (
    "",
    "<?xml version='1.0' encoding='UTF-8'?>\n",
    "<?xml version='1.1'?>\n",
    "<?xml version='1.0' encoding='UTF-16'?>\n",
    "<?xml version='1.0' encoding='latin-1'?>\n",
    '<!DOCTYPE feed SYSTEM "file:///etc/passwd">\n',
    '<!DOCTYPE feed [<!ENTITY e SYSTEM "file:///etc/hostname">]>\n',
    "<!DOCTYPE feed [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>]>\n",
    "\ufeff",
)
_XML_SLOT = re.compile(r">([^<>]*)<|=\s*['\"]([^'\"]*)['\"]")


@st.composite
def mutated_xml(draw: st.DrawFn, template: bytes) -> str:
    """An Atom feed with a text node or attribute value replaced (one to three times), an element removed or
    repeated, or another prologue."""
    text = template.decode("utf-8")
    for _ in range(draw(st.integers(1, 3))):
        mutation = draw(st.sampled_from(["slot", "slot", "slot", "drop", "repeat", "prologue"]))
        if mutation == "slot":
            slots = list(_XML_SLOT.finditer(text))
            if not slots:
                continue
            match = draw(st.sampled_from(slots))
            group = 1 if match.group(1) is not None else 2
            start, end = match.span(group)
            value = draw(
                st.one_of(XML_TEXTS.map(_xml_text), XML_TEXTS.map(_xml_text), st.sampled_from(XML_FRAGMENTS))
                | TEXTS.map(_xml_text)
            )
            text = text[:start] + value + text[end:]
        elif mutation == "drop":
            elements = list(re.finditer(r"<([\w:]+)[^>]*>[^<]*</\1>", text))
            if elements:
                match = draw(st.sampled_from(elements))
                text = text[: match.start()] + text[match.end() :]
        elif mutation == "repeat":
            entry = re.search(r"<entry>.*?</entry>", text, re.S)
            if entry:
                copies = entry.group(0) * draw(st.sampled_from([0, 2, 50, 500]))
                text = text[: entry.start()] + copies + text[entry.end() :]
        else:
            body = re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", text)
            text = draw(st.sampled_from(PROLOGUES)) + body
    return text


def _xml_text(value: str) -> str:
    """Text for an XML slot: escaped, or as character references when it holds surrogates."""
    if any(0xD800 <= ord(char) <= 0xDFFF for char in value):
        return "".join(f"&#x{ord(char):X};" for char in value)
    return escape(value, {'"': "&quot;", "'": "&apos;"})


def xml_bodies() -> st.SearchStrategy[bytes]:
    """Bodies for YouTube: mutated real feeds (most), feeds built from fuzzed values, JSON, raw text."""
    feeds = [t for t in templates("youtube") if t.lstrip().startswith(b"<")]
    built = st.builds(
        lambda video, channel, name, title: deliveries.youtube_upload(
            _xml_text(video), _xml_text(channel), name, title, WHEN
        ).body.decode("utf-8"),
        XML_TEXTS | TEXTS,
        XML_TEXTS | TEXTS,
        st.text(max_size=40),
        st.text(max_size=40),
    )
    mutated = st.sampled_from(feeds).flatmap(mutated_xml)
    return st.one_of(
        mutated,
        mutated,
        mutated,
        built,
        fragments(("feed", "entry")),
        st.text(max_size=200),
    ).map(lambda text: text.encode("utf-8", "surrogatepass"))


def webhook_bodies(platform: str) -> st.SearchStrategy[bytes]:
    """Bodies a sender of ``platform`` could sign (they may hold invalid UTF-8 where a lone surrogate was
    written raw; the API answers those 400 before the signature check)."""
    return xml_bodies() if platform == "youtube" else json_bodies(platform)


CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/atom+xml",
        "application/xml",
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
        None,
    ]
)

# --- handshakes ------------------------------------------------------------------------------------

HANDSHAKE_KEYS = (
    "hub.mode",
    "hub.challenge",
    "hub.verify_token",
    "hub.topic",
    "hub.lease_seconds",
    "crc_token",
    "challengeCode",
    "x",
    "",
)


def _encoded(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def handshake_queries(tokens: tuple[str, ...]) -> st.SearchStrategy[str]:
    """Query strings for ``GET /webhooks/{platform}``: every platform's handshake keys, most right
    (``subscribe``, a verify token in ``tokens``, a challenge) and a few missing or fuzzed, so the fuzz
    reaches the challenge as often as the refusals; with repeated keys, keys without ``=``, stray pairs,
    and the raw separators and escapes a gateway may pass on."""
    fuzzed = st.one_of(
        TEXTS.map(_encoded),
        st.text(max_size=60).map(_encoded),
        st.sampled_from(["", "0", "-1", "1e400", "1" * 400, "x" * 5_000]),
        st.sampled_from(["%", "%zz", "%ff", "%ED%A0%BD", "%00", "+", "a+b", "%26", "%3D", "=", "a=b", "%0A"]),
        st.text(max_size=20),  # raw, as a careless client sends it
    )
    right = {
        "hub.mode": st.sampled_from(["subscribe", "subscribe", "unsubscribe", "denied"]),
        "hub.verify_token": st.sampled_from(tokens) if tokens else fuzzed,
        "hub.challenge": st.one_of(st.sampled_from(["1158201444", "challenge"]), fuzzed),
        "hub.topic": st.just(_encoded("https://www.youtube.com/xml/feeds/videos.xml?channel_id=UCfuzz1")),
        "hub.lease_seconds": st.sampled_from(["0", "432000", "-1", "9" * 400]),
        "crc_token": st.one_of(st.sampled_from(["ZmFrZS1jcmMtdG9rZW4", "crc"]), fuzzed),
        "challengeCode": st.one_of(st.sampled_from(["890e4665-4dfe-4ab1-b689-ed553bceeed4", "c"]), fuzzed),
    }
    stray = st.one_of(
        st.tuples(st.sampled_from(HANDSHAKE_KEYS), fuzzed).map(lambda kv: f"{kv[0]}={kv[1]}"),
        st.sampled_from(HANDSHAKE_KEYS),  # a key without "=", or an empty pair
        fuzzed,
    )

    @st.composite
    def pairs(draw: st.DrawFn) -> list[str]:
        absent = draw(st.sets(st.sampled_from(list(right)), max_size=3))
        spoiled = draw(st.sets(st.sampled_from(list(right)), max_size=2))
        chosen = [
            f"{key}={draw(fuzzed if key in spoiled else value)}"
            for key, value in right.items()
            if key not in absent
        ]
        return draw(st.permutations(chosen + draw(st.lists(stray, max_size=3))))

    return st.one_of(
        pairs().map("&".join),
        pairs().map("&".join),
        pairs().map("&".join),
        pairs().map(";".join),
        st.sampled_from(["", "&", "&&", "=", "==", "?", "#"]),
    )
