"""Delivery deduplication with Powertools Idempotency's DynamoDB persistence layer.

Each interaction is claimed by ``interaction_id`` before it is queued, confirmed once it is on the
queue, and released if queueing failed (so the platform's retry is not mistaken for a duplicate).
Records expire after ``topology.RETENTION_DAYS["idempotency"]`` days — longer than any platform
retries (WhatsApp: 7 days). A claim left by an invocation that died expires with that invocation's
remaining time, as Powertools does for its own decorators.

We call the persistence layer directly rather than through ``@idempotent_function`` because one
delivery carries many interactions that are queued together in ``SendMessageBatch`` calls; the
decorator would force one SQS call per interaction (docs/decisions.md).
"""

from __future__ import annotations

import contextlib
from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from botocore.exceptions import BotoCoreError, ClientError

from socialcrm.errors import DedupeStoreError
from socialcrm.topology import RETENTION_DAYS

KEY_PREFIX = "socialcrm.ingest"


def idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="interaction_id",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=RETENTION_DAYS["idempotency"] * 24 * 3600,
        hash_function="sha256",
    )


class Deduplicator:
    """Claims, confirms and releases interaction ids in the idempotency store."""

    def __init__(self, persistence: BasePersistenceLayer) -> None:
        persistence.configure(idempotency_config(), key_prefix=KEY_PREFIX)
        self._store = persistence

    @classmethod
    def on_table(cls, table_name: str, client: Any | None = None) -> Deduplicator:
        return cls(DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client))

    def claim(self, interaction_id: str, remaining_ms: int) -> bool:
        """True when the id is new (now claimed), False when it was seen before."""
        try:
            self._store.save_inprogress(
                {"interaction_id": interaction_id}, remaining_time_in_millis=remaining_ms
            )
        except IdempotencyItemAlreadyExistsError:
            return False
        except (IdempotencyPersistenceLayerError, ClientError, BotoCoreError) as exc:
            raise DedupeStoreError("The deduplication store is unavailable; retry the delivery.") from exc
        return True

    def confirm(self, interaction_id: str) -> bool:
        """Mark a claimed id as queued. False when the store failed: the interaction is on the queue
        already, and an unconfirmed claim only expires earlier (the enrich function's conditional
        write still keeps a later copy from counting twice)."""
        try:
            self._store.save_success({"interaction_id": interaction_id}, result={"queued": True})
        except (IdempotencyPersistenceLayerError, ClientError, BotoCoreError):
            return False
        return True

    def release(self, interaction_id: str, reason: Exception) -> None:
        # If the store fails, the claim expires with the invocation's remaining time: the retry still gets through.
        with contextlib.suppress(IdempotencyPersistenceLayerError, ClientError, BotoCoreError):
            self._store.delete_record({"interaction_id": interaction_id}, reason)
