"""The ingest function: verifies and normalises webhooks, enqueues (never writes a table)."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.grants import grant_secret_value, grant_send, grant_table
from infra.lambdas import PipelineFunction, SharedCode, resource_environment
from socialcrm import topology


class Ingest(Construct):
    """The ``ingest`` function with: send on the inbound queue, read of the platform secret, and UpdateItem
    on the subscriptions table (a WebSub hub's verification of intent, a rare GET, confirms a pending
    request there). Nothing else: duplicates are dropped downstream by the enrich stage, so a delivery's
    answer waits on SQS alone."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: SharedCode,
        inbound_queue: sqs.IQueue,
        secret: secretsmanager.ISecret,
        subscriptions: dynamodb.ITable,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = PipelineFunction(
            self,
            "Ingest",
            spec=topology.FUNCTIONS["ingest"],
            shared=shared,
            environment=resource_environment(
                tables={"subscriptions": subscriptions}, queues={"inbound": inbound_queue}, secret=secret
            ),
        )
        fn = self.function.fn
        grant_send(fn, inbound_queue)
        grant_secret_value(fn, secret)
        grant_table(fn, subscriptions, ("dynamodb:UpdateItem",))
