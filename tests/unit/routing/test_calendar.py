"""Business time: service-level targets count only a team calendar's open hours, in its own time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialcrm.routing.calendar import CalendarClosedError, due_at
from socialcrm.routing.evaluator import CompiledRules
from socialcrm.routing.rules import Calendar, parse_rules
from tests.support.pipeline import analysed, interaction

KOLKATA = ZoneInfo("Asia/Kolkata")
LONDON = ZoneInfo("Europe/London")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
INDIA = Calendar(
    timezone="Asia/Kolkata",
    hours={day: ("09:00", "18:00") for day in WEEKDAYS},
    holidays=[date(2026, 12, 25)],
)
UK = Calendar(
    timezone="Europe/London",
    hours={**{day: ("09:00", "17:00") for day in WEEKDAYS}, "sat": ("10:00", "14:00")},
)


def india(*args: int) -> datetime:
    return datetime(*args, tzinfo=KOLKATA)


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def test_a_p2_complaint_received_friday_1745_in_india_is_due_monday_0945():
    # Given support works 09:00-18:00 Monday to Friday in India, and a P2 complaint rule for support
    document = parse_rules(
        {
            "teams": ["support", "product", "pr"],
            "calendars": {
                "india": {"timezone": "Asia/Kolkata", "hours": {d: ["09:00", "18:00"] for d in WEEKDAYS}}
            },
            "team_calendars": {"support": "india"},
            "rules": [
                {
                    "id": "complaint",
                    "when": {"keywords": ["refund"]},
                    "then": {"teams": ["support", "product"], "priority": "P2"},
                }
            ],
        }
    )
    received = india(2026, 11, 27, 17, 45)  # a Friday
    item = analysed(interaction(text="I want a refund"), "NEGATIVE")
    decision = CompiledRules(document).evaluate(item, at=received)
    # When its first-response target (60 minutes) is counted in its team's calendar
    minutes = document.targets(decision.priority).first_response
    due = due_at(received.astimezone(UTC), minutes, document.calendar_for(decision.teams))
    # Then 15 minutes count on Friday and 45 on Monday morning
    assert (decision.priority, minutes) == ("P2", 60)
    assert due == india(2026, 11, 30, 9, 45)
    assert due.tzinfo is UTC
    # And the warning at 80% (48 minutes) falls on Monday too
    assert due_at(received, 60 * 0.8, document.calendar_for(decision.teams)) == india(2026, 11, 30, 9, 33)


def test_without_a_calendar_every_minute_counts():
    start = datetime(2026, 11, 27, 12, 15, tzinfo=UTC)
    assert due_at(start, 60, None) == datetime(2026, 11, 27, 13, 15, tzinfo=UTC)
    assert due_at(india(2026, 11, 27, 17, 45), 90, None).tzinfo is UTC


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        # a holiday (Christmas, a Friday) is skipped
        (india(2026, 12, 24, 17, 30), 60, india(2026, 12, 28, 9, 30)),
        # before opening, the clock starts at the opening
        (india(2026, 11, 23, 7, 0), 30, india(2026, 11, 23, 9, 30)),
        # on a Saturday, it starts on Monday morning
        (india(2026, 11, 28, 11, 0), 30, india(2026, 11, 30, 9, 30)),
        # after closing, it starts the next working morning
        (india(2026, 11, 24, 20, 0), 30, india(2026, 11, 25, 9, 30)),
        # a target spanning several days: two full days of nine hours and one more hour
        (india(2026, 11, 23, 10, 0), 2 * 9 * 60 + 60, india(2026, 11, 25, 11, 0)),
        # a target ending at closing time is due then, not at the next opening
        (india(2026, 11, 27, 17, 0), 60, india(2026, 11, 27, 18, 0)),
        # fractional minutes: half a minute is thirty seconds
        (india(2026, 11, 23, 10, 0), 0.5, india(2026, 11, 23, 10, 0, 30)),
        # zero minutes are due at once, even outside hours
        (india(2026, 11, 28, 11, 0), 0, india(2026, 11, 28, 11, 0)),
    ],
    ids=[
        "holiday",
        "before-opening",
        "saturday",
        "after-closing",
        "several-days",
        "at-closing",
        "fraction",
        "zero",
    ],
)
def test_business_minutes_in_india(start, minutes, due):
    assert due_at(start, minutes, INDIA) == due


def test_a_day_with_other_hours_counts_its_own_hours():
    # Given Saturday 10:00-14:00 in the UK calendar, Then a Friday 16:30 hour ends on Saturday 10:30
    assert due_at(london(2026, 11, 27, 16, 30), 60, UK) == london(2026, 11, 28, 10, 30)
    # And one that outlasts Saturday goes on on Monday
    assert due_at(london(2026, 11, 28, 13, 0), 120, UK) == london(2026, 11, 30, 10, 0)


def test_the_clocks_going_forward_in_march_are_counted_in_local_time():
    # Given Friday 27 March 2026 16:30 in London (GMT, UTC+0); the clocks go forward on Sunday 29 March
    start = london(2026, 3, 27, 16, 30)
    assert start.utcoffset() == timedelta(0)
    # When a 60-minute target is counted
    due = due_at(start, 60, UK)
    # Then 30 minutes count on Friday, 30 on Saturday from 10:00 (BST, UTC+1), due 10:30 local
    assert due == london(2026, 3, 28, 10, 30)
    assert (
        due_at(start, 60 + 4 * 60, UK)
        == london(2026, 3, 30, 9, 30)
        == datetime(2026, 3, 30, 8, 30, tzinfo=UTC)
    )


def test_the_clocks_going_back_in_october_are_counted_in_local_time():
    # Given Friday 23 October 2026 16:30 in London (BST); the clocks go back on Sunday 25 October
    start = london(2026, 10, 23, 16, 30)
    # Then a target outlasting Friday and Saturday resumes at 09:00 GMT on Monday, not at 08:00
    due = due_at(start, 30 + 4 * 60 + 30, UK)
    assert due == london(2026, 10, 26, 9, 30) == datetime(2026, 10, 26, 9, 30, tzinfo=UTC)


def test_open_hours_across_a_change_of_the_clocks_count_the_time_that_really_passes():
    # Given a calendar open Sunday 00:00-06:00 in London
    night = Calendar(timezone="Europe/London", hours={"sun": ("00:00", "06:00")})
    # Then on 29 March 2026 (one hour skipped) it is open five real hours, on 25 October seven
    assert due_at(london(2026, 3, 29, 0, 0), 5 * 60, night) == london(2026, 3, 29, 6, 0)
    assert due_at(london(2026, 3, 29, 0, 0), 5 * 60 + 1, night) == london(2026, 4, 5, 0, 1)
    assert due_at(london(2026, 10, 25, 0, 0), 7 * 60, night) == london(2026, 10, 25, 6, 0)
    assert due_at(london(2026, 10, 25, 0, 0), 4 * 60, night) == datetime(2026, 10, 25, 3, 0, tzinfo=UTC)


def test_a_start_without_a_time_zone_or_negative_minutes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at(datetime(2026, 11, 27, 17, 45), 60, INDIA)
    with pytest.raises(ValueError, match="at least 0"):
        due_at(india(2026, 11, 27, 17, 45), -1, INDIA)
    with pytest.raises(ValueError, match="at least 0"):
        due_at(india(2026, 11, 27, 17, 45), float("nan"), INDIA)


def test_a_calendar_whose_every_open_day_is_a_holiday_for_a_year_fails_clearly_rather_than_looping():
    mondays = [date(2027, 1, 4) + timedelta(weeks=n) for n in range(60)]
    closed = Calendar(timezone="UTC", hours={"mon": ("09:00", "17:00")}, holidays=mondays)
    with pytest.raises(CalendarClosedError, match="no open hours in the 366 days"):
        due_at(datetime(2027, 1, 1, tzinfo=UTC), 60, closed)


# --- properties ---------------------------------------------------------------------------------------

CALENDARS = [
    INDIA,
    UK,
    Calendar(timezone="America/New_York", hours={"wed": ("23:00", "23:59")}, holidays=[date(2026, 7, 1)]),
    Calendar(timezone="Australia/Lord_Howe", hours={d: ("00:00", "23:59") for d in ("sat", "sun")}),
]
starts = st.datetimes(
    min_value=datetime(2025, 12, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
# Whole seconds, as minutes: the sums of two are exact, so the property can be checked for equality.
minutes = st.integers(min_value=0, max_value=30 * 24 * 3600).map(lambda seconds: seconds / 60)


@given(start=starts, a=minutes, b=minutes, calendar=st.sampled_from([*CALENDARS, None]))
def test_counting_a_then_b_minutes_is_counting_a_plus_b(start, a, b, calendar):
    assert due_at(start, a + b, calendar) == due_at(due_at(start, a, calendar), b, calendar)


@given(start=starts, a=minutes, calendar=st.sampled_from([*CALENDARS, None]))
def test_a_due_time_is_never_before_the_start(start, a, calendar):
    due = due_at(start, a, calendar)
    assert due >= start and due.tzinfo is UTC
