"""Privacy: the ``privacy`` API function (erasure requests, objections), the ``erase`` consumer, and the
export grants of the ``api`` function. Each gets exactly the item actions its code calls.

- ``privacy`` creates and reads erasure requests, records and lifts objections, publishes
  ``ErasureRequested``, reads the pepper and the access ledger, and a customer's identities (an erasure by customer). It
  never changes a personal-data store.
- ``erase`` finds a subject's items through the ``by_subject`` indexes (Query) or keys derived from
  them, deletes them (BatchWriteItem; DeleteItem for the profile), verifies with consistent reads
  (BatchGetItem, GetItem), writes the
  tombstone (UpdateItem), keeps the request record (GetItem, PutItem), publishes ``ErasureCompleted``
  and re-queues a request that must continue later (SendMessage on its own queue). No Scan anywhere.
- both read the dead-letter queues that can hold a subject's messages (ReceiveMessage, then
  ChangeMessageVisibility to give every other message back at once); only ``erase`` deletes from them
  (DeleteMessage, the subject's messages only).
- the ``api`` function's export reads the same stores (Query, BatchGetItem, GetItem).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.consumers import subscribe
from infra.grants import grant_queue_read, grant_secret_value, grant_send, grant_table
from infra.lambdas import PipelineFunction, SharedCode, resource_environment
from infra.work_queues import WorkQueue
from socialcrm import topology
from socialcrm.privacy.stores import (
    PERSONAL_DATA_QUEUES,
    PERSONAL_DATA_TABLES,
    SUBJECT_ATTRIBUTE,
    SUBJECT_INDEX,
    dlq_environment_names,
)

REQUEST_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem")
# The access-log routes read the ledger, a key at a time.
ACCESS_LOG_ACTIONS = ("dynamodb:Query",)
# An erasure by customer: the privacy function reads the customer's identities (its partition); the erase
# consumer then reads that partition again and deletes it (besides each subject's owner and link rows).
CUSTOMER_READ_ACTIONS = ("dynamodb:Query",)
OBJECTION_ACTIONS = ("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
TOMBSTONE_ACTIONS = ("dynamodb:UpdateItem",)
# What the erase consumer does to each personal-data store, by the shape of its key.
ERASE_INDEXED_ACTIONS = ("dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem")
# Derived keys (idempotency records, report seen-markers): confirmed with consistent batch reads, batch-deleted.
ERASE_DERIVED_ACTIONS = ("dynamodb:BatchGetItem", "dynamodb:BatchWriteItem")
ERASE_PROFILE_ACTIONS = ("dynamodb:DeleteItem", "dynamodb:GetItem")
EXPORT_INDEXED_ACTIONS = ("dynamodb:Query",)
EXPORT_DERIVED_ACTIONS = ("dynamodb:BatchGetItem",)
EXPORT_PROFILE_ACTIONS = ("dynamodb:GetItem",)
EXPORT_SUPPRESSION_ACTIONS = ("dynamodb:GetItem",)
ERASE_QUEUE_ACTIONS = ("sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage")
EXPORT_QUEUE_ACTIONS = ("sqs:ReceiveMessage", "sqs:ChangeMessageVisibility")


def _indexed(key: str) -> bool:
    return SUBJECT_INDEX in {index.name for index in topology.TABLES[key].indexes}


def _profile(key: str) -> bool:
    spec = topology.TABLES[key]
    return spec.partition_key.name == SUBJECT_ATTRIBUTE and spec.sort_key is None


class Privacy(Construct):
    """``functions`` holds ``privacy`` and ``erase`` (keyed like ``topology.FUNCTIONS``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: SharedCode,
        tables: Mapping[str, dynamodb.ITable],
        bus: events.IEventBus,
        secret: secretsmanager.ISecret,
        erasure_queue: WorkQueue,
        queues: Mapping[str, WorkQueue],
    ) -> None:
        super().__init__(scope, construct_id)
        self.tables = tables
        by_dlq = {work_queue.spec.dlq_key: work_queue.dlq for work_queue in queues.values()}
        # the dead-letter queues that can hold a subject's messages, keyed like PERSONAL_DATA_QUEUES
        self.dlqs = {key: by_dlq[key] for key in PERSONAL_DATA_QUEUES}
        self.functions = {
            "privacy": self._privacy(shared, tables, bus, secret),
            "erase": self._erase(shared, tables, bus, erasure_queue),
        }

    def _privacy(
        self,
        shared: SharedCode,
        tables: Mapping[str, dynamodb.ITable],
        bus: events.IEventBus,
        secret: secretsmanager.ISecret,
    ) -> PipelineFunction:
        requests, suppressions = tables["erasure_requests"], tables["suppressions"]
        ledger, customers = tables["access_ledger"], tables["customers"]
        function = PipelineFunction(
            self,
            "Privacy",
            spec=topology.FUNCTIONS["privacy"],
            shared=shared,
            environment=resource_environment(
                tables={
                    "erasure_requests": requests,
                    "suppressions": suppressions,
                    "access_ledger": ledger,
                    "customers": customers,
                },
                bus=bus,
                secret=secret,
            ),
        )
        grant_table(function.fn, requests, REQUEST_ACTIONS)
        grant_table(function.fn, suppressions, OBJECTION_ACTIONS)
        grant_table(function.fn, ledger, ACCESS_LOG_ACTIONS)
        grant_table(function.fn, customers, CUSTOMER_READ_ACTIONS)
        bus.grant_put_events_to(function.fn)
        grant_secret_value(function.fn, secret)
        return function

    def _erase(
        self,
        shared: SharedCode,
        tables: Mapping[str, dynamodb.ITable],
        bus: events.IEventBus,
        erasure_queue: WorkQueue,
    ) -> PipelineFunction:
        spec = topology.FUNCTIONS["erase"]
        assert spec.queue == erasure_queue.spec.key, "topology: erase is fed by the erasure queue"
        stores = {key: tables[key] for key in PERSONAL_DATA_TABLES}
        function = PipelineFunction(
            self,
            "Erase",
            spec=spec,
            shared=shared,
            environment=resource_environment(
                tables={
                    "erasure_requests": tables["erasure_requests"],
                    "suppressions": tables["suppressions"],
                    **stores,
                },
                queues={erasure_queue.spec.key: erasure_queue.queue},
                bus=bus,
            ),
        )
        fn = function.fn
        grant_table(fn, tables["erasure_requests"], REQUEST_ACTIONS)
        grant_table(fn, tables["suppressions"], TOMBSTONE_ACTIONS)
        for key, table in stores.items():
            if _indexed(key):
                grant_table(fn, table, ERASE_INDEXED_ACTIONS, indexes=[SUBJECT_INDEX])
            elif _profile(key):
                grant_table(fn, table, ERASE_PROFILE_ACTIONS)
            else:
                grant_table(fn, table, ERASE_DERIVED_ACTIONS)
        grant_table(fn, tables["customers"], CUSTOMER_READ_ACTIONS)  # a customer's own partition
        bus.grant_put_events_to(fn)
        grant_send(fn, erasure_queue.queue)
        self._grant_dlqs(function, ERASE_QUEUE_ACTIONS)
        subscribe(function, erasure_queue)
        return function

    def _grant_dlqs(self, function: PipelineFunction, actions: tuple[str, ...]) -> None:
        names = dlq_environment_names()
        for key, dlq in self.dlqs.items():
            function.fn.add_environment(names[key], dlq.queue_url)
            grant_queue_read(function.fn, dlq, actions)

    def grant_export(self, function: PipelineFunction) -> None:
        """Let ``function`` (the ``api`` function) export a subject: read every store, name them in its env."""
        fn: lambda_.Function = function.fn
        for key in (*PERSONAL_DATA_TABLES, "suppressions"):
            table = self.tables[key]
            fn.add_environment(topology.TABLES[key].env_var, table.table_name)
            if key == "suppressions":
                grant_table(fn, table, EXPORT_SUPPRESSION_ACTIONS)
            elif _indexed(key):
                grant_table(fn, table, EXPORT_INDEXED_ACTIONS, indexes=[SUBJECT_INDEX])
            elif _profile(key):
                grant_table(fn, table, EXPORT_PROFILE_ACTIONS)
            else:
                grant_table(fn, table, EXPORT_DERIVED_ACTIONS)
        self._grant_dlqs(function, EXPORT_QUEUE_ACTIONS)
