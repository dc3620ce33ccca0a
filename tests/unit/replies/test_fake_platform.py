"""The fake platform: what it records, what it keeps for read-backs, its faults (in code and over HTTP),
X's duplicate refusal (and no other deduplication), thread safety and a prompt stop."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest

from socialcrm.local.fake_platform import FakeError, FakePlatform
from socialcrm.replies.outbound import HttpRequest, HttpResponse, TransportError
from socialcrm.replies.transport import UrllibTransport

TWEETS = "/x/2/tweets"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatform]:
    with FakePlatform(timeout_seconds=1.0, x_tokens={"other-token": "42"}) as platform:
        yield platform


@pytest.fixture(autouse=True)
def clean(fake: FakePlatform) -> None:
    fake.reset()
    fake.on_accept = None


@pytest.fixture(scope="module")
def http() -> Iterator[UrllibTransport]:
    t = UrllibTransport(connect_timeout=2.0, read_timeout=5.0)
    yield t
    t.close()


def call(
    http, fake, method: str, path: str, body=None, token: str = "tok", **headers
) -> tuple[int, dict, dict]:
    data = None if body is None else json.dumps(body).encode()
    sent = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers}
    response: HttpResponse = http(HttpRequest(method, fake.url + path, sent, data))
    return response.status, (json.loads(response.body) if response.body else {}), dict(response.headers)


def test_requests_are_recorded_without_credentials(fake, http):
    call(http, fake, "POST", "/meta/me/messages?x=1", {"recipient": {"id": "7"}, "message": {"text": "hi"}})
    call(
        http,
        fake,
        "POST",
        "/tiktok/open_api/v1.3/business/message/send/",
        {},
        **{"Access-Token": "secret-tt"},
    )
    meta, tiktok = fake.requests()
    assert (meta.platform, meta.method, meta.path, meta.query) == (
        "meta",
        "POST",
        "/meta/me/messages",
        {"x": "1"},
    )
    assert meta.headers["authorization"] == "[redacted]" and meta.body["message"] == {"text": "hi"}
    assert tiktok.headers["access-token"] == "[redacted]"
    recorded = json.dumps([r.to_json() for r in fake.requests()])
    assert "secret-tt" not in recorded and "Bearer tok" not in recorded
    assert fake.requests("messenger") == fake.requests("meta") == [meta]  # an alias of the Graph API
    assert meta.time <= time.time()


def test_whatsapp_calls_are_their_own_platform(fake, http):
    body = {"messaging_product": "whatsapp", "to": "+491701234567", "type": "text", "text": {"body": "Hallo"}}
    status, answer, _ = call(http, fake, "POST", "/meta/106540352242922/messages", body)
    assert status == 200 and answer["contacts"] == [{"input": "+491701234567", "wa_id": "491701234567"}]
    assert answer["messages"][0]["id"].startswith("wamid.")
    assert [r.platform for r in fake.requests()] == ["whatsapp"]


def test_x_refuses_a_duplicate_from_the_same_author_only(fake, http):
    post = {"text": "Same words"}
    assert call(http, fake, "POST", TWEETS, post)[0] == 201
    status, answer, _ = call(http, fake, "POST", TWEETS, post)
    assert status == 403 and "duplicate content" in answer["detail"]
    assert call(http, fake, "POST", TWEETS, post, token="other-token")[0] == 201  # another author
    assert len(fake.accepted("x")) == 2


def test_nothing_else_is_deduplicated(fake, http):
    twice = [
        ("/x/2/dm_conversations/with/99/messages", {"text": "Same"}),
        ("/meta/me/messages", {"recipient": {"id": "7"}, "message": {"text": "Same", "metadata": "r_1"}}),
        ("/meta/1_2/comments", {"message": "Same"}),
        ("/instagram/17/replies", {"message": "Same"}),
        (
            "/meta/5/messages",
            {"messaging_product": "whatsapp", "to": "+1", "type": "text", "text": {"body": "Same"}},
        ),
        ("/tiktok/open_api/v1.3/business/message/send/", None),
    ]
    tiktok = {
        "business_id": "b",
        "recipient_type": "CONVERSATION",
        "recipient": "c",
        "message_type": "TEXT",
        "text": {"body": "Same"},
    }
    for path, body in twice:
        for _ in range(2):
            status, answer, _ = call(http, fake, "POST", path, body or tiktok, **{"Access-Token": "t"})
            assert status in (200, 201) and answer.get("code", 0) == 0, path
    li = {"actor": "urn:li:organization:1", "object": "urn:li:activity:1", "message": {"text": "Same"}}
    headers = {"LinkedIn-Version": "202610", "X-Restli-Protocol-Version": "2.0.0"}
    for _ in range(2):
        assert (
            call(
                http,
                fake,
                "POST",
                "/linkedin/rest/socialActions/urn%3Ali%3Aactivity%3A1/comments",
                li,
                **headers,
            )[0]
            == 201
        )
    for _ in range(2):
        assert (
            call(
                http, fake, "POST", "/generic/replies", {"data": {"text": "Same"}}, **{"webhook-id": "msg_1"}
            )[0]
            == 200
        )
    assert len(fake.accepted()) == 2 * (len(twice) + 2)
    assert len({a.id for a in fake.accepted() if a.platform != "generic"}) == 2 * (len(twice) + 1)


def test_faults_count_down_and_apply_to_their_method(fake, http):
    fake.fail("x", "500", times=2)
    fake.fail("x", "429", method="GET", retry_after=3)
    assert call(http, fake, "POST", TWEETS, {"text": "a"})[0] == 500
    status, _, headers = call(http, fake, "GET", "/x/2/users/1/tweets")
    assert status == 429 and int(headers["x-rate-limit-reset"]) >= time.time() + 1
    assert call(http, fake, "POST", TWEETS, {"text": "a"})[0] == 500
    assert call(http, fake, "POST", TWEETS, {"text": "a"})[0] == 201
    assert call(http, fake, "GET", "/x/2/users/1/tweets")[0] == 200
    assert [a.text for a in fake.accepted()] == ["a"]


def test_429_carries_retry_after_and_the_platforms_throttling_body(fake, http):
    fake.fail("instagram", "429", retry_after=9)
    status, answer, headers = call(http, fake, "POST", "/instagram/me/messages", {"recipient": {"id": "1"}})
    assert (status, headers["retry-after"], answer["error"]["code"]) == (429, "9", 4)


def test_faults_over_http(fake, http):
    spec = {"platform": "linkedin", "mode": "reject", "status": 403, "body": {"message": "no"}, "times": 1}
    assert call(http, fake, "POST", "/_fake/faults", spec)[0] == 200
    status, answer, _ = call(
        http, fake, "POST", "/linkedin/rest/socialActions/urn%3Ali%3Ashare%3A1/comments", {}
    )
    assert (status, answer) == (403, {"message": "no"})
    listed = call(http, fake, "GET", "/_fake/requests?platform=linkedin")[1]["requests"]
    assert [r["path"] for r in listed] == ["/linkedin/rest/socialActions/urn%3Ali%3Ashare%3A1/comments"]
    assert listed[0]["headers"]["authorization"] == "[redacted]"
    assert call(http, fake, "POST", "/_fake/faults", {"platform": "nowhere", "mode": "500"})[0] == 400
    assert call(http, fake, "POST", "/_fake/faults", {"platform": "x", "mode": "explode"})[0] == 400
    assert call(http, fake, "POST", "/_fake/faults", {"platform": "x", "mode": "500", "times": 0})[0] == 400
    assert call(http, fake, "POST", "/_fake/reset")[0] == 200
    assert call(http, fake, "GET", "/_fake/requests")[1] == {"requests": []}


def test_fail_checks_its_arguments(fake):
    with pytest.raises(FakeError):
        fake.fail("youtube", "500")
    with pytest.raises(FakeError):
        fake.fail("x", "slow")
    with pytest.raises(FakeError):
        fake.fail("x", "429", retry_after=-1)


def test_accept_then_500_keeps_the_message(fake, http):
    fake.fail("meta", "accept_then_500")
    status, _, _ = call(http, fake, "POST", "/meta/1_2/comments", {"message": "kept"})
    assert status == 500
    assert [a.text for a in fake.accepted()] == ["kept"]
    assert call(http, fake, "GET", "/meta/1_2/comments")[1]["data"][0]["message"] == "kept"


def test_timeline_honours_since_id_and_pages(fake, http):
    ids = [call(http, fake, "POST", TWEETS, {"text": f"post {n}"})[1]["data"]["id"] for n in range(7)]
    assert ids == sorted(ids, key=int)
    page = call(http, fake, "GET", f"/x/2/users/{fake.x_user_id}/tweets?max_results=5&since_id={ids[0]}")[1]
    assert [p["id"] for p in page["data"]] == ids[:0:-1][:5] and page["meta"]["next_token"]
    assert call(http, fake, "GET", "/x/2/users/42/tweets")[1] == {"meta": {"result_count": 0}}


def test_on_accept_errors_are_kept_and_the_request_still_answered(fake, http):
    def broken(platform, body):
        raise RuntimeError("boom")

    fake.on_accept = broken
    status, _, _ = call(
        http, fake, "POST", "/meta/me/messages", {"recipient": {"id": "7"}, "message": {"text": "hi"}}
    )
    assert status == 200
    assert [str(e) for e in fake.callback_errors] == ["boom"]


def test_unknown_routes(fake, http):
    assert call(http, fake, "GET", "/nowhere")[0] == 404
    status, answer, _ = call(http, fake, "POST", "/meta/1/likes", {})
    assert (status, answer["error"]["code"]) == (400, 100)
    assert (
        call(http, fake, "POST", "/linkedin/rest/socialActions/urn%3Ali%3Ashare%3A1/comments", {})[0] == 400
    )


def test_generic_receiver_checks_signatures_when_it_has_the_secret(http):
    with FakePlatform(generic_secret="whsec_" + "A" * 32) as fake:
        status, _, _ = call(http, fake, "POST", "/generic/replies", {"data": {}}, **{"webhook-id": "msg_1"})
        assert status == 401 and fake.accepted() == []


def test_concurrent_sends_are_all_kept_and_a_concurrent_duplicate_is_refused_once(fake):
    transport = UrllibTransport(connect_timeout=2.0, read_timeout=5.0)
    statuses: list[int] = []
    lock = threading.Lock()

    def send(path: str, body: dict) -> None:
        status = call(transport, fake, "POST", path, body)[0]
        with lock:
            statuses.append(status)

    threads = [
        threading.Thread(
            target=send, args=("/meta/me/messages", {"recipient": {"id": "7"}, "message": {"text": f"m{n}"}})
        )
        for n in range(16)
    ] + [threading.Thread(target=send, args=(TWEETS, {"text": "one and the same"})) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses).count(200) == 16
    assert statuses.count(201) == 1 and statuses.count(403) == 7
    assert len({a.id for a in fake.accepted()}) == 17


def test_stop_wakes_a_sleeping_handler_and_the_fake_can_restart():
    fake = FakePlatform(timeout_seconds=30.0)
    with pytest.raises(RuntimeError):
        _ = fake.url
    fake.start()
    assert fake.start() is fake
    fake.fail("tiktok", "timeout")
    with pytest.raises(TransportError):
        UrllibTransport(connect_timeout=2, read_timeout=0.2)(
            HttpRequest("POST", f"{fake.url}/tiktok/open_api/v1.3/business/message/send/", {}, b"{}")
        )
    began = time.monotonic()
    fake.stop()
    assert time.monotonic() - began < 2.0
    fake.stop()  # twice is harmless
    with fake:
        assert call(UrllibTransport(), fake, "GET", "/_fake/requests")[0] == 200
