"""``enrich``: language and sentiment for a batch, with fakes for Comprehend and the identifier."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from socialcrm.enrichment.comprehend import (
    AnalysisUnavailableError,
    DetectedLanguage,
    ItemError,
    UnsupportedLanguageError,
)
from socialcrm.enrichment.service import enrich
from socialcrm.models import Author, Interaction, Sentiment, SentimentScores, interaction_ref, subject_id

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
POSITIVE = Sentiment(
    label="POSITIVE", scores=SentimentScores(positive=0.9, negative=0.02, neutral=0.07, mixed=0.01)
)


def item(n: int, text: str, language: str | None = None, **extra) -> Interaction:
    return Interaction(
        interaction_id=f"x:{n}",
        interaction_ref=interaction_ref("pepper", f"x:{n}"),
        subject_id=subject_id("pepper", "x", "42"),
        platform="x",
        kind="mention",
        native_id=str(n),
        author=Author(user_id="42"),
        text=text,
        language=language,
        occurred_at=T0,
        received_at=T0,
        **extra,
    )


class Identifier:
    """Answers from a table; ``None`` (not confident) for anything else."""

    def __init__(self, known: dict[str, str] | None = None) -> None:
        self.known = known or {}
        self.seen: list[str] = []

    def identify(self, text: str) -> str | None:
        self.seen.append(text)
        return self.known.get(text)


class Analyser:
    """A Comprehend that records its calls; per-text overrides make errors."""

    def __init__(self, languages=None, sentiments=None, fail_after: int | None = None) -> None:
        self.languages = languages or {}
        self.sentiments = sentiments or {}
        self.fail_after = fail_after  # calls answered before Comprehend becomes unavailable
        self.calls: list[tuple[str, str | None, list[str]]] = []

    def _called(self, operation, language, texts):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            self.calls.append((operation, language, list(texts)))
            raise AnalysisUnavailableError("down")
        self.calls.append((operation, language, list(texts)))

    def batch_detect_dominant_language(self, texts):
        self._called("language", None, texts)
        return [self.languages.get(text, DetectedLanguage("en", 0.99)) for text in texts]

    def batch_detect_sentiment(self, language, texts):
        self._called("sentiment", language, texts)
        return [self.sentiments.get(text, POSITIVE) for text in texts]


def statuses(result):
    return [(i.language, i.sentiment_status) for i in result]


def test_hints_then_the_identifier_then_comprehend_decide_the_language():
    # Given a hinted message, one the identifier knows, one only Comprehend can tell, and a short unknown one
    batch = [
        item(1, "Great service, thank you!", language="en-GB"),
        item(2, "मेरा ऑर्डर अभी तक नहीं आया", language=None),
        item(3, "a text the identifier is unsure of", language=None),
        item(4, "hmm ok", language=None),
    ]
    identifier = Identifier({"मेरा ऑर्डर अभी तक नहीं आया": "hi"})
    analyser = Analyser(languages={"a text the identifier is unsure of": DetectedLanguage("es", 0.97)})
    # When the batch is enriched
    result = enrich(batch, analyser, identifier)
    # Then the hint is kept, Comprehend is asked only about the unsure text of 20+ characters,
    # and the short one is undetermined
    assert statuses(result) == [
        ("en-GB", "ANALYSED"),
        ("hi", "ANALYSED"),
        ("es", "ANALYSED"),
        ("und", "UNDETERMINED_LANGUAGE"),
    ]
    assert "Great service, thank you!" not in identifier.seen
    assert analyser.calls[0] == ("language", None, ["a text the identifier is unsure of"])
    # And sentiment is asked once per Comprehend language, the hint's region dropped
    assert sorted((lang, texts) for op, lang, texts in analyser.calls if op == "sentiment") == [
        ("en", ["Great service, thank you!"]),
        ("es", ["a text the identifier is unsure of"]),
        ("hi", ["मेरा ऑर्डर अभी तक नहीं आया"]),
    ]
    assert result[0].sentiment == POSITIVE and result[3].sentiment is None


def test_all_hinted_messages_make_no_language_call():
    batch = [item(n, f"message number {n} is fine", language="en") for n in range(30)]
    analyser = Analyser()
    result = enrich(batch, analyser, Identifier())
    # Then one sentiment call for 30 English texts (the adapter splits it in 25 + 5) and no language call
    assert [(op, lang, len(texts)) for op, lang, texts in analyser.calls] == [("sentiment", "en", 30)]
    assert {i.sentiment_status for i in result} == {"ANALYSED"}


def test_identical_texts_in_a_batch_are_analysed_once():
    batch = [item(n, "Where is my refund??", language="en") for n in range(5)]
    analyser = Analyser()
    result = enrich(batch, analyser, Identifier())
    assert analyser.calls == [("sentiment", "en", ["Where is my refund??"])]
    assert all(i.sentiment == POSITIVE for i in result)


def test_an_empty_text_is_not_analysed():
    # Given a sticker (no text) and an upload with whitespace only
    batch = [item(1, ""), item(2, "  \n", language="es")]
    analyser = Analyser()
    result = enrich(batch, analyser, Identifier())
    # Then nothing is sent anywhere and they say why they have no sentiment
    assert analyser.calls == []
    assert statuses(result) == [(None, "NO_TEXT"), ("es", "NO_TEXT")]


def test_a_language_comprehend_cannot_analyse_is_stored_without_sentiment():
    batch = [item(1, "என் ஆர்டர் இன்னும் வரவில்லை", language="ta"), item(2, "Pesanan saya belum sampai juga")]
    analyser = Analyser(languages={"Pesanan saya belum sampai juga": DetectedLanguage("id", 0.9)})
    result = enrich(batch, analyser, Identifier())
    assert statuses(result) == [("ta", "UNSUPPORTED_LANGUAGE"), ("id", "UNSUPPORTED_LANGUAGE")]
    assert [op for op, _, _ in analyser.calls] == ["language"]


def test_a_low_confidence_answer_from_comprehend_is_undetermined():
    text = "1234 5678 #### ???? !!!!"
    analyser = Analyser(languages={text: DetectedLanguage("en", 0.31)})
    result = enrich([item(1, text)], analyser, Identifier())
    assert statuses(result) == [("und", "UNDETERMINED_LANGUAGE")]


def test_a_hint_of_und_is_no_hint():
    text = "bonjour, ma commande est arrivée"
    result = enrich([item(1, text, language="und")], Analyser(), Identifier({text: "fr"}))
    assert statuses(result) == [("fr", "ANALYSED")]


def test_a_long_text_reaches_comprehend_cut_to_5000_bytes():
    # Given Hindi of 15,000 bytes
    text = "बहुत बढ़िया सर्विस " * 300
    analyser = Analyser()
    enrich([item(1, text, language="hi")], analyser, Identifier())
    # Then the document sent is a prefix of at most 5,000 bytes
    sent = analyser.calls[0][2][0]
    assert len(sent.encode("utf-8")) <= 5000 and text.startswith(sent)


def test_a_document_comprehend_rejects_fails_alone():
    batch = [
        item(1, "first text, analysed", language="en"),
        item(2, "second text, a transient error", language="en"),
        item(3, "third text, a permanent error", language="en"),
        item(4, "fourth text, language refused", language="en"),
    ]
    analyser = Analyser(
        sentiments={
            "second text, a transient error": ItemError("INTERNAL_SERVER_ERROR"),
            "third text, a permanent error": ItemError("TextSizeLimitExceededException"),
            "fourth text, language refused": ItemError("UNSUPPORTED_LANGUAGE"),
        }
    )
    result = enrich(batch, analyser, Identifier())
    assert [i.sentiment_status for i in result] == ["ANALYSED", "PENDING", "FAILED", "UNSUPPORTED_LANGUAGE"]
    assert [i.sentiment is not None for i in result] == [True, False, False, False]


def test_comprehend_unavailable_for_languages_leaves_everything_pending_and_calls_nothing_more():
    # Given Comprehend fails on the first call (the language call)
    batch = [
        item(1, "an unknown language text", language=None),
        item(2, "an English text, hinted", language="en"),
        item(3, "", language=None),
    ]
    analyser = Analyser(fail_after=0)
    result = enrich(batch, analyser, Identifier())
    # Then no sentiment call follows; the hinted one keeps its language, the unknown one has none yet
    assert [op for op, _, _ in analyser.calls] == ["language"]
    assert statuses(result) == [(None, "PENDING"), ("en", "PENDING"), (None, "NO_TEXT")]


def test_comprehend_failing_mid_batch_keeps_what_was_analysed():
    # Given Comprehend answers the first sentiment call (es) and then fails
    batch = [
        item(1, "Gracias por la ayuda, todo bien", language="es"),
        item(2, "Thanks for the help, all good", language="en"),
        item(3, "Merci pour votre aide, tout va bien", language="fr"),
    ]
    analyser = Analyser(fail_after=1)
    result = enrich(batch, analyser, Identifier())
    # Then (languages are called in a stable order: en, es, fr) the first call's results are kept,
    # and after the failure no further call is made
    assert [lang for _, lang, _ in analyser.calls] == ["en", "es"]
    assert statuses(result) == [("es", "PENDING"), ("en", "ANALYSED"), ("fr", "PENDING")]


def test_partial_results_of_a_failed_call_are_kept():
    class FailsAfterOneChunk(Analyser):
        def batch_detect_sentiment(self, language, texts):
            self.calls.append(("sentiment", language, list(texts)))
            raise AnalysisUnavailableError("down", partial=[POSITIVE] * 25)

    batch = [item(n, f"text number {n}", language="en") for n in range(30)]
    result = enrich(batch, FailsAfterOneChunk(), Identifier())
    assert [i.sentiment_status for i in result] == ["ANALYSED"] * 25 + ["PENDING"] * 5


def test_a_language_refused_for_the_whole_call_is_unsupported():
    class RefusesLanguage(Analyser):
        def batch_detect_sentiment(self, language, texts):
            raise UnsupportedLanguageError("no")

    result = enrich([item(1, "ciao, tutto bene grazie", language="it")], RefusesLanguage(), Identifier())
    assert statuses(result) == [("it", "UNSUPPORTED_LANGUAGE")]


def test_a_pending_interaction_coming_back_keeps_its_language_and_skips_detection():
    # Given an interaction stored PENDING after its language was found
    pending = item(
        1, "a text first seen while Comprehend was down", language="en", sentiment_status="PENDING"
    )
    analyser = Analyser()
    result = enrich([pending], analyser, Identifier())
    # Then only its sentiment is asked for, and it is now analysed
    assert analyser.calls == [("sentiment", "en", ["a text first seen while Comprehend was down"])]
    assert statuses(result) == [("en", "ANALYSED")]


def test_new_interactions_are_returned_in_order_and_the_inputs_are_untouched():
    batch = [item(n, f"message {n} for the order test", language="en") for n in range(3)]
    result = enrich(batch, Analyser(), Identifier())
    assert [i.interaction_id for i in result] == ["x:0", "x:1", "x:2"]
    assert all(i.sentiment_status is None and i.sentiment is None for i in batch)
    assert all(a is not b for a, b in zip(batch, result, strict=True))


def test_an_empty_batch_makes_no_call():
    analyser = Analyser()
    assert enrich([], analyser, Identifier()) == []
    assert analyser.calls == []


@pytest.mark.parametrize("hint", ["zh-TW", "zh-Hant"])
def test_traditional_chinese_is_analysed_as_zh_tw(hint):
    analyser = Analyser()
    enrich([item(1, "我的訂單還沒有到 請幫我查一下", language=hint)], analyser, Identifier())
    assert analyser.calls[0][1] == "zh-TW"
