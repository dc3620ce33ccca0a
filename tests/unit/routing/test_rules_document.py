"""The rules document: the shipped one is valid; an invalid one is refused naming the rule and field."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from socialcrm.routing.evaluator import CompiledRules
from socialcrm.routing.rules import RulesError, load_rules_file, parse_rules
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
    # And the loader (which adds the cross-checks) compiles every rule with the default SLAs
    document = load_rules_file(REPO_RULES_FILE)
    assert len(CompiledRules(document)) == len(raw["rules"]) >= 4
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
