"""The socialcrm CDK app: ``cdk synth`` / ``cdk deploy --all`` (``make synth``, ``make deploy``).

Two stacks per stage (``-c stage=prod``, default ``dev``; ``infra.stage``): ``socialcrm-<stage>-data``
(stateful) and ``socialcrm-<stage>-service`` (stateless, depends on the first), environment-agnostic
unless ``-c account=… -c region=…`` are given (no AWS account or lookup is needed to synthesise).
cdk-nag's AwsSolutions checks run on both; an unsuppressed finding fails the synth.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The CDK CLI runs this file as a script: make the repository root (infra.*) and functions/
# (socialcrm.*) importable, and drop infra/ itself so its module names cannot shadow others.
_ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path[:0] = [str(_ROOT), str(_ROOT / "functions")]

from aws_cdk import App, AspectPriority, Aspects, Tags  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra.layer import LayerNotBuiltError, layer_dir_from_context  # noqa: E402
from infra.stage import Stage, StageError, environment_of  # noqa: E402
from infra.stateful_stack import StatefulStack  # noqa: E402
from infra.stateless_stack import StatelessStack  # noqa: E402
from socialcrm.routing.rules import RulesError  # noqa: E402


def build_app(app: App) -> tuple[StatefulStack, StatelessStack]:
    """Add both stacks and the cdk-nag checks to ``app``; return (stateful, stateless).

    Raises ``LayerNotBuiltError`` when the dependency layer has not been built (``make layer``).
    """
    stage = Stage.of(app)
    env = environment_of(app)
    data = StatefulStack(
        app,
        stage.stateful_stack,
        env=env,
        description="socialcrm stateful resources: KMS key, DynamoDB tables, EventBridge bus, platform secret",
    )
    service = StatelessStack(
        app,
        stage.stateless_stack,
        env=env,
        description="socialcrm stateless resources: Lambda functions, SQS queues, HTTP API, alarms",
        key=data.key,
        tables=data.tables,
        bus=data.bus,
        secret=data.secret,
        layer_dir=layer_dir_from_context(app),
    )
    Tags.of(app).add("project", "socialcrm")
    Tags.of(app).add("stage", stage.name)
    Aspects.of(app).add(AwsSolutionsChecks(verbose=True), priority=AspectPriority.READONLY)
    return data, service


def main() -> int:
    app = App()
    try:
        build_app(app)
    except LayerNotBuiltError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except RulesError as exc:  # config/rules.yaml is invalid: name the rule and field, deploy nothing
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except StageError as exc:  # a context value (stage, account, region) that names nothing
        print(f"error: {exc}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
