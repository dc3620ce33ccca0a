"""Business hours and business time: is an instant inside opening hours, and when is a target due?

Time zones come from the system's tz database (``zoneinfo``) and, where a runtime ships none, from the
copy bundled with python-dateutil (a botocore dependency, so always in the layer).

Opening hours are local wall-clock times. :func:`due_at` turns each open day's hours into instants
(local date and time, in the calendar's zone, converted to UTC) and counts the real time that passes
inside them, so a day on which the clocks change is still counted right: opening at 09:00 on the
Monday after the clocks went forward is 08:00 UTC in London, not 09:00.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from socialcrm.routing.rules import BusinessHours, Calendar, Weekday

_WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The most days in a row :func:`due_at` walks through closed before it gives up. Validation already
# refuses a calendar open no day of the week; only a list of holidays could close a whole year.
MAX_CLOSED_DAYS = 366


class UnknownTimeZoneError(ValueError):
    """The name is not an IANA time zone."""


class CalendarClosedError(ValueError):
    """A calendar has no open hours in the days searched (every open day a holiday)."""


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


def due_at(start: datetime, minutes: float, calendar: Calendar | None) -> datetime:
    """When ``minutes`` of business time have passed since ``start`` (aware; the answer is in UTC).

    Without a calendar every minute counts (wall-clock time). With one, only the minutes inside its
    opening hours count: a clock started outside them starts at the next opening, and closed days
    and holidays are skipped. Zero minutes are due at ``start`` itself. A target that ends exactly at
    closing time is due then, not at the next opening.

    >>> from socialcrm.routing.rules import Calendar
    >>> week = {day: ("09:00", "18:00") for day in ("mon", "tue", "wed", "thu", "fri")}
    >>> india = Calendar(timezone="Asia/Kolkata", hours=week)
    >>> friday = datetime(2026, 11, 27, 12, 15, tzinfo=UTC)          # Friday 17:45 in India
    >>> due_at(friday, 60, india).astimezone(zone("Asia/Kolkata")).strftime("%a %H:%M")
    'Mon 09:45'
    >>> due_at(friday, 60, None).isoformat()
    '2026-11-27T13:15:00+00:00'
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    if not math.isfinite(minutes) or minutes < 0:
        raise ValueError(f"minutes must be a finite number of at least 0, not {minutes!r}")
    start = start.astimezone(UTC)
    remaining = timedelta(minutes=minutes)
    if calendar is None or not remaining:
        return start + remaining
    local_zone = zone(calendar.timezone)
    holidays = frozenset(calendar.holidays)
    # From the day before: an instant's local date and its neighbours' hours never overlap, but
    # starting one day early costs one step and leaves no doubt at a change of offset near midnight.
    day = start.astimezone(local_zone).date() - timedelta(days=1)
    closed = 0
    while True:
        hours = _open_hours(calendar, local_zone, holidays, day)
        if hours is not None and max(hours[0], start) < hours[1]:
            closed = 0
            begin = max(hours[0], start)
            available = hours[1] - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        else:
            closed += 1
            if closed > MAX_CLOSED_DAYS + 1:  # + the day before ``start``'s
                raise CalendarClosedError(
                    f"the calendar ({calendar.timezone}) has no open hours in the {MAX_CLOSED_DAYS} days "
                    f"after {start.isoformat()}"
                )
        day += timedelta(days=1)


def _open_hours(
    calendar: Calendar, local_zone: tzinfo, holidays: Collection[date], day: date
) -> tuple[datetime, datetime] | None:
    """The opening and closing instants (UTC) of ``day``, a local date; None when closed.

    A local time the clocks skip (the hour lost in spring) is read with the offset before the change,
    and a time they repeat (the hour gained in autumn) is its first occurrence (``fold=0``).
    """
    weekday: Weekday = _WEEKDAYS[day.weekday()]
    hours = calendar.hours.get(weekday)
    if hours is None or day in holidays:
        return None
    opens = datetime.combine(day, hours[0], tzinfo=local_zone).astimezone(UTC)
    closes = datetime.combine(day, hours[1], tzinfo=local_zone).astimezone(UTC)
    return (opens, closes) if opens < closes else None
