"""Language: the in-process identifier (py3langid's model) and the mapping of language tags to Comprehend's.

The identifier answers only when it is confident, so that Comprehend's ``BatchDetectDominantLanguage``
(paid per document) is asked about the rest. py3langid 0.4 normalises its naive-Bayes scores with a
temperature of sqrt(bytes), which keeps the probabilities honest across lengths: a full sentence is
identified with a probability near 1, while a few words of Hindi, Marathi or Nepali (one script, close
vocabularies) or of Indonesian and Malay stay below the threshold and are left to Comprehend.

Labels are mapped to BCP-47 tags as Comprehend writes them, and the probabilities of labels that map
to one tag are added (Egyptian and Moroccan Arabic count as Arabic, Comprehend's ``ar``). Two labels
are never answered: ``zh``, because py3langid cannot tell Simplified (Comprehend ``zh``) from
Traditional Chinese (``zh-TW``), and ``zxx`` (no linguistic content).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from socialcrm.enrichment.langid_model import NaiveBayesLanguageModel

# Languages BatchDetectSentiment accepts (its LanguageCode enum).
SENTIMENT_LANGUAGES = frozenset({"en", "es", "fr", "de", "it", "pt", "ar", "hi", "ja", "ko", "zh", "zh-TW"})
UNDETERMINED = "und"
# Tags that say there is no language to analyse (ISO 639-2 special codes).
_NO_LANGUAGE = frozenset({"und", "zxx", "mul", "mis"})
# Deprecated ISO 639 codes some platforms still send (X sends "in" and "iw").
_ALIASES = {"in": "id", "iw": "he", "ji": "yi", "jw": "jv"}
_TRADITIONAL_CHINESE = frozenset({"hant", "tw", "hk", "mo"})
# py3langid labels that are varieties of a language Comprehend names by its macrolanguage.
_LABEL_TAGS = {"ary": "ar", "arz": "ar"}
_NEVER_ANSWERED = frozenset({"zh", "zxx"})

# Minimum probability (after adding labels of one tag) for the identifier to answer. On the bench's
# messages and the tests' short texts nothing was confidently wrong at 0.6 or 0.7; at 0.5 Hindi/Nepali
# and Indonesian/Malay confusions pass. 0.7 leaves about 1.5% of the bench's messages to Comprehend.
DEFAULT_THRESHOLD = 0.7
# The identifier reads this many characters of a message at most: its answer has long settled by then
# (a few words decide a language), and scoring costs time in proportion to the text (about 2 ms here).
IDENTIFIED_CHARACTERS = 500
# Handles and links say nothing of the language and pull short texts towards English.
_NOISE = re.compile(r"https?://\S+|www\.\S+|@\w+", re.UNICODE)


@lru_cache(maxsize=1)
def _model() -> NaiveBayesLanguageModel:
    """py3langid's bundled model with normalised probabilities, loaded once on first use (~0.5 s)."""
    from socialcrm.enrichment.langid_model import NaiveBayesLanguageModel

    return NaiveBayesLanguageModel.bundled()


class LanguageIdentifier:
    """Identify a text's language in process, answering only above ``threshold``.

    >>> LanguageIdentifier().identify("मेरा ऑर्डर अभी तक नहीं आया, कृपया जल्दी देखिए।")
    'hi'
    >>> LanguageIdentifier().identify("ok") is None
    True
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold

    def rank(self, text: str) -> list[tuple[str, float]]:
        """Every candidate as (BCP-47 tag, probability), best first; empty when there is nothing to read."""
        cleaned = _NOISE.sub(" ", text).strip()[:IDENTIFIED_CHARACTERS].strip()
        if not cleaned:
            return []
        merged: dict[str, float] = {}
        for label, probability in _model().rank(cleaned):
            tag = _LABEL_TAGS.get(label, label)
            merged[tag] = merged.get(tag, 0.0) + probability
        return sorted(merged.items(), key=lambda pair: pair[1], reverse=True)

    def identify(self, text: str) -> str | None:
        """The language of ``text`` as a BCP-47 tag when confident, else ``None`` (ask Comprehend)."""
        ranked = self.rank(text)
        if not ranked:
            return None
        tag, probability = ranked[0]
        if tag in _NEVER_ANSWERED or probability < self.threshold:
            return None
        return tag


def usable_hint(tag: str | None) -> str | None:
    """A platform's language tag when it names a language, else ``None``.

    >>> usable_hint("pt-BR"), usable_hint("und"), usable_hint("qme"), usable_hint("")
    ('pt-BR', None, None, None)
    """
    if not tag or not tag.strip():
        return None
    primary = tag.split("-", 1)[0].lower()
    if primary in _NO_LANGUAGE or (len(primary) == 3 and "qaa" <= primary <= "qtz"):  # private use
        return None
    return tag


def sentiment_language(tag: str) -> str | None:
    """The ``LanguageCode`` for BatchDetectSentiment of a BCP-47 tag, or ``None`` if unsupported.

    >>> sentiment_language("en-GB"), sentiment_language("zh-Hant-HK"), sentiment_language("zh-CN")
    ('en', 'zh-TW', 'zh')
    >>> sentiment_language("ta") is None
    True
    """
    subtags = tag.replace("_", "-").lower().split("-")
    primary = _ALIASES.get(subtags[0], subtags[0])
    if primary == "zh":
        return "zh-TW" if _TRADITIONAL_CHINESE.intersection(subtags[1:]) else "zh"
    return primary if primary in SENTIMENT_LANGUAGES else None
