"""What the platform adapters' tests send to be refused, shared by every platform, and how a refusal is read.

A forger's bodies and signatures (a signature one character away from the real one, a body sent as a
handshake's challenge), JSON nested past the parser's depth, ids made only of whitespace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

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
