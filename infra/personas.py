"""One managed policy per persona (``socialcrm.personas``): ``execute-api:Invoke`` on exactly its routes, and
the few grants outside the API it needs. Attach a persona's policy to the role its people assume.

A path parameter is a ``*`` in an ``execute-api`` ARN, and IAM's ``*`` spans ``/``: ``GET/customers/*``
also matches ``GET/customers/<id>/access-log``. So each policy also denies, explicitly, every route of
another persona that one of its own patterns would match (:func:`route_statements`); an explicit deny wins
in IAM. The stack outputs each policy's ARN.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from aws_cdk import Aws, CfnOutput, Stack, Token
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from infra.grants import KEY_ACTIONS_TABLE_WRITE
from infra.lambdas import PipelineFunction
from infra.routing import Routing
from socialcrm import topology
from socialcrm.personas import CALLER_FUNCTIONS, PERSONAS, Persona, resource_path, route_keys
from socialcrm.reporting.daily import S3_PREFIX

STAGE = "$default"
ROUTES_REASON = (
    "execute-api: a path parameter ({customer_id}, {case_id}) is a * in the route's ARN, and the routes of "
    "other personas that * would match are denied explicitly (tests/infra/test_cdk_personas.py judges each "
    "policy with IAM's matching rules)"
)
WILDCARD_REASONS = (
    "The daily reports are one object per file under reports/<day>/ (aggregates only); replays are named "
    "when they are started; AppConfig numbers a deployment when it starts, in the rules' own environment"
)
# Sample values of path parameters (no "/": API Gateway matches a parameter within one segment).
_SAMPLE = "sample-1"


def iam_matches(pattern: str, value: str) -> bool:
    """IAM's resource matching: ``*`` any run of characters (``/`` included), ``?`` any one character.

    >>> iam_matches("GET/customers/*", "GET/customers/cus_1/access-log")
    True
    >>> iam_matches("GET/customers/*/access-log", "GET/customers/cus_1")
    False
    """
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def sample_request(route: str) -> str:
    """What a request to ``route`` looks like after the stage in an ``execute-api`` ARN."""
    return resource_path(route).replace("*", _SAMPLE)


def route_statements(persona: Persona) -> tuple[list[str], list[str]]:
    """(allowed, denied) resource paths: the persona's routes, and every other route one of them would
    also match under IAM's wildcard rules."""
    allowed = sorted(resource_path(route) for route in persona.routes)
    denied = sorted(
        resource_path(other)
        for other in route_keys() - persona.routes
        if any(iam_matches(pattern, sample_request(other)) for pattern in allowed)
    )
    clash = [r for r in persona.routes if any(iam_matches(d, sample_request(r)) for d in denied)]
    if clash:
        raise ValueError(f"{persona.name}: a deny would also refuse its own routes {sorted(clash)}")
    return allowed, denied


class Personas(Construct):
    """``policies`` holds each persona's managed policy, keyed like ``socialcrm.personas.PERSONAS``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: apigwv2.IHttpApi,
        tables: Mapping[str, dynamodb.ITable],
        reports: s3.IBucket,
        bus: events.IEventBus,
        routing: Routing,
        functions: Mapping[str, PipelineFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        self.api, self.tables, self.reports, self.bus, self.routing = api, tables, reports, bus, routing
        stack = Stack.of(self)
        self._read_caller_tags({name: functions[name] for name in sorted(CALLER_FUNCTIONS)})
        self.policies: dict[str, iam.ManagedPolicy] = {}
        for name, persona in PERSONAS.items():
            allowed, denied = route_statements(persona)
            statements = [
                iam.PolicyStatement(
                    sid="Routes",
                    actions=["execute-api:Invoke"],
                    resources=[self._route_arn(path) for path in allowed],
                )
            ]
            if denied:
                statements.append(
                    iam.PolicyStatement(
                        sid="NotOtherPersonasRoutes",
                        effect=iam.Effect.DENY,
                        actions=["execute-api:Invoke"],
                        resources=[self._route_arn(path) for path in denied],
                    )
                )
            for extra in persona.extras:
                statements += getattr(self, "_" + extra.replace("-", "_"))()
            camel = re.sub(r"(^|-)(\w)", lambda m: m.group(2).upper(), name)  # team-lead -> TeamLead
            policy = iam.ManagedPolicy(
                self,
                camel,
                description=f"socialcrm {name}: {persona.summary}",
                statements=statements,
            )
            self.policies[name] = policy
            # each wildcard resource named, never a blanket suppression of the rule
            wildcards = [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason=ROUTES_REASON,
                    applies_to=[self._nag_route(path) for path in [*allowed, *denied] if "*" in path],
                ),
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason=WILDCARD_REASONS,
                    applies_to=[
                        self._nag_extra(extra) for extra in persona.extras if extra != "rules-dry-run"
                    ],
                ),
            ]
            NagSuppressions.add_resource_suppressions(policy, [w for w in wildcards if w.applies_to])
            CfnOutput(
                stack,
                f"PersonaPolicy{camel}",
                value=policy.managed_policy_arn,
                description=f"The {name} persona's managed policy: attach it to their role",
            )

    def _read_caller_tags(self, functions: Mapping[str, PipelineFunction]) -> None:
        """Let the functions that serve IAM-authorised routes read their callers' persona and teams: the
        tags of the account's roles and users (socialcrm.api.callers)."""
        stack = Stack.of(self)
        kinds = {"role": "iam:ListRoleTags", "user": "iam:ListUserTags"}
        arns = {
            kind: stack.format_arn(service="iam", region="", resource=kind, resource_name="*")
            for kind in kinds
        }
        account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
        partition = "<AWS::Partition>" if Token.is_unresolved(stack.partition) else stack.partition
        for name, function in functions.items():
            policy = iam.Policy(
                self,
                f"CallerTags{name.capitalize()}",
                statements=[
                    iam.PolicyStatement(actions=[action], resources=[arns[kind]])
                    for kind, action in kinds.items()
                ],
            )
            policy.attach_to_role(function.role)
            NagSuppressions.add_resource_suppressions(
                policy,
                [
                    NagPackSuppression(
                        id="AwsSolutions-IAM5",
                        reason=(
                            "The caller of a route may be any role or user of the account that an administrator "
                            "tagged with socialcrm:persona; only tag listing is granted, on the account's own "
                            "roles and users."
                        ),
                        applies_to=[f"Resource::arn:{partition}:iam::{account}:{kind}/*" for kind in kinds],
                    )
                ],
            )

    def _nag_arn(self, service: str) -> str:
        """How cdk-nag spells the start of one of this stack's ARNs: a pseudo parameter as <AWS::…>, or the
        value the stack's environment gives it."""
        stack = Stack.of(self)

        def part(value: str, name: str) -> str:
            return f"<{name}>" if Token.is_unresolved(value) else value

        partition = part(stack.partition, "AWS::Partition")
        region, account = part(stack.region, "AWS::Region"), part(stack.account, "AWS::AccountId")
        return f"Resource::arn:{partition}:{service}:{region}:{account}:"

    def _nag_route(self, path: str) -> str:
        """How cdk-nag spells a route's ARN in an IAM5 finding."""
        api = Stack.of(self).get_logical_id(self.api.node.default_child)  # type: ignore[arg-type]
        return f"{self._nag_arn('execute-api')}<{api}>/{STAGE}/{path}"

    def _nag_extra(self, extra: str) -> str:
        """How cdk-nag spells the one wildcard resource of a grant outside the API."""
        stack = Stack.of(self)
        if extra == "daily-reports":
            bucket = stack.get_logical_id(self.reports.node.default_child)  # type: ignore[arg-type]
            return f"Resource::<{bucket}.Arn>/{S3_PREFIX}/*"
        if extra == "replay":
            return f"{self._nag_arn('events')}replay/*"
        environment = stack.get_logical_id(self.routing.rules_environment.node.default_child)  # type: ignore[arg-type]
        application = stack.get_logical_id(self.routing.rules_application.node.default_child)  # type: ignore[arg-type]
        return f"{self._nag_arn('appconfig')}application/<{application}>/environment/<{environment}>/deployment/*"

    def _route_arn(self, path: str) -> str:
        return Stack.of(self).format_arn(
            service="execute-api", resource=self.api.api_id, resource_name=f"{STAGE}/{path}"
        )

    # -- grants outside the API ----------------------------------------------------------------------

    def _table_statements(self, key: str, actions: list[str]) -> list[iam.PolicyStatement]:
        table = self.tables[key]
        out = [iam.PolicyStatement(actions=actions, resources=[table.table_arn])]
        if table.encryption_key is not None:
            writes = any(a in {"dynamodb:PutItem", "dynamodb:UpdateItem"} for a in actions)
            out.append(
                iam.PolicyStatement(
                    actions=list(KEY_ACTIONS_TABLE_WRITE if writes else ("kms:Decrypt", "kms:DescribeKey")),
                    resources=[table.encryption_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"dynamodb.{Aws.REGION}.amazonaws.com"}},
                )
            )
        return out

    def _rules_dry_run(self) -> list[iam.PolicyStatement]:
        """``socialcrm rules dry-run``: the stored messages of the days asked, the cases opened for them,
        and the access-log entry naming whose messages were read."""
        return [
            *self._table_statements("interactions", ["dynamodb:Scan"]),
            *self._table_statements("cases", ["dynamodb:GetItem", "dynamodb:Query"]),
            *self._table_statements("access_ledger", ["dynamodb:PutItem"]),
        ]

    def _daily_reports(self) -> list[iam.PolicyStatement]:
        """The daily reports in S3 (aggregates, no personal data), and their list."""
        return [
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[self.reports.arn_for_objects(f"{S3_PREFIX}/*")]
            ),
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.reports.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{S3_PREFIX}/*"]}},
            ),
        ]

    def _replay(self) -> list[iam.PolicyStatement]:
        """``socialcrm events replay``: the bus's archive, its consumers' rules, and replays (named when
        they are started, hence ``replay/*``)."""
        stack = Stack.of(self)
        bus_name = self.bus.event_bus_name
        return [
            iam.PolicyStatement(
                actions=["events:DescribeArchive"],
                resources=[
                    stack.format_arn(
                        service="events", resource="archive", resource_name=topology.archive_name(bus_name)
                    )
                ],
            ),
            iam.PolicyStatement(
                actions=["events:DescribeRule"],
                resources=[
                    stack.format_arn(
                        service="events",
                        resource="rule",
                        resource_name=f"{bus_name}/{topology.rule_name(bus_name, key)}",
                    )
                    for key in topology.replay_consumers()
                ],
            ),
            iam.PolicyStatement(
                actions=["events:StartReplay", "events:DescribeReplay"],
                resources=[stack.format_arn(service="events", resource="replay", resource_name="*")],
            ),
        ]

    def _rules_deployment(self) -> list[iam.PolicyStatement]:
        """A new version of the routing rules, and its deployment (AppConfig validates it first)."""
        profile_arn = self.routing.rules.configuration_profile_arn
        return [
            iam.PolicyStatement(
                actions=["appconfig:CreateHostedConfigurationVersion", "appconfig:GetConfigurationProfile"],
                resources=[profile_arn],
            ),
            iam.PolicyStatement(
                actions=["appconfig:StartDeployment", "appconfig:GetDeployment"],
                resources=[
                    self.routing.rules_environment.environment_arn,
                    profile_arn,
                    self.routing.rules_strategy.deployment_strategy_arn,
                    f"{self.routing.rules_environment.environment_arn}/deployment/*",
                ],
            ),
        ]
