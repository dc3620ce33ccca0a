"""YouTube subscriptions under moto: the scheduled run subscribes, renews at 80% of the lease and unsubscribes;
the webhook confirms a hub's verification of intent only for a request socialcrm made and that is pending."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from socialcrm.local.resources import create_resources
from socialcrm.settings import WebSubSettings
from socialcrm.subscriptions.hub import HubAnswer, HubRequest
from socialcrm.subscriptions.store import SubscriptionTable
from socialcrm.subscriptions.websub import RETRY_AFTER, callback_key, renew, topic_of
from tests.conftest import DEV_SECRETS
from tests.support.apigw import LambdaContext, http_event

NOW = datetime.now(tz=UTC).replace(microsecond=0)
CHANNEL, OTHER = "UCupvZG-5ko_eiXAupbDfxWw", "UC0123456789abcdefghijkl"
CALLBACK = "https://api.example.com/webhooks/youtube"
# The hub secret the ingest handler reads (the development secrets file): the callback's key comes from it.
HUB_SECRET = json.loads(DEV_SECRETS.read_text())["youtube"]["hub_secret"]


class FakeHub:
    """The hub: records each request and answers ``status``."""

    def __init__(self) -> None:
        self.requests: list[HubRequest] = []
        self.status = 202

    def ask(self, request: HubRequest) -> HubAnswer:
        self.requests.append(request)
        return HubAnswer(self.status)

    def last(self, mode: str = "subscribe") -> HubRequest:
        return [request for request in self.requests if request.mode == mode][-1]


@pytest.fixture
def aws(monkeypatch):
    with mock_aws():
        resources = create_resources()
        for name, value in resources.environment.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SOCIALCRM_SECRETS_FILE", str(DEV_SECRETS))
        monkeypatch.delenv("SECRETS_NAME", raising=False)
        import ingest.handler as handler

        handler.runtime.cache_clear()
        yield handler, SubscriptionTable(resources.environment["SUBSCRIPTIONS_TABLE"]), FakeHub()
        handler.runtime.cache_clear()


def run(table, hub, channels=(CHANNEL,), *, at=NOW):
    return renew(channels, store=table, hub=hub, callback=CALLBACK, secret=HUB_SECRET, now=at)


def key_of(request: HubRequest) -> str:
    """The key of the callback URL socialcrm gave the hub (the hub repeats it with every verification)."""
    base, _, key = request.callback.partition("?key=")
    assert base == CALLBACK and key
    return key


def verify(handler, request: HubRequest | None = None, **query: str) -> dict:
    """The hub's GET to the callback, for ``request`` (as Google's hub sends it) with ``query`` changes."""
    params = {
        "hub.mode": request.mode if request else "subscribe",
        "hub.topic": request.topic if request else topic_of(CHANNEL),
        "hub.challenge": "challenge-7",
        "hub.lease_seconds": "432000",
        **({"hub.verify_token": request.verify_token, "key": key_of(request)} if request else {}),
        **query,
    }
    params = {key: value for key, value in params.items() if value != ""}
    return handler.lambda_handler(http_event("GET", "/webhooks/youtube", query=params), LambdaContext())


def stored(table, channel=CHANNEL):
    return {item.topic: item for item in table.all()}.get(topic_of(channel))


def test_a_channel_is_subscribed_verified_and_renewed_at_80_percent_of_its_lease(aws):
    handler, table, hub = aws
    # When the scheduled run finds a configured channel with no lease
    outcome = run(table, hub)
    # Then it asks the hub to subscribe, with the hub secret and a one-time token, asynchronously verified
    request = hub.last()
    assert outcome.asked == [("subscribe", CHANNEL)]
    assert (request.topic, request.secret) == (topic_of(CHANNEL), HUB_SECRET)
    assert request.callback == f"{CALLBACK}?key={callback_key(HUB_SECRET, topic_of(CHANNEL))}"
    # When the hub verifies the intent with that token
    answer = verify(handler, request)
    # Then the challenge is echoed and the lease the hub granted is recorded
    assert (answer["statusCode"], answer["body"]) == (200, "challenge-7")
    lease = stored(table)
    assert lease is not None and lease.status == "active" and lease.lease_seconds == 432000
    assert lease.renew_at is not None and lease.leased_at is not None
    assert lease.renew_at - lease.leased_at == timedelta(seconds=432000 * 0.8)
    assert lease.pending_mode is None
    # And the next runs leave it alone until 80% of the lease has passed, then renew it
    assert run(table, hub, at=NOW + timedelta(hours=1)).asked == []
    assert run(table, hub, at=lease.renew_at - timedelta(minutes=1)).asked == []
    assert run(table, hub, at=lease.renew_at + timedelta(minutes=1)).asked == [("subscribe", CHANNEL)]


def test_a_channel_no_longer_configured_is_unsubscribed(aws):
    handler, table, hub = aws
    run(table, hub)
    verify(handler, hub.last())
    # When the channel is taken out of the configuration
    outcome = run(table, hub, channels=(), at=NOW + timedelta(minutes=5))
    # Then it is unsubscribed, and the hub's verification of that is confirmed
    assert outcome.asked == [("unsubscribe", CHANNEL)]
    answer = verify(handler, hub.last("unsubscribe"))
    assert answer["statusCode"] == 200
    assert stored(table).status == "unsubscribed" and stored(table).lease_until is None
    # And nothing more is asked about it
    assert run(table, hub, channels=(), at=NOW + timedelta(hours=2)).asked == []


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param({"hub.verify_token": "guessed"}, id="another-token"),
        pytest.param({"hub.mode": "unsubscribe"}, id="another-mode"),
        pytest.param({"hub.topic": topic_of(OTHER)}, id="a-topic-we-never-asked-for"),
        pytest.param({"hub.topic": "https://evil.example/feed"}, id="any-url"),
        pytest.param({"key": ""}, id="no-callback-key"),
        pytest.param({"key": "0" * 32}, id="another-callback-key"),
        pytest.param({"key": "", "hub.verify_token": ""}, id="neither-key-nor-token"),
        pytest.param({"hub.topic": "https://[www.youtube.com/"}, id="a-topic-urlsplit-refuses"),
        pytest.param({"hub.topic": topic_of(CHANNEL) + "&pad=" + "x" * 3000}, id="a-topic-past-a-key"),
        pytest.param({"hub.topic": topic_of(CHANNEL) + "x" * 3000}, id="longer-than-a-key"),
    ],
)
def test_a_verification_that_matches_no_pending_request_is_404_and_echoes_nothing(aws, forged):
    handler, table, hub = aws
    run(table, hub)
    answer = verify(handler, hub.last(), **forged)
    assert answer["statusCode"] == 404 and "challenge-7" not in answer["body"]
    assert json.loads(answer["body"])["error"] == "not_found"
    assert stored(table).status is None  # the real request still waits for its hub
    assert verify(handler, hub.last())["statusCode"] == 200


def test_the_hub_may_verify_our_subscription_again_but_a_spent_or_expired_request_is_404(aws):
    handler, table, hub = aws
    run(table, hub)
    request = hub.last()
    assert verify(handler, request)["statusCode"] == 200
    # The hub verifying the subscription again (a 0.3 hub refreshing it, the spent token repeated) is ours
    assert verify(handler, request, **{"hub.lease_seconds": "400000"})["statusCode"] == 200
    assert stored(table).lease_seconds == 400000
    # … but an unsubscribe nobody asked for is not, even with the callback's key
    assert verify(handler, request, **{"hub.mode": "unsubscribe"})["statusCode"] == 404
    assert stored(table).status == "active"
    # A request the hub never verified in time
    run(table, hub, channels=(OTHER,), at=NOW - timedelta(days=2))
    late = [r for r in hub.requests if r.topic == topic_of(OTHER)][-1]
    assert verify(handler, late)["statusCode"] == 404


def test_a_hub_that_sends_no_token_is_confirmed_by_the_callbacks_key(aws):
    handler, table, hub = aws
    run(table, hub)
    assert verify(handler, hub.last(), **{"hub.verify_token": ""})["statusCode"] == 200
    assert stored(table).status == "active"


def test_a_denial_is_recorded_for_our_topic_only_and_the_next_run_asks_again(aws):
    handler, table, hub = aws
    run(table, hub)
    verify(handler, hub.last())
    key = callback_key(HUB_SECRET, topic_of(CHANNEL))
    denial = {"hub.mode": "denied", "hub.topic": topic_of(CHANNEL), "hub.reason": "x", "key": key}
    # A denial without the callback's key (anyone's) is 404 and changes nothing
    assert verify(handler, None, **{**denial, "key": ""})["statusCode"] == 404
    assert stored(table).status == "active"
    # A denial for a topic we never subscribed is 404
    other_key = callback_key(HUB_SECRET, topic_of(OTHER))
    assert (
        verify(handler, None, **{**denial, "hub.topic": topic_of(OTHER), "key": other_key})["statusCode"]
        == 404
    )
    # The hub revoking our subscription is acknowledged and recorded
    answer = verify(handler, None, **denial, **{"hub.challenge": "", "hub.lease_seconds": ""})
    assert (answer["statusCode"], answer["body"]) == (200, "")
    assert stored(table).status == "denied"
    # And the next run subscribes again
    assert run(table, hub, at=NOW + timedelta(hours=1)).asked == [("subscribe", CHANNEL)]


def test_a_refusing_hub_leaves_no_pending_request_and_the_next_run_asks_again(aws):
    _, table, hub = aws
    hub.status = 400
    outcome = run(table, hub)
    assert outcome.failed == [("subscribe", CHANNEL, 400)] and outcome.asked == []
    assert stored(table).pending_mode is None
    hub.status = 202
    assert run(table, hub, at=NOW + timedelta(minutes=1)).asked == [("subscribe", CHANNEL)]


def test_two_runs_at_once_ask_the_hub_once_and_an_unverified_request_is_made_again_after_an_hour(aws):
    _, table, hub = aws
    assert run(table, hub).asked == [("subscribe", CHANNEL)]
    assert run(table, hub).asked == []  # the request of the first run is pending
    assert len(hub.requests) == 1
    again = run(table, hub, at=NOW + RETRY_AFTER + timedelta(seconds=1))
    assert (
        again.asked == [("subscribe", CHANNEL)]
        and hub.requests[0].verify_token != hub.requests[1].verify_token
    )


def test_the_item_expires_thirty_days_after_its_lease(aws):
    handler, table, hub = aws
    run(table, hub)
    verify(handler, hub.last())
    import boto3

    item = boto3.client("dynamodb").get_item(
        TableName=table.table_name, Key={"topic": {"S": topic_of(CHANNEL)}}
    )
    expires = datetime.fromtimestamp(int(item["Item"]["expires_at"]["N"]), tz=UTC)
    lease = stored(table)
    assert lease.lease_until is not None
    assert abs(expires - lease.lease_until - timedelta(days=30)) < timedelta(seconds=1)


def test_the_scheduled_function_fails_when_the_hub_refuses_so_its_alarm_fires(aws, monkeypatch):
    from socialcrm.subscriptions import websub as websub_module

    _, _, hub = aws
    monkeypatch.setenv("YOUTUBE_CHANNELS", f"{CHANNEL}, {OTHER}")
    monkeypatch.setenv("WEBSUB_CALLBACK_URL", CALLBACK)
    import websub.handler as handler

    hub.status = 503
    monkeypatch.setattr(handler, "HttpHub", lambda url: hub)
    settings = WebSubSettings.from_env()
    assert websub_module.parse_channels(settings.youtube_channels) == (CHANNEL, OTHER)
    with pytest.raises(handler.HubRefusedError):
        handler.lambda_handler({}, LambdaContext())
    assert {request.topic for request in hub.requests} == {topic_of(CHANNEL), topic_of(OTHER)}


@pytest.mark.parametrize(
    ("lease", "recorded"),
    [("9" * 40, 10 * 24 * 3600), ("1", 300), ("99999999", 10 * 24 * 3600), ("-5", 10 * 24 * 3600)],
)
def test_a_lease_the_hub_states_is_kept_within_bounds(aws, lease, recorded):
    handler, table, hub = aws
    run(table, hub)
    assert verify(handler, hub.last(), **{"hub.lease_seconds": lease})["statusCode"] == 200
    assert stored(table).lease_seconds == recorded


def test_a_rotated_hub_secret_subscribes_again_at_the_next_run_with_the_new_key(aws):
    handler, table, hub = aws
    run(table, hub)
    assert verify(handler, hub.last())["statusCode"] == 200
    # When the hub secret is changed, the next hourly run asks again (with the new secret and callback key)
    outcome = renew(
        (CHANNEL,), store=table, hub=hub, callback=CALLBACK, secret="rotated", now=NOW + timedelta(hours=1)
    )
    assert outcome.asked == [("subscribe", CHANNEL)]
    assert hub.last().secret == "rotated" and key_of(hub.last()) == callback_key("rotated", topic_of(CHANNEL))
    # And the run after it leaves the subscription alone
    later = renew(
        (CHANNEL,), store=table, hub=hub, callback=CALLBACK, secret="rotated", now=NOW + timedelta(hours=3)
    )
    assert later.asked == [] and later.current == 1


def test_a_store_failure_part_way_through_a_run_fails_it_and_the_next_run_finishes_the_work(aws, monkeypatch):
    from socialcrm.privacy.dynamo import StoreFailure

    _, table, hub = aws
    real = table.request
    calls = {"n": 0}

    def second_fails(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise StoreFailure("subscriptions", "UpdateItem failed (InternalServerError)")
        return real(*args, **kwargs)

    # Given the store failing on the second of two channels
    monkeypatch.setattr(table, "request", second_fails)
    with pytest.raises(StoreFailure):
        run(table, hub, channels=(CHANNEL, OTHER))
    # Then the first channel's request was made once, and the second channel was never asked for
    assert [r.topic for r in hub.requests] == [topic_of(OTHER)]  # asked in topic order: UC0… first
    # When the next run finds the store back
    monkeypatch.setattr(table, "request", real)
    again = run(table, hub, channels=(CHANNEL, OTHER), at=NOW + timedelta(minutes=5))
    # Then it asks only for the channel left out, and the first waits for its hub
    assert again.asked == [("subscribe", CHANNEL)] and again.current == 1
    assert len(hub.requests) == 2
