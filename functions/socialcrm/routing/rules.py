"""The routing rules document: versioned code (``config/rules.yaml``), validated before it can run.

The pydantic models below are the contract: ``schemas/routing-rules.schema.json`` is generated from
them (``make schemas``), and :func:`parse_rules` adds the checks a JSON Schema cannot express (unique
rule ids, teams that exist, a business-hours calendar when a rule needs one, patterns that compile).
Every error names the rule (its id and position) and the field, so an invalid document fails
``make test`` and ``make synth`` with a message an operator can act on, never at run time.

>>> doc = parse_rules({"teams": ["support", "pr"], "rules": [
...     {"id": "complaint", "when": {"sentiment": ["NEGATIVE"]}, "then": {"teams": ["support"]}}]})
>>> doc.rules[0].id
'complaint'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from socialcrm.errors import ConfigurationError
from socialcrm.models import Kind, Platform, SentimentLabel

Priority = Literal["P1", "P2", "P3", "P4"]
PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3", "P4")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = Weekday.__args__  # type: ignore[attr-defined]
Detector = Literal["email", "phone", "order_number"]
ScoreName = Literal["positive", "negative", "neutral", "mixed"]

TeamName = Annotated[
    str, Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$", description="A team: lower case, digits, - or _.")
]
Tag = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$", description="A tag: lower case.")]
RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
Keyword = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description=(
            "A word or phrase in any language, matched on normalised text (NFKC, case-folded) at word "
            "boundaries that work for every script; a trailing * matches any ending (refund* → refunds)."
        ),
    ),
]
Score = Annotated[float, Field(ge=0, le=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HistoryCondition(_Strict):
    """What the subject's recent interactions must show (the current one included)."""

    within_days: int = Field(default=7, ge=1, le=90, description="How far back to look.")
    negative_at_least: int | None = Field(
        default=None, ge=1, le=20, description="At least this many NEGATIVE interactions in the period."
    )
    sentiment_trend: Literal["falling", "rising"] | None = Field(
        default=None,
        description="Sentiment (positive - negative score) falling or rising over the last messages.",
    )
    trend_messages: int = Field(
        default=5, ge=3, le=20, description="How many of the last messages the trend spans."
    )
    trend_min_change: float = Field(
        default=0.3, gt=0, le=2, description="The least change of the fitted trend across those messages."
    )

    @model_validator(mode="after")
    def _something_to_check(self) -> HistoryCondition:
        if self.negative_at_least is None and self.sentiment_trend is None:
            raise ValueError("set negative_at_least or sentiment_trend (or both)")
        return self


class Conditions(_Strict):
    """Every condition given must hold (AND); an omitted condition always holds; lists are any-of."""

    platforms: list[Platform] | None = None
    kinds: list[Kind] | None = None
    visibility: Literal["public", "private"] | None = Field(
        default=None, description="private: direct messages; public: every other kind."
    )
    languages: list[str] | None = Field(
        default=None,
        description="BCP-47 codes; 'hi' matches 'hi' and 'hi-IN'. Unknown language never matches.",
    )
    sentiment: list[SentimentLabel] | None = None
    min_scores: dict[ScoreName, Score] | None = Field(
        default=None,
        description="Each named sentiment score at least this (an unscored interaction never matches).",
    )
    max_scores: dict[ScoreName, Score] | None = None
    keywords: list[Keyword] | None = Field(default=None, description="Any of these words or phrases.")
    all_keywords: list[Keyword] | None = Field(
        default=None, description="Every one of these words or phrases."
    )
    exclude_keywords: list[Keyword] | None = Field(
        default=None, description="None of these words or phrases."
    )
    contains: list[Detector] | None = Field(
        default=None, description="Any of: an email address, a phone number, an order number."
    )
    min_followers: int | None = Field(
        default=None, ge=0, description="Author's followers at least (unknown: no match)."
    )
    max_followers: int | None = Field(default=None, ge=0)
    history: HistoryCondition | None = None
    business_hours: bool | None = Field(
        default=None, description="true: only inside business hours; false: only outside them."
    )


class Actions(_Strict):
    """What a matching rule does. Priorities only ever become more urgent, whatever the rule order."""

    teams: list[TeamName] = Field(default_factory=list, description="Teams the case is queued for.")
    priority: Priority | None = Field(default=None, description="At least this urgent.")
    raise_priority: int = Field(default=0, ge=0, le=3, description="Raise the priority by this many levels.")
    tags: list[Tag] = Field(default_factory=list)
    notify: list[TeamName] = Field(default_factory=list, description="Teams told at once (their SNS topic).")

    @model_validator(mode="after")
    def _does_something(self) -> Actions:
        if not (self.teams or self.priority or self.raise_priority or self.tags or self.notify):
            raise ValueError("a rule must do something: teams, priority, raise_priority, tags or notify")
        return self


class Rule(_Strict):
    id: RuleId = Field(description="Stable id, recorded on every case the rule matches.")
    description: str = ""
    enabled: bool = True
    when: Conditions = Field(default_factory=Conditions)
    then: Actions
    stop: bool = Field(default=False, description="When this rule matches, later rules are not evaluated.")


class SlaMinutes(_Strict):
    """Minutes to a first response, per priority."""

    P1: int = Field(default=15, ge=1)
    P2: int = Field(default=60, ge=1)
    P3: int = Field(default=240, ge=1)
    P4: int = Field(default=1440, ge=1)

    @model_validator(mode="after")
    def _ascending(self) -> SlaMinutes:
        if not self.P1 <= self.P2 <= self.P3 <= self.P4:
            raise ValueError("a more urgent priority cannot have a longer SLA (P1 <= P2 <= P3 <= P4)")
        return self

    def minutes(self, priority: str) -> int:
        return int(getattr(self, priority))


class BusinessHours(_Strict):
    timezone: str = Field(default="UTC", description="IANA time zone, e.g. Asia/Kolkata.")
    days: list[Weekday] = Field(default=["mon", "tue", "wed", "thu", "fri"], min_length=1)
    start: time = Field(default=time(9), description="Local opening time, HH:MM.")
    end: time = Field(default=time(18), description="Local closing time, HH:MM (after start).")
    holidays: list[date] = Field(default_factory=list, description="Local dates with no business hours.")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _quoted_time(cls, value: Any) -> Any:
        if not isinstance(value, (str, time)):
            raise ValueError('write times as quoted "HH:MM" (YAML reads 09:00 unquoted as a number)')
        return value

    @model_validator(mode="after")
    def _opens_before_closing(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class SpikeSettings(_Strict):
    """Negative interactions counted per topic (rule tag or matched phrase) and platform in buckets."""

    enabled: bool = True
    bucket_minutes: int = Field(default=15, ge=1, le=1440, description="The window a spike is counted in.")
    baseline_buckets: int = Field(
        default=8, ge=1, le=96, description="Previous windows averaged as the baseline."
    )
    floor: int = Field(default=10, ge=1, description="A window needs at least this many to be a spike.")
    factor: float = Field(default=3.0, gt=1, description="… and more than this many times its baseline.")
    teams: list[TeamName] = Field(default_factory=lambda: ["pr"], min_length=1)
    priority: Priority = "P1"
    ignore_tags: list[Tag] = Field(default_factory=list, description="Tags that are never a topic.")


class RulesDocument(_Strict):
    """The routing rules: evaluated in order against every interaction to open its case."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="RoutingRules")

    version: Literal[1] = 1
    teams: list[TeamName] = Field(min_length=1, description="Every team rules may name (one SNS topic each).")
    default_teams: list[TeamName] = Field(
        default_factory=lambda: ["support"], min_length=1, description="Teams of a case no rule gave a team."
    )
    default_priority: Priority = "P4"
    sla_minutes: SlaMinutes = Field(default_factory=SlaMinutes)
    sla_warning_ratio: float = Field(
        default=0.8, gt=0, lt=1, description="Warn the teams at this share of the SLA."
    )
    business_hours: BusinessHours | None = None
    spikes: SpikeSettings = Field(default_factory=SpikeSettings)
    order_number_pattern: str | None = Field(
        default=None,
        max_length=500,
        description="Regular expression (on case-folded text) of your order numbers.",
    )
    rules: list[Rule] = Field(default_factory=list)

    @field_validator("teams")
    @classmethod
    def _unique_teams(cls, teams: list[str]) -> list[str]:
        duplicates = sorted({t for t in teams if teams.count(t) > 1})
        if duplicates:
            raise ValueError(f"teams listed twice: {', '.join(duplicates)}")
        return teams


class RulesError(ConfigurationError):
    """The rules document is invalid; the message names the rule and the field."""

    code = "invalid_rules"


def parse_rules(raw: Any, *, origin: str = "rules document") -> RulesDocument:
    """Validate a parsed rules document (from YAML or JSON); raise :class:`RulesError` naming each problem."""
    if not isinstance(raw, Mapping):
        raise RulesError(
            f"{origin}: the document must be a mapping with teams and rules, not {type(raw).__name__}"
        )
    try:
        document = RulesDocument.model_validate(dict(raw))
    except ValidationError as exc:
        problems = [_describe(raw, err["loc"], err["msg"]) for err in exc.errors()]
        raise RulesError(f"{origin}: " + "; ".join(problems)) from exc
    problems = _cross_checks(document)
    if problems:
        raise RulesError(f"{origin}: " + "; ".join(problems))
    return document


def load_rules_file(path: str | Path) -> RulesDocument:
    """Read and validate a rules file (``.yaml``/``.yml`` or ``.json``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{path}: cannot read the rules file ({exc.strerror})") from exc
    return parse_rules(
        parse_rules_text(text, origin=str(path), yaml_syntax=path.suffix != ".json"), origin=str(path)
    )


def parse_rules_text(text: str, *, origin: str, yaml_syntax: bool) -> Any:
    """The document a YAML or JSON text holds (PyYAML is imported only for YAML: Lambda reads JSON)."""
    try:
        if not yaml_syntax:
            return json.loads(text)
        try:
            import yaml  # development dependency: the deployed function reads the JSON AppConfig holds
        except ImportError as exc:
            raise RulesError(
                f"{origin}: reading YAML needs PyYAML (pip install pyyaml), or use JSON"
            ) from exc

        return yaml.safe_load(text)
    except ValueError as exc:  # json.JSONDecodeError
        raise RulesError(f"{origin}: not valid JSON ({exc})") from exc
    except Exception as exc:  # yaml.YAMLError (imported lazily)
        if type(exc).__module__.startswith("yaml"):
            raise RulesError(f"{origin}: not valid YAML ({exc})") from exc
        raise


def _describe(raw: Mapping[str, Any], loc: tuple[Any, ...], message: str) -> str:
    """``rule 'complaint' (rules[3]) field when.sentiment[0]: <message>`` or ``field sla_minutes.P1: …``."""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        return f"{_rule_name(raw, loc[1])} field {_path(loc[2:]) or '(the rule itself)'}: {message}"
    return f"field {_path(loc) or '(document)'}: {message}"


def _rule_name(raw: Mapping[str, Any], index: int) -> str:
    rules = raw.get("rules")
    rule = rules[index] if isinstance(rules, list) and index < len(rules) else None
    rule_id = rule.get("id") if isinstance(rule, Mapping) else None
    return f"rule {rule_id!r} (rules[{index}])" if isinstance(rule_id, str) else f"rule rules[{index}]"


def _path(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _cross_checks(document: RulesDocument) -> list[str]:
    """What the JSON Schema cannot say: unique ids, declared teams, a calendar when needed, valid patterns."""
    problems: list[str] = []
    teams = set(document.teams)

    def undeclared(where: str, names: list[str]) -> None:
        for index, name in enumerate(names):
            if name not in teams:
                problems.append(
                    f"{where}[{index}]: team {name!r} is not declared in teams ({', '.join(document.teams)})"
                )

    undeclared("field default_teams", document.default_teams)
    undeclared("field spikes.teams", document.spikes.teams)
    seen: dict[str, int] = {}
    for index, rule in enumerate(document.rules):
        name = f"rule {rule.id!r} (rules[{index}])"
        if rule.id in seen:
            problems.append(f"{name} field id: the id is already used by rules[{seen[rule.id]}]")
        seen.setdefault(rule.id, index)
        undeclared(f"{name} field then.teams", rule.then.teams)
        undeclared(f"{name} field then.notify", rule.then.notify)
        if rule.when.business_hours is not None and document.business_hours is None:
            problems.append(
                f"{name} field when.business_hours: the document declares no business_hours calendar"
            )
        low, high = rule.when.min_followers, rule.when.max_followers
        if low is not None and high is not None and low > high:
            problems.append(f"{name} field when.min_followers: larger than when.max_followers")
        for field in ("keywords", "all_keywords", "exclude_keywords"):
            for k, keyword in enumerate(getattr(rule.when, field) or []):
                if not _matchable(keyword):
                    problems.append(f"{name} field when.{field}[{k}]: {keyword!r} has nothing to match")
    if document.business_hours is not None:
        from socialcrm.routing.calendar import UnknownTimeZoneError, zone

        try:
            zone(document.business_hours.timezone)
        except UnknownTimeZoneError as exc:
            problems.append(f"field business_hours.timezone: {exc}")
    if document.order_number_pattern is not None:
        try:
            re.compile(document.order_number_pattern)
        except re.error as exc:
            problems.append(f"field order_number_pattern: not a valid regular expression ({exc})")
    return problems


def _matchable(keyword: str) -> bool:
    from socialcrm.routing.text import normalise

    return bool(normalise(keyword).strip(" *"))


def rules_json_schema() -> type[BaseModel]:
    """The model ``schemas/routing-rules.schema.json`` is generated from (``socialcrm.schemas``)."""
    return RulesDocument
