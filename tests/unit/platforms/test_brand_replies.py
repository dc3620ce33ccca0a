"""The brand's own replies, seen natively, and the conversation key of each platform.

For every platform that shows the brand answering, a reply is a ``brand_reply`` whose
``conversation_key`` is the one the customer's message in that conversation carries
(``docs/webhook-protocols.md``, "Brand replies and conversations"). A malformed reply costs only itself.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from socialcrm.errors import BadRequestError
from socialcrm.ingest.service import admit
from socialcrm.models import (
    MAX_CONVERSATION_KEY_CHARS,
    Author,
    Interaction,
    InteractionDraft,
    subject_id,
)
from socialcrm.platforms.base import Delivery, conversation_key
from socialcrm.platforms.generic import ENVELOPE_MODEL
from socialcrm.platforms.generic import adapter as generic
from socialcrm.platforms.youtube import adapter as youtube
from tests.unit.platforms import test_linkedin as linkedin
from tests.unit.platforms import test_meta as meta
from tests.unit.platforms import test_x as x
from tests.unit.platforms.hostile_inputs import refusal
from tests.unit.platforms.test_generic import review
from tests.unit.platforms.test_youtube import fixture as youtube_fixture

PEPPER = "pepper"
RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)
WA_BUSINESS = "106540352242922"
WA_CUSTOMER = "16505551234"
PAGE = "102938475610293"


def generic_normalise(payload: dict[str, Any]) -> list[InteractionDraft]:
    return generic.normalise(Delivery(json.dumps(payload).encode()))


# --- Facebook Page feed ------------------------------------------------------------------------------


def test_the_pages_top_level_comment_on_a_visitor_post_answers_that_post_and_its_own_post_is_skipped():
    # Given a visitor's post, the Page's top-level comment on it and a post of the Page itself
    # When normalised
    post, answer = meta.normalise(meta.fixture("page_feed_page_answers_visitor_post"))
    # Then the Page's comment is a brand reply in the visitor post's conversation
    assert (post.kind, post.native_id, post.conversation_key) == (
        "post",
        "102938475610293_20002",
        "post:102938475610293_20002",
    )
    assert (answer.kind, answer.author, answer.customer_id) == (
        "brand_reply",
        Author(user_id=PAGE, display_name="Acme Store"),
        None,
    )
    assert answer.parent_id == answer.thread_id == "102938475610293_20002"
    assert answer.conversation_key == post.conversation_key
    assert answer.text == "So sorry! We have sent you a message."


def test_a_customer_answering_the_pages_reply_stays_in_the_same_conversation():
    # Given the feed batch's first comment and a customer's reply to the Page's reply under it
    # (Facebook threads are two levels deep: the reply names the top-level comment as its parent)
    payload = json.loads(meta.fixture("page_feed_batch"))
    changes = payload["entry"][0]["changes"]
    follow_up = copy.deepcopy(changes[1])
    follow_up["value"].update(comment_id="12345_98805", message="Thanks! Ordered.")
    payload["entry"] = [{**payload["entry"][0], "changes": [changes[0], changes[2], follow_up]}]
    # When normalised
    drafts = meta.normalise_json(payload)
    # Then the comment, the Page's reply and the follow-up share one key
    assert [d.kind for d in drafts] == ["comment", "brand_reply", "reply"]
    assert {d.conversation_key for d in drafts} == {"comments:12345_98801"}


# --- WhatsApp -------------------------------------------------------------------------------------------


def test_a_sent_status_is_a_brand_reply_without_text_in_the_customers_conversation():
    # Given sent, delivered and read statuses of one reply, two marketing messages, a failure and a
    # message sent to a group
    # When normalised
    drafts = meta.normalise(meta.fixture("whatsapp_sent_statuses"))
    # Then only the sent status of the reply is kept: a brand reply from the business number to the customer
    assert drafts == [
        InteractionDraft(
            platform="whatsapp",
            kind="brand_reply",
            native_id="wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJBQ0NPVU5UU0VOVDAxAA==",
            author=Author(user_id=WA_BUSINESS),
            text="",
            occurred_at=datetime(2025, 6, 8, 21, 0, 0, tzinfo=UTC),
            conversation_key=f"wa:{WA_BUSINESS}:{WA_CUSTOMER}",
            customer_id=WA_CUSTOMER,
        )
    ]
    # and that is the key of the customer's own message to the same business number
    assert drafts[0].conversation_key == meta.normalise(meta.fixture("whatsapp_text"))[0].conversation_key


def whatsapp_statuses(*statuses: dict[str, Any]) -> dict[str, Any]:
    payload = json.loads(meta.fixture("whatsapp_sent_statuses"))
    payload["entry"][0]["changes"][0]["value"]["statuses"] = list(statuses)
    return payload


def sent(**fields: Any) -> dict[str, Any]:
    status = {"id": "wamid.SENT", "status": "sent", "timestamp": "1749416400", "recipient_id": WA_CUSTOMER}
    return {**status, **fields}


@pytest.mark.parametrize(
    "status",
    [
        pytest.param(sent(status="delivered"), id="delivered"),
        pytest.param(sent(status="read"), id="read"),
        pytest.param(sent(status="played"), id="played"),
        pytest.param(sent(status="failed", errors=[{"code": 131026}]), id="failed"),
        pytest.param(sent(pricing={"category": "marketing"}), id="marketing-category"),
        pytest.param(sent(pricing={"category": "marketing_lite"}), id="marketing-lite-category"),
        pytest.param(sent(conversation={"origin": {"type": "marketing"}}), id="marketing-origin"),
        pytest.param(sent(recipient_type="group", recipient_participant_id=WA_CUSTOMER), id="group"),
    ],
)
def test_statuses_that_are_no_reply_to_a_customer_count_for_nothing(status):
    # Given such a status next to the sent status of a reply / When normalised / Then the reply alone is kept
    drafts = meta.normalise_json(whatsapp_statuses(status, sent(id="wamid.REPLY")))
    assert [d.native_id for d in drafts] == ["wamid.REPLY"]


@pytest.mark.parametrize(
    "category", ["service", "utility", "authentication", None, ["marketing"], {"a": 1}, 7]
)
def test_a_sent_message_of_any_other_category_is_a_brand_reply(category):
    # Given a sent status priced in another category, or one that is not text at all
    status = sent(pricing={"category": category}, conversation={"origin": {"type": category}})
    # When normalised / Then it is the brand's reply
    [draft] = meta.normalise_json(whatsapp_statuses(status))
    assert draft.kind == "brand_reply"


@pytest.mark.parametrize(
    "status",
    [
        pytest.param(sent(id=" "), id="blank-id"),
        pytest.param(sent(id=None), id="no-id"),
        pytest.param(sent(timestamp="soon"), id="unreadable-time"),
        pytest.param(sent(recipient_id=None), id="no-recipient"),
        pytest.param(sent(recipient_id=WA_BUSINESS), id="sent-to-itself"),
        pytest.param("sent", id="not-an-object"),
    ],
)
def test_a_malformed_sent_status_costs_only_itself(status):
    # Given a malformed sent status before a well-formed one
    payload = whatsapp_statuses(status, sent(id="wamid.GOOD"))
    # When normalised / Then only the well-formed one is kept
    assert [d.native_id for d in meta.normalise_json(payload)] == ["wamid.GOOD"]


def test_a_sent_status_without_the_business_number_is_skipped():
    payload = whatsapp_statuses(sent())
    del payload["entry"][0]["changes"][0]["value"]["metadata"]
    assert meta.normalise_json(payload) == []


def test_a_status_to_a_username_user_is_keyed_by_the_business_scoped_id_their_messages_carry():
    # Given a username user's message (no phone) and a sent status naming only recipient_user_id
    customer = meta.normalise(meta.fixture("whatsapp_username_missing_from"))[0]
    [answer] = meta.normalise_json(
        whatsapp_statuses(sent(recipient_id="", recipient_user_id="US.13491208655302741918"))
    )
    # Then the reply is filed under that user, in the same conversation
    assert answer.customer_id == customer.author.user_id == "US.13491208655302741918"
    assert answer.conversation_key == customer.conversation_key


def test_a_message_echo_from_the_business_app_is_a_brand_reply_with_its_text():
    # Given Meta's smb_message_echoes example (the business typing in the WhatsApp Business app)
    # When normalised
    [draft] = meta.normalise(meta.fixture("whatsapp_smb_message_echoes"))
    # Then it is a brand reply with its text, to the customer it was sent to
    assert draft == InteractionDraft(
        platform="whatsapp",
        kind="brand_reply",
        native_id="wamid.HBgLMTY0NjcwNDM1OTUVAgARGBIyNDlBOEI5QUQ4NDc0N0FCNjMA",
        author=Author(user_id=WA_BUSINESS),
        text="Here's the info you requested! https://www.meta.com/quest/quest-3/",
        occurred_at=datetime(2025, 2, 12, 0, 43, 44, tzinfo=UTC),
        conversation_key=f"wa:{WA_BUSINESS}:{WA_CUSTOMER}",
        customer_id=WA_CUSTOMER,
    )
    assert draft.conversation_key == meta.normalise(meta.fixture("whatsapp_text"))[0].conversation_key


def echoes(*items: dict[str, Any]) -> dict[str, Any]:
    payload = json.loads(meta.fixture("whatsapp_smb_message_echoes"))
    payload["entry"][0]["changes"][0]["value"]["message_echoes"] = list(items)
    return payload


def echo(**fields: Any) -> dict[str, Any]:
    item = json.loads(meta.fixture("whatsapp_smb_message_echoes"))["entry"][0]["changes"][0]["value"]
    return {**item["message_echoes"][0], **fields}


@pytest.mark.parametrize("to", ["+16505551234", "+1 650-555-1234", "+1 (650) 555.1234"])
def test_an_echo_to_a_number_written_for_sending_is_filed_under_the_customers_wa_id(to):
    # Given an echo whose "to" is the number as the business typed it ("+" and separators)
    [draft] = meta.normalise_json(echoes(echo(to=to)))
    # Then the customer is the wa_id their own messages carry
    assert draft.customer_id == WA_CUSTOMER
    assert draft.conversation_key == f"wa:{WA_BUSINESS}:{WA_CUSTOMER}"


def test_echoes_that_are_reactions_or_malformed_cost_only_themselves():
    # Given a reaction echo, an echo without recipient, one without id, and a well-formed image echo
    payload = echoes(
        echo(type="reaction", reaction={"message_id": "wamid.X", "emoji": "👍"}, id="wamid.REACTION"),
        echo(to=None, id="wamid.NOBODY"),
        echo(id=None),
        echo(type="image", image={"caption": "Your invoice"}, id="wamid.IMAGE"),
    )
    # When normalised / Then only the image echo is kept, with its caption
    assert [(d.native_id, d.text) for d in meta.normalise_json(payload)] == [("wamid.IMAGE", "Your invoice")]


# --- Instagram and LinkedIn ------------------------------------------------------------------------------


def test_the_instagram_accounts_own_top_level_comment_answers_nobody_and_is_skipped():
    payload = json.loads(meta.fixture("instagram_comments_batch"))
    own_reply = payload["entry"][0]["changes"][2]
    del own_reply["value"]["parent_id"]
    payload["entry"][0]["changes"] = [own_reply]
    assert meta.normalise_json(payload) == []


def test_a_linkedin_comment_named_only_in_its_short_form_is_keyed_like_the_organisations_reply_to_it():
    # Given the batch's first comment without comment.entity: only generatedActivity, in the short form
    # "urn:li:comment:(activity:…)", and the organisation's reply naming it in the full form
    payload = linkedin.document("batch.json")
    first, answer = payload["notifications"][0], payload["notifications"][1]
    del first["decoratedGeneratedActivity"]["comment"]["entity"]
    assert first["generatedActivity"].startswith("urn:li:comment:(activity:")
    payload["notifications"] = [first, answer]
    # When normalised / Then both are one conversation
    comment, reply = linkedin.normalise(payload)
    assert reply.kind == "brand_reply"
    assert (
        comment.conversation_key
        == reply.conversation_key
        == ("comments:urn:li:comment:(urn:li:activity:7094637247890620418,7095000000000000001)")
    )


# --- X ------------------------------------------------------------------------------------------------


def test_the_brands_reply_to_a_mention_is_a_brand_reply_in_the_mentions_conversation():
    # Given a customer's mention and the brand's reply to it (Account Activity API)
    mention = x.normalise(x.raw("aaa_tweet_batch.json"))[0]
    # When the reply is normalised
    (answer,) = x.normalise(x.raw("aaa_tweet_brand_reply.json"))
    # Then it is a brand reply to that customer, keyed by the mention that started the conversation
    assert (answer.kind, answer.author.user_id, answer.author.handle) == (
        "brand_reply",
        x.BRAND,
        "XDevelopers",
    )
    assert answer.customer_id == mention.author.user_id == "1500000000000000001"
    assert answer.parent_id == mention.native_id
    assert answer.conversation_key == mention.conversation_key == f"public:{x.BRAND}:1500000000000000001"


def test_a_customers_answer_to_the_brands_reply_stays_in_their_exchange_and_so_does_the_next_reply():
    # Given the customer answering the brand's reply (v1.1 names only the post answered, no conversation)
    payload = x.document("aaa_tweet_batch.json")
    tweet = payload["tweet_create_events"][0]
    tweet.update(id_str="1925000000000000031", in_reply_to_status_id_str="1925000000000000021")
    payload["tweet_create_events"] = [tweet]
    (follow_up,) = x.normalise(payload)
    # And the brand answering that follow-up
    reply = x.document("aaa_tweet_brand_reply.json")
    reply["tweet_create_events"][0].update(
        id_str="1925000000000000041", in_reply_to_status_id_str="1925000000000000031"
    )
    (answer,) = x.normalise(reply)
    # Then all are one conversation: the brand's public exchange with that customer
    mention = x.normalise(x.raw("aaa_tweet_batch.json"))[0]
    key = f"public:{x.BRAND}:1500000000000000001"
    assert follow_up.conversation_key == answer.conversation_key == mention.conversation_key == key


def test_the_brands_reply_to_its_own_post_names_no_customer():
    payload = x.document("aaa_tweet_brand_reply.json")
    payload["tweet_create_events"][0]["in_reply_to_user_id_str"] = x.BRAND
    (draft,) = x.normalise(payload)
    assert (draft.kind, draft.customer_id) == ("brand_reply", None)


def test_an_activity_api_post_create_that_replies_is_a_brand_reply_in_the_mentions_exchange():
    # Given the brand's own post.create answering a customer's mention
    payload = x.document("xaa_post_create.json")
    post = payload["data"]["payload"]
    post.update(
        in_reply_to_user_id="2222222222222222222",
        referenced_tweets=[{"type": "replied_to", "id": "2080765813578191303"}],
        conversation_id="2080765813578191303",
    )
    # When normalised
    (answer,) = x.normalise(payload)
    (mention,) = x.normalise(x.raw("xaa_post_mention.json"))
    # Then it is a brand reply to that customer, in the mention's conversation
    assert (answer.kind, answer.customer_id) == ("brand_reply", "2222222222222222222")
    brand = answer.author.user_id
    assert answer.conversation_key == mention.conversation_key == f"public:{brand}:2222222222222222222"


def test_a_dm_of_the_brand_naming_no_recipient_costs_only_itself():
    # Given the brand's answer without a recipient among the customers' DMs
    payload = x.document("aaa_direct_message_batch.json")
    del payload["direct_message_events"][1]["message_create"]["target"]
    # When normalised / Then the two customers' DMs remain
    assert [d.native_id for d in x.normalise(payload)] == ["1925100000000000001", "1925100000000000003"]


# --- YouTube and generic --------------------------------------------------------------------------------


def test_youtube_notifications_carry_nothing_to_answer_and_no_conversation_key():
    drafts = youtube.normalise(Delivery(youtube_fixture("two_entries.xml")))
    assert drafts and all(d.conversation_key is None and d.kind == "post" for d in drafts)


def test_a_generic_conversation_id_keys_the_customers_message_and_the_brands_reply_alike():
    # Given a review in conversation c-7 and the brand's reply to that customer in it
    customer = review(data__conversation_id="c-7")
    answer = review(
        data__native_id="r-982",
        data__kind="brand_reply",
        data__text="Sorry! A replacement is on its way.",
        data__author={"user_id": "acme", "display_name": "Acme"},
        data__conversation_id="c-7",
        data__customer_id="cust-42",
    )
    # When both are normalised
    [message] = generic_normalise(customer)
    [reply] = generic_normalise(answer)
    # Then they share the key, and the reply names the customer it answers
    assert message.conversation_key == reply.conversation_key == "conversation:c-7"
    assert (reply.kind, reply.author.user_id, reply.customer_id) == ("brand_reply", "acme", "cust-42")
    assert message.customer_id is None


def test_a_generic_body_without_conversation_id_has_no_key_of_its_own():
    [draft] = generic_normalise(review())
    assert draft.conversation_key is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"data__customer_id": "cust-42"},
            "data: Value error, customer_id is only for kind brand_reply",
            id="customer-on-a-review",
        ),
        pytest.param(
            {"data__conversation_id": " "},
            "data.conversation_id: Value error, an id cannot be only whitespace",
            id="blank-conversation",
        ),
        pytest.param(
            {"data__conversation_id": "c\n7"},
            "data.conversation_id: Value error, an id cannot hold control characters, lone surrogates or line separators",
            id="control-character",
        ),
        pytest.param(
            {"data__thread_id": "t\ud83d"},
            "data.thread_id: Input should be a valid string, unable to parse raw data as a unicode string",
            id="thread-lone-surrogate",
        ),
        pytest.param(
            {"data__parent_id": "   "},
            "data.parent_id: Value error, an id cannot be only whitespace",
            id="parent-blank",
        ),
        pytest.param(
            {"data__conversation_id": "c" * 257},
            "data.conversation_id: String should have at most 256 characters",
            id="too-long",
        ),
        pytest.param(
            {"data__kind": "brand_reply", "data__customer_id": ""},
            "data.customer_id: String should have at least 1 character",
            id="empty-customer",
        ),
    ],
)
def test_a_generic_conversation_or_customer_that_breaks_the_rules_is_a_400_naming_it(changes, message):
    assert refusal(BadRequestError, generic_normalise, review(**changes)) == message


def test_the_generic_schema_declares_the_conversation_the_customer_and_the_brand_reply_kind():
    data = ENVELOPE_MODEL.model_json_schema()["$defs"]["GenericData"]
    conversation = next(
        branch for branch in data["properties"]["conversation_id"]["anyOf"] if branch != {"type": "null"}
    )
    assert conversation == {
        "maxLength": 256,
        "minLength": 1,
        "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]*$",
        "type": "string",
    }
    assert "customer_id" in data["properties"]
    assert "brand_reply" in data["properties"]["kind"]["enum"]
    assert "conversation_id" not in data.get("required", [])


# --- from the draft to the stored interaction -------------------------------------------------------


def draft_with(**fields: Any) -> InteractionDraft:
    base: dict[str, Any] = {
        "platform": "messenger",
        "kind": "brand_reply",
        "native_id": "m_1",
        "author": Author(user_id=PAGE),
        "occurred_at": RECEIVED,
        "conversation_key": conversation_key("dm", PAGE, "6543210987654321"),
        "customer_id": "6543210987654321",
    }
    return InteractionDraft(**{**base, **fields})


def test_a_brand_reply_is_filed_under_the_customer_and_in_the_customers_conversation():
    # Given the Page's echo and the customer's message of one Messenger conversation
    [answer] = meta.normalise(meta.fixture("messenger_non_messages"))
    [customer] = meta.normalise(meta.fixture("messenger_message"))
    # When both become interactions
    stored_answer = Interaction.from_draft(answer, pepper=PEPPER, received_at=RECEIVED)
    stored_customer = Interaction.from_draft(customer, pepper=PEPPER, received_at=RECEIVED)
    # Then the reply belongs to the customer's subject and conversation, not to the Page's
    assert stored_answer.subject_id == stored_customer.subject_id
    assert stored_answer.subject_id != subject_id(PEPPER, "messenger", PAGE)
    assert stored_answer.conversation_ref == stored_customer.conversation_ref
    assert stored_answer.from_brand and not stored_customer.from_brand


def test_a_conversation_key_of_600_characters_is_kept_and_one_longer_refuses_its_item():
    at_cap = draft_with(conversation_key="k" * MAX_CONVERSATION_KEY_CHARS)
    over = draft_with(conversation_key="k" * (MAX_CONVERSATION_KEY_CHARS + 1))
    assert Interaction.from_draft(at_cap, pepper=PEPPER, received_at=RECEIVED).conversation_ref
    with pytest.raises(ValidationError) as raised:
        Interaction.from_draft(over, pepper=PEPPER, received_at=RECEIVED)
    assert [error["loc"] for error in raised.value.errors()] == [("conversation_key",)]


@pytest.mark.parametrize("customer", ["c" * 257, " "], ids=["too-long", "blank"])
def test_a_customer_id_that_is_no_user_id_refuses_its_item(customer):
    with pytest.raises(ValidationError) as raised:
        Interaction.from_draft(draft_with(customer_id=customer), pepper=PEPPER, received_at=RECEIVED)
    assert [error["loc"] for error in raised.value.errors()] == [("customer_id",)]


def test_an_echo_whose_key_is_too_long_is_refused_alone_and_the_rest_of_its_delivery_admitted():
    # Given a Messenger delivery: an echo to a recipient whose id makes the key too long, and a good echo
    payload = json.loads(meta.fixture("messenger_non_messages"))
    entry = payload["entry"][0]
    bad = copy.deepcopy(entry["messaging"][0])
    bad["recipient"]["id"] = "9" * MAX_CONVERSATION_KEY_CHARS
    bad["message"]["mid"] = "m_echo_bad"
    entry["messaging"] = [bad, entry["messaging"][0]]
    payload["entry"] = [entry]
    # When its drafts are admitted one by one, as the ingest function does
    admitted = [
        admit(draft, pepper=PEPPER, received_at=RECEIVED, platform="meta")
        for draft in meta.normalise_json(payload)
    ]
    # Then the bad echo alone is refused
    assert [None if item is None else item.native_id for item in admitted] == [None, "m_echo_1755600299000"]
