"""The one helper that builds every Lambda function of ``topology.FUNCTIONS``.

Same runtime, architecture, JSON logs, tracing, log retention, layer and base environment for all;
one IAM role per function holding nothing but its log-group write access (and X-Ray), so each
concern construct adds exactly the grants its function needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.stage import Stage
from socialcrm import topology

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
# Never shipped in the function asset: bytecode caches and the editable-install metadata.
# The local stack (moto, uvicorn, the fake platform) and the command line run on people's machines, never
# in Lambda: no function imports them, and they stay out of its asset.
ASSET_EXCLUDES = ("__pycache__", "*.pyc", "*.egg-info", "socialcrm/local", "socialcrm/cli")
EVENT_BUS_ENV = "EVENT_BUS_NAME"
SECRETS_ENV = "SECRETS_NAME"


def function_code() -> lambda_.Code:
    """The first-party code asset: the ``functions/`` folder (handlers and the socialcrm package, without
    the local stack and the command line)."""
    return lambda_.Code.from_asset(str(FUNCTIONS_DIR), exclude=list(ASSET_EXCLUDES))


@dataclass(frozen=True)
class SharedCode:
    """What every function of a stack ships: the code asset (staged once) and the dependency layer."""

    code: lambda_.Code
    layer: lambda_.ILayerVersion
    # Layers only some functions carry (topology.FunctionSpec.layers), by name.
    extra_layers: Mapping[str, lambda_.ILayerVersion] = field(default_factory=dict)


def resource_environment(
    *,
    tables: Mapping[str, dynamodb.ITable] | None = None,
    queues: Mapping[str, sqs.IQueue] | None = None,
    bus: events.IEventBus | None = None,
    secret: secretsmanager.ISecret | None = None,
) -> dict[str, str]:
    """The environment variables that name the resources a function uses, as ``topology`` declares them.

    ``tables`` and ``queues`` are keyed like ``topology.TABLES`` and ``topology.QUEUES``. ``SECRETS_NAME``
    carries the secret's full ARN: Secrets Manager takes an ARN wherever it takes a name, and the
    ARN identifies the secret exactly (CloudFormation would otherwise parse the name out of it).
    """
    env = {topology.TABLES[key].env_var: table.table_name for key, table in (tables or {}).items()}
    env |= {topology.QUEUES[key].env_var: queue.queue_url for key, queue in (queues or {}).items()}
    if bus is not None:
        env[EVENT_BUS_ENV] = bus.event_bus_name
    if secret is not None:
        env[SECRETS_ENV] = secret.secret_arn
    return env


class PipelineFunction(Construct):
    """A function of the pipeline: ``fn`` (the Lambda function), ``role`` and ``log_group``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: topology.FunctionSpec,
        shared: SharedCode,
        environment: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"socialcrm {spec.key} function: only what it needs",
        )
        self.log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION)
        self.log_group.grant_write(self.role)
        self.fn = lambda_.Function(
            self,
            "Function",
            description=f"socialcrm {spec.key}",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=shared.code,
            handler=spec.handler,
            layers=[shared.layer, *(shared.extra_layers[name] for name in spec.layers)],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "POWERTOOLS_SERVICE_NAME": f"socialcrm-{spec.key}",
                "POWERTOOLS_METRICS_NAMESPACE": Stage.of(self).metrics_namespace,
                **spec.environment,
                **environment,
            },
        )
        NagSuppressions.add_resource_suppressions(
            self.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason=(
                        "Active tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords, which "
                        "X-Ray only grants on Resource '*' (no resource-level permissions)."
                    ),
                    applies_to=["Resource::*"],
                )
            ],
            apply_to_children=True,
        )
        NagSuppressions.add_resource_suppressions(
            self.fn,
            [
                NagPackSuppression(
                    id="AwsSolutions-L1",
                    reason=(
                        "python3.13 is the deliberate runtime: the dependency layer's compiled wheels "
                        "(pydantic-core, numpy) are built for CPython 3.13 by layers/build.py. Moving to a "
                        "newer runtime is a planned upgrade of both, not a silent default."
                    ),
                )
            ],
        )
