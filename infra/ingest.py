"""The ingest function: verifies and normalises webhooks, enqueues (never writes a table)."""

from __future__ import annotations

from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.grants import grant_secret_value, grant_send
from infra.lambdas import PipelineFunction, SharedCode, resource_environment
from socialcrm import topology


class Ingest(Construct):
    """The ``ingest`` function with: send on the inbound queue, read of the platform secret. Nothing else:
    duplicates are dropped downstream by the enrich stage, so the webhook's answer waits on SQS alone."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: SharedCode,
        inbound_queue: sqs.IQueue,
        secret: secretsmanager.ISecret,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = PipelineFunction(
            self,
            "Ingest",
            spec=topology.FUNCTIONS["ingest"],
            shared=shared,
            environment=resource_environment(queues={"inbound": inbound_queue}, secret=secret),
        )
        fn = self.function.fn
        grant_send(fn, inbound_queue)
        grant_secret_value(fn, secret)
