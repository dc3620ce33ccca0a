"""Repositories: the only code that knows the PynamoDB models; they speak domain models outward."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from socialcrm.dal.cursors import decode_cursor, encode_cursor
from socialcrm.dal.models import InteractionItem, SubjectItem
from socialcrm.errors import SocialCrmError
from socialcrm.models import Interaction
from socialcrm.topology import RETENTION_DAYS

_CURSOR_KEYS = frozenset({"interaction_ref", "subject_id", "occurred_at"})
_BATCH_GET = 100  # BatchGetItem's limit


class StoreError(SocialCrmError):
    """A CRM table could not be read or written (the record is retried)."""

    status = 503
    code = "store_unavailable"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class InteractionRepository:
    def __init__(self) -> None:
        self._connection: Connection | None = None

    @property
    def connection(self) -> Connection:
        """One connection (one botocore client) for the transactions, built on first use."""
        if self._connection is None:
            self._connection = Connection(region=InteractionItem.Meta.region, host=InteractionItem.Meta.host)
        return self._connection

    def store_new(self, interaction: Interaction, *, enriched_at: datetime) -> bool:
        """Write the interaction and count it into its subject's profile, in one transaction.

        The write is conditional on the id being new (the last line of deduplication), so a replayed
        message is never stored or counted twice. True when written, False when already stored.
        """
        item = self._to_item(interaction, enriched_at)
        profile = SubjectItem(interaction.subject_id)

        def write(tx: TransactWrite) -> None:
            tx.save(item, condition=InteractionItem.interaction_ref.does_not_exist())
            if not interaction.from_brand:  # the brand's replies are not the customer's activity
                tx.update(profile, actions=profile_actions(interaction, new_interaction=True))

        return self._transact(write)

    def complete_pending(self, interaction: Interaction, *, enriched_at: datetime) -> bool:
        """Fill in the sentiment of a stored interaction that waited for it (status PENDING), and
        count that sentiment into the profile, in one transaction.

        True when it was PENDING and is now complete; False when it was not pending (nothing to do).
        """
        actions: list[Any] = [InteractionItem.enriched_at.set(_iso(enriched_at))]
        if interaction.language is not None:
            actions.append(InteractionItem.language.set(interaction.language))
        if interaction.sentiment_status is not None:
            actions.append(InteractionItem.sentiment_status.set(interaction.sentiment_status))
        if interaction.sentiment is not None:
            actions.append(InteractionItem.sentiment.set(interaction.sentiment.model_dump(mode="json")))
        profile_update = profile_actions(interaction, new_interaction=False)
        item, profile = InteractionItem(interaction.interaction_ref), SubjectItem(interaction.subject_id)

        def write(tx: TransactWrite) -> None:
            tx.update(item, actions=actions, condition=InteractionItem.sentiment_status == "PENDING")
            if profile_update:
                tx.update(profile, actions=profile_update)

        return self._transact(write)

    def _transact(self, write: Any) -> bool:
        try:
            with TransactWrite(connection=self.connection) as tx:
                write(tx)
        except TransactWriteError as exc:
            reasons = exc.cancellation_reasons
            if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
                return False
            raise StoreError("Could not write the interaction.") from exc
        except PynamoDBException as exc:
            raise StoreError("Could not write the interaction.") from exc
        return True

    def get(self, interaction_ref: str) -> Interaction | None:
        """One interaction by its ref (``models.interaction_ref`` of its platform id)."""
        try:
            item = InteractionItem.get(interaction_ref)
        except InteractionItem.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise StoreError("Could not read the interaction.") from exc
        return self._from_item(item)

    def stored(self, refs: Sequence[str]) -> dict[str, Interaction]:
        """The interactions of ``refs`` that are stored, by ref: strongly consistent, 100 keys a call."""
        unique = list(dict.fromkeys(refs))
        found: dict[str, Interaction] = {}
        try:
            for start in range(0, len(unique), _BATCH_GET):
                for item in InteractionItem.batch_get(
                    unique[start : start + _BATCH_GET], consistent_read=True
                ):
                    found[item.interaction_ref] = self._from_item(item)
        except PynamoDBException as exc:
            raise StoreError("Could not read the interactions.") from exc
        return found

    def timeline(
        self, subject_id: str, *, limit: int, cursor: str | None = None
    ) -> tuple[list[Interaction], str | None]:
        """A subject's interactions, newest first, a page at a time; the cursor is opaque to callers."""
        try:
            results = InteractionItem.by_subject.query(
                subject_id,
                scan_index_forward=False,
                limit=limit,
                last_evaluated_key=decode_cursor(
                    cursor, key_names=_CURSOR_KEYS, scope=("subject_id", subject_id), what="subject"
                ),
            )
            page = [self._from_item(item) for item in results]
        except PynamoDBException as exc:
            raise StoreError("Could not read the timeline.") from exc
        return page, encode_cursor(results.last_evaluated_key)

    def timeline_after(
        self, subject_id: str, after: dict[str, str] | None, limit: int
    ) -> tuple[list[Interaction], dict[str, str] | None]:
        """Up to ``limit`` of a subject's interactions after the index key ``after`` (newest first), and
        the key the read stopped at (None when nothing is left): a customer's timeline merges these."""
        try:
            results = InteractionItem.by_subject.query(
                subject_id,
                scan_index_forward=False,
                limit=limit,
                last_evaluated_key={name: {"S": value} for name, value in after.items()} if after else None,
            )
            page = [self._from_item(item) for item in results]
        except PynamoDBException as exc:
            raise StoreError("Could not read the timeline.") from exc
        stopped = results.last_evaluated_key
        return page, {name: value["S"] for name, value in stopped.items()} if stopped else None

    @staticmethod
    def index_time(interaction: Interaction) -> str:
        """``occurred_at`` as the ``by_subject`` index sorts it."""
        return _iso(interaction.occurred_at)

    def all_for_subject(self, subject_id: str) -> list[Interaction]:
        try:
            return [
                self._from_item(i)
                for i in InteractionItem.by_subject.query(subject_id, scan_index_forward=False)
            ]
        except PynamoDBException as exc:
            raise StoreError("Could not read the subject's interactions.") from exc

    @staticmethod
    def _to_item(interaction: Interaction, enriched_at: datetime) -> InteractionItem:
        data = interaction.model_dump(mode="json")
        return InteractionItem(
            interaction.interaction_ref,
            interaction_id=interaction.interaction_id,
            subject_id=interaction.subject_id,
            occurred_at=_iso(interaction.occurred_at),
            received_at=_iso(interaction.received_at),
            platform=interaction.platform,
            kind=interaction.kind,
            native_id=interaction.native_id,
            thread_id=interaction.thread_id,
            parent_id=interaction.parent_id,
            author=data["author"],
            text=interaction.text,
            language=interaction.language,
            sentiment=data["sentiment"],
            sentiment_status=interaction.sentiment_status,
            routing=data["routing"],
            conversation_ref=interaction.conversation_ref,
            reply_marker=interaction.reply_marker,
            identity_keys=interaction.identity_keys or None,
            enriched_at=_iso(enriched_at),
            expires_at=interaction.received_at + timedelta(days=RETENTION_DAYS["interactions"]),
        )

    @staticmethod
    def _from_item(item: InteractionItem) -> Interaction:
        def plain(value: Any) -> Any:
            return None if value is None else (value.as_dict() if hasattr(value, "as_dict") else value)

        return Interaction.model_validate(
            {
                "interaction_id": item.interaction_id,
                "interaction_ref": item.interaction_ref,
                "subject_id": item.subject_id,
                "platform": item.platform,
                "kind": item.kind,
                "native_id": item.native_id,
                "thread_id": item.thread_id,
                "parent_id": item.parent_id,
                "author": {k: v for k, v in plain(item.author).items() if v is not None},
                "text": item.text or "",
                "language": item.language,
                "sentiment": plain(item.sentiment),
                "sentiment_status": item.sentiment_status,
                "occurred_at": item.occurred_at,
                "received_at": item.received_at,
                "routing": plain(item.routing),
                "conversation_ref": item.conversation_ref,
                "reply_marker": item.reply_marker,
                "identity_keys": list(item.identity_keys or []),
            }
        )


def profile_actions(interaction: Interaction, *, new_interaction: bool) -> list[Any]:
    """The atomic updates that count an interaction into its subject's profile.

    ``new_interaction`` is False when only a pending sentiment arrived for a stored interaction:
    then only the sentiment count moves.
    """
    seen = _iso(interaction.occurred_at)
    actions: list[Any] = []
    if new_interaction:
        actions += [
            SubjectItem.interactions.add(1),
            SubjectItem.platforms.add({interaction.platform}),
            SubjectItem.first_seen.set(SubjectItem.first_seen | seen),
            SubjectItem.last_seen.set(seen),
            SubjectItem.expires_at.set(interaction.received_at + timedelta(days=RETENTION_DAYS["subjects"])),
        ]
        if interaction.author.handle:
            actions.append(SubjectItem.handles.add({f"{interaction.platform}:{interaction.author.handle}"}))
        if interaction.author.follower_count is not None:
            actions.append(SubjectItem.follower_count.set(interaction.author.follower_count))
    if interaction.sentiment is not None:
        actions.append(getattr(SubjectItem, interaction.sentiment.label.lower()).add(1))
    elif new_interaction and interaction.sentiment_status != "PENDING":
        actions.append(SubjectItem.unscored.add(1))
    return actions


class SubjectRepository:
    def get(self, subject_id: str) -> dict[str, Any] | None:
        try:
            item = SubjectItem.get(subject_id)
        except SubjectItem.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise StoreError("Could not read the subject profile.") from exc
        profile = item.attribute_values.copy()
        for name in ("platforms", "handles"):
            profile[name] = sorted(profile.get(name) or [])
        if isinstance(profile.get("expires_at"), datetime):
            profile["expires_at"] = _iso(profile["expires_at"])
        return profile
