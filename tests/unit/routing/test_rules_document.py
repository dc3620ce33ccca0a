"""The rules document: the shipped one is valid; an invalid one is refused naming the rule and field."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from socialcrm.routing.evaluator import CompiledRules
from socialcrm.routing.rules import RulesError, ServiceLevels, Targets, load_rules_file, parse_rules
from socialcrm.routing.source import REPO_RULES_FILE
from socialcrm.schemas import SCHEMA_DIR
from tests.support.pipeline import analysed, interaction

SCHEMA = json.loads((SCHEMA_DIR / "routing-rules.schema.json").read_text())


def doc(*rules, **top):
    return {"teams": ["support", "sales", "pr"], "rules": list(rules), **top}


def rule(rule_id="r1", when=None, then=None, **extra):
    return {
        "id": rule_id,
        "when": when or {},
        "then": {"teams": ["support"]} if then is None else then,
        **extra,
    }


def test_the_shipped_rules_file_is_valid_for_the_schema_and_the_loader():
    # Given config/rules.yaml as operators edit it
    raw = yaml.safe_load(REPO_RULES_FILE.read_text(encoding="utf-8"))
    # Then the published JSON Schema accepts it
    jsonschema.validate(raw, SCHEMA)
    # And the loader (which adds the cross-checks) compiles every rule with the default service levels
    document = load_rules_file(REPO_RULES_FILE)
    assert len(CompiledRules(document)) == len(raw["rules"]) >= 4
    assert document.levels == ServiceLevels()
    assert document.sla_minutes.model_dump() == {"P1": 15, "P2": 60, "P3": 240, "P4": 1440}


INVALID = [
    (
        "an unknown sentiment label",
        doc(rule("angry", when={"sentiment": ["FURIOUS"]})),
        ["rule 'angry' (rules[0])", "when.sentiment[0]"],
    ),
    (
        "a misspelt condition",
        doc(rule("ok"), rule("typo", when={"keyword": ["refund"]})),
        ["rule 'typo' (rules[1])", "when.keyword"],
    ),
    (
        "a team that is not declared",
        doc(rule("sales-q", then={"teams": ["sale"]})),
        ["rule 'sales-q' (rules[0])", "then.teams[0]", "'sale' is not declared"],
    ),
    (
        "a notification to an undeclared team",
        doc(rule("loud", then={"notify": ["legal"]})),
        ["rule 'loud' (rules[0])", "then.notify[0]"],
    ),
    (
        "two rules with one id",
        doc(rule("dup"), rule("dup")),
        ["rule 'dup' (rules[1])", "field id", "rules[0]"],
    ),
    (
        "a rule that does nothing",
        doc(rule("idle", then={})),
        ["rule 'idle' (rules[0])", "field then", "must do something"],
    ),
    (
        "a priority that does not exist",
        doc(rule("urgent", then={"priority": "P0"})),
        ["rule 'urgent' (rules[0])", "then.priority"],
    ),
    (
        "a business-hours condition without a calendar",
        doc(rule("night", when={"business_hours": False})),
        ["rule 'night' (rules[0])", "when.business_hours", "no business_hours calendar"],
    ),
    (
        "a history condition with nothing to check",
        doc(rule("history", when={"history": {"within_days": 7}})),
        ["rule 'history' (rules[0])", "when.history"],
    ),
    (
        "a keyword of blanks",
        doc(rule("blank", when={"keywords": ["  "]})),
        ["rule 'blank' (rules[0])", "when.keywords[0]"],
    ),
    (
        "an SLA that is longer for a more urgent priority",
        doc(rule(), sla_minutes={"P1": 90, "P2": 60}),
        ["field sla_minutes", "P1 <= P2"],
    ),
    (
        "an unknown time zone",
        doc(rule(), business_hours={"timezone": "Mars/Olympus"}),
        ["field business_hours.timezone", "Mars/Olympus"],
    ),
    (
        "an unquoted YAML time (read as a number)",
        doc(rule(), business_hours={"start": 540}),
        ["field business_hours.start", "quoted"],
    ),
    (
        "a service level longer for a more urgent priority",
        doc(rule(), service_levels={"P2": {"first_response": 300, "next_response": 120, "resolution": 1440}}),
        ["field service_levels", "longer first_response target", "P2 300 > P3 240"],
    ),
    (
        "a next-response target longer for a more urgent priority",
        doc(rule(), service_levels={"P1": {"first_response": 15, "next_response": 200, "resolution": 480}}),
        ["field service_levels", "longer next_response target", "P1 200 > P2 120"],
    ),
    (
        "a resolution sooner than the first response",
        doc(rule(), service_levels={"P1": {"first_response": 15, "next_response": 30, "resolution": 10}}),
        ["field service_levels.P1", "resolution (10) must be at least first_response (15)"],
    ),
    (
        "a priority's targets given in part",
        doc(rule(), service_levels={"P1": {"first_response": 10}}),
        ["field service_levels.P1.next_response", "Field required"],
    ),
    (
        "a target of zero minutes",
        doc(rule(), service_levels={"P1": {"first_response": 0, "next_response": 30, "resolution": 480}}),
        ["field service_levels.P1.first_response", "greater than or equal to 1"],
    ),
    (
        "a target in minutes that is not a whole number",
        doc(rule(), service_levels={"P1": {"first_response": 7.5, "next_response": 30, "resolution": 480}}),
        ["field service_levels.P1.first_response", "integer"],
    ),
    (
        "a misspelt target",
        doc(rule(), service_levels={"P1": {"first_respons": 7, "next_response": 30, "resolution": 480}}),
        ["field service_levels.P1.first_respons"],
    ),
    (
        "service levels and their older form together",
        doc(rule(), sla_minutes={"P1": 15}, service_levels={}),
        ["field sla_minutes", "give service_levels only"],
    ),
    (
        "a calendar in an unknown time zone",
        doc(rule(), calendars={"mars": {"timezone": "Mars/Olympus", "hours": {"mon": ["09:00", "18:00"]}}}),
        ["field calendars.mars.timezone", "Mars/Olympus"],
    ),
    (
        "a calendar open no day of the week",
        doc(rule(), calendars={"never": {"timezone": "Asia/Kolkata", "hours": {}}}),
        ["field calendars.never", "open at least one day a week"],
    ),
    (
        "a calendar day that closes before it opens",
        doc(rule(), calendars={"india": {"timezone": "Asia/Kolkata", "hours": {"sat": ["14:00", "10:00"]}}}),
        ["field calendars.india.hours.sat", "closing time must be after the opening time"],
    ),
    (
        "a calendar day that ends at midnight the next day",
        doc(rule(), calendars={"late": {"timezone": "UTC", "hours": {"fri": ["18:00", "00:00"]}}}),
        ["field calendars.late.hours.fri", "cannot run past midnight"],
    ),
    (
        "a calendar time unquoted in YAML (read as a number)",
        doc(rule(), calendars={"india": {"timezone": "Asia/Kolkata", "hours": {"mon": [540, "18:00"]}}}),
        ["field calendars.india.hours.mon[0]", "quoted"],
    ),
    (
        "a calendar day that is not a weekday",
        doc(
            rule(), calendars={"india": {"timezone": "Asia/Kolkata", "hours": {"monday": ["09:00", "18:00"]}}}
        ),
        ["field calendars.india.hours.monday"],
    ),
    (
        "a team given a calendar that does not exist",
        doc(rule(), team_calendars={"support": "india"}),
        ["field team_calendars.support", "calendar 'india' is not in calendars (none declared)"],
    ),
    (
        "a calendar given to a team that does not exist",
        doc(
            rule(),
            calendars={"india": {"timezone": "Asia/Kolkata", "hours": {"mon": ["09:00", "18:00"]}}},
            team_calendars={"suport": "india"},
        ),
        ["field team_calendars.suport", "team 'suport' is not declared"],
    ),
    (
        "a case action that does not exist",
        doc(rule("quiet", then={"case": "ignore"})),
        ["rule 'quiet' (rules[0])", "then.case"],
    ),
    (
        "an order-number pattern that does not compile",
        doc(rule(), order_number_pattern="order ("),
        ["field order_number_pattern", "regular expression"],
    ),
]


@pytest.mark.parametrize(("document", "named"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_an_invalid_document_is_refused_naming_the_rule_and_the_field(document, named):
    # When the document is loaded
    with pytest.raises(RulesError) as refused:
        parse_rules(document, origin="new.yaml")
    # Then the message names where it came from, the rule and the field
    assert refused.value.message.startswith("new.yaml: ")
    for fragment in named:
        assert fragment in refused.value.message


def test_a_file_that_is_not_yaml_is_refused_clearly(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("teams: [support\nrules: [")
    with pytest.raises(RulesError, match="not valid YAML"):
        load_rules_file(path)


def test_a_json_rules_file_loads_like_yaml(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(doc(rule("price", when={"keywords": ["price"]}, then={"teams": ["sales"]}))))
    assert load_rules_file(path).rules[0].id == "price"


def _evaluate(document, item):
    return CompiledRules(parse_rules(document)).evaluate(item, at=item.received_at)


def test_a_stop_rule_ends_evaluation_so_later_rules_do_not_apply():
    # Given a spam rule placed first with stop, and a complaint rule after it
    document = doc(
        rule(
            "spam",
            when={"keywords": ["free followers"]},
            then={"tags": ["spam"], "priority": "P4"},
            stop=True,
        ),
        rule("complaint", when={"keywords": ["refund"]}, then={"teams": ["support"], "priority": "P2"}),
    )
    # When a spam message mentioning a refund is evaluated
    decision = _evaluate(document, analysed(interaction(text="free followers, refund guaranteed")))
    # Then only the spam rule applied
    assert decision.rules == ("spam",) and decision.priority == "P4" and decision.tags == ("spam",)


def test_a_later_less_urgent_rule_never_lowers_the_priority():
    document = doc(
        rule("urgent", when={"keywords": ["lawsuit"]}, then={"priority": "P1"}),
        rule("question", when={"keywords": ["lawsuit"]}, then={"priority": "P3", "teams": ["sales"]}),
    )
    decision = _evaluate(document, analysed(interaction(text="a lawsuit is coming")))
    assert decision.priority == "P1" and decision.rules == ("urgent", "question")


def test_raise_priority_moves_up_from_what_earlier_rules_set_and_stops_at_p1():
    document = doc(
        rule("base", then={"priority": "P3", "teams": ["support"]}),
        rule("up", then={"raise_priority": 1}),
        rule("up-more", then={"raise_priority": 3}),
    )
    decision = _evaluate(document, analysed(interaction(text="x")))
    assert decision.priority == "P1"
    assert (
        _evaluate(document | {"rules": document["rules"][:2]}, analysed(interaction(text="x"))).priority
        == "P2"
    )


def test_a_disabled_rule_never_matches():
    document = doc(rule("off", then={"teams": ["sales"]}, enabled=False))
    assert _evaluate(document, analysed(interaction(text="x"))).rules == ()


def test_conditions_on_platform_language_scores_and_followers_all_have_to_hold():
    document = doc(
        rule(
            "hindi-x-angry-big",
            when={
                "platforms": ["x"],
                "languages": ["hi"],
                "min_scores": {"negative": 0.8},
                "min_followers": 1000,
            },
            then={"teams": ["pr"]},
        )
    )
    base = analysed(interaction(text="x", followers=5000), "NEGATIVE", "hi-IN")
    assert _evaluate(document, base).rules == ("hindi-x-angry-big",)
    assert _evaluate(document, base.model_copy(update={"platform": "tiktok"})).rules == ()
    assert _evaluate(document, base.model_copy(update={"language": "en"})).rules == ()
    assert _evaluate(document, analysed(interaction(text="x", followers=None), "NEGATIVE", "hi")).rules == ()
    assert _evaluate(document, analysed(interaction(text="x", followers=5000), "POSITIVE", "hi")).rules == ()


# --- service levels ----------------------------------------------------------------------------------


def test_service_levels_give_each_priority_three_targets_and_keep_defaults_for_those_left_out():
    # Given a document that sets P1's targets only
    raw = doc(
        rule("urgent", then={"priority": "P1"}),
        service_levels={"P1": {"first_response": 10, "next_response": 20, "resolution": 240}},
    )
    document = parse_rules(raw)
    # Then P1 has them, and the other priorities keep the defaults
    assert document.targets("P1") == Targets(first_response=10, next_response=20, resolution=240)
    assert document.targets("P2") == Targets(first_response=60, next_response=120, resolution=1440)
    assert document.targets("P4") == Targets(first_response=1440, next_response=1440, resolution=4320)
    # And the first-response minutes are what sla_minutes and a decision still say
    assert document.sla_minutes.minutes("P1") == 10
    assert _evaluate(raw, analysed(interaction(text="x"))).sla_minutes == 10


def test_the_older_sla_minutes_is_still_read_as_the_first_response_targets():
    # Given a document as deployed before service levels (only sla_minutes)
    document = parse_rules(doc(rule(), sla_minutes={"P1": 10, "P2": 30, "P3": 120, "P4": 5000}))
    # Then those are the first-response targets; next responses keep their defaults, and resolution
    # its default unless that would come before the first response
    assert document.targets("P1") == Targets(first_response=10, next_response=30, resolution=480)
    assert document.targets("P3") == Targets(first_response=120, next_response=480, resolution=2880)
    assert document.targets("P4") == Targets(first_response=5000, next_response=1440, resolution=5000)
    assert document.sla_minutes.model_dump() == {"P1": 10, "P2": 30, "P3": 120, "P4": 5000}


def test_targets_of_an_unknown_priority_is_an_error():
    with pytest.raises(ValueError, match="'P0' is not a priority"):
        parse_rules(doc(rule())).targets("P0")


def test_a_document_with_calendars_and_service_levels_is_valid_for_the_published_schema():
    # Given a document as an operator writes it in YAML (dates unquoted, times quoted)
    raw = yaml.safe_load(
        """
        teams: [support, sales, pr]
        service_levels:
          P1: {first_response: 15, next_response: 30, resolution: 480}
        calendars:
          india:
            timezone: Asia/Kolkata
            hours: {mon: ["09:00", "18:00"], fri: ["09:00", "18:00"], sat: ["10:00", "14:00"]}
            holidays: ["2026-12-25"]
        team_calendars: {support: india}
        rules:
          - {id: praise, when: {sentiment: [POSITIVE]}, then: {tags: [praise], case: record}}
        """
    )
    jsonschema.validate(raw, SCHEMA)
    document = parse_rules(raw)
    india = document.calendars["india"]
    assert [str(t) for t in india.hours["sat"]] == ["10:00:00", "14:00:00"]
    assert str(india.holidays[0]) == "2026-12-25"


def test_a_case_takes_the_calendar_of_its_first_team_that_has_one():
    hours = {"mon": ["09:00", "18:00"]}
    document = parse_rules(
        doc(
            rule(),
            calendars={
                "india": {"timezone": "Asia/Kolkata", "hours": hours},
                "uk": {"timezone": "Europe/London", "hours": hours},
            },
            team_calendars={"support": "india", "sales": "uk"},
        )
    )
    assert document.calendar_for(["pr", "sales", "support"]).timezone == "Europe/London"
    assert document.calendar_for(("support", "sales")).timezone == "Asia/Kolkata"
    assert document.calendar_for(["pr"]) is None
    assert document.calendar_for([]) is None


def test_the_business_hours_condition_still_reads_the_document_business_hours():
    # Given the document-level business hours and a calendar for a team (they are independent)
    document = doc(
        rule("night", when={"business_hours": False}, then={"tags": ["after-hours"]}),
        business_hours={"timezone": "UTC"},
        calendars={"india": {"timezone": "Asia/Kolkata", "hours": {"mon": ["09:00", "18:00"]}}},
        team_calendars={"support": "india"},
    )
    item = analysed(interaction(text="x"))
    saturday = item.received_at.replace(year=2026, month=11, day=28, hour=12)
    assert CompiledRules(parse_rules(document)).evaluate(item, at=saturday).rules == ("night",)


# --- what a message does to its case -----------------------------------------------------------------


def _action(*rules):
    return _evaluate(doc(*rules), analysed(interaction(text="thanks, the refund is in"))).case_action


def test_with_no_rule_voting_a_message_opens_a_case():
    assert _action() == "open"
    assert _action(rule("tagged", then={"tags": ["x"]}), rule("queued", then={"teams": ["sales"]})) == "open"


def test_a_record_rule_alone_records_the_message_without_a_case():
    assert _action(rule("praise", then={"tags": ["praise"], "case": "record"})) == "record"
    # (rules that only tag or queue do not vote against it)
    assert (
        _action(
            rule("praise", then={"case": "record"}),
            rule("tagged", then={"tags": ["x"], "teams": ["sales"]}),
        )
        == "record"
    )


def test_resolved_outvotes_record_and_open_outvotes_both_whatever_the_order():
    record, resolved, opened = (
        rule("r", then={"case": "record"}),
        rule("s", then={"case": "resolved"}),
        rule("o", then={"case": "open"}),
    )
    assert _action(record, resolved) == _action(resolved, record) == "resolved"
    assert _action(opened, record, resolved) == _action(record, resolved, opened) == "open"


@pytest.mark.parametrize(
    "then",
    [{"priority": "P3"}, {"raise_priority": 1}, {"notify": ["pr"]}],
    ids=["priority", "raise", "notify"],
)
def test_a_rule_that_sets_a_priority_or_notifies_votes_open(then):
    assert _action(rule("praise", then={"case": "record"}), rule("urgent", then=then)) == "open"


def test_a_rule_with_case_votes_it_even_when_it_sets_a_priority():
    assert _action(rule("spam", then={"priority": "P4", "tags": ["spam"], "case": "record"})) == "record"


def test_a_stop_rule_ends_the_voting_too():
    assert (
        _action(rule("praise", then={"case": "record"}, stop=True), rule("urgent", then={"priority": "P1"}))
        == "record"
    )
