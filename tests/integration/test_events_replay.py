"""``socialcrm events replay``: the archive's events of a window go back to the consumers asked for, and
a replay that cannot be right is refused with one line before anything is sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from socialcrm.cli import events as events_cli
from socialcrm.cli import main
from socialcrm.local.moto_patches import honour_replay_windows
from socialcrm.local.resources import create_resources
from socialcrm.topology import BUS_NAME

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def aws(monkeypatch):
    honour_replay_windows()
    monkeypatch.setattr(events_cli, "now", lambda: NOW)
    monkeypatch.setattr(events_cli, "sleep", lambda _s: None)
    monkeypatch.setattr(events_cli, "interactive", lambda: False)
    with mock_aws():
        resources = create_resources()
        bus = boto3.client("events")
        for hours_ago, ref in ((5, "early"), (2, "inside"), (0.5, "late")):
            bus.put_events(
                Entries=[
                    {
                        "Source": "socialcrm.enrich",
                        "DetailType": "InteractionEnriched",
                        "Detail": json.dumps({"interaction_ref": ref}),
                        "EventBusName": BUS_NAME,
                        "Time": NOW - timedelta(hours=hours_ago),
                    }
                ]
            )
        sqs = boto3.client("sqs")
        for url in resources.queue_urls.values():
            sqs.purge_queue(QueueUrl=url)
        yield resources, sqs


def received(sqs, url) -> list[dict]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def replay(*extra: str) -> int:
    return main(
        [
            "events",
            "replay",
            "--bus",
            BUS_NAME,
            "--from",
            "2026-11-25T09:00Z",
            "--to",
            "2026-11-25T11:00Z",
            *extra,
        ]
    )


def test_the_window_is_replayed_to_every_consumer_and_each_event_names_its_replay(aws, capsys):
    resources, sqs = aws
    assert replay("--yes", "--wait") == 0
    out = capsys.readouterr().out
    assert "to: route, erasure, report" in out and ": COMPLETED" in out
    for queue in ("route", "report"):
        bodies = received(sqs, resources.queue_urls[queue])
        assert [body["detail"]["interaction_ref"] for body in bodies] == ["inside"]
        assert bodies[0]["replay-name"].startswith(f"{BUS_NAME}-20261125T0900-")
    assert received(sqs, resources.queue_urls["erasure"]) == []  # not an event it subscribes to


def test_one_consumer_alone(aws):
    resources, sqs = aws
    assert replay("--consumer", "report", "--yes") == 0
    assert [body["detail"]["interaction_ref"] for body in received(sqs, resources.queue_urls["report"])] == [
        "inside"
    ]
    assert received(sqs, resources.queue_urls["route"]) == []


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (("2026-11-25T11:00Z", "2026-11-25T09:00Z"), "--from must be before --to"),
        (("2026-11-25T09:00Z", "2026-11-26T09:00Z"), "--to is in the future"),
        (("2026-11-10T09:00Z", "2026-11-11T09:00Z"), "the archive keeps 7 days"),
        (("yesterday", "2026-11-25T09:00Z"), "--from 'yesterday' is not an ISO 8601 time"),
    ],
)
def test_a_window_that_cannot_be_replayed_is_refused_in_one_line(aws, capsys, window, message):
    resources, sqs = aws
    code = main(["events", "replay", "--bus", BUS_NAME, "--from", window[0], "--to", window[1], "--yes"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert received(sqs, resources.queue_urls["route"]) == []


def test_nothing_is_replayed_without_yes_when_nobody_can_be_asked(aws, capsys):
    resources, sqs = aws
    assert replay() == 2
    assert "add --yes" in capsys.readouterr().err
    assert received(sqs, resources.queue_urls["route"]) == []


def test_a_stage_that_is_not_deployed_is_named_in_the_refusal(aws, capsys):
    code = main(
        [
            "events",
            "replay",
            "--stage",
            "prod",
            "--from",
            "2026-11-25T09:00Z",
            "--to",
            "2026-11-25T11:00Z",
            "--yes",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "archive socialcrm-prod-events: not found" in err


def test_the_status_of_a_replay(aws, capsys):
    assert replay("--yes") == 0
    follow = capsys.readouterr().out.splitlines()[-1].split("socialcrm ", 1)[1].split()
    assert follow[:2] == ["events", "replay-status"] and follow[3:] == ["--bus", BUS_NAME]
    assert main(follow) == 0
    assert f"replay {follow[2]}: COMPLETED" in capsys.readouterr().out
    assert main(["events", "replay-status", "--bus", BUS_NAME, "no-such-replay"]) == 2


def test_a_bus_given_as_an_arn_is_refused_naming_what_is_expected(aws, capsys):
    arn = "arn:aws:events:eu-west-1:123456789012:event-bus/socialcrm"
    code = main(
        ["events", "replay", "--bus", arn, "--from", "2026-11-25T09:00Z", "--to", "2026-11-25T11:00Z"]
    )
    assert code == 2 and "is not a bus name" in capsys.readouterr().err


def test_a_window_ending_in_the_last_minutes_is_replayed_with_a_note(aws, capsys):
    assert (
        main(
            [
                "events",
                "replay",
                "--bus",
                BUS_NAME,
                "--from",
                "2026-11-25T11:00Z",
                "--to",
                "2026-11-25T11:55Z",
                "--yes",
            ]
        )
        == 0
    )
    assert "may not be in the archive yet" in capsys.readouterr().out
