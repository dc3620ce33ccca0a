"""The socialcrm EventBridge bus of the stage (``socialcrm-<stage>``; locally ``topology.BUS_NAME``)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from constructs import Construct

from infra.stage import Stage
from socialcrm import topology


class Bus(Construct):
    """The custom bus every function publishes to; consumers' queues subscribe by rule.

    Events carry ids and derived attributes only (no personal data), so the bus keeps
    EventBridge's default encryption. It holds no data, so it keeps the default removal policy. Its archive
    keeps the events for ``topology.RETENTION_DAYS["bus_archive"]`` days, to replay after an outage.
    """

    def __init__(self, scope: Construct, construct_id: str, *, bus_name: str | None = None) -> None:
        super().__init__(scope, construct_id)
        bus_name = bus_name or Stage.of(self).bus_name
        self.bus = events.EventBus(
            self,
            "Bus",
            event_bus_name=bus_name,
            description="socialcrm domain events (ids, no personal data)",
        )
        # Every event of the pipeline's functions, kept to be replayed after an outage (ids only).
        self.archive = self.bus.archive(
            "Archive",
            archive_name=topology.archive_name(bus_name),
            description="socialcrm domain events, to replay after an outage (ids, no personal data)",
            event_pattern=events.EventPattern(source=events.Match.prefix(topology.EVENT_SOURCE_PREFIX)),
            retention=Duration.days(topology.RETENTION_DAYS["bus_archive"]),
        )
