"""The in-process language identifier and the mapping of language tags to Comprehend's."""

from __future__ import annotations

import pytest

from socialcrm.enrichment.language import (
    DEFAULT_THRESHOLD,
    LanguageIdentifier,
    sentiment_language,
    usable_hint,
)


@pytest.fixture(scope="module")
def identifier():
    return LanguageIdentifier()


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("मेरा ऑर्डर अभी तक नहीं आया, दो हफ्ते हो गए हैं।", "hi"),
        ("आपकी सर्विस बहुत खराब है, कोई जवाब नहीं देता।", "hi"),
        ("रिफंड कब तक मिलेगा? मैंने दस दिन पहले सामान लौटाया था।", "hi"),
        ("कोई जवाब नहीं मिला", "hi"),
        ("My order still hasn't arrived and it's been two weeks.", "en"),
        ("Mi pedido todavía no ha llegado y nadie me responde.", "es"),
        ("Ma commande n'est toujours pas arrivée, que se passe-t-il ?", "fr"),
        ("Meine Bestellung ist immer noch nicht angekommen.", "de"),
        ("Meu pedido ainda não chegou, já faz duas semanas.", "pt"),
        ("என் ஆர்டர் இன்னும் வரவில்லை, தயவுசெய்து சரிபார்க்கவும்.", "ta"),
    ],
)
def test_a_sentence_is_identified_confidently(identifier, text, language):
    # Given a sentence of a customer message, When it is identified, Then its language is answered
    assert identifier.identify(text) == language


def test_devanagari_hindi_is_ranked_first_with_a_probability_over_the_threshold(identifier):
    # Given Hindi in Devanagari, a script Marathi, Nepali and Sanskrit share
    ranked = identifier.rank("डिलीवरी वाले भैया ने बहुत अच्छे से बात की, शुक्रिया।")
    # Then Hindi leads, confidently, and the probabilities are normalised
    assert ranked[0][0] == "hi" and ranked[0][1] >= DEFAULT_THRESHOLD
    assert sum(probability for _, probability in ranked) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("text", ["ok", "lol", "thanks!", "😂😂😂", "बहुत खराब अनुभव", "terima kasih banyak"])
def test_a_very_short_or_ambiguous_text_is_left_to_comprehend(identifier, text):
    # Given a few words (or Hindi/Nepali, Indonesian/Malay: one script, close vocabularies)
    # When it is identified, Then the identifier does not guess
    assert identifier.identify(text) is None


def test_handles_and_links_do_not_make_a_text_english(identifier):
    # Given Hindi with an @handle and a link
    text = "@brand_support https://example.com/order/123 मेरा ऑर्डर अभी तक नहीं आया"
    # Then it is Hindi; and a text of handles and links only has no language
    assert identifier.identify(text) == "hi"
    assert identifier.identify("@brand https://example.com/x") is None
    assert identifier.rank("@brand https://t.co/abc") == []


def test_chinese_is_left_to_comprehend_which_tells_simplified_from_traditional(identifier):
    # Given a Chinese sentence, Then the identifier does not answer zh (it could be zh-TW)
    assert identifier.identify("我的订单到现在还没有到 请帮我查一下物流信息") is None


def test_arabic_varieties_count_as_arabic(identifier):
    # Given Egyptian Arabic (py3langid "arz"), Then the tag is Comprehend's "ar"
    tags = [tag for tag, _ in identifier.rank("الطلب بتاعي لسه موصلش، ممكن حد يرد عليا؟")]
    assert "arz" not in tags and "ary" not in tags and tags[0] == "ar"


def test_a_stricter_threshold_answers_less():
    text = "Muy buen servicio, gracias"
    assert LanguageIdentifier(threshold=0.5).identify(text) == "es"
    assert LanguageIdentifier(threshold=0.99).identify(text) is None


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("en", "en"),
        ("en-GB", "en"),
        ("pt-BR", "pt"),
        ("hi", "hi"),
        ("zh", "zh"),
        ("zh-CN", "zh"),
        ("zh-Hans", "zh"),
        ("zh-TW", "zh-TW"),
        ("zh-Hant", "zh-TW"),
        ("zh-HK", "zh-TW"),
        ("ta", None),
        ("id", None),
        ("in", None),
        ("ru", None),
    ],
)
def test_tags_map_to_the_language_codes_comprehend_analyses(tag, code):
    assert sentiment_language(tag) == code


@pytest.mark.parametrize(
    ("hint", "usable"),
    [
        ("en", "en"),
        ("pt-BR", "pt-BR"),
        ("und", None),
        ("zxx", None),
        ("qme", None),
        ("", None),
        (None, None),
        ("mul", None),
    ],
)
def test_only_hints_that_name_a_language_are_used(hint, usable):
    assert usable_hint(hint) == usable
