"""Reply templates and the rules' answer actions: chosen by language, filled from params, checked on load."""

from __future__ import annotations

import pytest

from socialcrm.replies.automation import Planned, planned
from socialcrm.replies.templates import TemplateError, render
from socialcrm.routing.rules import MoveToPrivate, ReplyAction, RulesError, parse_rules

BASE = {"teams": ["support", "pr"]}
TEMPLATES = {
    "order": {
        "text": {"default": "Order {order} is on its way", "es": "El pedido {order} está en camino"},
        "whatsapp": {"name": "order_update", "language": "en_US", "params": ["order"]},
    },
    "ack": {
        "text": {"default": "Thanks, we are closed now and answer at 9:00", "pt": "Obrigado, voltamos às 9h"}
    },
}


def document(**extra):
    return parse_rules({**BASE, "templates": TEMPLATES, **extra})


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("es", "El pedido 7781 está en camino"),
        ("es-MX", "El pedido 7781 está en camino"),
        ("fr", "Order 7781 is on its way"),
        (None, "Order 7781 is on its way"),
    ],
)
def test_the_text_is_in_the_messages_language_then_its_base_then_the_default(language, expected):
    rendered = render(document().templates["order"], {"order": "7781"}, language)
    assert rendered.text == expected
    assert rendered.whatsapp is not None and rendered.whatsapp.params == ("7781",)


@pytest.mark.parametrize(
    ("params", "field"),
    [({}, "params.order"), ({"order": "1", "name": "x"}, "params.name"), ({"order": " "}, "params.order")],
)
def test_a_missing_unknown_or_blank_param_names_the_field(params, field):
    with pytest.raises(TemplateError) as error:
        render(document().templates["order"], params, "en")
    assert error.value.field == field


def test_a_param_is_never_interpreted():
    rendered = render(document().templates["order"], {"order": "{order.__class__}"}, None)
    assert rendered.text == "Order {order.__class__} is on its way"


@pytest.mark.parametrize(
    ("templates", "message"),
    [
        ({"t": {"text": {"en": "hi"}}}, "text needs a default"),
        ({"t": {"text": {"default": "{a.__class__}"}}}, "plain name"),
        ({"t": {"text": {"default": "{a}", "es": "{b}"}}}, "same placeholders"),
        (
            {"t": {"text": {"default": "{a}"}, "whatsapp": {"name": "t", "language": "en", "params": []}}},
            "whatsapp.params",
        ),
    ],
)
def test_bad_templates_fail_the_document_naming_the_field(templates, message):
    with pytest.raises(RulesError) as error:
        parse_rules({**BASE, "templates": templates})
    assert "templates.t" in str(error.value) and message in str(error.value)


def test_a_rule_answering_with_an_unknown_template_or_one_with_placeholders_fails():
    rule = {"id": "welcome", "when": {"kinds": ["direct_message"]}, "then": {"reply": {"template": "nope"}}}
    with pytest.raises(
        RulesError, match=r"rule 'welcome' \(rules\[0\]\) field then.reply.template: template 'nope'"
    ):
        document(rules=[rule])
    rule["then"] = {"reply": {"template": "order"}}
    with pytest.raises(RulesError, match="placeholders"):
        document(rules=[rule])
    rule["then"] = {
        "reply": {"template": "ack"},
        "move_to_private": {"public_template": "ack", "private_template": "ack"},
    }
    with pytest.raises(RulesError, match="reply or move_to_private"):
        document(rules=[rule])


def test_move_to_private_is_a_public_word_and_a_private_message_except_where_already_private():
    action = MoveToPrivate(public_template="ack", private_template="ack")
    assert [p.visibility for p in planned(("move", action), "facebook")] == ["public", "private"]
    assert [p.visibility for p in planned(("move", action), "whatsapp")] == ["private"]
    assert planned(("welcome", ReplyAction(template="ack")), "x") == [Planned("welcome", "ack", None)]
    assert planned(None, "x") == []
