"""The socialcrm EventBridge bus (``topology.BUS_NAME``)."""

from __future__ import annotations

from aws_cdk import aws_events as events
from constructs import Construct

from socialcrm import topology


class Bus(Construct):
    """The custom bus every function publishes to; consumers' queues subscribe by rule.

    Events carry ids and derived attributes only (no personal data), so the bus keeps
    EventBridge's default encryption. It holds no data, so it keeps the default removal policy.
    """

    def __init__(self, scope: Construct, construct_id: str, *, bus_name: str = topology.BUS_NAME) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(
            self,
            "Bus",
            event_bus_name=bus_name,
            description="socialcrm domain events (ids, no personal data)",
        )
