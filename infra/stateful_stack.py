"""The stateful stack: what must survive every redeploy (key, tables, bus, secret)."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.encryption import DataKey
from infra.event_bus import Bus
from infra.platform_secrets import PlatformSecrets
from infra.tables import Tables


class StatefulStack(Stack):
    """KMS key, DynamoDB tables, EventBridge bus and platform secret; termination-protected.

    Nothing here depends on the stateless stack, so functions, queues and the API can be replaced,
    renamed or destroyed without CloudFormation ever touching a table.
    """

    def __init__(self, scope: Construct, construct_id: str, **kwargs: Any) -> None:
        kwargs.setdefault("termination_protection", True)
        super().__init__(scope, construct_id, **kwargs)
        self.key = DataKey(self, "DataKey").key
        self.tables = Tables(self, "Tables", key=self.key).by_key
        self.bus = Bus(self, "EventBus").bus
        self.secret = PlatformSecrets(
            self, "PlatformSecrets", key=self.key, secret_name=f"{self.stack_name}/platform-secrets"
        ).secret
        CfnOutput(
            self,
            "PlatformSecretsName",
            value=self.secret.secret_name,
            description="Put each platform's webhook secrets into this secret (format in its description).",
        )
