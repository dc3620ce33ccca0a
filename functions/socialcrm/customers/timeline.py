"""One timeline across a customer's identities: each identity's own timeline (its ``by_subject`` index,
newest first), merged a page at a time, with no scan.

Each identity is read in chunks sized to its share of the page, and again only when the merge has used
what it read and still needs more, so about as many items are read as are returned. The cursor holds,
per identity, the last item returned from it: the next page reads each identity from there (one read
of an identity already read to its end costs a query that returns nothing, and finds what arrived late). An identity linked after the first page is read from the start by a new traversal.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from socialcrm.errors import BadRequestError
from socialcrm.models import Interaction

Position = dict[str, str]  # the index key of the last item returned: interaction_ref, subject_id, occurred_at
# Reads one identity: (subject_id, after, limit) -> (interactions, the key the read stopped at or None).
Reader = Callable[[str, Position | None, int], tuple[list[Interaction], Position | None]]
MIN_CHUNK = 2
_PREFIX = 16  # of a subject id, naming its identity in the cursor (a customer has at most 25)
_SUBJECT_PREFIX = r"[0-9a-f]{16}"


@dataclass
class _Identity:
    subject_id: str
    returned: Position | None  # the last item returned from it (where the next page starts)
    read_to: Position | None  # where its next read starts
    exhausted: bool = False  # nothing left to read
    buffer: deque[tuple[Interaction, Position]] = field(default_factory=deque)


@dataclass(frozen=True)
class MergedPage:
    items: list[Interaction]
    next_cursor: str | None
    items_read: int


def position(interaction: Interaction, occurred_at: str) -> Position:
    return {
        "interaction_ref": interaction.interaction_ref,
        "subject_id": interaction.subject_id,
        "occurred_at": occurred_at,
    }


def merged_page(
    customer_id: str,
    subject_ids: Sequence[str],
    *,
    read: Reader,
    occurred_at: Callable[[Interaction], str],
    limit: int,
    cursor: str | None,
) -> MergedPage:
    """A page of the customer's interactions across ``subject_ids``, newest first."""
    identities = _start(customer_id, subject_ids, cursor)
    live = [i for i in identities if not i.exhausted]
    chunk = max(MIN_CHUNK, math.ceil(limit / max(1, len(live))) + 1)
    items: list[Interaction] = []
    read_count = 0

    def fill(identity: _Identity, size: int) -> None:
        nonlocal read_count
        found, stopped_at = read(identity.subject_id, identity.read_to, size)
        read_count += len(found)
        identity.buffer.extend((i, position(i, occurred_at(i))) for i in found)
        identity.read_to = stopped_at
        identity.exhausted = stopped_at is None

    while len(items) < limit:
        for identity in live:
            if not identity.buffer and not identity.exhausted:
                fill(identity, min(chunk, max(MIN_CHUNK, limit - len(items))))
        ready = [i for i in live if i.buffer]
        if not ready:
            break
        newest = max(ready, key=lambda i: (i.buffer[0][1]["occurred_at"], i.buffer[0][1]["interaction_ref"]))
        interaction, at = newest.buffer.popleft()
        newest.returned = at
        items.append(interaction)

    done = all(i.exhausted and not i.buffer for i in identities)  # this page read every identity to its end
    next_cursor = None if done else _encode(customer_id, identities)
    return MergedPage(items=items, next_cursor=next_cursor, items_read=read_count)


def _start(customer_id: str, subject_ids: Sequence[str], cursor: str | None) -> list[_Identity]:
    if cursor is None:
        return [_Identity(s, None, None) for s in subject_ids]
    state = _decode(customer_id, cursor)
    identities = []
    for subject_id in subject_ids:
        where = state.get(subject_id[:_PREFIX])
        if where is None:
            continue  # linked after the traversal began: a new traversal reads it
        at = (
            None
            if where == "start"
            else {"occurred_at": where[0], "interaction_ref": where[1], "subject_id": subject_id}
        )
        identities.append(_Identity(subject_id, at, at))
    return identities


def _encode(customer_id: str, identities: Sequence[_Identity]) -> str:
    """Per identity (by the first 16 characters of its subject id): the last item returned from it as
    ``[occurred_at, interaction_ref]``, or ``"start"``. An identity read to its end keeps its position
    too, so an interaction that arrives late for it, older than the page, still comes on a later page."""
    state: dict[str, Any] = {}
    for identity in identities:
        at = identity.returned
        state[identity.subject_id[:_PREFIX]] = [at["occurred_at"], at["interaction_ref"]] if at else "start"
    document = {"c": customer_id, "p": state}
    return base64.urlsafe_b64encode(json.dumps(document, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(customer_id: str, cursor: str) -> dict[str, Any]:
    invalid = BadRequestError("The cursor is not one this API returned for this customer.")
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise invalid from exc
    if not isinstance(document, dict) or document.get("c") != customer_id:
        raise invalid
    state = document.get("p")
    if not isinstance(state, dict):
        raise invalid
    for prefix, where in state.items():
        if not re.fullmatch(_SUBJECT_PREFIX, prefix):
            raise invalid
        if where == "start":
            continue
        if (
            not isinstance(where, list)
            or len(where) != 2
            or not all(isinstance(v, str) and 0 < len(v) <= 64 for v in where)
        ):
            raise invalid
    return state
