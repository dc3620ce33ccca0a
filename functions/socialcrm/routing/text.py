"""Text matching for rules, in any script: normalisation, word tokens, keyword index, detectors.

Keywords and messages are normalised the same way (NFKC, case-folded, joiners and soft hyphens
dropped, Devanagari nukta and candrabindu spelled one way) and cut into word tokens. A token is a run
of letters, digits *and combining marks*: Python's ``\\b`` and ``\\w`` treat Devanagari vowel signs and
viramas as non-word characters, so "सेवा" would have no word boundary after its last sign; tokens
make "खराब" match in "सेवा खराब है।" and not inside a longer word. Scripts written without spaces
(Chinese, Japanese, Thai, …) are matched as substrings instead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

# Dropped: zero-width non-joiner/joiner, soft hyphen, word joiner, BOM, variation selectors 15/16.
_DROPPED = dict.fromkeys(map(ord, "\u200c\u200d\u00ad\u2060\ufeff\ufe0e\ufe0f"))
# Spelled one way: Devanagari nukta dropped (ख़राब = खराब, as many people type it), candrabindu → anusvara.
_DEVANAGARI = {0x093C: None, 0x0901: "\u0902"}
_TRANSLATION = {**_DROPPED, **_DEVANAGARI}
_NO_SPACE_SCRIPTS = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x2FA1F),  # CJK extensions B-F
)


def _mark_ranges() -> str:
    """Character-class ranges of every combining mark in the Basic Multilingual Plane."""
    ranges: list[tuple[int, int]] = []
    for code in range(0x300, 0x10000):
        if unicodedata.category(chr(code)).startswith("M"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "".join(f"\\u{a:04x}-\\u{b:04x}" if a != b else f"\\u{a:04x}" for a, b in ranges)


_TOKEN = re.compile(f"[\\w{_mark_ranges()}]+")
_PHONE = re.compile(r"(?<![\w+])\+?\d[\d \-().]{6,18}\d(?!\w)")
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_ORDER = re.compile(
    r"(?:\border|\bord\b|ऑर्डर|आर्डर|ऑडर)\s*(?:no\b\.?|number|num\b|nr\b|id\b|#|नंबर|संख्या)?\s*[:#-]?\s*"
    r"[a-z]{0,4}-?\d[\w-]{3,}"
    r"|#\d{5,}"
)


def normalise(text: str) -> str:
    """The form rules and messages are compared in.

    >>> normalise("REFUND Straße")
    'refund strasse'
    >>> normalise("ख़राब") == normalise("खराब")
    True
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return folded.translate(_TRANSLATION)


def tokens(normalised: str) -> list[str]:
    """Word tokens of normalised text; Devanagari signs stay inside their word, the danda does not.

    >>> tokens(normalise("सेवा बहुत खराब है। Refund!"))
    ['सेवा', 'बहुत', 'खराब', 'है', 'refund']
    """
    return _TOKEN.findall(normalised)


def _spaceless(text: str) -> bool:
    return any(lo <= ord(ch) <= hi for ch in text for lo, hi in _NO_SPACE_SCRIPTS)


@dataclass(frozen=True)
class _Phrase:
    words: tuple[str, ...]
    prefix: bool  # the last word matches any word it begins
    keyword_id: int


@dataclass
class KeywordIndex:
    """Every keyword of a rules document, matched against one message in a single pass.

    ``add`` returns a keyword's id; ``match`` returns the ids found in a text. Phrases are sequences of
    whole tokens (``prefix`` keywords end in ``*``); keywords in scripts without spaces, or with no word
    character at all (emoji), are substrings of the normalised text.
    """

    _by_first: dict[str, list[_Phrase]] = field(default_factory=dict)
    _prefix_by_start: dict[str, list[_Phrase]] = field(default_factory=dict)
    _substrings: list[tuple[str, int]] = field(default_factory=list)
    _ids: dict[str, int] = field(default_factory=dict)
    keywords: list[str] = field(default_factory=list)  # id → normalised keyword

    def add(self, keyword: str) -> int:
        key = normalise(keyword).strip()
        if key in self._ids:
            return self._ids[key]
        keyword_id = len(self.keywords)
        self._ids[key] = keyword_id
        self.keywords.append(key.rstrip("*").strip())
        prefix = key.endswith("*")
        words = tuple(tokens(key))
        if _spaceless(key) or not words:
            self._substrings.append((key.rstrip("*").strip(), keyword_id))
        elif prefix and len(words) == 1:
            self._prefix_by_start.setdefault(words[0][:1], []).append(_Phrase(words, True, keyword_id))
        else:
            self._by_first.setdefault(words[0], []).append(_Phrase(words, prefix, keyword_id))
        return keyword_id

    def match(self, normalised: str, words: list[str]) -> set[int]:
        """Ids of the keywords found in a message (given normalised and as tokens)."""
        found: set[int] = set()
        by_first, prefixes = self._by_first, self._prefix_by_start
        for i, word in enumerate(words):
            for phrase in by_first.get(word, ()):
                size = len(phrase.words)
                if size > 1 and not _continues(words, i, phrase):
                    continue
                found.add(phrase.keyword_id)
            if prefixes:
                for phrase in prefixes.get(word[:1], ()):
                    if word.startswith(phrase.words[0]):
                        found.add(phrase.keyword_id)
        for substring, keyword_id in self._substrings:
            if substring in normalised:
                found.add(keyword_id)
        return found


def _continues(words: list[str], start: int, phrase: _Phrase) -> bool:
    """Whether the words after ``words[start]`` continue ``phrase`` (its first word already matched)."""
    size = len(phrase.words)
    if start + size > len(words):
        return False
    for offset in range(1, size - 1):
        if words[start + offset] != phrase.words[offset]:
            return False
    last = words[start + size - 1]
    return last.startswith(phrase.words[-1]) if phrase.prefix else last == phrase.words[-1]


@lru_cache(maxsize=8)
def order_number_regex(pattern: str | None) -> re.Pattern[str]:
    return _ORDER if pattern is None else re.compile(pattern)


def _phone_like(candidate: str) -> bool:
    """8 to 15 digits (E.164 allows 15) and not a date."""
    return 8 <= sum(ch.isdigit() for ch in candidate) <= 15 and not _DATE.fullmatch(candidate.strip())


def detect(text: str, wanted: Iterable[str], order_pattern: str | None = None) -> set[str]:
    """Which of ``wanted`` (``email``, ``phone``, ``order_number``) the text holds.

    >>> sorted(detect("call me on +44 20 7946 0958 about order #884213", ["phone", "order_number", "email"]))
    ['order_number', 'phone']
    """
    found: set[str] = set()
    normalised = None
    for detector in wanted:
        if (detector == "email" and _EMAIL.search(text)) or (
            detector == "phone" and any(_phone_like(m.group()) for m in _PHONE.finditer(text))
        ):
            found.add(detector)
        elif detector == "order_number":
            normalised = normalised if normalised is not None else normalise(text)
            if order_number_regex(order_pattern).search(normalised):
                found.add(detector)
    return found
