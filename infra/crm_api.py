"""The api function behind the CRM routes: reads interactions and subject profiles."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.grants import grant_secret_value, grant_table
from infra.lambdas import PipelineFunction, SharedCode, resource_environment
from socialcrm import topology

READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query")
# The customer routes: read a customer's partition and an identity's owner; link and unlink in transactions
# (TransactWriteItems is authorised per item: put, delete, and the update that renews the customer).
CUSTOMER_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
    "dynamodb:UpdateItem",
)
# The access ledger: one entry per read of personal data, written in a transaction (a put per item); never
# read, changed or deleted by this function.
LEDGER_ACTIONS = ("dynamodb:PutItem",)


class CrmApi(Construct):
    """The ``api`` function: read-only on interactions (and their indexes) and subjects, links and unlinks
    on customers, appends to the access ledger, plus the platform secret (its pepper turns ``{platform}/{user_id}`` into a
    ``subject_id``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: SharedCode,
        interactions: dynamodb.ITable,
        subjects: dynamodb.ITable,
        customers: dynamodb.ITable,
        access_ledger: dynamodb.ITable,
        secret: secretsmanager.ISecret,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = PipelineFunction(
            self,
            "Api",
            spec=topology.FUNCTIONS["api"],
            shared=shared,
            environment=resource_environment(
                tables={
                    "interactions": interactions,
                    "subjects": subjects,
                    "customers": customers,
                    "access_ledger": access_ledger,
                },
                secret=secret,
            ),
        )
        fn = self.function.fn
        interaction_indexes = [index.name for index in topology.TABLES["interactions"].indexes]
        grant_table(fn, interactions, READ_ACTIONS, indexes=interaction_indexes)
        grant_table(fn, subjects, READ_ACTIONS, indexes=[i.name for i in topology.TABLES["subjects"].indexes])
        grant_table(fn, customers, CUSTOMER_ACTIONS)
        grant_table(fn, access_ledger, LEDGER_ACTIONS)
        grant_secret_value(fn, secret)
