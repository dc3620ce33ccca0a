"""Every function of topology: python3.13 on arm64, traced, JSON logs with retention, the layer, its env."""

from __future__ import annotations

from pathlib import Path

import pytest

from socialcrm import settings, topology

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]

# The settings model each handler reads its environment with.
SETTINGS = {
    "ingest": settings.IngestSettings,
    "api": settings.ApiSettings,
    "enrich": settings.EnrichSettings,
    "privacy": settings.PrivacySettings,
    "erase": settings.EraseSettings,
    "report": settings.ReportSettings,
    "daily_report": settings.DailyReportSettings,
    "route": settings.RouteSettings,
    "sla": settings.SlaSettings,
}

# The resources whose names each function is told about, and nothing else.
EXPECTED_RESOURCE_ENV = {
    # a WebSub hub's verification of intent is confirmed against the subscriptions table
    "ingest": {"INBOUND_QUEUE_URL", "SECRETS_NAME", "SUBSCRIPTIONS_TABLE"},
    # the YouTube channels to follow, the hub secret, and the callback the hub verifies and notifies
    "websub": {"SUBSCRIPTIONS_TABLE", "SECRETS_NAME", "YOUTUBE_CHANNELS", "WEBSUB_CALLBACK_URL"},
    "api": {
        "INTERACTIONS_TABLE",
        "SUBJECTS_TABLE",
        "SECRETS_NAME",
        # the access export reads every personal-data store (dead-letter queues too) and the suppression state
        "CASES_TABLE",
        "INBOUND_DLQ_URL",
        "ROUTE_DLQ_URL",
        "REPORT_DLQ_URL",
        "REPORT_SEEN_TABLE",
        "SUPPRESSIONS_TABLE",
        # GET /reports/summary reads the report counters
        "REPORT_COUNTERS_TABLE",
        # the work queues (/cases) update cases, announce CaseUpdated, stop SLA clocks and start the
        # resolution clock of a reopened case, timed by the rules
        "EVENT_BUS_NAME",
        "SLA_SCHEDULE_GROUP",
        "SLA_TARGET_ARN",
        "SLA_ROLE_ARN",
        "RULES_APPCONFIG_APPLICATION",
        "RULES_APPCONFIG_ENVIRONMENT",
        "RULES_APPCONFIG_PROFILE",
        # replies: the outbound queue (SUPPRESSIONS_TABLE and SECRETS_NAME are listed above)
        "OUTBOUND_QUEUE_URL",
        # GET /health/platforms shows each YouTube subscription
        "SUBSCRIPTIONS_TABLE",
        # the customer routes link identities, and the export reads the subject's links
        "CUSTOMERS_TABLE",
        # every route that shows a person's data writes the access ledger first
        "ACCESS_LEDGER_TABLE",
    },
    "enrich": {
        "INTERACTIONS_TABLE",
        "SUBJECTS_TABLE",
        "INBOUND_QUEUE_URL",
        "EVENT_BUS_NAME",
        "SUPPRESSIONS_TABLE",
        "CLAIMS_TABLE",
    },
    "privacy": {
        "ERASURE_REQUESTS_TABLE",
        "SUPPRESSIONS_TABLE",
        "EVENT_BUS_NAME",
        "SECRETS_NAME",
        "ACCESS_LEDGER_TABLE",  # the access logs
        "CUSTOMERS_TABLE",  # an erasure by customer reads its identities
    },
    # AppConfig hands the validator the document; it checks every team has its topic
    "rules_validator": {"TEAM_TOPICS"},
    "erase": {
        "ERASURE_REQUESTS_TABLE",
        "SUPPRESSIONS_TABLE",
        "INTERACTIONS_TABLE",
        "SUBJECTS_TABLE",
        "CASES_TABLE",
        "REPORT_SEEN_TABLE",
        "CUSTOMERS_TABLE",
        "EVENT_BUS_NAME",
        "ERASURE_QUEUE_URL",
        "INBOUND_DLQ_URL",
        "ROUTE_DLQ_URL",
        "REPORT_DLQ_URL",
    },
    # the tombstones: facts of an erased subject's data still in flight are dropped
    "report": {"REPORT_COUNTERS_TABLE", "REPORT_SEEN_TABLE", "SUPPRESSIONS_TABLE"},
    "daily_report": {"REPORT_COUNTERS_TABLE", "REPORTS_BUCKET"},
    "route": {
        "INTERACTIONS_TABLE",
        "CASES_TABLE",
        "COUNTERS_TABLE",
        "EVENT_BUS_NAME",
        "SLA_SCHEDULE_GROUP",
        "SLA_TARGET_ARN",
        "SLA_ROLE_ARN",
        "TEAM_TOPICS",
        "RULES_APPCONFIG_APPLICATION",
        "RULES_APPCONFIG_ENVIRONMENT",
        "RULES_APPCONFIG_PROFILE",
        # the rules' automatic replies
        "SUPPRESSIONS_TABLE",
        "OUTBOUND_QUEUE_URL",
        "SECRETS_NAME",
        "CUSTOMERS_TABLE",  # the sender's customer: segments and cross-channel history
    },
    "sla": {"CASES_TABLE", "EVENT_BUS_NAME", "TEAM_TOPICS"},
    "send": {
        "CASES_TABLE",
        "INTERACTIONS_TABLE",
        "SUPPRESSIONS_TABLE",
        "COUNTERS_TABLE",
        "OUTBOUND_QUEUE_URL",
        "SECRETS_NAME",
        "EVENT_BUS_NAME",
        "SLA_SCHEDULE_GROUP",
        "SLA_TARGET_ARN",
        "SLA_ROLE_ARN",
        "RULES_APPCONFIG_APPLICATION",
        "RULES_APPCONFIG_ENVIRONMENT",
        "RULES_APPCONFIG_PROFILE",
    },
}


def _function(synthesis, key: str) -> dict:
    logical_id = synthesis.service_id(synthesis.service.functions[key].fn)
    return synthesis.service_template.to_json()["Resources"][logical_id]["Properties"]


def test_every_topology_function_is_deployed_once(synthesis):
    assert set(synthesis.service.functions) == set(topology.FUNCTIONS)
    synthesis.service_template.resource_count_is("AWS::Lambda::Function", len(topology.FUNCTIONS))


@pytest.mark.parametrize("key", sorted(topology.FUNCTIONS))
def test_function_runs_python313_on_arm64_traced_with_json_logs_and_the_layer(synthesis, key):
    # Given the function built from its spec
    spec = topology.FUNCTIONS[key]
    props = _function(synthesis, key)
    function = synthesis.service.functions[key]
    # Then it has the runtime, architecture, handler, sizing and tracing the project deploys
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == spec.handler
    assert props["MemorySize"] == spec.memory_mb
    assert props["Timeout"] == spec.timeout_seconds
    assert props["TracingConfig"] == {"Mode": "Active"}
    # And it logs JSON into its own log group, which expires entries
    log_group_id = synthesis.service_id(function.log_group)
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": log_group_id}
    log_group = synthesis.service_template.to_json()["Resources"][log_group_id]["Properties"]
    assert log_group["RetentionInDays"] > 0
    # And it ships the dependency layer, and the plotting layer only if it draws charts
    layer_id = synthesis.service_id(synthesis.service.node.find_child("Dependencies").layer)
    extra = [
        {"Ref": synthesis.service_id(synthesis.service.node.find_child(f"{name.title()}Dependencies").layer)}
        for name in spec.layers
    ]
    assert props["Layers"] == [{"Ref": layer_id}, *extra]
    assert {"daily_report": ["plotting"], "enrich": ["language"]}.get(key, []) == list(spec.layers)


@pytest.mark.parametrize("key", sorted(topology.FUNCTIONS))
def test_function_environment_names_powertools_service_and_its_resources(synthesis, key):
    env = _function(synthesis, key)["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == f"socialcrm-{key}"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "socialcrm/dev"  # the stage's own
    resource_vars = set(env) - {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
    assert resource_vars - set(topology.FUNCTIONS[key].environment) == EXPECTED_RESOURCE_ENV[key]


def test_environment_variables_carry_the_right_resources(synthesis):
    # Given the resources of both stacks, as the stateless template refers to them
    data, service = synthesis.data, synthesis.service
    ingest = _function(synthesis, "ingest")["Environment"]["Variables"]
    enrich = _function(synthesis, "enrich")["Environment"]["Variables"]
    # Then each variable names the resource topology says it does
    assert ingest["INBOUND_QUEUE_URL"] == synthesis.in_service(
        service.consumers.queues["inbound"].queue.queue_url
    )
    assert ingest["SECRETS_NAME"] == synthesis.in_service(data.secret.secret_arn)
    assert enrich["INTERACTIONS_TABLE"] == synthesis.in_service(data.tables["interactions"].table_name)
    assert enrich["SUBJECTS_TABLE"] == synthesis.in_service(data.tables["subjects"].table_name)
    assert enrich["EVENT_BUS_NAME"] == synthesis.in_service(data.bus.event_bus_name)


@pytest.mark.parametrize("key", sorted(SETTINGS))
def test_function_environment_satisfies_the_handlers_settings_model(synthesis, key):
    # Given the environment CloudFormation will set (values are references until deploy time)
    env = {name: "resolved-at-deploy" for name in _function(synthesis, key)["Environment"]["Variables"]}
    env["AWS_REGION"] = "eu-west-1"  # set by the Lambda runtime itself
    # When the handler reads its settings from it
    loaded = SETTINGS[key].from_env(env)
    # Then nothing the handler requires is missing
    assert loaded is not None


def test_function_code_asset_holds_the_handlers_and_package_without_bytecode(synthesis):
    # Given the code asset the functions are deployed from, as staged by the synthesis
    keys = {_function(synthesis, key)["Code"]["S3Key"] for key in topology.FUNCTIONS}
    assert len(keys) == 1, "every function ships the same functions/ asset"
    staged = Path(synthesis.app.outdir) / f"asset.{keys.pop().removesuffix('.zip')}"
    files = {path.relative_to(staged).as_posix() for path in staged.rglob("*") if path.is_file()}
    # Then it holds the handlers named by topology and the socialcrm package
    for spec in topology.FUNCTIONS.values():
        module = spec.handler.rsplit(".", 1)[0].replace(".", "/")
        if (ROOT / "functions" / f"{module}.py").exists():
            assert f"{module}.py" in files, spec.handler
    assert "socialcrm/topology.py" in files
    # And no bytecode cache or editable-install metadata
    assert not [f for f in files if "__pycache__" in f or f.endswith(".pyc") or ".egg-info" in f]


def test_the_functions_asset_carries_no_local_stack_and_no_command_line(synthesis):
    from pathlib import Path

    out = Path(synthesis.app.outdir)
    (code,) = [d for d in out.glob("asset.*") if (d / "ingest" / "handler.py").exists()]
    assert (code / "socialcrm" / "replies" / "sender.py").exists()
    assert not (code / "socialcrm" / "local").exists() and not (code / "socialcrm" / "cli").exists()
