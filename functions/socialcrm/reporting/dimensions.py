"""Counter cells: one item per UTC day and dimension string, a sum per attribute.

A dimension string is a family followed by its parts, each percent-encoded, joined by ``|``::

    interactions|<platform>|<sentiment>|<language>         n
    routed|<team>|<platform>|<sentiment>|<language>        n   (read only for a team's summary)
    teams|<team>|<platform>                                n   (interactions routed to a team)
    first_response|<team>|<source>|<platform>              n, seconds, one histogram bucket
    sla|<team>|<priority>|<platform>                       met, breached   (the first-response target)
    next_response|<team>|<priority>|<platform>             met, breached   (one per wait: a round)
    resolution|<team>|<priority>|<platform>                met, breached   (one per case and reopening)
    spikes|<platform>|<topic>                              n
    segments|<segment>|<platform>                          n   (cases opened for a customer in it)

A case routed to several teams counts in each team's first-response and service-level cells, and once
more under the empty team (``ALL_TEAMS``), which the overall figures read so no case counts twice.

``<source>`` says how the first response became known: ``native`` (a brand reply the platform sent
us) or ``patch`` (an agent set it through ``PATCH /cases/{id}``). Cells counted before sources existed
have no source part (``first_response|<team>|<platform>``): only PATCH could set a first response
then, so they read as ``patch`` (:func:`response_source`).

Cells hold aggregates only, never an interaction, case or subject id: how many items a day holds
depends on how many platforms, sentiments, languages, teams and priorities there are, never on how
many interactions were counted.

First-response times go into fixed histogram buckets (``BUCKETS``) plus a sum and a count, so the
average is exact and percentiles are read back to the precision of a bucket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final
from urllib.parse import quote, unquote

INTERACTIONS: Final = "interactions"
ROUTED: Final = "routed"
FIRST_RESPONSE: Final = "first_response"
SLA: Final = "sla"
NEXT_RESPONSE: Final = "next_response"
RESOLUTION: Final = "resolution"
SPIKES: Final = "spikes"
TEAMS: Final = "teams"
SEGMENTS: Final = "segments"
FAMILIES: Final = (
    INTERACTIONS,
    ROUTED,
    TEAMS,
    FIRST_RESPONSE,
    SLA,
    NEXT_RESPONSE,
    RESOLUTION,
    SPIKES,
    SEGMENTS,
)
# The service-level clocks, each a family of met/breached cells (``sla`` is the first response's).
CLOCK_FAMILIES: Final = {"first_response": SLA, "next_response": NEXT_RESPONSE, "resolution": RESOLUTION}
# How a first response became known (the ``<source>`` part of the first-response cells).
NATIVE: Final = "native"
PATCH: Final = "patch"
RESPONSE_SOURCES: Final = (NATIVE, PATCH)
# Sort-key bounds of the routed cells (the team x platform x sentiment x language cross product, the
# largest family): a summary for every team reads below and above them, never them. ("}" follows "|".)
ROUTED_FIRST: Final = f"{ROUTED}|"
ROUTED_AFTER: Final = f"{ROUTED}}}"

# Sentiment buckets: the four labels, PENDING (Comprehend has not answered yet) and UNSCORED (no
# sentiment: no text, an unsupported or undetermined language, or analysis failed).
SENTIMENTS: Final = ("POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED", "PENDING", "UNSCORED")
PENDING: Final = "PENDING"
UNSCORED: Final = "UNSCORED"
UNKNOWN_LANGUAGE: Final = "und"  # BCP-47 "undetermined"
UNASSIGNED_TEAM: Final = "unassigned"  # a case routed to no team
# The team part of the first-response and SLA cells that count each case once, whatever its teams.
ALL_TEAMS: Final = ""

# First-response histogram: (attribute, upper edge in seconds); a time goes into the first bucket
# whose edge it does not exceed. The last bucket has no upper edge.
BUCKETS: Final[tuple[tuple[str, float], ...]] = (
    ("le_1m", 60),
    ("le_5m", 5 * 60),
    ("le_15m", 15 * 60),
    ("le_30m", 30 * 60),
    ("le_1h", 3600),
    ("le_2h", 2 * 3600),
    ("le_4h", 4 * 3600),
    ("le_8h", 8 * 3600),
    ("le_24h", 24 * 3600),
    ("le_48h", 48 * 3600),
    ("le_7d", 7 * 24 * 3600),
    ("over_7d", math.inf),
)
COUNT_ATTRIBUTES: Final = ("n", "seconds", "met", "breached", *(name for name, _ in BUCKETS))


@dataclass(frozen=True)
class CellKey:
    """Where a count goes: the UTC day (YYYY-MM-DD) and the dimension string."""

    day: str
    dimension: str


@dataclass(frozen=True)
class Cell:
    """A counter cell as read back: its key and its sums (only the attributes it has)."""

    day: str
    dimension: str
    values: dict[str, int]

    @property
    def family(self) -> str:
        return self.dimension.split("|", 1)[0]

    @property
    def parts(self) -> list[str]:
        return decode(self.dimension)[1]

    def get(self, attribute: str) -> int:
        return self.values.get(attribute, 0)


def encode(family: str, *parts: str) -> str:
    """The dimension string of a cell; ``|`` and ``%`` inside a part are percent-encoded.

    >>> encode("routed", "support|eu", "x", "NEGATIVE", "en")
    'routed|support%7Ceu|x|NEGATIVE|en'
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown counter family {family!r}")
    return "|".join([family, *(quote(part, safe="") for part in parts)])


def decode(dimension: str) -> tuple[str, list[str]]:
    """The family and the parts of a dimension string.

    >>> decode('routed|support%7Ceu|x|NEGATIVE|en')
    ('routed', ['support|eu', 'x', 'NEGATIVE', 'en'])
    """
    family, *parts = dimension.split("|")
    return family, [unquote(part) for part in parts]


def day_of(moment: datetime) -> str:
    """The UTC day an (aware) moment falls on, as the partition key of the counters."""
    return moment.astimezone(UTC).date().isoformat()


def bucket_for(seconds: float) -> str:
    """The histogram bucket a first-response time falls in.

    >>> bucket_for(45), bucket_for(60), bucket_for(61), bucket_for(10**7)
    ('le_1m', 'le_1m', 'le_5m', 'over_7d')
    """
    for name, edge in BUCKETS:
        if seconds <= edge:
            return name
    return BUCKETS[-1][0]  # pragma: no cover - the last edge is infinite


def response_source(parts: list[str]) -> str:
    """The source of a first-response cell from its parts (``patch`` for a cell counted before sources).

    >>> response_source(["support", "native", "x"]), response_source(["support", "x"])
    ('native', 'patch')
    """
    return parts[1] if len(parts) == 3 else PATCH


def percentile_bucket(buckets: dict[str, int], fraction: float) -> tuple[int, int | None] | None:
    """The bucket holding the ``fraction`` percentile as ``(above, at_most)`` seconds: the true
    percentile is more than ``above`` and at most ``at_most``; ``at_most`` is None in the open last
    bucket (more than 7 days). None when nothing was counted.

    The rank is the nearest-rank one (the ``ceil(fraction * n)``-th smallest time), so with 10 times
    the p90 is the 9th: one time in ten may be slower.

    >>> percentile_bucket({"le_1m": 5, "le_15m": 4, "le_1h": 1}, 0.9)
    (300, 900)
    >>> percentile_bucket({"le_1m": 1, "over_7d": 9}, 0.9)
    (604800, None)
    """
    total = sum(buckets.get(name, 0) for name, _ in BUCKETS)
    if total == 0:
        return None
    rank = math.ceil(fraction * total)
    seen = 0
    previous_edge: float = 0
    for name, edge in BUCKETS:
        seen += buckets.get(name, 0)
        if seen >= rank:
            return int(previous_edge), None if math.isinf(edge) else int(edge)
        previous_edge = edge
    return int(previous_edge), None  # pragma: no cover - seen reaches total in the loop


def percentile_upper_bound(buckets: dict[str, int], fraction: float) -> int | None:
    """The upper edge of the bucket holding the ``fraction`` percentile (None when nothing was counted).

    The true percentile lies inside that bucket: at most its edge, above the previous bucket's edge.
    In the open last bucket the answer is its lower edge (7 days): "at least".

    >>> percentile_upper_bound({"le_1m": 5, "le_15m": 4, "le_1h": 1}, 0.9)
    900
    """
    bucket = percentile_bucket(buckets, fraction)
    if bucket is None:
        return None
    above, at_most = bucket
    return above if at_most is None else at_most


def _span(seconds: float) -> str:
    if seconds >= 86_400 and seconds % 86_400 == 0 and seconds > 2 * 86_400:
        return f"{int(seconds // 86_400)} days"
    if seconds >= 3600:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 60)} min"


def bucket_edges() -> str:
    """The histogram's edges in words, for the API description and the page.

    >>> bucket_edges()
    '1, 5, 15, 30 min, 1, 2, 4, 8, 24, 48 h, 7 days'
    """
    words = [_span(edge) for _, edge in BUCKETS if not math.isinf(edge)]
    grouped: list[str] = []
    for index, word in enumerate(words):
        number, unit = word.split(" ")
        last_of_unit = index == len(words) - 1 or words[index + 1].split(" ")[1] != unit
        grouped.append(word if last_of_unit else number)
    return ", ".join(grouped)


def days_between(first: date, last: date) -> list[str]:
    """Every day from ``first`` to ``last`` inclusive, as partition keys."""
    return [
        date.fromordinal(ordinal).isoformat() for ordinal in range(first.toordinal(), last.toordinal() + 1)
    ]
