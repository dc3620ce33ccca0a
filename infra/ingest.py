"""The ingest function: verifies and normalises webhooks, dedupes, enqueues (never writes CRM tables)."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.grants import grant_secret_value, grant_send, grant_table
from infra.lambdas import PipelineFunction, SharedCode, resource_environment
from socialcrm import topology

IDEMPOTENCY_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


class Ingest(Construct):
    """The ``ingest`` function with: the idempotency table (Powertools Idempotency's four item
    actions), send on the inbound queue, read of the platform secret. Nothing else."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: SharedCode,
        idempotency_table: dynamodb.ITable,
        inbound_queue: sqs.IQueue,
        secret: secretsmanager.ISecret,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = PipelineFunction(
            self,
            "Ingest",
            spec=topology.FUNCTIONS["ingest"],
            shared=shared,
            environment=resource_environment(
                tables={"idempotency": idempotency_table}, queues={"inbound": inbound_queue}, secret=secret
            ),
        )
        fn = self.function.fn
        grant_table(fn, idempotency_table, IDEMPOTENCY_ACTIONS)
        grant_send(fn, inbound_queue)
        grant_secret_value(fn, secret)
