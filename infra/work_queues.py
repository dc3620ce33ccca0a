"""An SQS work queue of ``topology.QUEUES`` with its own dead-letter queue."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from socialcrm import topology

QUEUE_RETENTION = Duration.days(4)
# The longest SQS allows: time to find, fix and redrive what failed.
DLQ_RETENTION = Duration.days(14)


class WorkQueue(Construct):
    """``queue`` (KMS-encrypted, TLS only) whose messages move to ``dlq`` after ``max_receive_count``."""

    def __init__(
        self, scope: Construct, construct_id: str, *, spec: topology.QueueSpec, key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.dlq = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=DLQ_RETENTION,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=QUEUE_RETENTION,
            visibility_timeout=Duration.seconds(spec.visibility_timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dlq, max_receive_count=spec.max_receive_count),
        )
