"""Replies in the cases table, next to the case they answer.

A reply is one row (``row = "reply"``, key = its ``r_…`` id, ``case_ref`` = the case, the reply in
``body``), written conditionally on its version, so two deliveries of one send can never both move it.
Two kinds of guard rows make the platforms' one-shot rules atomic: ``<comment ref>#private``
(``row = "private_reply"``: the one private reply a Facebook or Instagram comment may have) and
``<conversation ref>#auto`` (``row = "auto_reply"``: when the conversation last had an automatic reply).
Every row carries the case's ``subject_id`` and ``opened_at``, so the ``by_subject`` index finds them:
a subject's erasure deletes its replies and guards with its cases, and its export lists them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DeleteError, PutError, PynamoDBException

from socialcrm.dal.repository import StoreError
from socialcrm.replies.reply import Reply
from socialcrm.routing.store import CaseItem, _iso
from socialcrm.topology import RETENTION_DAYS

REPLY_ROW = "reply"
PRIVATE_ROW = "private_reply"
AUTO_ROW = "auto_reply"


def _conditional(exc: PutError | DeleteError) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


class ReplyRepository:
    # -- replies -------------------------------------------------------------------------------------

    def get(self, reply_id: str) -> Reply | None:
        try:
            item = CaseItem.get(reply_id, consistent_read=True)
        except CaseItem.DoesNotExist:
            return None
        except PynamoDBException as exc:
            raise StoreError("Could not read the reply.") from exc
        return self._reply(item) if item.row == REPLY_ROW else None

    def create(self, reply: Reply) -> bool:
        """Store a new reply; False (nothing written) when one with its id exists."""
        return self._put(self._row(reply), CaseItem.case_id.does_not_exist(), "store the reply")

    def replace(self, reply: Reply) -> Reply | None:
        """Store ``reply`` over the version it was read at; None when it changed (or went) meanwhile."""
        stored = reply.model_copy(update={"version": reply.version + 1})
        condition = (CaseItem.version == reply.version) & (CaseItem.row == REPLY_ROW)
        return stored if self._put(self._row(stored), condition, "update the reply") else None

    def delete(self, reply: Reply) -> None:
        """Remove a reply that was never queued (its request failed before anything could be sent)."""
        try:
            CaseItem(reply.reply_id).delete(condition=CaseItem.version == reply.version)
        except DeleteError as exc:
            if not _conditional(exc):
                raise StoreError("Could not remove the reply.") from exc
        except PynamoDBException as exc:
            raise StoreError("Could not remove the reply.") from exc

    def of_case(self, case_id: str, subject_id: str) -> list[Reply]:
        """The case's replies, oldest first (through the subject's rows: no scan)."""
        try:
            rows = CaseItem.by_subject.query(
                subject_id, filter_condition=(CaseItem.row == REPLY_ROW) & (CaseItem.case_ref == case_id)
            )
            replies = [self._reply(row) for row in rows]
        except PynamoDBException as exc:
            raise StoreError("Could not read the case's replies.") from exc
        return sorted(replies, key=lambda r: (r.created_at, r.reply_id))

    # -- one-shot guards -----------------------------------------------------------------------------

    def claim_private_reply(self, reply: Reply, at: datetime) -> str:
        """Take the answered comment's one private reply for ``reply``; the id of the reply that holds
        it (``reply``'s own when this call, or an earlier one of the same reply, took it)."""
        key = f"{reply.in_reply_to}#private"
        row = self._guard(key, PRIVATE_ROW, reply, at, holder=reply.reply_id)
        if self._put(row, CaseItem.case_id.does_not_exist(), "store the private-reply guard"):
            return reply.reply_id
        try:
            held = CaseItem.get(key, consistent_read=True)
        except (CaseItem.DoesNotExist, PynamoDBException) as exc:
            raise StoreError("Could not read the private-reply guard.") from exc
        return str((held.body.as_dict() if held.body else {}).get("holder", ""))

    def release_private_reply(self, reply: Reply) -> None:
        """Give the comment's private reply back (``reply`` was refused before anything was sent)."""
        try:
            CaseItem(f"{reply.in_reply_to}#private").delete(
                condition=CaseItem.body["holder"] == reply.reply_id  # type: ignore[index]
            )
        except DeleteError as exc:
            if not _conditional(exc):
                raise StoreError("Could not release the private-reply guard.") from exc
        except PynamoDBException as exc:
            raise StoreError("Could not release the private-reply guard.") from exc

    def claim_automatic(self, conversation_ref: str, reply: Reply, at: datetime, *, every: timedelta) -> bool:
        """Take the conversation's automatic reply for this period; False when one was sent within it."""
        row = self._guard(f"{conversation_ref}#auto", AUTO_ROW, reply, at, holder=reply.reply_id)
        condition = (
            CaseItem.case_id.does_not_exist()
            | (CaseItem.rank <= _iso(at - every))
            | (CaseItem.body["holder"] == reply.reply_id)  # type: ignore[index]  # a retry of the same answer
        )
        return self._put(row, condition, "store the automatic-reply guard")

    # -- mapping -------------------------------------------------------------------------------------

    @staticmethod
    def _guard(key: str, kind: str, reply: Reply, at: datetime, *, holder: str) -> CaseItem:
        return CaseItem(
            key,
            case_ref=reply.case_id,
            row=kind,
            rank=_iso(at),  # when it was taken (the automatic-reply period counts from it)
            subject_id=reply.subject_id,
            opened_at=_iso(at),
            body={"holder": holder},
            expires_at=at + timedelta(days=RETENTION_DAYS["cases"]),
        )

    @staticmethod
    def _row(reply: Reply) -> CaseItem:
        body = reply.model_dump(mode="json", exclude={"version"}, exclude_none=True)
        return CaseItem(
            reply.reply_id,
            case_ref=reply.case_id,
            row=REPLY_ROW,
            subject_id=reply.subject_id,
            opened_at=_iso(reply.created_at),
            version=reply.version,
            body=body,
            expires_at=reply.created_at + timedelta(days=RETENTION_DAYS["cases"]),
        )

    @staticmethod
    def _reply(item: CaseItem) -> Reply:
        body: dict[str, Any] = item.body.as_dict() if hasattr(item.body, "as_dict") else dict(item.body)
        return Reply.model_validate({**body, "version": int(item.version or 0)})

    @staticmethod
    def _put(row: CaseItem, condition: Any, what: str) -> bool:
        try:
            row.save(condition=condition)
        except PutError as exc:
            if _conditional(exc):
                return False
            raise StoreError(f"Could not {what}.") from exc
        except PynamoDBException as exc:
            raise StoreError(f"Could not {what}.") from exc
        return True
