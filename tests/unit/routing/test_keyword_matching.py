"""Keywords match whole words in any script, on normalised text; detectors find contact details."""

from __future__ import annotations

import re

import pytest

from socialcrm.routing.text import KeywordIndex, detect, normalise, tokens


def matches(keyword: str, text: str) -> bool:
    index = KeywordIndex()
    keyword_id = index.add(keyword)
    normalised = normalise(text)
    return keyword_id in index.match(normalised, tokens(normalised))


@pytest.mark.parametrize(
    ("keyword", "text", "expected"),
    [
        ("सेवा", "आपकी सेवा बेकार है", True),  # ends in a vowel sign, where \b finds no boundary
        ("सेवा", "आपकी सेवाएं बेकार हैं", False),  # a longer word is another word
        ("है", "सेवा खराब है।", True),  # the danda ends the sentence, not the word
        ("ख़राब", "सेवा खराब है", True),  # nukta or not, the same word
        ("हूँ", "मैं परेशान हूं", True),  # candrabindu or anusvara, the same sound
        ("पैसे वापस", "मुझे  पैसे\nवापस चाहिए", True),  # a phrase across any whitespace
        ("पैसे वापस", "पैसे नहीं वापस", False),  # but in order and adjacent
        ("REFUND", "\uff52\uff45\uff46\uff55\uff4e\uff44 please", True),  # full-width letters, any case
        ("refund*", "they refunded me", True),  # a trailing * matches any ending
        ("refund", "they refunded me", False),
        ("not working", "it's not working!", True),
        ("cost", "great costume", False),
        ("返金", "返金してください", True),  # Japanese has no spaces: substrings
        ("😡", "so angry😡😡", True),
    ],
)
def test_keywords_match_whole_words_in_any_script(keyword, text, expected):
    assert matches(keyword, text) is expected


def test_python_word_boundaries_alone_would_miss_devanagari_words_ending_in_a_sign():
    # The reason for tokens: \b sees no boundary after the vowel sign ा at the end of सेवा
    assert re.search(r"\bसेवा\b", "आपकी सेवा बेकार है") is None
    assert matches("सेवा", "आपकी सेवा बेकार है")


def test_normalisation_folds_case_width_and_compatibility_forms():
    assert normalise("Straße \uff21\uff22\uff23 \ufb01ne") == "strasse abc fine"


def test_one_pass_finds_every_keyword_of_many_rules():
    index = KeywordIndex()
    ids = {keyword: index.add(keyword) for keyword in ["refund", "how much", "खराब", "price*", "refund"]}
    text = normalise("How much for a refund? Prices are खराब")
    assert index.match(text, tokens(text)) == {ids["refund"], ids["how much"], ids["खराब"], ids["price*"]}
    assert len(index.keywords) == 4  # the same keyword in two rules is indexed once


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("reach me at jane.doe+crm@example.co.uk", {"email"}),
        ("call +91 98765 43210 now", {"phone"}),
        ("call (020) 7946-0958", {"phone"}),
        ("मेरा नंबर ९८७६५४३२१० है", {"phone"}),  # Devanagari digits
        ("order no. AB-99881 is late", {"order_number"}),
        ("ऑर्डर नंबर 4471993", {"order_number"}),
        ("see ticket #5566778", {"order_number"}),
        ("delivered on 2026-11-22, thanks", set()),  # a date is not a phone number
        ("we sold 1,000 units", set()),
        ("no details here", set()),
    ],
)
def test_detectors_find_emails_phone_numbers_and_order_numbers(text, found):
    assert detect(text, ["email", "phone", "order_number"]) == found


def test_an_order_number_pattern_of_the_document_replaces_the_default():
    assert detect("ref SHOP-12-AB", ["order_number"], r"shop-\d+-[a-z]+") == {"order_number"}
    assert detect("order no. 99887766", ["order_number"], r"shop-\d+-[a-z]+") == set()
