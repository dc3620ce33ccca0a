"""The customer-managed KMS key that encrypts the pipeline's data at rest."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from infra.stage import Stage


class DataKey(Construct):
    """One CMK, rotated yearly, for the tables, the queues, the platform secret and the alarm topic.

    The key policy is CDK's default (the account administers it and IAM policies grant its use) plus
    two statements: CloudWatch alarms publish to the KMS-encrypted alarm topic, and SNS can only
    encrypt those messages if CloudWatch may use the key; the bus's rules deliver to the encrypted
    work queues, and SQS can only encrypt those messages if EventBridge may use the key (through SQS,
    for this account's socialcrm rules only).
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="socialcrm: encrypts the DynamoDB tables, SQS queues, platform secret and alarm topic",
            enable_key_rotation=True,
            pending_window=Duration.days(30),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublishToEncryptedTopics",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy "*" means this key
            )
        )
        # The bus delivers events to KMS-encrypted work queues (infra.bus_subscriptions): SQS asks KMS on
        # EventBridge's behalf, so EventBridge may use the key only through SQS, for rules of this
        # account's socialcrm bus.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowSocialcrmBusRulesToSendToEncryptedQueues",
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy "*" means this key
                conditions={
                    "StringEquals": {
                        "aws:SourceAccount": Aws.ACCOUNT_ID,
                        "kms:ViaService": f"sqs.{Aws.REGION}.amazonaws.com",
                    },
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{Aws.PARTITION}:events:{Aws.REGION}:{Aws.ACCOUNT_ID}:rule/{Stage.of(self).bus_name}/*"
                    },
                },
            )
        )
