"""The CloudWatch dashboard, business beside operations, and the alarms that go with it.

Business (from the report consumer's metrics): interactions by platform and by sentiment, SLA
breaches and SLAs met, spikes. Operations: every dead-letter queue's depth, every function's errors
and error rate, the ingest function's p99 duration (what the platforms wait on).

Alarms, to the on-call topic: each function's error rate, SLA breaches, spikes. (DLQ depth and age
alarms are ``Monitoring``'s, per queue.)
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.lambdas import PipelineFunction
from infra.stage import Stage
from infra.work_queues import WorkQueue
from socialcrm import topology
from socialcrm.platforms import ROUTE_PLATFORMS
from socialcrm.reporting.business_metrics import INTERACTIONS_COUNTED, SLA_BREACHES, SLAS_MET, SPIKES

PERIOD = Duration.minutes(5)
# A function failing on more than this share of its invocations over PERIOD pages on-call.
ERROR_RATE_ALARM_PCT = 5
# Functions whose errors are answers, not failures (the rules validator refuses an invalid rules version by
# failing): graphed with the others, never paging on-call.
ERRORS_ARE_ANSWERS = frozenset({"rules_validator"})
# SLA breaches counted within SLA_BREACH_WINDOW that page on-call (a team is overwhelmed).
SLA_BREACH_ALARM = 5
SLA_BREACH_WINDOW = Duration.minutes(15)
REPORT_SERVICE = "socialcrm-report"  # POWERTOOLS_SERVICE_NAME of the report consumer (infra.lambdas)
WIDGET_WIDTH = 12
WIDGET_HEIGHT = 6


def business_metric(name: str, *, namespace: str, period: Duration = PERIOD) -> cloudwatch.Metric:
    """A report-consumer metric (``service`` dimension only), summed over ``period``."""
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=name,
        dimensions_map={"service": REPORT_SERVICE},
        statistic="Sum",
        period=period,
    )


def deliveries_metric(namespace: str, platform: str, outcome: str, period: Duration) -> cloudwatch.Metric:
    """The ingest function's ``Deliveries`` count of one platform and outcome (``ingest.handler``)."""
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name="Deliveries",
        dimensions_map={"platform": platform, "outcome": outcome, "service": "socialcrm-ingest"},
        statistic="Sum",
        period=period,
    )


def _search(dimension: str, label: str, *, namespace: str) -> cloudwatch.MathExpression:
    """One line per value of ``dimension`` of InteractionsCounted (CloudWatch SEARCH)."""
    return cloudwatch.MathExpression(
        expression=(
            f"SEARCH('{{{namespace},{dimension},service}} "
            f'MetricName="{INTERACTIONS_COUNTED}" service="{REPORT_SERVICE}"\', \'Sum\', {PERIOD.to_seconds()})'
        ),
        label=label,
        period=PERIOD,
        using_metrics={},
    )


class Dashboard(Construct):
    """``dashboard`` and ``alarms``: ``error-rate-<function>``, ``sla-breaches`` and ``spikes``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, PipelineFunction],
        queues: Mapping[str, WorkQueue],
        topic: sns.ITopic,
        ingest_key: str = "ingest",
        watched: Mapping[str, cloudwatch.IAlarm] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        namespace = Stage.of(self).metrics_namespace
        self._action = cloudwatch_actions.SnsAction(topic)
        error_rates = {key: self._error_rate(key, function) for key, function in sorted(functions.items())}
        self.alarms: dict[str, cloudwatch.Alarm] = {
            f"error-rate-{key}": self._alarm(
                f"error-rate-{key}",
                f"socialcrm {key}: over {ERROR_RATE_ALARM_PCT}% of invocations failed in {PERIOD.to_minutes()} "
                f"minutes. Read its logs; {_retried(key)}",
                rate,
                threshold=ERROR_RATE_ALARM_PCT,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            )
            for key, rate in error_rates.items()
            if key not in ERRORS_ARE_ANSWERS
        }
        self.alarms["sla-breaches"] = self._alarm(
            "sla-breaches",
            f"socialcrm: {SLA_BREACH_ALARM} or more SLA breaches in {SLA_BREACH_WINDOW.to_minutes()} minutes; "
            "a team is short of hands or routing sends it too much.",
            business_metric(SLA_BREACHES, namespace=namespace, period=SLA_BREACH_WINDOW),
            threshold=SLA_BREACH_ALARM,
        )
        self.alarms["spikes"] = self._alarm(
            "spikes",
            "socialcrm: a spike of negative interactions was detected (see the Spikes widget and the cases "
            "routing opened for it).",
            business_metric(SPIKES, namespace=namespace),
            threshold=1,
        )

        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=Stage.of(self).dashboard_name, default_interval=Duration.days(1)
        )
        self.dashboard.add_widgets(cloudwatch.TextWidget(markdown="## Business", width=24, height=1))
        self.dashboard.add_widgets(
            self._graph(
                "Interactions by platform", [_search("platform", "", namespace=namespace)], stacked=True
            ),
            self._graph(
                "Interactions by sentiment", [_search("sentiment", "", namespace=namespace)], stacked=True
            ),
        )
        self.dashboard.add_widgets(
            self._graph(
                "SLA breaches and SLAs met",
                [
                    business_metric(SLA_BREACHES, namespace=namespace).with_(label="breached"),
                    business_metric(SLAS_MET, namespace=namespace).with_(label="met"),
                ],
            ),
            self._graph(
                "Spikes detected", [business_metric(SPIKES, namespace=namespace).with_(label="spikes")]
            ),
        )
        self.dashboard.add_widgets(cloudwatch.TextWidget(markdown="## Operations", width=24, height=1))
        self.dashboard.add_widgets(
            self._graph(
                "Dead-letter queue depth",
                [
                    queue.dlq.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic="Maximum", label=name
                    )
                    for name, queue in sorted(queues.items())
                ],
            ),
            self._graph(
                "Function errors",
                [
                    function.fn.metric_errors(period=PERIOD, label=key)
                    for key, function in sorted(functions.items())
                ],
            ),
        )
        self.dashboard.add_widgets(
            self._graph(
                "Function error rate (%)",
                list(error_rates.values()),
            ),
            self._graph(
                "Ingest duration p99 (ms)",
                [
                    functions[ingest_key].fn.metric_duration(
                        period=PERIOD, statistic="p99", label="ingest p99"
                    )
                ],
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms", alarms=list(self.alarms.values()), width=24, height=WIDGET_HEIGHT
            )
        )
        deliveries = {
            outcome: self._graph(
                f"Webhook deliveries {outcome}, by platform",
                [
                    deliveries_metric(namespace, platform, outcome, PERIOD).with_(label=platform)
                    for platform in ROUTE_PLATFORMS
                ],
                stacked=True,
            )
            for outcome in ("accepted", "refused", "malformed")
        }
        self.dashboard.add_widgets(cloudwatch.TextWidget(markdown="## Platforms", width=24, height=1))
        self.dashboard.add_widgets(deliveries["accepted"], deliveries["refused"])
        self.dashboard.add_widgets(deliveries["malformed"])
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="API, throttles and queues",
                alarms=list((watched or {}).values()),
                width=24,
                height=WIDGET_HEIGHT,
            )
        )

    @staticmethod
    def _error_rate(key: str, function: PipelineFunction) -> cloudwatch.MathExpression:
        """100 x errors / invocations over PERIOD (0 with no invocation); ids unique per function, as a
        graph of several functions needs."""
        errors, invocations = f"errors_{key}", f"invocations_{key}"
        return cloudwatch.MathExpression(
            expression=f"IF({invocations} > 0, 100 * {errors} / {invocations}, 0)",
            using_metrics={
                errors: function.fn.metric_errors(period=PERIOD, statistic="Sum"),
                invocations: function.fn.metric_invocations(period=PERIOD, statistic="Sum"),
            },
            label=f"{key} error rate %",
            period=PERIOD,
        )

    @staticmethod
    def _graph(
        title: str, metrics: list[cloudwatch.IMetric], *, stacked: bool = False
    ) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(
            title=title, left=metrics, width=WIDGET_WIDTH, height=WIDGET_HEIGHT, stacked=stacked
        )

    def _alarm(
        self,
        construct_id: str,
        description: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        return alarm


def _retried(key: str) -> str:
    """What becomes of a failed invocation of the function, for the alarm's description."""
    spec = topology.FUNCTIONS.get(key)
    if spec is not None and spec.queue:
        return "queued records are retried, then dead-lettered."
    if any(function == key for _method, _path, function, _iam in topology.ROUTES):
        return "callers got a 5xx (platforms retry their deliveries)."
    return "its scheduler retries it (an SLA clock that still fails is kept on the sla dead-letter queue)."
