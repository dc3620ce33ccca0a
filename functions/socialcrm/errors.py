"""The domain's error hierarchy.

Every error a caller can cause carries the HTTP status and the short code it maps to; the API maps
them to ``{"error": code, "message": text}`` in one place (``socialcrm.api.responses``).
"""

from __future__ import annotations


class SocialCrmError(Exception):
    """Base of every error the domain raises on purpose."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequestError(SocialCrmError):
    status = 400
    code = "bad_request"


class UnparseableError(BadRequestError):
    """The body is not what the platform sends (not JSON, not XML, wrong shape)."""

    code = "unparseable_body"


class SignatureError(SocialCrmError):
    """Missing, malformed or wrong signature."""

    status = 401
    code = "invalid_signature"


class StaleTimestampError(SignatureError):
    """A signed timestamp outside the accepted window (replay protection)."""

    code = "stale_timestamp"


class VerifyTokenError(SocialCrmError):
    """A handshake presented the wrong verify token."""

    status = 403
    code = "invalid_verify_token"


class NotFoundError(SocialCrmError):
    status = 404
    code = "not_found"


class UnknownPlatformError(NotFoundError):
    code = "unknown_platform"


class PlatformNotConfiguredError(NotFoundError):
    """The platform is known but its secret is not configured: the route does not exist here."""

    code = "platform_not_configured"


class MethodNotAllowedError(SocialCrmError):
    """The platform has no such exchange (for example a GET on a platform with no handshake)."""

    status = 405
    code = "method_not_allowed"


class PayloadTooLargeError(SocialCrmError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(SocialCrmError):
    """A body the route does not take: the CRM routes take JSON only (``application/json``)."""

    status = 415
    code = "unsupported_media_type"


class ConfigurationError(SocialCrmError):
    """The deployment's own configuration (secrets document, environment) is wrong."""

    code = "configuration_error"


class QueueUnavailableError(SocialCrmError):
    """Queueing failed: the platform must retry, so the answer is a 5xx and nothing is lost."""

    status = 503
    code = "queue_unavailable"


class DedupeStoreError(SocialCrmError):
    """The idempotency store failed: the platform must retry."""

    status = 503
    code = "dedupe_store_unavailable"


class ForbiddenError(SocialCrmError):
    """The caller's persona may not do this (the message says who may), or its IAM tags are missing or
    malformed (the message names the tag). Never names a person."""

    status = 403
    code = "forbidden"


class PrincipalUnavailableError(SocialCrmError):
    """The caller's IAM tags could not be read: nothing is shown or changed, and the request may be repeated."""

    status = 503
    code = "principal_unavailable"
