"""The report consumer's business metrics (CloudWatch EMF through Powertools), graphed on the dashboard.

- ``InteractionsCounted`` twice per batch: once per platform (dimension ``platform``) and once per
  final sentiment (dimension ``sentiment``), so each can be graphed and searched on its own.
- ``SlaBreaches``, ``SlasMet`` and ``Spikes`` (dimension ``service`` only), alarmed on: the SLA ones
  count first-response targets, as they did before the other clocks.
- ``SlaBreaches`` and ``SlasMet`` again per ``clock`` (``first_response``, ``next_response``,
  ``resolution``): each case, round or reopening once.
- ``FactsCounted``, ``DuplicateFacts`` and ``RecordsFailed`` for operations.

Only new facts count: a redelivered or re-announced event moves no metric.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools.metrics import EphemeralMetrics, Metrics, MetricUnit

from socialcrm.reporting.consumer import ReportOutcome

INTERACTIONS_COUNTED = "InteractionsCounted"
SLA_BREACHES = "SlaBreaches"
SLAS_MET = "SlasMet"
SPIKES = "Spikes"


def _by_dimension(namespace: str | None, name: str, dimension: str, counts: Mapping[str, int]) -> None:
    """One EMF document per dimension value (one metrics object holds one value per dimension)."""
    for value, count in sorted(counts.items()):
        document = EphemeralMetrics(namespace=namespace)
        document.add_dimension(name=dimension, value=value)
        document.add_metric(name=name, unit=MetricUnit.Count, value=count)
        document.flush_metrics()


def publish(outcome: ReportOutcome, metrics: Metrics) -> None:
    """Emit the batch's business metrics; ``metrics`` is the function's (flushed by its decorator)."""
    _by_dimension(metrics.namespace, INTERACTIONS_COUNTED, "platform", outcome.interactions_by_platform)
    _by_dimension(metrics.namespace, INTERACTIONS_COUNTED, "sentiment", outcome.interactions_by_sentiment)
    _by_dimension(metrics.namespace, SLA_BREACHES, "clock", outcome.breaches_by_clock)
    _by_dimension(metrics.namespace, SLAS_MET, "clock", outcome.met_by_clock)
    metrics.add_metric(name=SLA_BREACHES, unit=MetricUnit.Count, value=outcome.sla_breaches)
    metrics.add_metric(name=SLAS_MET, unit=MetricUnit.Count, value=outcome.sla_met)
    metrics.add_metric(name=SPIKES, unit=MetricUnit.Count, value=outcome.spikes)
    metrics.add_metric(name="FactsCounted", unit=MetricUnit.Count, value=outcome.counted)
    metrics.add_metric(name="DuplicateFacts", unit=MetricUnit.Count, value=outcome.duplicates)
    metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=len(outcome.failed))
