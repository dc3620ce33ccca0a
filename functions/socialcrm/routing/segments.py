"""Customer segments, computed as messages arrive: each customer message the route consumer handles reads
its customer's linked identities and their recent messages (the ``by_subject`` index, bounded by time and
count: no scan), computes the segments (``rules.SegmentSettings``) before the rules run, so rules can use
them, and stores them on the customer when they changed. A subject with no customer is segmented on its own
messages (and nothing is stored).

* ``at-risk``: at least N NEGATIVE messages in D days, on any channel;
* ``advocate``: at least N POSITIVE messages in D days and no NEGATIVE one;
* ``vip``: the author has at least N followers, or the customer is listed in the configuration; a
  message that carries no follower count (a direct message, WhatsApp) keeps a vip a vip;
* ``repeat-complainer``: NEGATIVE messages on at least N channels in D days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from socialcrm.models import Interaction
from socialcrm.routing.evaluator import HISTORY_LIMIT, HistoryEntry, HistoryReader
from socialcrm.routing.rules import SegmentSettings


class CustomerDirectory(Protocol):
    """The customers table as routing sees it (``socialcrm.customers.store.CustomerStore``)."""

    def owner_of(self, subject_id: str) -> str | None: ...

    def segment_view(self, customer_id: str) -> tuple[list[tuple[str, str]], tuple[str, ...]] | None:
        """The customer's identities (platform, subject id) and its stored segments; None if it is gone."""
        ...

    def set_segments(self, customer_id: str, segments: Sequence[str], *, at: datetime) -> None: ...


@dataclass(frozen=True)
class CustomerContext:
    """The sender's customer, as the rules see it: its segments, and its recent messages on every channel."""

    customer_id: str | None
    segments: tuple[str, ...]
    # (platform, entry) of every linked identity's recent messages, oldest first, this one included
    history: tuple[tuple[str, HistoryEntry], ...] = field(default=())

    @property
    def entries(self) -> list[HistoryEntry]:
        return [entry for _, entry in self.history]


def customer_context(
    interaction: Interaction,
    *,
    settings: SegmentSettings,
    directory: CustomerDirectory,
    history: HistoryReader,
    days: int = 0,
    owner: tuple[str | None] | None = None,
) -> CustomerContext:
    """The context of ``interaction``'s sender: ``days`` (at least the segments' own periods) of history.
    ``owner``: the sender's customer when the caller has just read it (``(None,)``: none), not read again."""
    customer_id = owner[0] if owner is not None else directory.owner_of(interaction.subject_id)
    view = directory.segment_view(customer_id) if customer_id else None
    identities, stored = view if view is not None else ([], ())
    if view is None:
        customer_id = None  # unlinked (or erased) meanwhile: the sender alone
    if (interaction.platform, interaction.subject_id) not in identities:
        identities = [*identities, (interaction.platform, interaction.subject_id)]
    until = interaction.occurred_at
    since = until - timedelta(days=max(days, settings.within_days))
    entries: dict[str, tuple[str, HistoryEntry]] = {}
    for platform, subject_id in identities:
        for entry in history.recent(subject_id, since=since, until=until, limit=HISTORY_LIMIT):
            if entry.occurred_at <= until:
                entries[entry.interaction_ref] = (platform, entry)
    entries[interaction.interaction_ref] = (interaction.platform, HistoryEntry.of(interaction))
    ordered = tuple(sorted(entries.values(), key=lambda pair: (pair[1].occurred_at, pair[1].interaction_ref)))
    segments = segments_of(
        settings,
        ordered,
        at=until,
        customer_id=customer_id,
        followers=interaction.author.follower_count,
        was_vip="vip" in stored,
    )
    if customer_id is not None and tuple(stored) != segments:
        directory.set_segments(customer_id, segments, at=until)
    return CustomerContext(customer_id, segments, ordered)


def segments_of(
    settings: SegmentSettings,
    history: Sequence[tuple[str, HistoryEntry]],
    *,
    at: datetime,
    customer_id: str | None,
    followers: int | None,
    was_vip: bool = False,
) -> tuple[str, ...]:
    """The segments that hold at ``at`` for this history, in ``rules.SEGMENTS`` order.

    >>> from socialcrm.routing.rules import SegmentSettings
    >>> def said(label, days_ago, platform="x"):
    ...     when = datetime(2026, 11, 20) - timedelta(days=days_ago)
    ...     return (platform, HistoryEntry(f"i{days_ago}{platform}", when, label, None))
    >>> angry = [said("NEGATIVE", 1), said("NEGATIVE", 2, "whatsapp"), said("NEGATIVE", 3)]
    >>> segments_of(SegmentSettings(), angry, at=datetime(2026, 11, 20), customer_id=None, followers=50)
    ('at-risk', 'repeat-complainer')
    """
    if not settings.enabled:
        return ()

    def within(days: int) -> list[tuple[str, HistoryEntry]]:
        since = at - timedelta(days=days)
        return [(platform, entry) for platform, entry in history if entry.occurred_at >= since]

    found: list[str] = []
    risk = settings.at_risk
    if sum(1 for _, e in within(risk.within_days) if e.sentiment == "NEGATIVE") >= risk.negative_at_least:
        found.append("at-risk")
    fan = settings.advocate
    recent = within(fan.within_days)
    positives = sum(1 for _, e in recent if e.sentiment == "POSITIVE")
    if positives >= fan.positive_at_least and not any(e.sentiment == "NEGATIVE" for _, e in recent):
        found.append("advocate")
    vip = settings.vip
    by_followers = vip.min_followers is not None and followers is not None and followers >= vip.min_followers
    if (
        by_followers
        or (customer_id is not None and customer_id in vip.customers)
        or (was_vip and followers is None)
    ):
        found.append("vip")
    repeat = settings.repeat_complainer
    channels = {p for p, e in within(repeat.within_days) if e.sentiment == "NEGATIVE"}
    if len(channels) >= repeat.channels_at_least:
        found.append("repeat-complainer")
    return tuple(found)
