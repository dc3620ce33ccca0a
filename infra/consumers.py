"""The asynchronous consumers: each fed by its own work queue (with DLQ) through an SQS event source."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as event_sources
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.grants import grant_send, grant_table
from infra.lambdas import PipelineFunction, SharedCode, resource_environment
from infra.work_queues import WorkQueue
from socialcrm import topology

# BatchGetItem: the duplicate check reads a batch's interactions before anything is analysed.
ENRICH_INTERACTION_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
)
# Claims on the messages a batch analyses: conditional puts in one transaction, deleted in a batch.
ENRICH_CLAIM_ACTIONS = ("dynamodb:PutItem", "dynamodb:BatchWriteItem")
ENRICH_SUBJECT_ACTIONS = ("dynamodb:UpdateItem", "dynamodb:GetItem")
COMPREHEND_ACTIONS = ("comprehend:BatchDetectSentiment", "comprehend:BatchDetectDominantLanguage")


def subscribe(function: PipelineFunction, work_queue: WorkQueue) -> None:
    """Feed ``function`` from ``work_queue`` in batches, reporting per-record failures to SQS.

    Lambda refuses an event source whose queue's visibility timeout is shorter than the function's
    timeout; this fails at synth instead of at deploy.
    """
    queue_spec, function_spec = work_queue.spec, function.spec
    if queue_spec.visibility_timeout_seconds < function_spec.timeout_seconds:
        raise ValueError(
            f"topology: queue {queue_spec.key!r} has a visibility timeout of "
            f"{queue_spec.visibility_timeout_seconds}s, shorter than function {function_spec.key!r}'s "
            f"timeout of {function_spec.timeout_seconds}s (AWS advises six times the timeout)."
        )
    window = queue_spec.batching_window_seconds
    function.fn.add_event_source(
        event_sources.SqsEventSource(
            work_queue.queue,
            batch_size=queue_spec.batch_size,
            max_batching_window=Duration.seconds(window) if window else None,
            report_batch_item_failures=True,
            max_concurrency=queue_spec.max_concurrency,
        )
    )


class Consumers(Construct):
    """One ``WorkQueue`` per ``topology.QUEUES`` entry (``queues``) and the consumer functions
    (``functions``, keyed like ``topology.FUNCTIONS``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: SharedCode,
        key: kms.IKey,
        tables: Mapping[str, dynamodb.ITable],
        bus: events.IEventBus,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queues = {
            name: WorkQueue(self, name, spec=spec, key=key) for name, spec in topology.QUEUES.items()
        }
        self.functions = {"enrich": self._enrich(shared, tables, bus)}

    def _enrich(
        self, shared: SharedCode, tables: Mapping[str, dynamodb.ITable], bus: events.IEventBus
    ) -> PipelineFunction:
        """``enrich``: drops duplicates (reads the batch's interactions, claims the rest in the claims
        table), Comprehend batches, writes interactions and subject profiles (one transaction of
        PutItem/UpdateItem), publishes ``InteractionEnriched``, re-queues interactions whose sentiment
        is still pending (SendMessage on its own inbound queue)."""
        spec = topology.FUNCTIONS["enrich"]
        assert spec.queue is not None, "topology: enrich is fed by a queue"
        inbound = self.queues[spec.queue]
        interactions, subjects = tables["interactions"], tables["subjects"]
        function = PipelineFunction(
            self,
            "Enrich",
            spec=spec,
            shared=shared,
            environment=resource_environment(
                tables={
                    "interactions": interactions,
                    "subjects": subjects,
                    "suppressions": tables["suppressions"],
                    "claims": tables["claims"],
                },
                queues={spec.queue: inbound.queue},
                bus=bus,
            ),
        )
        fn = function.fn
        grant_table(fn, interactions, ENRICH_INTERACTION_ACTIONS)
        grant_table(fn, subjects, ENRICH_SUBJECT_ACTIONS)
        grant_table(fn, tables["claims"], ENRICH_CLAIM_ACTIONS)
        # the suppression seam: erasure tombstones and objections, read before anything is stored
        grant_table(fn, tables["suppressions"], ("dynamodb:GetItem",))
        bus.grant_put_events_to(fn)
        grant_send(fn, inbound.queue)
        subscribe(function, inbound)

        comprehend = iam.Policy(
            self,
            "ComprehendPolicy",
            statements=[iam.PolicyStatement(actions=list(COMPREHEND_ACTIONS), resources=["*"])],
        )
        comprehend.attach_to_role(function.role)
        NagSuppressions.add_resource_suppressions(
            comprehend,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason=(
                        "Amazon Comprehend's BatchDetectSentiment and BatchDetectDominantLanguage have no "
                        "resource-level permissions: IAM only accepts Resource '*' for them. The actions "
                        "are named explicitly (no wildcard action)."
                    ),
                    applies_to=["Resource::*"],
                )
            ],
        )
        return function
