"""The platform-secrets document (schemas/platform-secrets.schema.json) and where it is read from.

In AWS: one Secrets Manager secret, read through Powertools Parameters with caching. Locally: the
JSON file named by ``SOCIALCRM_SECRETS_FILE``. Both are validated by :class:`PlatformSecrets`;
``schemas/platform-secrets.schema.json`` is generated from it.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from socialcrm.errors import ConfigurationError

SECRETS_CACHE_SECONDS = 300


_WHSEC_PATTERN = r"^whsec_[A-Za-z0-9+/=]+$"


class _Secret(BaseModel):
    # A validation error names the field, never the value: the value is a secret.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    @field_validator("*")
    @classmethod
    def _not_blank(cls, value: Any) -> Any:
        """Every secret (and the pepper) holds more than whitespace: an empty key is a key anyone knows.

        >>> MetaSecret(app_secret=" ", verify_token="t")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        pydantic_core._pydantic_core.ValidationError: 1 validation error for MetaSecret
        app_secret
          Value error, must not be empty or only whitespace [type=value_error]
        ...
        """
        if isinstance(value, SecretStr) and not value.get_secret_value().strip():
            raise ValueError("must not be empty or only whitespace")
        return value


class MetaSecret(_Secret):
    app_secret: SecretStr = Field(min_length=1)
    verify_token: SecretStr = Field(min_length=1)


class XSecret(_Secret):
    consumer_secret: SecretStr = Field(min_length=1)


class LinkedInSecret(_Secret):
    client_secret: SecretStr = Field(min_length=1)


class TikTokSecret(_Secret):
    client_secret: SecretStr = Field(min_length=1)


class YouTubeSecret(_Secret):
    # Sent to the hub with each subscription (hub.secret) and keyed into X-Hub-Signature; WebSub: "MUST be
    # less than 200 bytes" (checked on its UTF-8 below).
    hub_secret: SecretStr = Field(min_length=1, max_length=199)
    # No longer used: each subscription request carries its own one-time token. Kept so that documents
    # written before still validate.
    verify_token: SecretStr | None = Field(default=None, min_length=1)

    @field_validator("hub_secret")
    @classmethod
    def _under_200_bytes(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().encode("utf-8", "surrogatepass")) >= 200:
            raise ValueError("must be less than 200 bytes (WebSub's limit for hub.secret)")
        return value


class GenericSecret(_Secret):
    # pydantic cannot apply ``pattern`` to a SecretStr (TypeError at validation): check it in a validator.
    webhook_secret: SecretStr = Field(json_schema_extra={"pattern": _WHSEC_PATTERN})

    @field_validator("webhook_secret")
    @classmethod
    def _is_whsec(cls, value: SecretStr) -> SecretStr:
        if not re.fullmatch(_WHSEC_PATTERN, value.get_secret_value()):
            raise ValueError("must be 'whsec_' followed by base64")
        return value


class _Token(_Secret):
    access_token: SecretStr = Field(min_length=1)


class PageSend(_Token):
    """A Facebook Page access token (``pages_messaging``, ``pages_manage_engagement``): Facebook comments,
    private replies and Messenger; Instagram too when no Instagram token is given (Facebook Login)."""


class InstagramSend(_Token):
    """An Instagram user token (Instagram Login) for an account with no linked Page."""


class WhatsAppSend(_Token):
    phone_number_id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9]+$")


class XSend(_Token):
    """An OAuth 2.0 user token of the brand's account (``tweet.write``, ``dm.write``, ``tweet.read``)."""

    user_id: str = Field(min_length=1, max_length=32, pattern=r"^[0-9]+$")


class LinkedInSend(_Token):
    """A Page administrator's member token (``w_organization_social_feed``), acting as the organisation."""

    organization_urn: str = Field(pattern=r"^urn:li:organization:[0-9]+$")
    version: str = Field(default="202610", pattern=r"^[0-9]{6}$", description="LinkedIn-Version (YYYYMM).")


class TikTokSend(_Token):
    business_id: str = Field(min_length=1, max_length=128)
    region: str = Field(
        min_length=2,
        max_length=2,
        pattern=r"^[A-Z]{2}$",
        description="ISO country the TikTok business account is registered in (business messaging is "
        "unavailable in the EEA, Switzerland and the United Kingdom).",
    )


class GenericSend(GenericSecret):
    """Where the generic sender takes the brand's replies: a Standard Webhooks signed POST to ``url``,
    signed with ``webhook_secret``."""

    url: str = Field(pattern=r"^https?://[^\s]+$", max_length=2048)


class BaseUrls(_Secret):
    """The platforms' API roots (tests and the local stack point them at a fake platform)."""

    meta: str = Field(default="https://graph.facebook.com/v25.0", pattern=r"^https?://[^\s]+$")
    instagram: str = Field(default="https://graph.instagram.com/v25.0", pattern=r"^https?://[^\s]+$")
    x: str = Field(default="https://api.x.com", pattern=r"^https?://[^\s]+$")
    linkedin: str = Field(default="https://api.linkedin.com", pattern=r"^https?://[^\s]+$")
    tiktok: str = Field(default="https://business-api.tiktok.com", pattern=r"^https?://[^\s]+$")


class SendSecrets(_Secret):
    """Send credentials per platform (each optional: a platform without one cannot be answered)."""

    base_urls: BaseUrls = Field(default_factory=BaseUrls)
    facebook: PageSend | None = None
    instagram: InstagramSend | None = None
    whatsapp: WhatsAppSend | None = None
    x: XSend | None = None
    linkedin: LinkedInSend | None = None
    tiktok: TikTokSend | None = None
    generic: GenericSend | None = None

    def can_send(self, platform: str) -> bool:
        """Whether ``platform`` (an interaction's platform) has credentials to answer with.

        >>> SendSecrets(facebook=PageSend(access_token="t")).can_send("instagram")
        True
        """
        if platform in {"facebook", "messenger"}:
            return self.facebook is not None
        if platform == "instagram":
            return self.instagram is not None or self.facebook is not None
        return getattr(self, platform, None) is not None


class PlatformSecrets(_Secret):
    """Every platform's entry is optional: a platform without one answers 404 on its route."""

    meta: MetaSecret | None = None
    x: XSecret | None = None
    linkedin: LinkedInSecret | None = None
    tiktok: TikTokSecret | None = None
    youtube: YouTubeSecret | None = None
    generic: GenericSecret | None = None
    send: SendSecrets = Field(default_factory=SendSecrets, description="Credentials to answer customers.")
    subject_pepper: SecretStr = Field(min_length=16, description="Key of the subject_id HMAC.")

    def for_platform(self, name: str) -> Any | None:
        return getattr(self, name, None)

    @classmethod
    def parse(cls, document: Any, *, origin: str) -> PlatformSecrets:
        """Validate a secrets document, with a message naming the field that is wrong."""
        try:
            return cls.model_validate(document)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(document)'}: {err['msg']}"
                for err in exc.errors()
            )
            raise ConfigurationError(
                f"The platform-secrets document from {origin} is invalid: {problems}"
            ) from exc


def load_secrets_file(path: str | Path) -> PlatformSecrets:
    """Read and validate a local secrets file."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigurationError(f"The secrets file {path} does not exist.") from exc
    except ValueError as exc:
        raise ConfigurationError(f"The secrets file {path} is not valid JSON: {exc}") from exc
    return PlatformSecrets.parse(document, origin=str(path))


@lru_cache(maxsize=4)
def _cached_file(path: str, mtime_ns: int) -> PlatformSecrets:
    return load_secrets_file(path)


class SecretsSource:
    """Where the platform-secrets document comes from: a local file or a Secrets Manager secret."""

    def __init__(self, *, file: str | None = None, secret_name: str | None = None) -> None:
        if not file and not secret_name:
            raise ConfigurationError("Set SOCIALCRM_SECRETS_FILE (local) or SECRETS_NAME (AWS).")
        self._file = file
        self._secret_name = secret_name

    def get(self) -> PlatformSecrets:
        if self._file:
            # Re-read when the file changes, so a developer can edit secrets without a restart.
            return _cached_file(self._file, Path(self._file).stat().st_mtime_ns)
        from aws_lambda_powertools.utilities import parameters

        assert self._secret_name is not None
        document = parameters.get_secret(self._secret_name, transform="json", max_age=SECRETS_CACHE_SECONDS)
        return _parsed_secret(json.dumps(document, sort_keys=True), self._secret_name)


@lru_cache(maxsize=4)
def _parsed_secret(document_json: str, name: str) -> PlatformSecrets:
    return PlatformSecrets.parse(json.loads(document_json), origin=f"secret {name}")
