"""Business hours: is an instant inside the document's local opening hours?

Time zones come from the system's tz database (``zoneinfo``) and, where a runtime ships none, from the
copy bundled with python-dateutil (a botocore dependency, so always in the layer).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from socialcrm.routing.rules import BusinessHours

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class UnknownTimeZoneError(ValueError):
    """The name is not an IANA time zone."""


@lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    """The time zone called ``name`` (``"Asia/Kolkata"``); raises :class:`UnknownTimeZoneError`."""
    if name.upper() == "UTC":
        return UTC
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except (ImportError, ValueError, KeyError, OSError):
        pass  # not in the system database (or none): try dateutil's bundled one
    from dateutil import tz

    found = tz.gettz(name)
    if found is None or "/" not in name:
        raise UnknownTimeZoneError(f"{name!r} is not an IANA time zone (e.g. Europe/London, Asia/Kolkata)")
    return found


def in_business_hours(at: datetime, hours: BusinessHours) -> bool:
    """True when ``at`` falls on a working day, between ``start`` and ``end`` local time, not a holiday.

    >>> from socialcrm.routing.rules import BusinessHours
    >>> hours = BusinessHours(timezone="Asia/Kolkata")
    >>> in_business_hours(datetime(2026, 11, 23, 5, 0, tzinfo=UTC), hours)   # Monday 10:30 in India
    True
    """
    local = at.astimezone(zone(hours.timezone))
    return (
        _WEEKDAYS[local.weekday()] in hours.days
        and local.date() not in hours.holidays
        and hours.start <= local.time().replace(tzinfo=None) < hours.end
    )
