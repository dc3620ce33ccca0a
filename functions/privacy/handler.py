"""The privacy function: erasure requests and objections behind API Gateway with IAM authorisation."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.logging import correlation_paths

from socialcrm.api.composition import Composition, RouterSource
from socialcrm.api.privacy import build_router
from socialcrm.observability import logger
from socialcrm.privacy.runtime import PrivacyRuntime, privacy_runtime
from socialcrm.settings import PrivacySettings
from socialcrm.tracing import tracer


@lru_cache(maxsize=1)
def runtime() -> PrivacyRuntime:
    return privacy_runtime(PrivacySettings.from_env())


COMPOSITION = Composition(routers=(RouterSource(build_router, runtime),), options={"enable_validation": True})
app = COMPOSITION.compose(APIGatewayHttpResolver(**COMPOSITION.options))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
