"""The access export (GDPR Art. 15): everything held about one subject, from every store, in one document."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from socialcrm.errors import BadRequestError
from socialcrm.models import PLATFORMS, subject_id
from socialcrm.privacy.dynamo import iso
from socialcrm.privacy.stores import StoreRegistry, SubjectScope
from socialcrm.privacy.suppression import SuppressionTable

MAX_USER_ID = 256


def subject_of(pepper: str, platform: str, user_id: str) -> str:
    """The subject_id of ``platform``/``user_id``; a platform we do not know or an empty id is a 400.

    >>> len(subject_of("pepper-0123456789", "x", "42"))
    64
    """
    if platform not in PLATFORMS:
        raise BadRequestError(f"'{platform}' is not a platform; use one of {', '.join(PLATFORMS)}.")
    if not user_id or len(user_id) > MAX_USER_ID:
        raise BadRequestError(f"The user id must be 1 to {MAX_USER_ID} characters.")
    return subject_id(pepper, platform, user_id)


def export_subject(
    subject: str, *, stores: StoreRegistry, suppressions: SuppressionTable, now: datetime | None = None
) -> dict[str, Any]:
    """The export document: ``stores`` maps every personal-data store (and the suppression state) to
    what it holds about the subject (``None`` or ``[]`` when nothing)."""
    at = now or datetime.now(tz=UTC)
    held = stores.export(SubjectScope(subject, now=at))
    held["suppressions"] = suppressions.export(subject)
    return {"subject_id": subject, "generated_at": iso(at), "stores": held}
