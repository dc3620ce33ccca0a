"""The platforms' rules for replies, checked before a reply is queued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from socialcrm.replies.policy import Conversation, Permission, Refusal, check

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def conversation(platform: str, hours_ago: float, kind: str = "direct_message", **kwargs) -> Conversation:
    return Conversation(platform, kind, NOW - timedelta(hours=hours_ago), **kwargs)


def refusal(*args, **kwargs) -> Refusal:
    with pytest.raises(Refusal) as raised:
        check(*args, **kwargs, now=NOW)
    return raised.value


@pytest.mark.parametrize("platform", ["messenger", "instagram"])
def test_messenger_and_instagram_answer_within_24_hours_then_a_person_for_7_days(platform):
    kwargs = {"visibility": "private", "text": "On it!", "template": None}
    assert check(conversation(platform, 23), author="automation", now=NOW, **kwargs) == Permission("RESPONSE")
    assert check(conversation(platform, 30), author="person", now=NOW, **kwargs) == Permission(
        "MESSAGE_TAG", "HUMAN_AGENT"
    )
    assert (
        refusal(conversation(platform, 30), author="automation", **kwargs).rule == "automation_outside_window"
    )
    late = refusal(conversation(platform, 24 * 8), author="person", **kwargs)
    assert (late.status, late.rule) == (409, "meta_window")


def test_a_conversation_from_an_ad_may_be_answered_for_7_days_without_the_tag():
    answered = check(
        conversation("messenger", 48, came_from_ad=True),
        visibility="private",
        author="automation",
        text="Thanks!",
        template=None,
        now=NOW,
    )
    assert answered == Permission("RESPONSE")


def test_whatsapp_outside_24_hours_takes_only_a_template():
    kwargs = {"visibility": "private", "author": "person"}
    assert check(conversation("whatsapp", 2), text="Hi", template=None, now=NOW, **kwargs) == Permission()
    assert refusal(conversation("whatsapp", 25), text="Hi", template=None, **kwargs).rule == "whatsapp_window"
    templated = check(conversation("whatsapp", 25), text=None, template="order_update", now=NOW, **kwargs)
    assert templated.template_only


def test_a_comment_gets_one_private_reply_within_7_days():
    kwargs = {"visibility": "private", "author": "person", "text": "Sent you a DM", "template": None}
    assert check(conversation("facebook", 2, kind="comment"), now=NOW, **kwargs) == Permission()
    assert refusal(conversation("facebook", 2, kind="comment", private_replies_sent=1), **kwargs).rule == (
        "one_private_reply"
    )
    assert refusal(conversation("instagram", 24 * 8, kind="comment"), **kwargs).rule == "private_reply_window"


def test_youtube_and_public_answers_in_private_channels_are_422():
    assert (
        refusal(
            conversation("youtube", 1, kind="post"),
            visibility="public",
            author="person",
            text="Hi",
            template=None,
        ).status
        == 422
    )
    assert (
        refusal(
            conversation("whatsapp", 1), visibility="public", author="person", text="Hi", template=None
        ).rule
        == "private_only"
    )


def test_x_counts_weighted_characters():
    kwargs = {"visibility": "public", "author": "person", "template": None}
    assert check(conversation("x", 1, kind="mention"), text="a" * 280, now=NOW, **kwargs) == Permission()
    assert refusal(conversation("x", 1, kind="mention"), text="あ" * 141, **kwargs).rule == "too_long"
    assert refusal(conversation("x", 1, kind="mention"), text="   ", **kwargs).rule == "empty_text"
