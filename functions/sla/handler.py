"""The sla function: invoked by a case's one-time schedule (``{"case_id", "check"}``, ``routing.sla.Check``)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from socialcrm.observability import MetricUnit, logger, metrics
from socialcrm.routing.runtime import SlaRuntime, build_sla_runtime
from socialcrm.routing.sla import Check
from socialcrm.settings import SlaSettings
from socialcrm.tracing import tracer


class SlaCheck(BaseModel):
    """The schedule's input."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    case_id: str = Field(min_length=1, max_length=64)
    check: Check


@lru_cache(maxsize=1)
def runtime() -> SlaRuntime:
    return build_sla_runtime(SlaSettings.from_env())


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    check = SlaCheck.model_validate(event)
    result = runtime().fire(check.case_id, check.check, trace_header=os.environ.get("_X_AMZN_TRACE_ID"))
    metrics.add_metric(name="SlaBreached", unit=MetricUnit.Count, value=1 if result == "breached" else 0)
    return {"case_id": check.case_id, "check": check.check, "result": result}
