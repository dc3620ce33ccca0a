"""The stateless stack: functions, queues, HTTP API and alarms; safe to replace at any time."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.bus_subscriptions import BusSubscriptions
from infra.consumers import Consumers
from infra.crm_api import CrmApi
from infra.dashboard import Dashboard
from infra.http_api import HttpEndpoint
from infra.ingest import Ingest
from infra.lambdas import ARCHITECTURE, RUNTIME, PipelineFunction, SharedCode, function_code
from infra.layer import EXTRA_LAYERS, DependencyLayer
from infra.monitoring import Monitoring
from infra.personas import Personas
from infra.privacy import Privacy
from infra.reporting import Reporting
from infra.routing import Routing
from infra.websub import WebSub
from socialcrm import topology


class StatelessStack(Stack):
    """Composes the stateless concerns from the stateful stack's resources (constructor arguments).

    ``functions`` holds every ``PipelineFunction`` keyed like ``topology.FUNCTIONS``; building the stack
    fails if topology declares a function that no construct here builds.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        tables: Mapping[str, dynamodb.ITable],
        bus: events.IEventBus,
        secret: secretsmanager.ISecret,
        layer_dir: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        layer = DependencyLayer(
            self, "Dependencies", layer_dir=layer_dir, runtime=RUNTIME, architecture=ARCHITECTURE
        )
        extra = {
            name: DependencyLayer(
                self,
                f"{name.title()}Dependencies",
                layer_dir=layer_dir / name,
                runtime=RUNTIME,
                architecture=ARCHITECTURE,
            ).layer
            for name in EXTRA_LAYERS
        }
        shared = SharedCode(code=function_code(), layer=layer.layer, extra_layers=extra)

        self.consumers = Consumers(self, "Consumers", shared=shared, key=key, tables=tables, bus=bus)
        self.ingest = Ingest(
            self,
            "Ingest",
            shared=shared,
            inbound_queue=self.consumers.queues["inbound"].queue,
            secret=secret,
            subscriptions=tables["subscriptions"],
        )
        self.websub = WebSub(
            self, "WebSub", shared=shared, subscriptions=tables["subscriptions"], secret=secret
        )
        self.crm_api = CrmApi(
            self,
            "CrmApi",
            shared=shared,
            interactions=tables["interactions"],
            subjects=tables["subjects"],
            customers=tables["customers"],
            access_ledger=tables["access_ledger"],
            secret=secret,
        )
        self.privacy = Privacy(
            self,
            "Privacy",
            shared=shared,
            tables=tables,
            bus=bus,
            secret=secret,
            erasure_queue=self.consumers.queues["erasure"],
            queues=self.consumers.queues,
        )
        self.privacy.grant_export(self.crm_api.function)
        self.reporting = Reporting(
            self, "Reporting", shared=shared, tables=tables, queues=self.consumers.queues
        )
        self.reporting.grant_summary(self.crm_api.function)
        self.routing = Routing(
            self,
            "Routing",
            shared=shared,
            key=key,
            tables=tables,
            bus=bus,
            queues=self.consumers.queues,
            secret=secret,
        )
        self.routing.serve_cases_api(self.crm_api.function)
        # every queue topology subscribes to detail-types is fed by a rule on the bus
        self.bus_subscriptions = BusSubscriptions(
            self, "BusSubscriptions", bus=bus, queues=self.consumers.queues, data_key=key
        )
        self.functions: dict[str, PipelineFunction] = {
            "ingest": self.ingest.function,
            "api": self.crm_api.function,
            **self.consumers.functions,
            **self.privacy.functions,
            **self.reporting.functions,
            **self.routing.functions,
            "websub": self.websub.function,
        }
        unbuilt = set(topology.FUNCTIONS) - set(self.functions)
        if unbuilt:
            raise ValueError(
                f"topology.FUNCTIONS declares {sorted(unbuilt)} but no construct in infra/ builds it: "
                "add one with its grants (see infra/consumers.py)."
            )
        self.http = HttpEndpoint(
            self, "Http", handlers={key: function.fn for key, function in self.functions.items()}
        )
        self.websub.call_back_at(self.http.stage.url)
        self.personas = Personas(
            self,
            "Personas",
            api=self.http.api,
            tables=tables,
            reports=self.reporting.bucket,
            bus=bus,
            routing=self.routing,
            functions=self.functions,
        )
        self.monitoring = Monitoring(self, "Monitoring", key=key, queues=self.consumers.queues)
        self.monitoring.watch(api=self.http.api, functions=self.functions, tables=tables)
        self.monitoring.grant_health(self.crm_api.function)
        self.websub.grant_health(self.crm_api.function)
        self.bus_subscriptions.alarm_to(self.monitoring.topic)
        self.routing.alarm_to(self.monitoring.topic)
        self.dashboard = Dashboard(
            self,
            "Dashboard",
            functions=self.functions,
            queues=self.consumers.queues,
            topic=self.monitoring.topic,
            watched={
                **self.monitoring.operations,
                **{f"{q}-{k}": a for q, alarms in self.monitoring.alarms.items() for k, a in alarms.items()},
                **self.bus_subscriptions.alarms,
            },
        )
