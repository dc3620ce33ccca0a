"""The platform-secrets model refuses a secret that is empty or only whitespace, naming the field only."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from socialcrm.errors import ConfigurationError
from socialcrm.secrets import (
    GenericSecret,
    LinkedInSecret,
    MetaSecret,
    PlatformSecrets,
    TikTokSecret,
    XSecret,
    YouTubeSecret,
)

PEPPER = "a-pepper-of-sixteen-characters"
# One valid entry per platform: every secret field filled.
VALID: dict[str, tuple[type[BaseModel], dict[str, str]]] = {
    "meta": (MetaSecret, {"app_secret": "app-secret", "verify_token": "verify-token"}),
    "x": (XSecret, {"consumer_secret": "consumer-secret"}),
    "linkedin": (LinkedInSecret, {"client_secret": "client-secret"}),
    "tiktok": (TikTokSecret, {"client_secret": "client-secret"}),
    "youtube": (YouTubeSecret, {"hub_secret": "hub-secret"}),
    "generic": (GenericSecret, {"webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}),
}
SECRET_FIELDS = [
    pytest.param(platform, field, id=f"{platform}.{field}")
    for platform, (_, entry) in VALID.items()
    for field in entry
]
# Empty, and whitespace of several kinds (ASCII, a no-break space, an ideographic space, a newline).
BLANKS = ["", " ", "   ", "\t", "\n", " \t\r\n ", "\u00a0", "\u3000\u3000"]


def document(**entries: Any) -> dict[str, Any]:
    return {
        **{platform: dict(entry) for platform, (_, entry) in VALID.items()},
        "subject_pepper": PEPPER,
        **entries,
    }


def test_the_valid_entries_cover_every_secret_field_of_every_platform():
    # Given the platform models of the secrets document
    # Then every SecretStr field of each is among the fields these tests blank out
    for platform, (model, entry) in VALID.items():
        assert PlatformSecrets.model_fields[platform].annotation == model | None
        secret_fields = {name for name, info in model.model_fields.items() if info.annotation is SecretStr}
        assert secret_fields == set(entry), platform
    # And the whole document with them is valid
    assert PlatformSecrets.parse(document(), origin="test").x is not None


@pytest.mark.parametrize("blank", BLANKS)
@pytest.mark.parametrize(("platform", "field"), SECRET_FIELDS)
def test_a_platform_secret_that_is_empty_or_only_whitespace_is_refused(platform, field, blank):
    # Given a platform's entry with one secret empty or made only of whitespace
    model, entry = VALID[platform]
    # When the entry is validated
    with pytest.raises(ValidationError) as refused:
        model.model_validate({**entry, field: blank})
    # Then it is refused for that field, and the value is not shown
    assert [error["loc"] for error in refused.value.errors()] == [(field,)]
    assert "input_value" not in str(refused.value)


@pytest.mark.parametrize("blank", BLANKS)
@pytest.mark.parametrize(("platform", "field"), SECRET_FIELDS)
def test_a_secrets_document_with_a_blank_secret_is_refused_naming_the_field_not_the_value(
    platform, field, blank
):
    # Given a secrets document whose one platform secret is empty or only whitespace
    entry = {**VALID[platform][1], field: blank}
    # When the document is parsed
    with pytest.raises(ConfigurationError) as refused:
        PlatformSecrets.parse(document(**{platform: entry}), origin="test.json")
    # Then the error names platform and field, and neither it nor its cause shows the value
    shown = f"{refused.value.message} {refused.value.__cause__}"
    assert f"{platform}.{field}" in refused.value.message
    assert "input_value" not in shown
    if blank.strip(" \n"):  # a value holding tabs, CRs or wide spaces would be recognisable
        assert blank not in shown


@pytest.mark.parametrize("blank", ["", " " * 16, "\t" * 20, "\u3000" * 16])
def test_a_subject_pepper_that_is_empty_or_only_whitespace_is_refused_naming_the_field(blank):
    # Given a secrets document whose pepper is empty, or long enough but only whitespace
    # When the document is parsed
    with pytest.raises(ConfigurationError) as refused:
        PlatformSecrets.parse(document(subject_pepper=blank), origin="test.json")
    # Then the error names the pepper, without its value
    assert "subject_pepper" in refused.value.message
    assert "input_value" not in f"{refused.value.message} {refused.value.__cause__}"


def test_a_secret_with_text_around_whitespace_is_kept_as_given():
    # Given a secret whose characters include spaces (some platforms' tokens may)
    # When validated / Then it is accepted and kept exactly
    secret = MetaSecret.model_validate({"app_secret": " app secret ", "verify_token": "t"})
    assert secret.app_secret.get_secret_value() == " app secret "


@pytest.mark.parametrize(("secret", "valid"), [("a" * 199, True), ("a" * 200, False), ("é" * 100, False)])
def test_the_hub_secret_is_under_200_bytes_as_websub_requires(secret, valid):
    if valid:
        assert YouTubeSecret(hub_secret=secret).hub_secret.get_secret_value() == secret
    else:
        with pytest.raises(ValueError):
            YouTubeSecret(hub_secret=secret)
