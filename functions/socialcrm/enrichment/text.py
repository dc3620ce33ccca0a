"""Text preparation for Comprehend: documents are limited in UTF-8 bytes, not characters."""

from __future__ import annotations

import unicodedata

# Comprehend's limit per document in the sentiment and batch language APIs (UTF-8 bytes).
MAX_DOCUMENT_BYTES = 5000
# How far a cut may move back to keep a letter with its combining marks; past it, any code point will do.
_MAX_BACKOFF_CHARS = 32
_JOINERS = {"\u200c", "\u200d"}  # zero-width non-joiner and joiner
_SKIN_TONES = ("\U0001f3fb", "\U0001f3ff")  # emoji modifiers belong to the emoji before them
_VIRAMA = 9  # canonical combining class of the Indic viramas (a consonant cluster continues)


def truncate_utf8(text: str, max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    """The longest prefix of ``text`` that is at most ``max_bytes`` in UTF-8 and ends on a character.

    The cut never falls inside a UTF-8 sequence, and it moves back so that a letter keeps its
    combining marks (a Devanagari vowel sign, a virama and the consonant it joins) when it can.

    >>> truncate_utf8("नमस्ते", 7)   # 3 bytes a Devanagari character: "न" and "म" fit, "स्" would not
    'नम'
    >>> truncate_utf8("hello", 5000)
    'hello'
    """
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    # A prefix of valid UTF-8 is valid but for an incomplete last sequence, which "ignore" drops.
    prefix = encoded[:max_bytes].decode("utf-8", errors="ignore")
    return _whole_clusters(text, len(prefix))


def _whole_clusters(text: str, end: int) -> str:
    """Move ``end`` back while it would split a letter from its marks (bounded; else keep ``end``)."""
    position = end
    while position > 0 and end - position < _MAX_BACKOFF_CHARS and _splits_cluster(text, position):
        position -= 1
    if position == 0 or _splits_cluster(text, position):
        return text[:end]
    return text[:position]


def _splits_cluster(text: str, position: int) -> bool:
    following, preceding = text[position], text[position - 1]
    return (
        unicodedata.category(following) in {"Mn", "Mc", "Me"}
        or following in _JOINERS
        or _SKIN_TONES[0] <= following <= _SKIN_TONES[1]
        or preceding in _JOINERS
        or unicodedata.combining(preceding) == _VIRAMA
    )
