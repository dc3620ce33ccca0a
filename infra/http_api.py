"""The HTTP API: the routes of ``topology.ROUTES`` on one throttled, access-logged ``$default`` stage."""

from __future__ import annotations

import json
from collections.abc import Mapping

import jsii
from aws_cdk import CfnOutput
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from socialcrm import topology

# Steady-state requests per second and burst across the whole stage (API Gateway token bucket).
THROTTLE_RATE_LIMIT = 500
THROTTLE_BURST_LIMIT = 1000
ACCESS_LOG_RETENTION = logs.RetentionDays.THREE_MONTHS
# One JSON object per request. Metadata only: never the body, headers or query (they carry personal
# data and signatures).
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "latency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "responseLength": "$context.responseLength",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, destination: apigwv2.IAccessLogDestination, log_format: apigateway.AccessLogFormat):
        self._destination = destination
        self._format = log_format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return self._format


class HttpEndpoint(Construct):
    """``api`` (the HttpApi) and ``stage``; webhook routes are open (platforms sign their requests),
    CRM routes require SigV4 (``AWS_IAM``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handlers: Mapping[str, lambda_.IFunction],
        routes: tuple[tuple[str, str, str, bool], ...] = topology.ROUTES,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigwv2.HttpApi(
            self,
            "HttpApi",
            description="socialcrm: platform webhooks and the CRM API",
            create_default_stage=False,
        )
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=ACCESS_LOG_RETENTION)
        self.stage = self.api.add_stage(
            "DefaultStage",
            stage_name="$default",
            auto_deploy=True,
            detailed_metrics_enabled=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=THROTTLE_RATE_LIMIT, burst_limit=THROTTLE_BURST_LIMIT
            ),
            access_log_settings=_AccessLogSettings(
                apigwv2.LogGroupLogDestination(self.access_logs),
                apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))),
            ),
        )

        used = {function_key for _method, _path, function_key, _iam in routes}
        missing = used - set(handlers)
        if missing:
            raise ValueError(
                f"topology.ROUTES names functions with no handler in the stack: {sorted(missing)}"
            )
        lambda_integrations = {
            key: integrations.HttpLambdaIntegration(f"{key}-integration", handlers[key])
            for key in sorted(used)
        }
        for method, path, function_key, iam_authorised in routes:
            created = self.api.add_routes(
                path=path,
                methods=[apigwv2.HttpMethod[method]],
                integration=lambda_integrations[function_key],
                authorizer=authorizers.HttpIamAuthorizer()
                if iam_authorised
                else apigwv2.HttpNoneAuthorizer(),
            )
            if not iam_authorised:
                NagSuppressions.add_resource_suppressions(
                    created,
                    [
                        NagPackSuppression(
                            id="AwsSolutions-APIG4",
                            reason=(
                                "Social platforms call webhook routes without AWS credentials; each delivery "
                                "is authenticated by the platform's signature (HMAC or Standard Webhooks), "
                                "checked by the ingest function before anything is stored or queued."
                            ),
                        )
                    ],
                    apply_to_children=True,
                )

        CfnOutput(self, "Url", value=self.stage.url, description="Base URL of the socialcrm HTTP API")
