"""Which content types the CRM routes read as JSON."""

from __future__ import annotations

import pytest

from socialcrm.api.responses import is_json_media_type


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON",
        "application/json;charset=utf-8",
        'application/json; charset="UTF-8"',
        "application/json; charset=utf8; version=2",
        "application/merge-patch+json",
        "application/vnd.api+json",
        " application/json ",
    ],
)
def test_json_and_structured_json_types_in_utf8_are_json(content_type):
    assert is_json_media_type(content_type)


@pytest.mark.parametrize(
    "content_type",
    [
        "",
        ";",
        "text/plain",
        "text/json",
        "application/xml",
        "application/jsonp",
        "application/json-seq",
        "application/+json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin-1",
        "application/json, text/plain",
        "*/*",
    ],
)
def test_anything_else_is_not(content_type):
    assert not is_json_media_type(content_type)
