"""A customer's merged timeline: every interaction of every identity once, newest first, page after page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialcrm.customers.timeline import merged_page
from socialcrm.errors import BadRequestError

BASE = datetime(2026, 11, 1, tzinfo=UTC)
CUSTOMER = "cus_" + "0" * 24


class _Item:
    """What the merge reads of an interaction."""

    def __init__(self, subject_id: str, n: int, minutes: int) -> None:
        self.subject_id = subject_id
        self.interaction_ref = f"i_{subject_id[:4]}{n:028d}"
        self.occurred_at = BASE + timedelta(minutes=minutes)


def _at(item: Any) -> str:
    return str(item.occurred_at.isoformat())


class _Index:
    """Each subject's timeline as the by_subject index serves it, counting the items read."""

    def __init__(self, timelines: dict[str, list[_Item]]) -> None:
        self.timelines = {
            s: sorted(items, key=lambda i: (_at(i), i.interaction_ref), reverse=True)
            for s, items in timelines.items()
        }
        self.read = 0

    def __call__(self, subject_id: str, after: dict[str, str] | None, limit: int) -> tuple[list[Any], Any]:
        items = self.timelines[subject_id]
        start = 0
        if after:
            start = next(n for n, i in enumerate(items) if i.interaction_ref == after["interaction_ref"]) + 1
        page = items[start : start + limit]
        self.read += len(page)
        stopped = None
        if start + limit < len(items) or (page and start + limit == len(items)):
            last = page[-1]
            stopped = {
                "interaction_ref": last.interaction_ref,
                "subject_id": subject_id,
                "occurred_at": _at(last),
            }
        return page, stopped


def _subjects(k: int) -> list[str]:
    return [f"{n:x}" * 64 for n in range(1, k + 1)][:k]


def _all_pages(index: _Index, subjects: list[str], limit: int) -> list[Any]:
    seen: list[Any] = []
    cursor = None
    for _page in range(10_000):
        page = merged_page(CUSTOMER, subjects, read=index, occurred_at=_at, limit=limit, cursor=cursor)
        assert len(page.items) <= limit
        seen += page.items
        cursor = page.next_cursor
        if cursor is None:
            return seen
    raise AssertionError("the pages never ended")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 10_000), max_size=40), min_size=1, max_size=5),
    st.integers(1, 30),
)
def test_pages_list_every_interaction_once_newest_first(minutes, limit):
    subjects = _subjects(len(minutes))
    timelines = {
        s: [_Item(s, n, m) for n, m in enumerate(ms)] for s, ms in zip(subjects, minutes, strict=True)
    }
    merged = _all_pages(_Index(timelines), subjects, limit)
    expected = sorted(
        (i for items in timelines.values() for i in items),
        key=lambda i: (_at(i), i.interaction_ref),
        reverse=True,
    )
    assert [i.interaction_ref for i in merged] == [i.interaction_ref for i in expected]


def test_about_as_many_items_are_read_as_returned():
    subjects = _subjects(5)
    timelines = {s: [_Item(s, n, n * 5 + k) for n in range(100)] for k, s in enumerate(subjects)}
    index = _Index(timelines)
    merged = _all_pages(index, subjects, 50)
    assert len(merged) == 500
    assert index.read / len(merged) <= 1.5


def test_a_cursor_of_another_customer_or_tampered_is_refused():
    subjects = _subjects(2)
    index = _Index({s: [_Item(s, n, n) for n in range(10)] for s in subjects})
    page = merged_page(CUSTOMER, subjects, read=index, occurred_at=_at, limit=3, cursor=None)
    assert page.next_cursor is not None
    with pytest.raises(BadRequestError):
        merged_page(
            "cus_" + "1" * 24, subjects, read=index, occurred_at=_at, limit=3, cursor=page.next_cursor
        )
    for tampered in ("not-base64!", page.next_cursor[:-4], "e30"):
        with pytest.raises(BadRequestError):
            merged_page(CUSTOMER, subjects, read=index, occurred_at=_at, limit=3, cursor=tampered)


def test_a_cursor_stays_small_for_a_customer_of_25_identities():
    subjects = [f"{n:064x}" for n in range(25)]
    index = _Index({s: [_Item(s, n, n * 25 + k) for n in range(10)] for k, s in enumerate(subjects)})
    page = merged_page(CUSTOMER, subjects, read=index, occurred_at=_at, limit=30, cursor=None)
    assert page.next_cursor is not None and len(page.next_cursor) <= 4096  # the route takes 8,192
    following = merged_page(
        CUSTOMER, subjects, read=index, occurred_at=_at, limit=30, cursor=page.next_cursor
    )
    assert len(following.items) == 30


def test_a_deeply_nested_cursor_is_a_400_not_a_crash():
    import base64

    nested = base64.urlsafe_b64encode(b"[" * 3000).decode()
    with pytest.raises(BadRequestError):
        merged_page(CUSTOMER, _subjects(1), read=_Index({}), occurred_at=_at, limit=3, cursor=nested)


def test_an_interaction_that_arrives_late_for_an_identity_read_to_its_end_comes_on_a_later_page():
    first, second = _subjects(2)
    timelines = {first: [_Item(first, 0, 200)], second: [_Item(second, n, 100 + n) for n in range(6)]}
    index = _Index(timelines)
    page = merged_page(CUSTOMER, [first, second], read=index, occurred_at=_at, limit=3, cursor=None)
    assert [i.subject_id for i in page.items] == [first, second, second]  # the first identity is read out
    index.timelines[first] = [_Item(first, 0, 200), _Item(first, 1, 50)]  # a delayed webhook, older
    seen, cursor = list(page.items), page.next_cursor
    while cursor:
        page = merged_page(CUSTOMER, [first, second], read=index, occurred_at=_at, limit=3, cursor=cursor)
        seen += page.items
        cursor = page.next_cursor
    assert len(seen) == 8 and len({i.interaction_ref for i in seen}) == 8
    assert seen[-1].subject_id == first  # the late one, oldest of all, last
