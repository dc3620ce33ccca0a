"""The path-id encoding: every platform id has one path segment that every gateway passes as it is."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialcrm.api.path_ids import decode_path_id, encode_path_id
from socialcrm.errors import BadRequestError

# Any text a platform id can be: everything but lone surrogates (no UTF-8 for them).
IDS = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=300)
# What no gateway or client rewrites in a path segment.
UNTOUCHED = re.compile(r"[A-Za-z0-9._:@+=,~-]*")


@given(IDS)
def test_every_id_comes_back_from_its_segment_unchanged(value):
    assert decode_path_id(encode_path_id(value)) == value


@given(IDS)
def test_a_segment_holds_only_characters_no_gateway_rewrites(value):
    segment = encode_path_id(value)
    assert UNTOUCHED.fullmatch(segment)
    assert "/" not in segment and segment not in ("", ".", "..")


@given(st.from_regex(r"[A-Za-z0-9._:@+=,-]+", fullmatch=True).filter(lambda v: v not in (".", "..")))
def test_plain_ids_travel_as_they_are(value):
    assert encode_path_id(value) == value


@pytest.mark.parametrize(
    "value",
    ["~", "~ana", "a/b", "a#b", "a?b", 'a"b', "a\\b", "a\tb", "e\u0301", "🎉", "a b", "50%", ".", "..", ""],
)
def test_ids_a_plain_segment_cannot_carry_are_encoded(value):
    segment = encode_path_id(value)
    assert segment.startswith("~") and decode_path_id(segment) == value


def test_the_id_is_not_normalised():
    # Composed and decomposed accents are told apart here; subject ids match them in NFC later.
    assert decode_path_id(encode_path_id("e\u0301")) == "e\u0301"
    assert decode_path_id(encode_path_id("\u00e9")) == "\u00e9"


@given(IDS.filter(lambda value: not value.startswith("~")))
def test_a_plain_segment_is_percent_decoded(value):
    assert decode_path_id(quote(value.encode("utf-8"), safe="")) == value


@pytest.mark.parametrize("segment", ["~YQ", "~YQ=="])
def test_padding_is_optional(segment):
    assert decode_path_id(segment) == "a"


@pytest.mark.parametrize(
    ("segment", "problem"),
    [
        ("~YQ=", "is not base64url"),  # partial padding
        ("~YWJj=", "is not base64url"),  # padding where none belongs
        ("~Y", "is not base64url"),  # a length no encoding has
        ("~YS+i", "is not base64url"),  # standard base64's alphabet
        ("~YS/i", "is not base64url"),
        ("~a b", "is not base64url"),
        ("~YR", "is not canonical base64url"),  # unused bits set
        ("~_w", "does not encode UTF-8 text"),  # 0xFF
        ("~7aCA", "does not encode UTF-8 text"),  # a lone surrogate's UTF-8 form
        ("%FF", "is not valid UTF-8 once percent-decoded"),
    ],
)
def test_a_segment_that_carries_no_id_is_a_400_saying_why(segment, problem):
    with pytest.raises(BadRequestError) as raised:
        decode_path_id(segment, "user id")
    assert raised.value.status == 400 and problem in raised.value.message
    assert raised.value.message.startswith("The user id")
