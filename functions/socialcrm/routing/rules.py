"""The routing rules document: versioned code (``config/rules.yaml``), validated before it can run.

The pydantic models below are the contract: ``schemas/routing-rules.schema.json`` is generated from
them (``make schemas``), and :func:`parse_rules` adds the checks a JSON Schema cannot express (unique
rule ids, teams that exist, a business-hours calendar when a rule needs one, calendars that exist and
whose time zone is known, patterns that compile).
Every error names the rule (its id and position) and the field, so an invalid document fails
``make test`` and ``make synth`` with a message an operator can act on, never at run time.

>>> doc = parse_rules({"teams": ["support", "pr"], "rules": [
...     {"id": "complaint", "when": {"sentiment": ["NEGATIVE"]}, "then": {"teams": ["support"]}}]})
>>> doc.rules[0].id
'complaint'
>>> doc.targets("P2").first_response, doc.targets("P2").resolution    # the default service levels
(60, 1440)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, time
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from socialcrm.errors import ConfigurationError
from socialcrm.models import Kind, Platform, Segment, SentimentLabel

Priority = Literal["P1", "P2", "P3", "P4"]
PRIORITIES: tuple[Priority, ...] = ("P1", "P2", "P3", "P4")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = Weekday.__args__  # type: ignore[attr-defined]
Detector = Literal["email", "phone", "order_number"]
ScoreName = Literal["positive", "negative", "neutral", "mixed"]
# What an interaction does to its conversation's case: open one (the default), only be recorded and
# counted, or open one already resolved (nothing to answer, but the conversation has its case).
CaseAction = Literal["open", "record", "resolved"]
# Weakest first: when matching rules disagree, the strongest wins.
CASE_ACTIONS: tuple[CaseAction, ...] = ("record", "resolved", "open")
# The longest target: a year of minutes (a typo of a few more digits is refused, not scheduled).
MAX_TARGET_MINUTES = 366 * 24 * 60

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
CalendarName = Annotated[
    str, Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$", description="A calendar: lower case, digits, - or _.")
]
Minutes = Annotated[int, Field(strict=True, ge=1, le=MAX_TARGET_MINUTES)]
TemplateName = Annotated[
    str,
    Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$", description="A reply template: lower case, digits, - or _."),
]
# A template's text per language: a language code of the messages it answers (en, pt-BR), or default.
TemplateLanguage = Annotated[str, Field(pattern=r"^(default|[a-z]{2,3}(-[A-Za-z0-9]{2,8})?)$")]
TemplateText = Annotated[str, Field(min_length=1, max_length=6000)]
Visibility = Literal["public", "private"]


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
    across_channels: bool = Field(
        default=False,
        description="Read the customer's history on every linked identity, not only this platform identity's.",
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
    segments: list[Segment] | None = Field(
        default=None, description="The customer is in any of these segments (computed before the rules run)."
    )
    business_hours: bool | None = Field(
        default=None, description="true: only inside business hours; false: only outside them."
    )


class WhatsAppTemplate(_Strict):
    """The template approved by Meta that WhatsApp sends for this one outside its 24-hour window."""

    name: str = Field(pattern=r"^[a-z0-9_]{1,512}$", description="The approved template's name.")
    language: str = Field(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$", description="Its language code, e.g. en_US.")
    params: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]] = Field(
        default_factory=list, description="The text's placeholders, in the order of the body's {{1}}, {{2}}…"
    )


class ReplyTemplate(_Strict):
    """A reply's text per language, with {placeholders} filled from the request's params."""

    text: dict[TemplateLanguage, TemplateText] = Field(
        description="Per language of the message answered (its language, then its base language, then "
        'default): {"en": "Thanks {order}…", "default": …}. default is required.'
    )
    whatsapp: WhatsAppTemplate | None = None

    @model_validator(mode="after")
    def _has_default(self) -> ReplyTemplate:
        if "default" not in self.text:
            raise ValueError("text needs a default (the language used when no other matches)")
        from socialcrm.replies.templates import placeholders

        names = [placeholders(text) for text in self.text.values()]  # refuses {a.b}, {a!r}, {a:>9}
        if any(n != names[0] for n in names):
            raise ValueError("every language of text must use the same placeholders")
        if self.whatsapp is not None and sorted(self.whatsapp.params) != sorted(names[0]):
            raise ValueError("whatsapp.params must list the text's placeholders")
        return self


class ReplyAction(_Strict):
    """Answer automatically with a template (no placeholders: automation has no one to fill them)."""

    template: TemplateName
    visibility: Visibility | None = Field(
        default=None, description="public or private; left out: as the customer wrote (a comment publicly)."
    )


class MoveToPrivate(_Strict):
    """A short public reply (\"we've sent you a DM\") and a private message to the same customer."""

    public_template: TemplateName
    private_template: TemplateName


class Automation(_Strict):
    """Guards of automatic replies (the rules' reply and move_to_private actions)."""

    enabled: bool = True
    once_per_conversation_hours: int = Field(
        default=24, ge=0, le=24 * 30, description="At most one automatic reply per conversation this often."
    )


class Actions(_Strict):
    """What a matching rule does. Priorities only ever become more urgent, whatever the rule order."""

    teams: list[TeamName] = Field(default_factory=list, description="Teams the case is queued for.")
    priority: Priority | None = Field(default=None, description="At least this urgent.")
    raise_priority: int = Field(default=0, ge=0, le=3, description="Raise the priority by this many levels.")
    tags: list[Tag] = Field(default_factory=list)
    notify: list[TeamName] = Field(default_factory=list, description="Teams told at once (their SNS topic).")
    case: CaseAction | None = Field(
        default=None,
        description=(
            "open: the message opens its conversation's case (the default); record: it is recorded and "
            "counted, no case is opened for it; resolved: its case opens already resolved. Of the rules "
            "that match, the strongest wins (open > resolved > record); a rule without case that sets "
            "priority, raise_priority or notify counts as open; the others do not count."
        ),
    )
    reply: ReplyAction | None = Field(default=None, description="Answer automatically with a template.")
    move_to_private: MoveToPrivate | None = Field(
        default=None, description="Answer publicly in short and continue in a private message."
    )

    @model_validator(mode="after")
    def _does_something(self) -> Actions:
        if not (
            self.teams
            or self.priority
            or self.raise_priority
            or self.tags
            or self.notify
            or self.case
            or self.reply
            or self.move_to_private
        ):
            raise ValueError(
                "a rule must do something: teams, priority, raise_priority, tags, notify, case, reply or "
                "move_to_private"
            )
        if self.reply is not None and self.move_to_private is not None:
            raise ValueError("a rule answers once: reply or move_to_private, not both")
        return self

    @property
    def case_vote(self) -> CaseAction | None:
        """What this rule says about opening a case (None: nothing).

        >>> Actions(tags=["praise"], case="record").case_vote, Actions(priority="P2").case_vote
        ('record', 'open')
        >>> Actions(tags=["praise"]).case_vote is None
        True
        """
        if self.case is not None:
            return self.case
        if self.priority is not None or self.raise_priority or self.notify:
            return "open"
        return None


class Rule(_Strict):
    id: RuleId = Field(description="Stable id, recorded on every case the rule matches.")
    description: str = ""
    enabled: bool = True
    when: Conditions = Field(default_factory=Conditions)
    then: Actions
    stop: bool = Field(default=False, description="When this rule matches, later rules are not evaluated.")


class SlaMinutes(_Strict):
    """Minutes to a first response, per priority (the older form of ``service_levels``)."""

    P1: int = Field(default=15, ge=1, le=MAX_TARGET_MINUTES)
    P2: int = Field(default=60, ge=1, le=MAX_TARGET_MINUTES)
    P3: int = Field(default=240, ge=1, le=MAX_TARGET_MINUTES)
    P4: int = Field(default=1440, ge=1, le=MAX_TARGET_MINUTES)

    @model_validator(mode="after")
    def _ascending(self) -> SlaMinutes:
        if not self.P1 <= self.P2 <= self.P3 <= self.P4:
            raise ValueError("a more urgent priority cannot have a longer SLA (P1 <= P2 <= P3 <= P4)")
        return self

    def minutes(self, priority: str) -> int:
        return int(getattr(self, priority))


class Targets(_Strict):
    """The service levels of one priority, in minutes: business minutes when the case's team has a
    calendar (``team_calendars``), wall-clock minutes otherwise."""

    first_response: Minutes = Field(description="From the message that opens the case to the first answer.")
    next_response: Minutes = Field(
        description="From a customer's message after the brand answered to the brand's next answer."
    )
    resolution: Minutes = Field(
        description="From the message that opens (or reopens) the case to its resolution."
    )

    @model_validator(mode="after")
    def _resolved_after_answered(self) -> Targets:
        if self.resolution < self.first_response:
            raise ValueError(
                f"resolution ({self.resolution}) must be at least first_response ({self.first_response}): "
                "a case is not resolved before it is answered"
            )
        return self


_DEFAULT_TARGETS: dict[str, tuple[int, int, int]] = {
    "P1": (15, 30, 480),  # first response, next response, resolution
    "P2": (60, 120, 1440),
    "P3": (240, 480, 2880),
    "P4": (1440, 1440, 4320),
}


def _default_targets(priority: str) -> Targets:
    first, after, resolution = _DEFAULT_TARGETS[priority]
    return Targets(first_response=first, next_response=after, resolution=resolution)


def _targets_field(priority: str) -> Any:
    """A priority's field of :class:`ServiceLevels`: its defaults, said in its description."""
    defaults = " / ".join(str(minutes) for minutes in _DEFAULT_TARGETS[priority])
    return Field(default_factory=lambda: _default_targets(priority), description=f"Default {defaults}.")


class ServiceLevels(_Strict):
    """Targets per priority; a priority left out keeps its defaults. A more urgent priority never has a
    longer target than a less urgent one."""

    P1: Targets = _targets_field("P1")
    P2: Targets = _targets_field("P2")
    P3: Targets = _targets_field("P3")
    P4: Targets = _targets_field("P4")

    @model_validator(mode="after")
    def _ascending(self) -> ServiceLevels:
        for target in ("first_response", "next_response", "resolution"):
            for (urgent, a), (later, b) in pairwise((p, getattr(self.of(p), target)) for p in PRIORITIES):
                if a > b:
                    raise ValueError(
                        f"a more urgent priority cannot have a longer {target} target "
                        f"({urgent} {a} > {later} {b} minutes)"
                    )
        return self

    def of(self, priority: str) -> Targets:
        if priority not in PRIORITIES:
            raise ValueError(f"{priority!r} is not a priority ({', '.join(PRIORITIES)})")
        targets: Targets = getattr(self, priority)
        return targets

    @classmethod
    def from_first_responses(cls, sla: SlaMinutes) -> ServiceLevels:
        """The service levels a document in the older form (``sla_minutes``) means: its first-response
        minutes, the default next-response targets, and the default resolution targets (at least the
        first response, so the document stays valid)."""
        levels = {}
        for priority in PRIORITIES:
            default = _default_targets(priority)
            first = sla.minutes(priority)
            levels[priority] = Targets(
                first_response=first,
                next_response=default.next_response,
                resolution=max(default.resolution, first),
            )
        return cls(**levels)


def _quoted_time(value: Any) -> Any:
    if not isinstance(value, (str, time)):
        raise ValueError('write times as quoted "HH:MM" (YAML reads 09:00 unquoted as a number)')
    return value


def _local_time(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("write local times without an offset: the calendar's timezone says where")
    return value


def _closes_after_opening(hours: tuple[time, time]) -> tuple[time, time]:
    if hours[1] <= hours[0]:
        raise ValueError("the closing time must be after the opening time (a day cannot run past midnight)")
    return hours


LocalTime = Annotated[time, BeforeValidator(_quoted_time), AfterValidator(_local_time)]
OpeningHours = Annotated[
    tuple[LocalTime, LocalTime],
    AfterValidator(_closes_after_opening),
    Field(description='Opening and closing local time, quoted: ["09:00", "18:00"].'),
]


class Calendar(_Strict):
    """A team's business hours: the time zone, the opening hours of each open weekday, and holidays.
    Service-level minutes of a case of that team count only while it is open."""

    timezone: str = Field(description="IANA time zone, e.g. Asia/Kolkata.")
    hours: dict[Weekday, OpeningHours] = Field(
        description='Opening hours per weekday (mon ... sun), e.g. sat: ["10:00", "14:00"]; a day left out is closed.',
        json_schema_extra={"minProperties": 1},
    )
    holidays: list[date] = Field(default_factory=list, description="Local dates with no business hours.")

    @model_validator(mode="after")
    def _open_some_day(self) -> Calendar:
        if not self.hours:
            raise ValueError("a calendar must be open at least one day a week: hours names no day")
        return self


class BusinessHours(_Strict):
    timezone: str = Field(default="UTC", description="IANA time zone, e.g. Asia/Kolkata.")
    days: list[Weekday] = Field(default=["mon", "tue", "wed", "thu", "fri"], min_length=1)
    start: time = Field(default=time(9), description="Local opening time, HH:MM.")
    end: time = Field(default=time(18), description="Local closing time, HH:MM (after start).")
    holidays: list[date] = Field(default_factory=list, description="Local dates with no business hours.")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _quoted_time(cls, value: Any) -> Any:
        return _quoted_time(value)

    @model_validator(mode="after")
    def _opens_before_closing(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class AtRisk(_Strict):
    """at-risk: a negative trend, at least this many NEGATIVE messages in the period (every channel)."""

    negative_at_least: int = Field(default=3, ge=1, le=20)
    within_days: int = Field(default=14, ge=1, le=90)


class Advocate(_Strict):
    """advocate: at least this many POSITIVE messages in the period, and no NEGATIVE one."""

    positive_at_least: int = Field(default=3, ge=1, le=20)
    within_days: int = Field(default=30, ge=1, le=90)


class Vip(_Strict):
    """vip: an author with at least this many followers on the message's platform, or a customer listed."""

    min_followers: int | None = Field(default=10_000, ge=0, description="Left out: only the list counts.")
    customers: list[Annotated[str, Field(pattern=r"^cus_[0-9a-f]{24}$")]] = Field(
        default_factory=list, description="Customer ids (cus_...) that are VIPs whatever their followers."
    )


class RepeatComplainer(_Strict):
    """repeat-complainer: NEGATIVE messages on at least this many channels (platforms) in the period."""

    channels_at_least: int = Field(default=2, ge=2, le=10)
    within_days: int = Field(default=30, ge=1, le=90)


class SegmentSettings(_Strict):
    """How a customer's segments are computed, from its linked identities' recent messages, each time one
    of them writes (a subject with no customer is segmented on its own messages)."""

    enabled: bool = True
    at_risk: AtRisk = Field(default_factory=AtRisk)
    advocate: Advocate = Field(default_factory=Advocate)
    vip: Vip = Field(default_factory=Vip)
    repeat_complainer: RepeatComplainer = Field(default_factory=RepeatComplainer)

    @property
    def within_days(self) -> int:
        """How far back the history that segments read reaches."""
        return max(self.at_risk.within_days, self.advocate.within_days, self.repeat_complainer.within_days)


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
    """The routing rules: evaluated in order against every customer message; its service levels and
    the business-hours calendars they count in."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="RoutingRules")

    version: Literal[1] = 1
    teams: list[TeamName] = Field(min_length=1, description="Every team rules may name (one SNS topic each).")
    default_teams: list[TeamName] = Field(
        default_factory=lambda: ["support"], min_length=1, description="Teams of a case no rule gave a team."
    )
    default_priority: Priority = "P4"
    service_levels: ServiceLevels | None = Field(
        default=None,
        description=(
            "Per priority, minutes to the first response, to each next response and to resolution, "
            "e.g. P1: {first_response: 15, next_response: 30, resolution: 480}. Left out: the defaults "
            "(or sla_minutes, its older form)."
        ),
    )
    legacy_sla_minutes: SlaMinutes | None = Field(
        default=None,
        alias="sla_minutes",
        exclude=True,
        description=(
            "The older form of service_levels (minutes to a first response per priority), still read "
            "when service_levels is absent: next responses and resolution then keep their defaults."
        ),
        json_schema_extra={"deprecated": True},
    )
    sla_warning_ratio: float = Field(
        default=0.8, gt=0, lt=1, description="Warn the teams at this share of each target."
    )
    reopen_window_days: int = Field(
        default=7,
        ge=0,
        le=365,
        description="A message this many days or less after its conversation's case was resolved reopens it; "
        "a later one opens the conversation's next case.",
    )
    business_hours: BusinessHours | None = Field(
        default=None, description="The hours the when.business_hours condition of rules means."
    )
    calendars: dict[CalendarName, Calendar] = Field(
        default_factory=dict, description="Named business-hours calendars, given to teams in team_calendars."
    )
    team_calendars: dict[TeamName, CalendarName] = Field(
        default_factory=dict,
        description=(
            "The calendar a team's service levels count in; a case takes the calendar of its first team "
            "that has one. Teams without one count wall-clock time."
        ),
    )
    spikes: SpikeSettings = Field(default_factory=SpikeSettings)
    segments: SegmentSettings = Field(default_factory=SegmentSettings)
    order_number_pattern: str | None = Field(
        default=None,
        max_length=500,
        description="Regular expression (on case-folded text) of your order numbers.",
    )
    templates: dict[TemplateName, ReplyTemplate] = Field(
        default_factory=dict, description="Reply templates: for people answering, and for the rules' replies."
    )
    automation: Automation = Field(default_factory=Automation)
    rules: list[Rule] = Field(default_factory=list)

    @field_validator("teams")
    @classmethod
    def _unique_teams(cls, teams: list[str]) -> list[str]:
        duplicates = sorted({t for t in teams if teams.count(t) > 1})
        if duplicates:
            raise ValueError(f"teams listed twice: {', '.join(duplicates)}")
        return teams

    @cached_property
    def levels(self) -> ServiceLevels:
        """The service levels in force: ``service_levels``, else those ``sla_minutes`` means, else the defaults."""
        if self.service_levels is not None:
            return self.service_levels
        if self.legacy_sla_minutes is not None:
            return ServiceLevels.from_first_responses(self.legacy_sla_minutes)
        return ServiceLevels()

    def targets(self, priority: str) -> Targets:
        """The first-response, next-response and resolution minutes of ``priority``.

        >>> parse_rules({"teams": ["support", "pr"], "service_levels": {
        ...     "P1": {"first_response": 10, "next_response": 20, "resolution": 240}}}).targets("P1")
        Targets(first_response=10, next_response=20, resolution=240)
        """
        return self.levels.of(priority)

    @property
    def sla_minutes(self) -> SlaMinutes:
        """The first-response minutes per priority (what ``sla_minutes`` said before service levels)."""
        levels = self.levels
        return SlaMinutes(**{p: levels.of(p).first_response for p in PRIORITIES})

    def calendar_for(self, teams: Sequence[str]) -> Calendar | None:
        """The calendar of the first of ``teams`` that has one (None: count wall-clock time).

        >>> doc = parse_rules({"teams": ["support", "pr"], "team_calendars": {"support": "india"},
        ...     "calendars": {"india": {"timezone": "Asia/Kolkata", "hours": {"mon": ["09:00", "18:00"]}}}})
        >>> doc.calendar_for(["pr", "support"]).timezone, doc.calendar_for(["pr"])
        ('Asia/Kolkata', None)
        """
        for team in teams:
            name = self.team_calendars.get(team)
            if name is not None:
                return self.calendars[name]
        return None


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
        if part == "[key]":
            continue  # pydantic's marker of a mapping's key: the key before it is the field
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _cross_checks(document: RulesDocument) -> list[str]:
    """What the JSON Schema cannot say: unique ids, declared teams, a calendar when needed, valid patterns."""
    problems: list[str] = []
    teams = set(document.teams)

    def undeclared_team(where: str, name: str) -> None:
        if name not in teams:
            problems.append(f"{where}: team {name!r} is not declared in teams ({', '.join(document.teams)})")

    def undeclared(where: str, names: list[str]) -> None:
        for index, name in enumerate(names):
            undeclared_team(f"{where}[{index}]", name)

    undeclared("field default_teams", document.default_teams)
    undeclared("field spikes.teams", document.spikes.teams)
    if document.service_levels is not None and document.legacy_sla_minutes is not None:
        problems.append(
            "field sla_minutes: give service_levels only (sla_minutes is its older form: move each "
            "priority's minutes to service_levels.<priority>.first_response)"
        )
    for team, calendar in document.team_calendars.items():
        undeclared_team(f"field team_calendars.{team}", team)
        if calendar not in document.calendars:
            known = ", ".join(document.calendars) or "none declared"
            problems.append(
                f"field team_calendars.{team}: calendar {calendar!r} is not in calendars ({known})"
            )
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
        for where, template in _answer_templates(rule):
            found = document.templates.get(template)
            if found is None:
                known = ", ".join(document.templates) or "none declared"
                problems.append(f"{name} field {where}: template {template!r} is not in templates ({known})")
            elif _needs_params(found):
                problems.append(
                    f"{name} field {where}: template {template!r} has placeholders, and an automatic reply "
                    "has no one to fill them"
                )
        low, high = rule.when.min_followers, rule.when.max_followers
        if low is not None and high is not None and low > high:
            problems.append(f"{name} field when.min_followers: larger than when.max_followers")
        for field in ("keywords", "all_keywords", "exclude_keywords"):
            for k, keyword in enumerate(getattr(rule.when, field) or []):
                if not _matchable(keyword):
                    problems.append(f"{name} field when.{field}[{k}]: {keyword!r} has nothing to match")
    from socialcrm.routing.calendar import UnknownTimeZoneError, zone

    zones = {f"calendars.{name}.timezone": c.timezone for name, c in document.calendars.items()}
    if document.business_hours is not None:
        zones = {"business_hours.timezone": document.business_hours.timezone, **zones}
    for where, name in zones.items():
        try:
            zone(name)
        except UnknownTimeZoneError as exc:
            problems.append(f"field {where}: {exc}")
    if document.order_number_pattern is not None:
        try:
            re.compile(document.order_number_pattern)
        except re.error as exc:
            problems.append(f"field order_number_pattern: not a valid regular expression ({exc})")
    return problems


def _answer_templates(rule: Rule) -> list[tuple[str, str]]:
    """(field, template) of each template the rule answers with."""
    found: list[tuple[str, str]] = []
    if rule.then.reply is not None:
        found.append(("then.reply.template", rule.then.reply.template))
    if rule.then.move_to_private is not None:
        found.append(("then.move_to_private.public_template", rule.then.move_to_private.public_template))
        found.append(("then.move_to_private.private_template", rule.then.move_to_private.private_template))
    return found


def _needs_params(template: ReplyTemplate) -> bool:
    from socialcrm.replies.templates import placeholders

    return bool(placeholders(template.text["default"]))


def _matchable(keyword: str) -> bool:
    from socialcrm.routing.text import normalise

    return bool(normalise(keyword).strip(" *"))


def rules_json_schema() -> type[BaseModel]:
    """The model ``schemas/routing-rules.schema.json`` is generated from (``socialcrm.schemas``)."""
    return RulesDocument
