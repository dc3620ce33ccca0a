"""Routing's tables (cases, spike counters) and the reads routing makes of interactions.

Cases table: one row per case (``row = "case"``, key = the case id, the whole case) plus one per team
the case is queued for (key ``<case id>#<team>``): the case's place in that team's queue, nothing more.
A work queue is one query of the ``by_queue`` index (``queue = "<team>|<status>"``, ``rank =
"<priority>#<due>#<case id>"``: most urgent first, then the soonest due) and one batch read of the
cases it lists; a case's team rows are written only when its place changes (status, priority, due
time, a new team), not on every message. The case row's queue is ``"*|<status>"`` (every team).
Every row carries the ``subject_id``, so erasure finds all of a subject's rows through ``by_subject``.

A conversation has one row too (``row = "conversation"``, key = its ``v_…`` ref, no queue): its current
case and the brand replies that arrived before any case. Opening a case writes the case's rows and the
conversation's, in one transaction conditional on the conversation's version: of two consumers that
open a case for one conversation at the same moment, one wins and the other joins its case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, PynamoDBException, TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from socialcrm.dal.cursors import decode_cursor, encode_cursor
from socialcrm.dal.models import InteractionItem
from socialcrm.dal.repository import InteractionRepository, StoreError
from socialcrm.models import Interaction, Routing
from socialcrm.routing.case import INTERNAL_FIELDS, Case, CaseChange, Conversation
from socialcrm.routing.evaluator import HistoryEntry
from socialcrm.topology import RETENTION_DAYS

_CURSOR_KEYS = frozenset({"case_id", "queue", "rank"})


def _after_rank(since: str | None, priority: str | None) -> Any:
    """The key condition of queue places after ``since`` (a rank), of ``priority`` only if given."""
    if priority is None:
        return CaseItem.rank > since if since else None
    prefix = f"{priority}#"
    low = since + "\x00" if since and since >= prefix else prefix  # just after ``since``: excluded
    return CaseItem.rank.between(low, prefix + "\uffff")


ALL_TEAMS = "*"
ECHO_MEMORY = timedelta(days=7)
UPDATE_ATTEMPTS = 3


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class CaseQueueIndex(GlobalSecondaryIndex["CaseItem"]):
    """Work queues: a team's cases of one status, most urgent first."""

    class Meta:
        index_name = "by_queue"
        projection = AllProjection()

    queue = UnicodeAttribute(hash_key=True)
    rank = UnicodeAttribute(range_key=True)


class CaseSubjectIndex(GlobalSecondaryIndex["CaseItem"]):
    """A subject's case rows (erasure and export without scans)."""

    class Meta:
        index_name = "by_subject"
        projection = AllProjection()

    subject_id = UnicodeAttribute(hash_key=True)
    opened_at = UnicodeAttribute(range_key=True)


class CaseItem(Model):
    class Meta:
        table_name = "socialcrm-cases"
        region: str | None = None
        host: str | None = None

    case_id = UnicodeAttribute(hash_key=True)  # the row's key: the case id, or "<case id>#<team>"
    case_ref = UnicodeAttribute()  # the case's id, on every row of the case
    row = UnicodeAttribute()  # "case", "team" or "conversation"
    queue = UnicodeAttribute(null=True)  # none on a conversation row: it is in no work queue
    rank = UnicodeAttribute(null=True)
    subject_id = UnicodeAttribute()
    opened_at = UnicodeAttribute()
    version = NumberAttribute(default=0)
    body = MapAttribute(null=True)  # type: ignore[var-annotated]  # the case row and conversation row only
    announced = BooleanAttribute(default=False)
    breach_announced = BooleanAttribute(default=False)
    claimed_by = UnicodeAttribute(null=True)  # on the case row only
    expires_at = TTLAttribute(null=True)

    by_queue = CaseQueueIndex()
    by_subject = CaseSubjectIndex()


class CounterItem(Model):
    class Meta:
        table_name = "socialcrm-counters"
        region: str | None = None
        host: str | None = None

    counter_id = UnicodeAttribute(hash_key=True)
    hits = NumberAttribute(default=0)
    fired_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


MODELS: dict[str, type[Model]] = {"cases": CaseItem, "counters": CounterItem}


def bind(table_names: dict[str, str], *, region: str | None, host: str | None = None) -> None:
    """Point routing's models at their tables (as ``socialcrm.dal.models.bind`` does for the others)."""
    for key, model in MODELS.items():
        if key in table_names:
            model.Meta.table_name = table_names[key]
        model.Meta.region = region  # type: ignore[attr-defined]
        model.Meta.host = host  # type: ignore[attr-defined]
        model._connection = None


def queue_key(team: str, status: str) -> str:
    return f"{team}|{status}"


def rank_of(case: Case) -> str:
    return f"{case.priority}#{_iso(case.sla_due_at)}#{case.case_id}"


class CaseRepository:
    def __init__(self) -> None:
        self._connection: Connection | None = None

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            self._connection = Connection(region=CaseItem.Meta.region, host=CaseItem.Meta.host)
        return self._connection

    # -- reads ---------------------------------------------------------------------------------------

    def get(self, case_id: str) -> Case | None:
        try:
            item = CaseItem.get(case_id, consistent_read=True)
        except CaseItem.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise StoreError("Could not read the case.") from exc
        return self._case(item) if item.row == "case" else None

    def queue(
        self,
        *,
        team: str | None,
        status: str,
        priority: str | None,
        limit: int,
        cursor: str | None = None,
        teams: frozenset[str] | None = None,
    ) -> tuple[list[Case], str | None]:
        """A page of a work queue, most urgent first (then soonest due); the cursor is opaque.

        ``team``: that team's queue. Else ``teams``: the cases of any of them (one team's queue, or their
        queues merged). Else every team's cases."""
        if team is None and teams is not None:
            if len(teams) > 1:
                return self._merged_queue(sorted(teams), status, priority, limit, cursor)
            (team,) = teams
        key = queue_key(team or ALL_TEAMS, status)
        try:
            results = CaseItem.by_queue.query(
                key,
                range_key_condition=CaseItem.rank.startswith(f"{priority}#") if priority else None,
                limit=limit,
                last_evaluated_key=decode_cursor(
                    cursor, key_names=_CURSOR_KEYS, scope=("queue", key), what="queue"
                ),
            )
            rows = list(results)
            page = self._cases_of(rows)
        except PynamoDBException as exc:
            raise StoreError("Could not read the work queue.") from exc
        return page, encode_cursor(results.last_evaluated_key)

    def _merged_queue(
        self, teams: list[str], status: str, priority: str | None, limit: int, cursor: str | None
    ) -> tuple[list[Case], str | None]:
        """Several teams' queues merged in queue order: from each team's queue, at most ``limit`` places
        after the cursor's; a case queued for two of the teams comes once. The cursor is the rank of the
        page's last case (one of the caller's), bound to the teams, status and priority asked for."""
        scope = f"{' '.join(teams)}|{status}|{priority or ''}"
        after = decode_cursor(cursor, key_names=_CURSOR_KEYS, scope=("queue", scope), what="queue")
        since = after["rank"]["S"] if after else None
        condition = _after_rank(since, priority)
        places: dict[str, CaseItem] = {}
        more = False
        try:
            for name in teams:
                results = CaseItem.by_queue.query(
                    queue_key(name, status), range_key_condition=condition, limit=limit
                )
                for row in results:
                    places.setdefault(row.case_ref, row)  # a case's places share its rank
                more = more or results.last_evaluated_key is not None
            ordered = sorted(places.values(), key=lambda row: row.rank or "")
            rows = ordered[:limit]
            page = self._cases_of(rows)
        except PynamoDBException as exc:
            raise StoreError("Could not read the work queue.") from exc
        if not rows or not (more or len(ordered) > limit):
            return page, None
        last = rows[-1]
        return page, encode_cursor(
            {"queue": {"S": scope}, "rank": {"S": last.rank or ""}, "case_id": {"S": last.case_ref}}
        )

    def _cases_of(self, rows: list[CaseItem]) -> list[Case]:
        """The cases of a page of queue rows, in its order: a team row holds only the case's place in
        the queue, so its case is read from the case row (one consistent batch read for the page)."""
        wanted = [row.case_ref for row in rows if row.row != "case"]
        found = (
            {item.case_id: item for item in CaseItem.batch_get(wanted, consistent_read=True)}
            if wanted
            else {}
        )
        page = []
        for row in rows:
            item = row if row.row == "case" else found.get(row.case_ref)
            if item is not None:  # None: erased since the index was read
                page.append(self._case(item))
        return page

    def teams_of(self, case_ids: Sequence[str]) -> dict[str, list[str]]:
        """The teams each of ``case_ids`` is queued for now (a case that is gone is left out)."""
        return {case.case_id: case.teams for case in self._batch(case_ids)}

    def any_open(self, case_ids: Sequence[str]) -> bool:
        return any(case.status != "resolved" for case in self._batch(case_ids))

    def _batch(self, case_ids: Sequence[str]) -> list[Case]:
        """The cases of ``case_ids`` that exist (one consistent batch read of the first 100: BatchGetItem's
        limit, and the most a page names)."""
        wanted = list(dict.fromkeys(case_ids))[:100]
        if not wanted:
            return []
        try:
            items = list(CaseItem.batch_get(wanted, consistent_read=True))
        except PynamoDBException as exc:
            raise StoreError("Could not read the cases.") from exc
        return [self._case(item) for item in items if item.row == "case"]

    def open_case_ids(self, subject_id: str, teams: frozenset[str] | None = None) -> list[str]:
        """The subject's cases that are not resolved, newest first (its case rows through ``by_subject``);
        with ``teams``, only those routed to one of them."""
        try:
            rows = CaseItem.by_subject.query(
                subject_id, scan_index_forward=False, filter_condition=CaseItem.row == "case"
            )
            cases = [self._case(row) for row in rows]
            return [
                case.case_id
                for case in cases
                if case.status != "resolved" and (teams is None or not teams.isdisjoint(case.teams))
            ]
        except PynamoDBException as exc:
            raise StoreError("Could not read the subject's cases.") from exc

    def conversation(self, conversation_ref: str) -> Conversation | None:
        try:
            item = CaseItem.get(conversation_ref, consistent_read=True)
        except CaseItem.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise StoreError("Could not read the conversation.") from exc
        if item.row != "conversation":
            return None
        body = item.body.as_dict() if hasattr(item.body, "as_dict") else dict(item.body)
        return Conversation.model_validate({**body, "version": int(item.version or 0)})

    # -- writes --------------------------------------------------------------------------------------

    def open(self, case: Case) -> bool:
        return self._transact_open(case, None)

    def open_in(self, conversation: Conversation, case: Case, *, expected_version: int | None) -> bool:
        return self._transact_open(case, (conversation, expected_version))

    def keep(self, conversation: Conversation, *, expected_version: int | None) -> bool:
        row = self._conversation_row(conversation, expected_version)
        try:
            row.save(condition=self._version_condition(expected_version))
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise StoreError("Could not store the conversation.") from exc
        except PynamoDBException as exc:
            raise StoreError("Could not store the conversation.") from exc
        return True

    def _transact_open(self, case: Case, conversation: tuple[Conversation, int | None] | None) -> bool:
        rows = self._rows(case)
        try:
            with TransactWrite(connection=self.connection) as tx:
                tx.save(rows[0], condition=CaseItem.case_id.does_not_exist())
                for row in rows[1:]:
                    tx.save(row)
                if conversation is not None:
                    state, expected = conversation
                    tx.save(
                        self._conversation_row(state, expected), condition=self._version_condition(expected)
                    )
        except TransactWriteError as exc:
            if _condition_failed(exc):
                return False
            raise StoreError("Could not open the case.") from exc
        except PynamoDBException as exc:
            raise StoreError("Could not open the case.") from exc
        return True

    @staticmethod
    def _version_condition(expected: int | None) -> Any:
        if expected is None:
            return CaseItem.case_id.does_not_exist()
        return CaseItem.version == expected

    @staticmethod
    def _conversation_row(conversation: Conversation, expected: int | None) -> CaseItem:
        body = conversation.model_dump(mode="json", exclude={"version"}, exclude_none=True)
        return CaseItem(
            conversation.conversation_ref,
            case_ref=conversation.case_id or conversation.conversation_ref,
            row="conversation",
            subject_id=conversation.subject_id,
            opened_at=_iso(conversation.updated_at),
            version=(expected or 0) + 1,
            body=body,
            expires_at=conversation.updated_at + timedelta(days=RETENTION_DAYS["cases"]),
        )

    def update(
        self, case_id: str, change: Callable[[Case], Case | None], *, current: Case | None = None
    ) -> CaseChange:
        for _attempt in range(UPDATE_ATTEMPTS):
            if current is None:
                current = self.get(case_id)
            if current is None:
                return CaseChange(None, None, False)
            changed = change(current)
            if changed is None:
                return CaseChange(current, current, False)
            changed = changed.model_copy(update={"version": current.version + 1})
            if self._write(current, changed):
                return CaseChange(current, changed, True)
            current = None  # it changed meanwhile: read it again
        raise StoreError(f"The case {case_id} kept changing; retry.")

    def _write(self, current: Case, changed: Case) -> bool:
        main, *teams = self._rows(changed)
        # A team row is the case's place in a team's queue: written only when that place changes.
        if (rank_of(current), current.status) == (rank_of(changed), changed.status):
            known = {f"{current.case_id}#{team}" for team in current.teams}
            teams = [row for row in teams if row.case_id not in known]
        try:
            with TransactWrite(connection=self.connection) as tx:
                tx.update(
                    main,
                    actions=[
                        CaseItem.body.set(main.body),
                        CaseItem.queue.set(main.queue),
                        CaseItem.rank.set(main.rank),
                        CaseItem.version.set(changed.version),
                    ],
                    condition=CaseItem.version == current.version,
                )
                for row in teams:
                    tx.save(row)
        except TransactWriteError as exc:
            if _condition_failed(exc):
                return False
            raise StoreError("Could not update the case.") from exc
        except PynamoDBException as exc:
            raise StoreError("Could not update the case.") from exc
        return True

    def mark(self, case_id: str, **flags: bool) -> None:
        actions = [getattr(CaseItem, name).set(value) for name, value in flags.items()]
        try:
            CaseItem(case_id).update(actions=actions, condition=CaseItem.case_id.exists())
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return  # erased meanwhile
            raise StoreError("Could not update the case.") from exc
        except PynamoDBException as exc:
            raise StoreError("Could not update the case.") from exc

    # -- mapping -------------------------------------------------------------------------------------

    @staticmethod
    def _rows(case: Case) -> list[CaseItem]:
        body = case.model_dump(mode="json", exclude=set(INTERNAL_FIELDS), exclude_none=True)
        common: dict[str, Any] = {
            "case_ref": case.case_id,
            "rank": rank_of(case),
            "subject_id": case.subject_id,
            "opened_at": _iso(case.opened_at),
            "expires_at": case.opened_at + timedelta(days=RETENTION_DAYS["cases"]),
        }
        rows = [
            CaseItem(
                case.case_id,
                row="case",
                queue=queue_key(ALL_TEAMS, case.status),
                claimed_by=case.claimed_by,
                version=case.version,
                body=body,
                **common,
            )
        ]
        rows += [
            CaseItem(f"{case.case_id}#{team}", row="team", queue=queue_key(team, case.status), **common)
            for team in case.teams
        ]
        return rows

    @staticmethod
    def _case(item: CaseItem) -> Case:
        body = item.body.as_dict() if hasattr(item.body, "as_dict") else dict(item.body)
        return Case.model_validate(
            {
                **body,
                "version": int(item.version or 0),
                "announced": bool(item.announced),
                "breach_announced": bool(item.breach_announced),
                "claimed_by": item.claimed_by,
            }
        )


class CounterRepository:
    """Atomic spike counters (``UpdateItem ADD``), read in batches, expiring by TTL."""

    def increment(self, key: str, *, expires_at: datetime) -> tuple[int, bool]:
        item = CounterItem(key)
        try:
            item.update(actions=[CounterItem.hits.add(1), CounterItem.expires_at.set(expires_at)])
        except PynamoDBException as exc:
            raise StoreError("Could not count the interaction.") from exc
        return int(item.hits), item.fired_at is not None

    def read(self, keys: Sequence[str]) -> dict[str, tuple[int, bool]]:
        try:
            items = list(CounterItem.batch_get(list(dict.fromkeys(keys))))
        except PynamoDBException as exc:
            raise StoreError("Could not read the counters.") from exc
        return {item.counter_id: (int(item.hits), item.fired_at is not None) for item in items}

    def mark_fired(self, key: str) -> None:
        try:
            CounterItem(key).update(actions=[CounterItem.fired_at.set(_iso(datetime.now(tz=UTC)))])
        except PynamoDBException as exc:
            raise StoreError("Could not update the counter.") from exc

    # -- echoes of sent replies (socialcrm.replies.sender: an echo's absence means something only where
    # echoes are known to arrive) --------------------------------------------------------------------

    def echo_seen(self, platform: str, at: datetime) -> None:
        """Note that ``platform`` echoed one of our replies at ``at`` (kept a week, no id of anyone)."""
        try:
            CounterItem(f"echo-seen#{platform}").update(
                actions=[CounterItem.fired_at.set(_iso(at)), CounterItem.expires_at.set(at + ECHO_MEMORY)]
            )
        except PynamoDBException as exc:
            raise StoreError("Could not note the echo.") from exc

    def echoes_since(self, platform: str, since: datetime) -> bool:
        """Whether ``platform`` echoed one of our replies since ``since``."""
        try:
            item = CounterItem.get(f"echo-seen#{platform}", consistent_read=True)
        except CounterItem.DoesNotExist:
            return False
        except PynamoDBException as exc:
            raise StoreError("Could not read the echoes.") from exc
        return item.fired_at is not None and item.fired_at >= _iso(since)


class InteractionHistory:
    """A subject's recent interactions through the ``by_subject`` index (bounded; no text read)."""

    def recent(self, subject_id: str, *, since: datetime, until: datetime, limit: int) -> list[HistoryEntry]:
        try:
            items = list(
                InteractionItem.by_subject.query(
                    subject_id,
                    range_key_condition=InteractionItem.occurred_at.between(_iso(since), _iso(until)),
                    scan_index_forward=False,
                    limit=limit,
                    attributes_to_get=["interaction_ref", "occurred_at", "sentiment"],
                )
            )
        except PynamoDBException as exc:
            raise StoreError("Could not read the subject's history.") from exc
        entries = []
        for item in items:
            sentiment = item.sentiment.as_dict() if item.sentiment is not None else None
            scores = (sentiment or {}).get("scores") or {}
            entries.append(
                HistoryEntry(
                    interaction_ref=item.interaction_ref,
                    occurred_at=datetime.fromisoformat(item.occurred_at.replace("Z", "+00:00")),
                    sentiment=sentiment.get("label") if sentiment else None,
                    score=(float(scores["positive"]) - float(scores["negative"])) if scores else None,
                )
            )
        return entries


class InteractionRouting:
    """Writes a case's routing onto its interaction (``GET /interactions/{id}`` shows it)."""

    def record(self, interaction_ref: str, routing: Routing) -> bool:
        try:
            InteractionItem(interaction_ref).update(
                actions=[InteractionItem.routing.set(routing.model_dump(mode="json"))],
                condition=InteractionItem.interaction_ref.exists(),
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False  # erased meanwhile
            raise StoreError("Could not record the routing.") from exc
        except PynamoDBException as exc:
            raise StoreError("Could not record the routing.") from exc
        return True


def interactions_since(since: datetime) -> Iterator[Interaction]:
    """Every stored interaction that occurred since ``since`` (a paginated scan: operator tools only)."""
    try:
        for item in InteractionItem.scan(filter_condition=InteractionItem.occurred_at >= _iso(since)):
            yield InteractionRepository._from_item(item)
    except PynamoDBException as exc:
        raise StoreError("Could not read the interactions.") from exc


def _condition_failed(exc: TransactWriteError) -> bool:
    return any(r is not None and r.code == "ConditionalCheckFailed" for r in exc.cancellation_reasons or ())
