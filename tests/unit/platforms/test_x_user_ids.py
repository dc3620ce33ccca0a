"""X adapter: a customer's user id that is not valid text (half of an emoji, escaped in JSON as ``\\ud83d``)
skips that item; the rest of the delivery is read, and nothing fails."""

from __future__ import annotations

import pytest

from socialcrm.platforms.base import Delivery
from socialcrm.platforms.x import adapter
from tests.unit.platforms.test_x import BRAND, XAA_BRAND

BAD_ID = '"\\ud83d"'  # a lone surrogate, as JSON carries it
GOOD_ID = '"42"'


def aaa_dm(sender: str, event_id: str) -> str:
    return (
        f'{{"type":"message_create","id":"{event_id}","created_timestamp":"1516403560557",'
        f'"message_create":{{"target":{{"recipient_id":"{BRAND}"}},"sender_id":{sender},'
        f'"message_data":{{"text":"Hello"}}}}}}'
    )


def aaa_post(user_id: str, post_id: str) -> str:
    return (
        f'{{"id_str":"{post_id}","timestamp_ms":"1747663306000","text":"@brand hello",'
        f'"user":{{"id_str":{user_id},"screen_name":"camper"}}}}'
    )


def xaa_post(author_id: str) -> str:
    return (
        f'{{"data":{{"event_type":"post.mention.create","filter":{{"user_id":"{XAA_BRAND}"}},'
        f'"payload":{{"id":"2080765813578191303","author_id":{author_id},"text":"@brand hi",'
        f'"created_at":"2026-07-24T21:23:23.000Z"}}}}}}'
    )


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        (
            f'{{"for_user_id":"{BRAND}","direct_message_events":[{aaa_dm(BAD_ID, "1")},{aaa_dm(GOOD_ID, "2")}]}}',
            ["2"],
        ),
        (
            f'{{"for_user_id":"{BRAND}","tweet_create_events":[{aaa_post(BAD_ID, "11")},{aaa_post(GOOD_ID, "12")}]}}',
            ["12"],
        ),
        (xaa_post(BAD_ID), []),
    ],
    ids=["dm sender_id", "post user.id_str", "activity post author_id"],
)
def test_an_item_whose_user_id_is_half_an_emoji_is_skipped_and_the_rest_read(
    body: str, kept: list[str]
) -> None:
    # Given a delivery whose first item's user id is a lone surrogate
    delivery = Delivery(body=body.encode())

    # When it is normalised
    drafts = adapter.normalise(delivery)

    # Then that item is skipped (not a crash, so not a 500) and the others are read
    assert [draft.native_id for draft in drafts] == kept
