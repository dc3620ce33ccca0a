"""Cutting texts to Comprehend's 5,000-byte documents."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from socialcrm.enrichment.text import MAX_DOCUMENT_BYTES, truncate_utf8

HINDI = "मेरा ऑर्डर अभी तक नहीं आया, कृपया जल्दी देखिए। "


def test_a_short_text_is_kept_whole():
    # Given a text well inside the limit
    text = "My order has not arrived yet."
    # When it is truncated, Then it is unchanged
    assert truncate_utf8(text) == text


def test_a_text_of_exactly_the_limit_is_kept_whole():
    text = "a" * MAX_DOCUMENT_BYTES
    assert truncate_utf8(text) == text


def test_long_hindi_is_cut_to_5000_bytes_on_a_character_boundary():
    # Given Hindi text (3 bytes a Devanagari character) far over 5,000 bytes
    text = HINDI * 200
    assert len(text.encode("utf-8")) > 3 * MAX_DOCUMENT_BYTES
    # When it is truncated
    cut = truncate_utf8(text)
    # Then it is a prefix of the text, at most 5,000 bytes and close to them: far fewer than 5,000 characters
    encoded = cut.encode("utf-8")
    assert text.startswith(cut)
    assert MAX_DOCUMENT_BYTES - 12 <= len(encoded) <= MAX_DOCUMENT_BYTES
    assert len(cut) < 2000
    # And the next character is not a vowel sign or a virama left behind by the cut
    assert not unicodedata.combining(text[len(cut)]) and unicodedata.category(text[len(cut)]) != "Mc"


def test_a_letter_keeps_its_vowel_sign_and_a_cluster_is_not_split():
    # Given "नमस्ते" (न म स ् त े): a cut inside "स्ते" would leave half a cluster
    word = "नमस्ते"
    # When cut at 7 to 17 bytes, Then only whole clusters are kept
    for limit in range(6, 18):
        assert truncate_utf8(word, limit) == "नम"
    assert truncate_utf8(word, 18) == word


def test_the_cut_never_splits_a_multibyte_character():
    # Given an emoji (4 bytes) straddling the limit
    text = "ab😀cd"
    # When cut at 3, 4 and 5 bytes, Then the emoji is dropped whole
    assert [truncate_utf8(text, n) for n in (3, 4, 5)] == ["ab", "ab", "ab"]
    assert truncate_utf8(text, 6) == "ab😀"


def test_an_emoji_keeps_its_skin_tone():
    assert truncate_utf8("ok👍🏽!", 9) == "ok"
    assert truncate_utf8("ok👍🏽!", 10) == "ok👍🏽"


@given(st.text(min_size=0, max_size=400), st.integers(min_value=0, max_value=600))
def test_any_text_is_cut_to_a_valid_prefix_within_the_limit(text, limit):
    # When any text is cut to any limit, Then it is a prefix of the text and fits the limit
    cut = truncate_utf8(text, limit)
    assert text.startswith(cut)
    assert len(cut.encode("utf-8")) <= limit
    # And a text that fits is kept whole
    if len(text.encode("utf-8")) <= limit:
        assert cut == text
