"""What the platform adapters' tests send to be refused, shared by every platform, and how a refusal is read.

A forger's bodies and signatures (a signature one character away from the real one, a body sent as a
handshake's challenge), JSON nested past the parser's depth, ids made only of whitespace, and the
Hypothesis strategies that reshape real deliveries (any value of any JSON type at any depth).
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import strategies as st

from socialcrm.errors import SocialCrmError

# Depths at the JSON parser's limit (``json.loads`` recurses once per level, about a thousand deep)
# and far past it.
NESTING_DEPTHS = [1_000, 100_000]

# Ids with no character that is not whitespace: no id at all.
BLANK_IDS = [" ", "   ", "\t", " \n "]

# Every platform's name for the value its handshake echoes or signs, so that a route is asked under
# any of them for the signature of a body.
CHALLENGE_KEYS = ["hub.challenge", "crc_token", "challengeCode", "challenge"]

# Bodies a forger would like signed that are longer than any challenge or token a platform sends.
LONG_BODIES = [
    pytest.param(b"x" * 257, id="257 characters"),
    pytest.param(b"x" * 10_000, id="10,000 characters"),
]

_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def refusal(error: type[Exception], call: Callable[..., Any], *args: Any) -> str:
    """The message of the ``error`` that ``call(*args)`` raises: the body of the answer the caller reads."""
    with pytest.raises(error) as raised:
        call(*args)
    return raised.value.message


def nested_arrays(depth: int) -> bytes:
    """``depth`` arrays, one inside the other: ``[[…]]``."""
    return b"[" * depth + b"]" * depth


def last_hex_digit_changed(signature: str) -> str:
    """The same hex digest (with any prefix) but for its last digit: well-formed, every other digit equal."""
    return signature[:-1] + format(int(signature[-1], 16) ^ 1, "x")


def last_base64_character_changed(signature: str) -> str:
    """The same Base64 digest of 32 bytes (``…=``, with any prefix) with the last character before the
    ``=`` changed, so that the decoded digest differs too: flips a data bit, keeps the two padding bits
    at zero."""
    last = signature[-2]
    return signature[:-2] + _BASE64[_BASE64.index(last) ^ 4] + "="


# --- reshaped deliveries (Hypothesis) -------------------------------------------------------------------

ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)


def json_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path of a JSON document (keys and list indexes), the root included."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += json_paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += json_paths(value, (*prefix, index))
    return found


def key_paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every key path of a JSON document (objects only), the root included."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += key_paths(value, (*prefix, key))
    return found


def replaced(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of ``node`` with the value at ``path`` replaced (``...`` deletes a key)."""
    if not path:
        return None if value is ... else value
    node = copy.deepcopy(node)
    parent = node
    for step in path[:-1]:
        parent = parent[step]
    if value is ... and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = None if value is ... else value
    return node


def mutations(documents: Sequence[Any]) -> st.SearchStrategy[Any]:
    """A real document with one value, at any key path, replaced by any JSON value or deleted."""
    return st.sampled_from(list(documents)).flatmap(
        lambda doc: st.builds(
            replaced, st.just(doc), st.sampled_from(key_paths(doc)), JSON_VALUES | st.just(...)
        )
    )


@st.composite
def reshaped(draw: st.DrawFn, documents: Sequence[Any], most: int = 3) -> bytes:
    """A real delivery with 1 to ``most`` parts (any path, lists too) replaced by any JSON value (wrong
    types at any depth), encoded with or without escaping."""
    payload = draw(st.sampled_from(list(documents)))
    for _ in range(draw(st.integers(min_value=1, max_value=most))):
        payload = replaced(payload, draw(st.sampled_from(json_paths(payload))), draw(JSON_VALUES))
    return json.dumps(payload, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


def only_domain_errors(call: Callable[..., Any], *args: Any) -> Any:
    """``call(*args)``, a domain error (what the route answers 4xx) swallowed; anything else raised."""
    with contextlib.suppress(SocialCrmError):
        return call(*args)
    return None
