"""Writing the access ledger from a route (``socialcrm.privacy.ledger``): before a route answers with a
person's data, it records who (the caller's IAM principal), whose (the subjects and customer), which route
and why (the optional ``X-Reason`` header, a ticket reference). Without a ledger, or when it cannot be
written, the route answers 503 and shows nothing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from socialcrm.api.callers import principal_of
from socialcrm.api.privacy import is_reference
from socialcrm.errors import BadRequestError
from socialcrm.privacy.ledger import (
    READS_PERSONAL_DATA,
    Access,
    AccessLedger,
    AccessLedgerUnavailableError,
)

REASON_HEADER = "x-reason"


def reason_of(event: Any) -> str | None:
    """The ``X-Reason`` header: a ticket reference (it is kept six years), or a 400 saying so."""
    headers = getattr(event, "headers", None) or {}
    reason = headers.get(REASON_HEADER)
    if reason is None or reason == "":
        return None
    if not is_reference(reason):
        raise BadRequestError(
            "X-Reason must be a ticket reference (letters, digits and ._:/#-, at most 64 characters): "
            "it is kept with the access log, so no personal data."
        )
    return reason


def record_read(
    ledger: AccessLedger | None,
    event: Any,
    route: str,
    subjects: Iterable[str],
    *,
    customer_id: str | None = None,
    at: datetime | None = None,
) -> None:
    """One ledger entry for this request; raises a 503 error when there is no ledger or it cannot be
    written, so the caller shows nothing."""
    if route not in READS_PERSONAL_DATA:  # a programming error: the route must be listed to be logged
        raise ValueError(f"{route!r} is not in READS_PERSONAL_DATA")
    reason = reason_of(event)
    if ledger is None:
        raise AccessLedgerUnavailableError("No access ledger is configured, so no personal data is shown.")
    ledger.record(
        Access(
            principal=principal_of(event),
            route=route,
            subjects=list(subjects),
            customer_id=customer_id,
            reason=reason,
        ),
        at=at or datetime.now(tz=UTC),
    )
