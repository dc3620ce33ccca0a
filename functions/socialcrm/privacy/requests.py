"""Erasure requests and their proof: one record per request, in the erasure_requests table.

The record never holds a raw identifier: only pseudonymous ``subject_id`` s (computed with the pepper
when the request is made), the counts erased per store, the times, the requester's principal and the
ticket reference. It is kept ``RETENTION_DAYS["erasure_requests"]`` days as the proof of the erasure.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from socialcrm.aws import LazyClient
from socialcrm.privacy.dynamo import calling, plain, serialize
from socialcrm.privacy.stores import NOT_REACHED
from socialcrm.topology import RETENTION_DAYS

STORE = "erasure_requests"
# GDPR Art. 12(3): answer without undue delay and within one month; we promise 30 days.
DUE_AFTER = timedelta(days=30)

ErasureStatus = Literal["PENDING", "RUNNING", "COMPLETED", "FAILED"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubjectErasure(_Model):
    """One subject of a request: what each store erased, and whether verification found nothing left."""

    subject_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    erased: dict[str, int] = Field(default_factory=dict)
    found: bool = Field(
        default=False,
        description="Whether any store held anything of the subject. False is not an error (nothing was "
        "held, or the user id was mistyped), but it is shown so that it can be checked.",
    )
    verified: bool = False
    remaining: dict[str, int] = Field(
        default_factory=dict, description="Items found by the last verification."
    )


class CustomerErasure(_Model):
    """One customer of a request: its own rows (the customer, its links, its unlink notes) erased."""

    customer_id: str = Field(pattern=r"^cus_[0-9a-f]{24}$")
    erased: int = Field(default=0, description="Rows of the customer erased.")
    verified: bool = False
    remaining: int = Field(default=0, description="Rows found by the last verification.")


class Failure(_Model):
    store: str
    reason: str
    at: AwareDatetime


class ErasureRecord(_Model):
    request_id: str
    status: ErasureStatus
    reference: str
    requested_by: str
    requested_at: AwareDatetime
    due_at: AwareDatetime
    subjects: list[SubjectErasure]
    customers: list[CustomerErasure] = Field(
        default_factory=list,
        description="Customers erased with every identity linked to them (the identities are in subjects).",
    )
    started_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    erased_at: AwareDatetime | None = Field(
        default=None, description="The tombstone time: messages up to it stay out."
    )
    verified: bool = False
    failure: Failure | None = None
    attempts: int = 0
    announced: bool = Field(default=False, description="ErasureCompleted was published for the final status.")
    # Progress, so that a retry continues where the last run stopped.
    phase: Literal["erase", "verify"] = "erase"
    done: list[str] = Field(
        default_factory=list, description="'<subject index>:<store>' erased in this phase."
    )
    lease_until: AwareDatetime | None = None
    version: int = 0

    @classmethod
    def new(
        cls,
        request_id: str,
        *,
        subject_ids: list[str],
        reference: str,
        requested_by: str,
        now: datetime,
        customer_ids: list[str] | None = None,
    ) -> ErasureRecord:
        return cls(
            request_id=request_id,
            status="PENDING",
            reference=reference,
            requested_by=requested_by,
            requested_at=now,
            due_at=now + DUE_AFTER,
            subjects=[SubjectErasure(subject_id=s) for s in dict.fromkeys(subject_ids)],
            customers=[CustomerErasure(customer_id=c) for c in dict.fromkeys(customer_ids or [])],
        )

    @property
    def erased(self) -> dict[str, int]:
        """Items erased per store, over every subject of the request."""
        totals: dict[str, int] = {}
        for subject in self.subjects:
            for store, count in subject.erased.items():
                totals[store] = totals.get(store, 0) + count
        if self.customers:  # the customers' own rows, besides each subject's owner and link rows
            totals["customers"] = totals.get("customers", 0) + sum(c.erased for c in self.customers)
        return totals

    def view(self) -> dict[str, Any]:
        """What ``GET /erasure-requests/{id}`` answers: status, counts, verification, times, proof."""
        data = self.model_dump(mode="json", exclude={"phase", "done", "lease_until", "version", "announced"})
        return {
            **data,
            "erased": self.erased,
            "subject_count": len(self.subjects),
            "not_found": sum(1 for subject in self.subjects if not subject.found),
            "not_reached": list(NOT_REACHED),
        }


class ConflictError(Exception):
    """The record changed since it was read (another run of the same request): read it again."""


class ErasureRequests:
    """The erasure_requests table: create, read, and save with optimistic locking on ``version``."""

    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table_name = table_name
        self._client = client

    client = LazyClient("dynamodb")

    def _item(self, record: ErasureRecord) -> dict[str, Any]:
        expires = record.requested_at + timedelta(days=RETENTION_DAYS["erasure_requests"])
        return serialize({**record.model_dump(mode="json"), "expires_at": int(expires.timestamp())})

    def get(self, request_id: str) -> ErasureRecord | None:
        response = calling(
            STORE,
            "GetItem",
            lambda: self.client.get_item(
                TableName=self.table_name, Key={"request_id": {"S": request_id}}, ConsistentRead=True
            ),
        )
        item = response.get("Item")
        if item is None:
            return None
        data = plain(item)
        data.pop("expires_at", None)
        return ErasureRecord.model_validate(data)

    def create(self, record: ErasureRecord) -> None:
        self._put(record, condition="attribute_not_exists(request_id)", values=None)

    def save(self, record: ErasureRecord) -> ErasureRecord:
        """Write ``record`` if nobody wrote since it was read; returns it with its new version."""
        saved = record.model_copy(update={"version": record.version + 1})
        self._put(saved, condition="version = :v", values={":v": {"N": str(record.version)}})
        return saved

    def _put(self, record: ErasureRecord, *, condition: str, values: dict[str, Any] | None) -> None:
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "Item": self._item(record),
            "ConditionExpression": condition,
        }
        if values:
            request["ExpressionAttributeValues"] = values

        def put() -> Any:
            try:
                return self.client.put_item(**request)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    raise ConflictError(record.request_id) from exc
                raise

        calling(STORE, "PutItem", put)
