"""Enrich a batch of interactions with language and sentiment, calling Comprehend as little as possible.

Per interaction, in order:

1. The text is cut to 5,000 UTF-8 bytes on a character boundary. An empty text is not analysed
   (``NO_TEXT``); it keeps the platform's language hint, if any.
2. Language: the platform's hint (adapters set one only when it is reliable; a PENDING interaction
   coming back keeps the language found the first time); else the in-process identifier when it is
   confident; else Comprehend's ``BatchDetectDominantLanguage`` for texts of 20 characters or more;
   what remains is ``und`` (``UNDETERMINED_LANGUAGE``).
3. Sentiment: ``BatchDetectSentiment`` per Comprehend language, 25 documents a call. A language
   Comprehend does not analyse is stored without sentiment (``UNSUPPORTED_LANGUAGE``).

Identical texts are analysed once per batch. When Comprehend is unavailable (after the client's retries,
or because its circuit is open) no further call is made for the batch: what was analysed is kept and
the rest is stored ``PENDING``, with its language when that was already known, to be enriched again.
A document Comprehend rejects on its own (``ErrorList``) fails alone: ``PENDING`` when the error is
transient, ``FAILED`` otherwise (``UNSUPPORTED_LANGUAGE`` when that is the reason).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from socialcrm.enrichment.comprehend import (
    AnalysisRejectedError,
    AnalysisUnavailableError,
    DetectedLanguage,
    ItemError,
    LanguageResult,
    SentimentResult,
    UnsupportedLanguageError,
)
from socialcrm.enrichment.language import UNDETERMINED, sentiment_language, usable_hint
from socialcrm.enrichment.text import truncate_utf8
from socialcrm.models import Interaction, Sentiment, SentimentStatus

# BatchDetectDominantLanguage: "each document should contain at least 20 characters".
MIN_DETECTION_CHARS = 20
# Below this confidence Comprehend's dominant language is not taken as the language.
MIN_DETECTION_SCORE = 0.5


class Analyser(Protocol):
    """What ``enrich`` needs of Comprehend (``ComprehendAnalyser`` in production)."""

    def batch_detect_dominant_language(self, texts: Sequence[str]) -> list[LanguageResult]: ...

    def batch_detect_sentiment(self, language: str, texts: Sequence[str]) -> list[SentimentResult]: ...


class Identifier(Protocol):
    """The in-process language identifier: a BCP-47 tag when confident, else ``None``."""

    def identify(self, text: str) -> str | None: ...


@dataclass
class _Work:
    """One interaction on its way through the batch."""

    text: str
    language: str | None
    status: SentimentStatus | None = None
    sentiment: Sentiment | None = None


def enrich(interactions: list[Interaction], analyser: Analyser, identifier: Identifier) -> list[Interaction]:
    """New interactions, in the same order, with ``language``, ``sentiment`` and ``sentiment_status`` set.

    Pure but for the calls to its two ports; never raises for Comprehend's failures (they become
    ``PENDING`` or ``FAILED`` interactions).
    """
    work = [_start(interaction, identifier) for interaction in interactions]
    available = _detect_languages(work, analyser)
    _analyse_sentiment(work, analyser, available)
    return [
        interaction.model_copy(
            update={"language": item.language, "sentiment": item.sentiment, "sentiment_status": item.status}
        )
        for interaction, item in zip(interactions, work, strict=True)
    ]


def _start(interaction: Interaction, identifier: Identifier) -> _Work:
    text = truncate_utf8(interaction.text)
    hint = usable_hint(interaction.language)
    if not text.strip():
        return _Work(text, hint, status="NO_TEXT")
    return _Work(text, hint or identifier.identify(text))


def _detect_languages(work: list[_Work], analyser: Analyser) -> bool:
    """Ask Comprehend the language of what is still unknown; ``False`` once Comprehend is unavailable."""
    unknown = [item for item in work if item.status is None and item.language is None]
    for item in unknown:
        if len(item.text.strip()) < MIN_DETECTION_CHARS:
            item.language = UNDETERMINED
    asked = [item for item in unknown if item.language is None]
    results, available = _unique_call([item.text for item in asked], analyser.batch_detect_dominant_language)
    for item in asked:
        result = results.get(item.text)
        if isinstance(result, DetectedLanguage):
            item.language = result.code if result.score >= MIN_DETECTION_SCORE else UNDETERMINED
        elif result is None or (isinstance(result, ItemError) and result.retryable):
            item.status = "PENDING"  # not analysed (Comprehend unavailable): detect again later
        else:  # refused, alone or with its whole call: analysing it again would fail again
            item.status = "FAILED"
    return available


def _analyse_sentiment(work: list[_Work], analyser: Analyser, available: bool) -> None:
    groups: dict[str, list[_Work]] = {}
    for item in work:
        if item.status is not None:
            continue
        if item.language == UNDETERMINED:
            item.status = "UNDETERMINED_LANGUAGE"
            continue
        code = sentiment_language(item.language or UNDETERMINED)
        if code is None:
            item.status = "UNSUPPORTED_LANGUAGE"
        else:
            groups.setdefault(code, []).append(item)
    for code in sorted(groups):
        group = groups[code]
        if not available:
            results: dict[str, Any] = {}
        else:
            results, available = _unique_call(
                [item.text for item in group], partial(analyser.batch_detect_sentiment, code)
            )
        for item in group:
            _settle(item, results.get(item.text))


def _settle(item: _Work, result: SentimentResult | _Rejected | None) -> None:
    if isinstance(result, Sentiment):
        item.sentiment, item.status = result, "ANALYSED"
    elif result is None:
        item.status = "PENDING"
    elif isinstance(result, _Rejected):
        item.status = "UNSUPPORTED_LANGUAGE" if result.unsupported_language else "FAILED"
    elif result.unsupported_language:
        item.status = "UNSUPPORTED_LANGUAGE"
    else:
        item.status = "PENDING" if result.retryable else "FAILED"


@dataclass(frozen=True)
class _Rejected:
    """Comprehend refused the whole call (a request it will always refuse)."""

    unsupported_language: bool


def _unique_call(texts: list[str], call: Callable[[list[str]], Sequence[Any]]) -> tuple[dict[str, Any], bool]:
    """Results by text, each distinct text sent once; and whether Comprehend is still available.

    A text missing from the results was not analysed because Comprehend became unavailable.
    """
    unique = list(dict.fromkeys(texts))
    if not unique:
        return {}, True
    try:
        return dict(zip(unique, call(unique), strict=True)), True
    except AnalysisUnavailableError as exc:
        return dict(zip(unique, exc.partial, strict=False)), False
    except AnalysisRejectedError as exc:
        rejected = _Rejected(unsupported_language=isinstance(exc, UnsupportedLanguageError))
        return dict.fromkeys(unique, rejected), True
