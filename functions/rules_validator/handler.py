"""The rules validator: AWS AppConfig invokes it before a new version of the routing rules can be deployed.

AppConfig sends ``{"applicationId", "configurationProfileId", "configurationVersion", "content", "uri"}``
with the document base64-encoded in ``content``; an exception refuses the version, with its message shown
to the operator. The checks are the ones ``make test``, ``make synth`` and ``socialcrm rules validate``
run (the JSON Schema, then the cross-checks), so an operator cannot deploy a document the route function
would refuse. One more: every team must have its SNS topic (``TEAM_TOPICS``, built from the rules the stack
was deployed with), since topics are created by the deployment: a new team needs ``make deploy``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from socialcrm.errors import ConfigurationError
from socialcrm.observability import logger
from socialcrm.routing.evaluator import CompiledRules
from socialcrm.routing.rules import RulesError, parse_rules
from socialcrm.settings import TeamTopicsSettings


def validate(event: dict[str, Any], teams_with_topics: frozenset[str] | None = None) -> CompiledRules:
    """The compiled rules of the version in ``event``; ``RulesError`` naming the rule and field when invalid,
    or naming the teams that have no topic when ``teams_with_topics`` is given."""
    origin = f"routing rules version {event.get('configurationVersion', '?')}"
    try:
        raw = json.loads(base64.b64decode(str(event.get("content", "")), validate=True))
    except (binascii.Error, ValueError) as exc:
        raise RulesError(f"{origin}: not a JSON document ({exc})") from exc
    document = parse_rules(raw, origin=origin)
    if teams_with_topics is not None:
        new = sorted(set(document.teams) - teams_with_topics)
        if new:
            raise RulesError(
                f"{origin}: field teams: {', '.join(map(repr, new))} has no notification topic yet; add the "
                "team to config/rules.yaml and run make deploy, then deploy this version"
            )
    return CompiledRules(document)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    version = event.get("configurationVersion")
    topics = TeamTopicsSettings.from_env().team_topics
    try:
        compiled = validate(event, frozenset(topics) if topics else None)
    except ConfigurationError as exc:
        logger.warning("rules version refused", configuration_version=version, reason=exc.message)
        raise
    logger.info("rules version valid", configuration_version=version, rules=len(compiled))
    return {"valid": True, "rules": len(compiled)}
