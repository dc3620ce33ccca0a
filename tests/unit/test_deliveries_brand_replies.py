"""The local stack's reply builders: each brand reply lands in the conversation of the customer's message.

For every platform that shows the brand answering, ``socialcrm.local.deliveries`` pairs a customer-message
builder with a reply builder. Normalised by the platform's own adapter, the reply is a ``brand_reply`` and
shares the customer's conversation key, hence the ``conversation_ref`` routing files it under
(``docs/webhook-protocols.md`` §12).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from socialcrm.local import deliveries as d
from socialcrm.models import BRAND_REPLY, Interaction, InteractionDraft
from socialcrm.platforms import Delivery, adapter_for

PEPPER = "pepper"
ASKED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ANSWERED = ASKED + timedelta(minutes=12)
LI_ROOT = d.linkedin_comment_urn(5603470001)


@dataclass(frozen=True)
class Pair:
    customer: Callable[[], d.Payload]
    reply: Callable[[], d.Payload]
    names_customer: bool = True  # whether the reply's payload names the customer it answers


PAIRS = {
    "messenger": Pair(
        lambda: d.messenger_message("m_ask", "6543210987654321", "Is it in stock?", ASKED),
        lambda: d.messenger_echo("m_answer", "6543210987654321", "Yes, in all sizes.", ANSWERED),
    ),
    "facebook-comment": Pair(
        lambda: d.facebook_comment("4455_9001", "7234001", "Ana", "Is this available in blue?", ASKED),
        lambda: d.facebook_page_reply("4455_9002", "4455_9001", "It is, since Monday!", ANSWERED),
        names_customer=False,
    ),
    "facebook-reply-in-thread": Pair(
        lambda: d.facebook_comment(
            "4455_9003", "7234001", "Ana", "And in red?", ASKED, parent_id="4455_9001"
        ),
        lambda: d.facebook_page_reply("4455_9004", "4455_9001", "Red comes in May.", ANSWERED),
        names_customer=False,
    ),
    "instagram-dm": Pair(
        lambda: d.instagram_message("aWdfZAG1ask", "1234567890123456", "Do you ship to Pune?", ASKED),
        lambda: d.instagram_echo("aWdfZAG1answer", "1234567890123456", "Yes, in 3 days.", ANSWERED),
    ),
    "instagram-comment": Pair(
        lambda: d.instagram_comment(
            "18023456789010001", "18012345678901234", "17841499999999991", "priya.shops", "Price?", ASKED
        ),
        lambda: d.instagram_comment_reply(
            "18023456789010002", "18012345678901234", "18023456789010001", "₹1,499, link in bio.", ANSWERED
        ),
        names_customer=False,
    ),
    "instagram-reply-in-thread": Pair(
        lambda: d.instagram_comment(
            "18023456789010003",
            "18012345678901234",
            "17841499999999991",
            "priya.shops",
            "Any discount?",
            ASKED,
            parent_id="18023456789010001",
        ),
        lambda: d.instagram_comment_reply(
            "18023456789010004", "18012345678901234", "18023456789010001", "10% this week!", ANSWERED
        ),
        names_customer=False,
    ),
    "whatsapp-sent-status": Pair(
        lambda: d.whatsapp_message("wamid.ASK", "919812345678", "Ravi", "Price please?", ASKED),
        lambda: d.whatsapp_sent_status("wamid.ANSWER", "919812345678", ANSWERED),
    ),
    "whatsapp-echo": Pair(
        lambda: d.whatsapp_message("wamid.ASK2", "919812345678", "Ravi", "Price please?", ASKED),
        lambda: d.whatsapp_echo("wamid.ANSWER2", "919812345678", "₹1,499 with delivery.", ANSWERED),
    ),
    "x-dm": Pair(
        lambda: d.x_direct_message("1925100000000000101", "1500000000000000001", "anasouza", "Hi?", ASKED),
        lambda: d.x_brand_direct_message(
            "1925100000000000102", "1500000000000000001", "Hello! How can we help?", ANSWERED
        ),
    ),
    "x-mention": Pair(
        lambda: d.x_mention(
            "1925000000000000111", "1500000000000000001", "anasouza", "@acme late!", "en", ASKED
        ),
        lambda: d.x_brand_reply(
            "1925000000000000112", "1925000000000000111", "1500000000000000001", "@anasouza Sorry!", ANSWERED
        ),
    ),
    "linkedin-admin-comment": Pair(
        lambda: d.linkedin_comment(5603470001, "urn:li:person:Hq8vXw2Lk1", "It crashes.", ASKED),
        lambda: d.linkedin_organization_reply(5603470002, LI_ROOT, "A fix is coming.", ANSWERED),
        names_customer=False,
    ),
    "linkedin-organisation-comment": Pair(
        lambda: d.linkedin_comment(
            5603470003, "urn:li:person:Hq8vXw2Lk1", "Still crashing.", ASKED, reply_to=LI_ROOT
        ),
        lambda: d.linkedin_organization_reply(
            5603470004, LI_ROOT, "Version 4.2.1 fixes it.", ANSWERED, action="COMMENT"
        ),
        names_customer=False,
    ),
    "tiktok": Pair(
        lambda: d.tiktok_message(
            "7456000000000000101", "-000buyerOpenId", "buyer", "Is it available?", ASKED
        ),
        lambda: d.tiktok_sent_message(
            "7456000000000000102", "-000buyerOpenId", "buyer", "Yes, ships tomorrow.", ANSWERED
        ),
    ),
    "generic": Pair(
        lambda: d.generic_message(
            "g-ask", "cust-42", "shopper1", "Where is it?", ASKED, conversation_id="c-7"
        ),
        lambda: d.generic_brand_reply("g-answer", "c-7", "cust-42", "On its way.", ANSWERED),
    ),
}


def normalised(payload: d.Payload) -> InteractionDraft:
    drafts = adapter_for(payload.route).normalise(Delivery(body=payload.body))
    assert [draft.interaction_id for draft in drafts] == list(payload.interaction_ids)
    [draft] = drafts
    return draft


def stored(draft: InteractionDraft) -> Interaction:
    return Interaction.from_draft(draft, pepper=PEPPER, received_at=draft.occurred_at)


@pytest.mark.parametrize("pair", PAIRS.values(), ids=PAIRS.keys())
def test_the_brands_reply_is_a_brand_reply_in_the_conversation_of_the_message_it_answers(pair: Pair):
    # Given a customer's message and the brand's reply to it, as the platform delivers them
    customer_payload, reply_payload = pair.customer(), pair.reply()
    assert customer_payload.route == reply_payload.route
    # When the platform's adapter normalises each
    customer, reply = normalised(customer_payload), normalised(reply_payload)
    # Then the reply is the brand's, the customer's message is not, and both share one conversation
    assert reply.kind == BRAND_REPLY
    assert customer.kind != BRAND_REPLY
    assert reply.conversation == customer.conversation
    assert stored(reply).conversation_ref == stored(customer).conversation_ref
    assert stored(reply).from_brand and not stored(customer).from_brand
    # and the reply is filed under that customer where the payload names them
    assert reply.customer_id == (customer.author.user_id if pair.names_customer else None)


def test_replies_to_two_customers_are_two_conversations():
    # Given two customers' WhatsApp messages and the brand's sent status to the first
    first = normalised(d.whatsapp_message("wamid.A", "919800000001", "A", "Hi", ASKED))
    second = normalised(d.whatsapp_message("wamid.B", "919800000002", "B", "Hi", ASKED))
    reply = normalised(d.whatsapp_sent_status("wamid.R", "919800000001", ANSWERED))
    # Then the reply joins the first customer's conversation only
    assert reply.conversation == first.conversation != second.conversation


def test_a_customer_reply_to_the_brands_post_names_it():
    # Given a customer answering the brand's reply on X
    payload = d.x_mention(
        "1925000000000000113",
        "1500000000000000001",
        "anasouza",
        "@acme still nothing",
        "en",
        ASKED,
        in_reply_to="1925000000000000112",
    )
    # When normalised / Then it is the customer's reply to that post
    draft = normalised(payload)
    assert (draft.kind, draft.parent_id, payload.label) == ("reply", "1925000000000000112", "X reply")
