"""Where the route consumer reads its rules: AppConfig in AWS (operators change them without a
redeploy), a file locally; compiled once per version of the document.

In AWS the document is read through Powertools Parameters (``get_app_config``, JSON, cached for
``max_age`` seconds). A document that fails validation at run time (an operator's bad edit) is
refused: the last valid rules stay in force and an error is logged; with none yet, the batch fails
and is retried. ``config/rules.yaml`` itself can never be invalid in a deployment: ``make test`` and
``make synth`` validate it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from socialcrm.observability import logger
from socialcrm.routing.evaluator import CompiledRules
from socialcrm.routing.rules import RulesError, parse_rules, parse_rules_text

DEFAULT_MAX_AGE_SECONDS = 60
REPO_RULES_FILE = Path(__file__).resolve().parents[3] / "config" / "rules.yaml"


class RulesSource:
    """Callable returning the current :class:`CompiledRules`."""

    def __init__(self, fetch: Callable[[], Any], *, origin: str) -> None:
        self._fetch = fetch
        self.origin = origin
        self._raw: Any = None
        self._digest: str | None = None
        self._compiled: CompiledRules | None = None

    def __call__(self) -> CompiledRules:
        raw = self._fetch()
        if self._compiled is not None and raw is self._raw:
            return self._compiled  # the provider's cached object: nothing changed
        digest = hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()
        if self._compiled is not None and digest == self._digest:
            self._raw = raw
            return self._compiled
        try:
            compiled = CompiledRules(parse_rules(raw, origin=self.origin))
        except RulesError as exc:
            if self._compiled is None:
                raise
            logger.error("invalid rules refused; the previous rules stay in force", problem=exc.message)
            self._raw = raw
            return self._compiled
        logger.info("rules loaded", origin=self.origin, rules=len(compiled), version=digest[:12])
        self._raw, self._digest, self._compiled = raw, digest, compiled
        return compiled

    @classmethod
    def from_file(cls, path: str | Path) -> RulesSource:
        """Rules from a YAML or JSON file, read again when it changes (the local stack)."""
        path = Path(path)
        cache: dict[str, Any] = {}

        def fetch() -> Any:
            try:
                stamp = path.stat().st_mtime_ns
            except OSError as exc:
                raise RulesError(f"{path}: cannot read the rules file ({exc.strerror})") from exc
            if cache.get("stamp") != stamp:
                text = path.read_text(encoding="utf-8")
                cache["raw"] = parse_rules_text(text, origin=str(path), yaml_syntax=path.suffix != ".json")
                cache["stamp"] = stamp
            return cache["raw"]

        return cls(fetch, origin=str(path))

    @classmethod
    def from_appconfig(
        cls, *, application: str, environment: str, profile: str, max_age: int = DEFAULT_MAX_AGE_SECONDS
    ) -> RulesSource:
        """Rules from AppConfig through Powertools Parameters, cached ``max_age`` seconds."""

        def fetch() -> Any:
            from aws_lambda_powertools.utilities import parameters

            return parameters.get_app_config(
                name=profile,
                environment=environment,
                application=application,
                transform="json",
                max_age=max_age,
            )

        return cls(fetch, origin=f"AppConfig {application}/{environment}/{profile}")
