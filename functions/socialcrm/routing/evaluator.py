"""Rules compiled once, evaluated per interaction: teams, priority, SLA, tags, notifications and why.

Evaluation is in document order; every enabled rule whose conditions all hold contributes its teams,
tags and notifications, and its id to ``Decision.rules``. Priorities only become more urgent (a
``priority`` action means "at least this urgent", ``raise_priority`` moves up levels), so the order of
two rules never lowers a case; a rule with ``stop: true`` ends the evaluation when it matches.
Whether the message opens a case (``Decision.case_action``) is voted the same way, order aside: a
rule's ``case`` is its vote, a rule without one that sets a priority or notifies votes ``open``, the
others do not vote; the strongest vote wins (open > resolved > record), and with none it is ``open``.
Cheap conditions run first; keywords are found for all rules in one pass over the message, and the
subject's history is read only when a rule still needs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from socialcrm.models import KINDS, PLATFORMS, Interaction
from socialcrm.routing.calendar import in_business_hours
from socialcrm.routing.rules import (
    CASE_ACTIONS,
    PRIORITIES,
    BusinessHours,
    CaseAction,
    HistoryCondition,
    MoveToPrivate,
    Priority,
    ReplyAction,
    Rule,
    RulesDocument,
)
from socialcrm.routing.text import KeywordIndex, detect, normalise, tokens

# The most of a subject's recent interactions any history condition reads.
HISTORY_LIMIT = 20
# The most topics one interaction counts into spike detection.
MAX_TOPICS = 10


@dataclass(frozen=True)
class HistoryEntry:
    """One of the subject's interactions, as history conditions see it (no text)."""

    interaction_ref: str
    occurred_at: datetime
    sentiment: str | None
    score: float | None  # positive - negative, in [-1, 1]; None when unscored

    @classmethod
    def of(cls, interaction: Interaction) -> HistoryEntry:
        sentiment = interaction.sentiment
        return cls(
            interaction_ref=interaction.interaction_ref,
            occurred_at=interaction.occurred_at,
            sentiment=sentiment.label if sentiment else None,
            score=(sentiment.scores.positive - sentiment.scores.negative) if sentiment else None,
        )


class HistoryReader(Protocol):
    def recent(self, subject_id: str, *, since: datetime, until: datetime, limit: int) -> list[HistoryEntry]:
        """The subject's interactions that occurred in [since, until], newest first, at most ``limit``."""
        ...


@dataclass(frozen=True)
class Decision:
    teams: tuple[str, ...]
    priority: Priority
    tags: tuple[str, ...]
    rules: tuple[str, ...]
    notify: tuple[str, ...]
    sla_minutes: int  # the priority's first-response target
    topics: tuple[str, ...]  # for spike counting: "tag:<tag>" and "phrase:<keyword>"
    # open: the message opens its conversation's case; record: recorded and counted, no case opened
    # for it; resolved: its case opens already resolved. Messages of a conversation with a case join it.
    case_action: CaseAction = "open"
    # The automatic answer of the first matching rule that has one: (rule id, its reply or
    # move_to_private action).
    answer: tuple[str, ReplyAction | MoveToPrivate] | None = None
    # The customer's segments when the rules ran (socialcrm.routing.segments).
    segments: tuple[str, ...] = ()


@dataclass(frozen=True)
class _CompiledRule:
    """A rule flattened for evaluation: sets instead of lists, one attribute lookup per condition."""

    rule_id: str
    platforms: frozenset[str] | None
    kinds: frozenset[str] | None
    private: bool | None  # visibility: True private, False public
    languages: frozenset[str] | None
    sentiment: frozenset[str] | None
    scored: bool  # has min_scores or max_scores
    min_scores: tuple[tuple[str, float], ...]
    max_scores: tuple[tuple[str, float], ...]
    min_followers: int | None
    max_followers: int | None
    business_hours: bool | None
    contains: tuple[str, ...] | None
    any_keywords: frozenset[int]
    all_keywords: frozenset[int]
    none_keywords: frozenset[int]
    history: HistoryCondition | None
    segments: frozenset[str] | None
    teams: tuple[str, ...]
    tags: tuple[str, ...]
    notify: tuple[str, ...]
    priority: int | None  # index in PRIORITIES
    raise_priority: int
    case_vote: int | None  # index in CASE_ACTIONS (weakest first); None: no vote
    stop: bool
    answer: ReplyAction | MoveToPrivate | None = None


class _Prefilter:
    """Bit masks of the rules each message attribute leaves possible (bit i: the i-th rule, in order).

    ANDing a message's masks leaves the rules that can still match; only those are evaluated in full,
    in document order (so ``stop`` keeps its meaning). Keywords are found once for all rules anyway.
    """

    def __init__(self, rules: Sequence[_CompiledRule]) -> None:
        numbered = list(enumerate(rules))
        self.platform = {
            p: _bits(i for i, r in numbered if r.platforms is None or p in r.platforms) for p in PLATFORMS
        }
        self.kind = {
            k: _bits(
                i
                for i, r in numbered
                if (r.kinds is None or k in r.kinds)
                and (r.private is None or (k == "direct_message") == r.private)
            )
            for k in KINDS
        }
        self.sentiment = {
            label: _bits(i for i, r in numbered if r.sentiment is None or label in r.sentiment)
            for label in ("POSITIVE", "NEGATIVE", "NEUTRAL", "MIXED", None)
        }
        self.any_language = _bits(i for i, r in numbered if r.languages is None)
        tags = {tag for r in rules for tag in r.languages or ()}
        self.language = {
            tag: _bits(i for i, r in numbered if r.languages and tag in r.languages) for tag in tags
        }
        self.uses_hours = any(r.business_hours is not None for r in rules)
        self.hours = {
            v: _bits(i for i, r in numbered if r.business_hours is None or r.business_hours == v)
            for v in (True, False)
        }
        self.any_keyword = _bits(i for i, r in numbered if not r.any_keywords)
        keyword_ids = {k for r in rules for k in r.any_keywords}
        self.keyword = {k: _bits(i for i, r in numbered if k in r.any_keywords) for k in keyword_ids}

    def candidates(self, message: _Message) -> int:
        interaction = message.interaction
        sentiment = interaction.sentiment
        bits = (
            self.platform.get(interaction.platform, 0)
            & self.kind.get(interaction.kind, 0)
            & self.sentiment[sentiment.label if sentiment is not None else None]
        )
        if not bits:
            return 0
        languages = self.any_language
        for tag in message.language_tags:
            languages |= self.language.get(tag, 0)
        bits &= languages
        if self.uses_hours and bits:
            bits &= self.hours[message.in_business_hours]
        if self.keyword and bits:
            keywords = self.any_keyword
            for keyword_id in message.keywords:
                keywords |= self.keyword.get(keyword_id, 0)
            bits &= keywords
        return bits


def _bits(indexes: Iterable[int]) -> int:
    return sum(1 << i for i in indexes)


def _set(values: Sequence[str] | None, *, lower: bool = False) -> frozenset[str] | None:
    if values is None:
        return None
    return frozenset(v.lower() for v in values) if lower else frozenset(values)


@dataclass
class _Message:
    """What evaluating one interaction needs, each part computed on first use."""

    interaction: Interaction
    at: datetime
    index: KeywordIndex
    history_reader: HistoryReader | None
    history_days: int
    order_pattern: str | None
    hours: BusinessHours | None = None
    segments: frozenset[str] = frozenset()
    # Every linked identity's recent messages (oldest first); None: the subject's own history stands in.
    customer_history: Sequence[HistoryEntry] | None = None
    _keywords: set[int] | None = None
    _detected: dict[str, bool] = field(default_factory=dict)
    _history: list[HistoryEntry] | None = None
    _in_hours: bool | None = None
    _languages: frozenset[str] | None = None

    @property
    def in_business_hours(self) -> bool:
        if self._in_hours is None:
            assert self.hours is not None, "parse_rules refuses business_hours conditions without a calendar"
            self._in_hours = in_business_hours(self.at, self.hours)
        return self._in_hours

    @property
    def language_tags(self) -> frozenset[str]:
        """The language and each shorter prefix of it: ``hi-latn-in`` → {hi-latn-in, hi-latn, hi}."""
        if self._languages is None:
            parts = (self.interaction.language or "").lower().split("-")
            self._languages = frozenset("-".join(parts[:n]) for n in range(1, len(parts) + 1) if parts[0])
        return self._languages

    @property
    def keywords(self) -> set[int]:
        if self._keywords is None:
            text = normalise(self.interaction.text)
            self._keywords = self.index.match(text, tokens(text))
        return self._keywords

    def holds(self, detector: str) -> bool:
        if detector not in self._detected:
            found = detect(self.interaction.text, [detector], self.order_pattern)
            self._detected[detector] = detector in found
        return self._detected[detector]

    @property
    def history(self) -> list[HistoryEntry]:
        """The subject's interactions up to this one, oldest first (this one included, once)."""
        if self._history is None:
            current = self.interaction
            entries: list[HistoryEntry] = []
            if self.history_reader is not None:
                entries = self.history_reader.recent(
                    current.subject_id,
                    since=current.occurred_at - timedelta(days=self.history_days),
                    until=current.occurred_at,
                    limit=HISTORY_LIMIT,
                )
            by_id = {e.interaction_ref: e for e in entries if e.occurred_at <= current.occurred_at}
            by_id[current.interaction_ref] = HistoryEntry.of(current)
            self._history = sorted(by_id.values(), key=lambda e: (e.occurred_at, e.interaction_ref))
        return self._history


class CompiledRules:
    """A validated rules document ready to evaluate (compile once, evaluate many)."""

    def __init__(self, document: RulesDocument) -> None:
        self.document = document
        self.index = KeywordIndex()
        self._rules = [self._compile(rule) for rule in document.rules if rule.enabled]
        self._history_days = max((r.history.within_days for r in self._rules if r.history), default=0)
        self._ignored_tags = set(document.spikes.ignore_tags)
        self._prefilter = _Prefilter(self._rules)

    def _compile(self, rule: Rule) -> _CompiledRule:
        when, then = rule.when, rule.then

        def ids(keywords: list[str] | None) -> frozenset[int]:
            return frozenset(self.index.add(k) for k in keywords or [])

        return _CompiledRule(
            rule_id=rule.id,
            platforms=_set(when.platforms),
            kinds=_set(when.kinds),
            private=None if when.visibility is None else when.visibility == "private",
            languages=_set(when.languages, lower=True),
            sentiment=_set(when.sentiment),
            scored=bool(when.min_scores or when.max_scores),
            min_scores=tuple((when.min_scores or {}).items()),
            max_scores=tuple((when.max_scores or {}).items()),
            min_followers=when.min_followers,
            max_followers=when.max_followers,
            business_hours=when.business_hours,
            contains=tuple(when.contains) if when.contains is not None else None,
            any_keywords=ids(when.keywords),
            all_keywords=ids(when.all_keywords),
            none_keywords=ids(when.exclude_keywords),
            history=when.history,
            segments=_set(when.segments),
            teams=tuple(then.teams),
            tags=tuple(then.tags),
            notify=tuple(then.notify),
            priority=PRIORITIES.index(then.priority) if then.priority is not None else None,
            raise_priority=then.raise_priority,
            case_vote=CASE_ACTIONS.index(vote) if (vote := then.case_vote) is not None else None,
            stop=rule.stop,
            answer=then.reply or then.move_to_private,
        )

    def __len__(self) -> int:
        return len(self._rules)

    @property
    def history_days(self) -> int:
        """How far back the longest history condition reads."""
        return self._history_days

    def evaluate(
        self,
        interaction: Interaction,
        *,
        at: datetime,
        history: HistoryReader | None = None,
        segments: Sequence[str] = (),
        customer_history: Sequence[HistoryEntry] | None = None,
    ) -> Decision:
        """The decision for ``interaction``, with business hours judged at ``at`` (when the message was
        received) and history conditions read through ``history`` (none given: only the interaction itself);
        ``segments`` and ``customer_history`` are the customer's (``socialcrm.routing.segments``)."""
        document = self.document
        message = _Message(
            interaction,
            at,
            self.index,
            history,
            self._history_days,
            document.order_number_pattern,
            hours=document.business_hours,
            segments=frozenset(segments),
            customer_history=customer_history,
        )
        teams: dict[str, None] = {}
        tags: dict[str, None] = {}
        notify: dict[str, None] = {}
        matched: list[_CompiledRule] = []
        level = PRIORITIES.index(document.default_priority)
        vote = -1
        matches, rules = self._matches, self._rules
        candidates = self._prefilter.candidates(message)
        while candidates:
            lowest = candidates & -candidates
            candidates ^= lowest
            compiled = rules[lowest.bit_length() - 1]
            if not matches(compiled, message):
                continue
            matched.append(compiled)
            for team in compiled.teams:
                teams[team] = None
            for tag in compiled.tags:
                tags[tag] = None
            for team in compiled.notify:
                notify[team] = None
            if compiled.priority is not None and compiled.priority < level:
                level = compiled.priority
            if compiled.raise_priority:
                level = max(0, level - compiled.raise_priority)
            if compiled.case_vote is not None and compiled.case_vote > vote:
                vote = compiled.case_vote
            if compiled.stop:
                break
        priority = PRIORITIES[level]
        return Decision(
            teams=tuple(teams) or tuple(document.default_teams),
            priority=priority,
            tags=tuple(tags),
            rules=tuple(c.rule_id for c in matched),
            notify=tuple(notify),
            sla_minutes=document.targets(priority).first_response,
            topics=self._topics(matched, tags, message),
            case_action=CASE_ACTIONS[vote] if vote >= 0 else "open",
            answer=next(((c.rule_id, c.answer) for c in matched if c.answer is not None), None),
            segments=tuple(segments),
        )

    def _topics(
        self, matched: Sequence[_CompiledRule], tags: dict[str, None], message: _Message
    ) -> tuple[str, ...]:
        topics = [f"tag:{tag}" for tag in tags if tag not in self._ignored_tags]
        if matched and message._keywords is not None:
            found = message.keywords
            phrases = {k for c in matched for k in (c.any_keywords | c.all_keywords) if k in found}
            topics += [f"phrase:{self.index.keywords[k]}" for k in sorted(phrases)]
        return tuple(dict.fromkeys(topics))[:MAX_TOPICS]

    @staticmethod
    def _matches(rule: _CompiledRule, message: _Message) -> bool:
        interaction = message.interaction
        if rule.platforms is not None and interaction.platform not in rule.platforms:
            return False
        if rule.kinds is not None and interaction.kind not in rule.kinds:
            return False
        if rule.private is not None and (interaction.kind == "direct_message") != rule.private:
            return False
        if rule.languages is not None and rule.languages.isdisjoint(message.language_tags):
            return False
        sentiment = interaction.sentiment
        if rule.sentiment is not None and (sentiment is None or sentiment.label not in rule.sentiment):
            return False
        if rule.scored:
            if sentiment is None:
                return False
            scores = sentiment.scores
            for name, bound in rule.min_scores:
                if getattr(scores, name) < bound:
                    return False
            for name, bound in rule.max_scores:
                if getattr(scores, name) > bound:
                    return False
        if rule.min_followers is not None or rule.max_followers is not None:
            followers = interaction.author.follower_count
            if followers is None:
                return False
            if rule.min_followers is not None and followers < rule.min_followers:
                return False
            if rule.max_followers is not None and followers > rule.max_followers:
                return False
        if rule.business_hours is not None and message.in_business_hours != rule.business_hours:
            return False
        if rule.contains is not None and not any(message.holds(d) for d in rule.contains):
            return False
        if rule.any_keywords or rule.all_keywords or rule.none_keywords:
            found = message.keywords
            if rule.any_keywords and found.isdisjoint(rule.any_keywords):
                return False
            if rule.all_keywords and not rule.all_keywords <= found:
                return False
            if rule.none_keywords and not found.isdisjoint(rule.none_keywords):
                return False
        if rule.segments is not None and rule.segments.isdisjoint(message.segments):
            return False
        return rule.history is None or _history_holds(rule.history, message)


def _history_holds(condition: HistoryCondition, message: _Message) -> bool:
    if condition.across_channels and message.customer_history is not None:
        entries = list(message.customer_history)
    else:
        entries = message.history
    if condition.negative_at_least is not None:
        since = message.interaction.occurred_at - timedelta(days=condition.within_days)
        negatives = sum(1 for e in entries if e.occurred_at >= since and e.sentiment == "NEGATIVE")
        if negatives < condition.negative_at_least:
            return False
    if condition.sentiment_trend is not None:
        scored = [e.score for e in entries if e.score is not None][-condition.trend_messages :]
        change = trend_change(scored)
        if change is None:
            return False
        if condition.sentiment_trend == "falling" and change > -condition.trend_min_change:
            return False
        if condition.sentiment_trend == "rising" and change < condition.trend_min_change:
            return False
    return True


def trend_change(scores: Sequence[float]) -> float | None:
    """How much a least-squares line through ``scores`` changes from the first to the last (None: < 3).

    >>> round(trend_change([0.8, 0.2, -0.1, -0.6]), 2)
    -1.35
    """
    n = len(scores)
    if n < 3:
        return None
    mean_x, mean_y = (n - 1) / 2, sum(scores) / n
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(scores))
    variance = sum((x - mean_x) ** 2 for x in range(n))
    return covariance / variance * (n - 1)
