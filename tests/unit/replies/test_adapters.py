"""The send adapters against the fake platform on loopback: each request as the platform documents it
(docs/webhook-protocols.md §13), the id parsed from its answer, and every error class."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from socialcrm.local.fake_platform import FakePlatform
from socialcrm.replies.adapters import (
    ADAPTERS,
    FacebookAdapter,
    GenericAdapter,
    LinkedInAdapter,
    TikTokAdapter,
    XAdapter,
    adapter_for,
)
from socialcrm.replies.outbound import (
    HttpRequest,
    HttpResponse,
    Outcome,
    Outgoing,
    Target,
    Template,
    TransportError,
)
from socialcrm.replies.transport import UrllibTransport
from socialcrm.secrets import SendSecrets

GENERIC_SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
REPLY_ID = "r_" + "0123456789abcdef" * 2
TEXT = "Thanks Dana, we're on it!"
CUSTOMER = "6543210987654321"
ORG = "urn:li:organization:96072893"
ACTIVITY = "urn:li:activity:7094637247890620418"
LI_COMMENT = f"urn:li:comment:({ACTIVITY},7094977717598625792)"
LI_PERSON = "urn:li:person:zLqTygBP8S"
# Everything an Outcome.message must never hold.
SECRETS_IN_PLAY = ("page-token", "ig-token", "wa-token", "x-token", "li-token", "tt-token")


class Echoes:
    def __init__(self) -> None:
        self.items: list[tuple[str, dict]] = []

    def __call__(self, platform: str, body: dict) -> None:
        self.items.append((platform, body))


@pytest.fixture(scope="module")
def echoes() -> Echoes:
    return Echoes()


@pytest.fixture(scope="module")
def fake(echoes: Echoes) -> Iterator[FakePlatform]:
    with FakePlatform(timeout_seconds=1.0, on_accept=echoes, generic_secret=GENERIC_SECRET) as platform:
        yield platform


@pytest.fixture(autouse=True)
def clean(fake: FakePlatform, echoes: Echoes) -> None:
    fake.reset()
    echoes.items.clear()


@pytest.fixture(scope="module")
def transport() -> Iterator[UrllibTransport]:
    t = UrllibTransport(connect_timeout=2.0, read_timeout=5.0)
    yield t
    t.close()


@pytest.fixture(scope="module")
def impatient() -> Iterator[UrllibTransport]:
    """A short read timeout, well below the fake's sleep (1 s) in its timeout faults."""
    t = UrllibTransport(connect_timeout=2.0, read_timeout=0.25)
    yield t
    t.close()


def secrets_for(fake: FakePlatform, **overrides) -> SendSecrets:
    document = {
        "base_urls": fake.base_urls(),
        "facebook": {"access_token": "page-token"},
        "whatsapp": {"access_token": "wa-token", "phone_number_id": "106540352242922"},
        "x": {"access_token": "x-token", "user_id": fake.x_user_id},
        "linkedin": {"access_token": "li-token", "organization_urn": ORG, "version": "202610"},
        "tiktok": {"access_token": "tt-token", "business_id": "biz-1", "region": "US"},
        "generic": {"url": fake.generic_url, "webhook_secret": GENERIC_SECRET},
        **overrides,
    }
    return SendSecrets.model_validate(document)


@pytest.fixture
def creds(fake: FakePlatform) -> SendSecrets:
    return secrets_for(fake)


def outgoing(visibility: str = "public", **kwargs) -> Outgoing:
    return Outgoing(reply_id=REPLY_ID, visibility=visibility, text=kwargs.pop("text", TEXT), **kwargs)  # type: ignore[arg-type]


def safe(outcome: Outcome, target: Target, text: str = TEXT) -> Outcome:
    """The outcome, once its message is checked to hold no text, id or token."""
    if outcome.message is not None:
        for secret in (text, target.user_id, target.native_id, REPLY_ID, *SECRETS_IN_PLAY):
            assert secret not in outcome.message, (secret, outcome.message)
    if outcome.kind != "sent":
        assert outcome.message and outcome.code
    return outcome


def send(platform: str, target: Target, out: Outgoing, creds: SendSecrets, transport) -> Outcome:
    adapter = adapter_for(platform)
    assert adapter is not None
    return safe(adapter.send(target, out, creds, transport), target, out.text)


def fb_comment(kind: str = "comment", parent: str | None = None) -> Target:
    return Target("facebook", kind, "1122334455_667788", CUSTOMER, thread_id="1122334455", parent_id=parent)


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- the registry -----------------------------------------------------------------------------------------


def test_one_adapter_per_answerable_platform_and_none_for_youtube():
    assert set(ADAPTERS) == {
        "facebook",
        "messenger",
        "instagram",
        "whatsapp",
        "x",
        "linkedin",
        "tiktok",
        "generic",
    }
    assert all(adapter.platform == name for name, adapter in ADAPTERS.items())
    assert adapter_for("youtube") is None


@pytest.mark.parametrize(
    ("platform", "kind", "visibility", "expected"),
    [
        ("facebook", "comment", "public", "read_back"),
        ("facebook", "comment", "private", "echo"),
        ("messenger", "direct_message", "private", "echo"),
        ("instagram", "direct_message", "private", "echo"),
        ("instagram", "comment", "private", "echo"),
        ("instagram", "comment", "public", "read_back"),
        ("whatsapp", "direct_message", "private", "echo"),
        ("x", "mention", "public", "read_back"),
        ("x", "direct_message", "private", "read_back"),
        ("linkedin", "comment", "public", "read_back"),
        ("tiktok", "direct_message", "private", "none"),
        ("generic", "review", "public", "resend"),
    ],
)
def test_reconcile_by(platform, kind, visibility, expected):
    target = Target(platform, kind, "1", CUSTOMER)
    assert ADAPTERS[platform].reconcile_by(target, outgoing(visibility)) == expected


# --- Facebook -------------------------------------------------------------------------------------------


def test_facebook_public_reply_goes_to_the_top_level_comment_and_is_read_back(fake, creds, transport):
    target = fb_comment("reply", parent="1122334455_111")
    outcome = send("facebook", target, outgoing(), creds, transport)
    [request] = fake.requests("facebook")
    assert (request.method, request.path) == ("POST", "/meta/1122334455_111/comments")
    assert request.body == {"message": TEXT}
    assert request.headers["authorization"] == "[redacted]"
    [kept] = fake.accepted("meta")
    assert outcome == Outcome("sent", message_id=kept.id)
    found = ADAPTERS["facebook"].read_back(target, outgoing(), creds, transport)
    assert (found.verdict, found.message_id) == ("found", kept.id)
    read = fake.requests("facebook")[-1]
    assert read.method == "GET" and read.query["order"] == "reverse_chronological"
    assert read.query["filter"] == "stream"


def test_facebook_private_reply_uses_the_comment_id_and_our_marker(fake, creds, transport, echoes):
    target = fb_comment()
    outcome = send("facebook", target, outgoing("private"), creds, transport)
    [request] = fake.requests("meta")
    assert request.path == "/meta/me/messages"
    assert request.body == {
        "recipient": {"comment_id": "1122334455_667788"},
        "message": {"text": TEXT, "metadata": REPLY_ID},
    }
    assert outcome.kind == "sent" and outcome.message_id.startswith("m_")
    [(platform, echo)] = echoes.items
    assert platform == "messenger" and echo["object"] == "page"
    message = echo["entry"][0]["messaging"][0]["message"]
    assert message == {"mid": outcome.message_id, "is_echo": True, "text": TEXT, "metadata": REPLY_ID}


def test_meta_window_closed_is_permanent_with_a_clear_message(fake, creds, transport):
    error = {
        "error": {
            "message": "(#10) outside window",
            "type": "OAuthException",
            "code": 10,
            "error_subcode": 2018278,
        }
    }
    fake.fail("messenger", "reject", status=400, body=error)
    target = Target("messenger", "direct_message", "m_abc", CUSTOMER)
    outcome = send("messenger", target, outgoing("private", messaging_type="RESPONSE"), creds, transport)
    assert outcome == Outcome(
        "permanent",
        code="10/2018278",
        message="The 24-hour window to answer this customer on Messenger has closed (Meta 10/2018278).",
    )
    assert fake.accepted() == []


@pytest.mark.parametrize(
    ("code", "subcode", "status", "kind"),
    [
        (4, None, 400, "retryable"),
        (613, None, 400, "retryable"),
        (80006, None, 400, "retryable"),
        (2, None, 503, "ambiguous"),
        (1, None, 500, "ambiguous"),
        (551, None, 400, "permanent"),
        (190, 463, 400, "permanent"),
        (200, None, 403, "permanent"),
        (100, None, 400, "permanent"),
        (368, None, 400, "permanent"),
    ],
)
def test_meta_errors_are_classified_by_their_code(fake, creds, transport, code, subcode, status, kind):
    error = {"code": code, "type": "OAuthException", "message": "x"}
    if subcode is not None:
        error["error_subcode"] = subcode
    fake.fail("meta", "reject", status=status, body={"error": error})
    target = Target("messenger", "direct_message", "m_abc", CUSTOMER)
    outcome = send("messenger", target, outgoing("private"), creds, transport)
    assert outcome.kind == kind
    assert outcome.code == (f"{code}/{subcode}" if subcode else str(code))


def test_meta_throttling_waits_for_the_business_use_case_estimate(fake, creds, transport):
    usage = {"1122": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 7}]}
    fake.fail(
        "meta",
        "reject",
        status=400,
        body={"error": {"code": 80001, "message": "rate"}},
        headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
    )
    target = Target("messenger", "direct_message", "m_abc", CUSTOMER)
    outcome = send("messenger", target, outgoing("private"), creds, transport)
    assert (outcome.kind, outcome.code, outcome.retry_after) == ("retryable", "80001", 420.0)


# --- Messenger and Instagram ------------------------------------------------------------------------------


def test_messenger_sends_the_tag_and_omits_a_messaging_type_of_none(fake, creds, transport):
    target = Target("messenger", "direct_message", "m_abc", CUSTOMER)
    tagged = outgoing("private", messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
    assert send("messenger", target, tagged, creds, transport).kind == "sent"
    assert send("messenger", target, outgoing("private", text="Second"), creds, transport).kind == "sent"
    first, second = (r.body for r in fake.requests("meta"))
    assert first == {
        "recipient": {"id": CUSTOMER},
        "messaging_type": "MESSAGE_TAG",
        "tag": "HUMAN_AGENT",
        "message": {"text": TEXT, "metadata": REPLY_ID},
    }
    assert second == {"recipient": {"id": CUSTOMER}, "message": {"text": "Second", "metadata": REPLY_ID}}


def test_instagram_login_sends_direct_messages_to_graph_instagram(fake, transport, echoes):
    creds = secrets_for(fake, instagram={"access_token": "ig-token"})
    target = Target("instagram", "direct_message", "aWdfZAG1", CUSTOMER)
    outcome = send("instagram", target, outgoing("private", messaging_type="RESPONSE"), creds, transport)
    [request] = fake.requests("instagram")
    assert request.path == "/instagram/me/messages"
    assert request.body["recipient"] == {"id": CUSTOMER} and request.body["messaging_type"] == "RESPONSE"
    assert outcome.kind == "sent"
    [(platform, echo)] = echoes.items
    assert platform == "instagram" and echo["object"] == "instagram"
    assert echo["entry"][0]["messaging"][0]["message"]["metadata"] == REPLY_ID


def test_instagram_private_reply_and_public_reply_with_the_page_token(fake, creds, transport):
    comment = Target("instagram", "reply", "1799", CUSTOMER, thread_id="media-1", parent_id="1788")
    private = send("instagram", comment, outgoing("private"), creds, transport)
    public = send("instagram", comment, outgoing("public"), creds, transport)
    first, second = fake.requests("meta")
    assert first.path == "/meta/me/messages"
    assert first.body == {
        "recipient": {"comment_id": "1799"},
        "message": {"text": TEXT, "metadata": REPLY_ID},
    }
    assert (second.path, second.body) == ("/meta/1788/replies", {"message": TEXT})
    assert private.kind == public.kind == "sent"
    found = ADAPTERS["instagram"].read_back(comment, outgoing("public"), creds, transport)
    assert found.verdict == "found" and found.message_id == public.message_id


# --- WhatsApp ---------------------------------------------------------------------------------------------


def test_whatsapp_text_carries_our_marker_and_its_status_echoes_it(fake, creds, transport, echoes):
    target = Target("whatsapp", "direct_message", "wamid.in", "16505551234")
    outcome = send("whatsapp", target, outgoing("private"), creds, transport)
    [request] = fake.requests("whatsapp")
    assert request.path == "/meta/106540352242922/messages"
    assert request.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+16505551234",
        "type": "text",
        "text": {"preview_url": False, "body": TEXT},
        "biz_opaque_callback_data": REPLY_ID,
    }
    assert outcome.kind == "sent" and outcome.message_id.startswith("wamid.")
    [(platform, echo)] = echoes.items
    value = echo["entry"][0]["changes"][0]["value"]
    [status] = value["statuses"]
    assert platform == "whatsapp" and value["metadata"]["phone_number_id"] == "106540352242922"
    assert (status["id"], status["status"], status["recipient_id"]) == (
        outcome.message_id,
        "sent",
        "16505551234",
    )
    assert status["biz_opaque_callback_data"] == REPLY_ID


def test_whatsapp_template_body_with_and_without_parameters(fake, creds, transport):
    target = Target("whatsapp", "direct_message", "wamid.in", "16505551234")
    with_params = Template("order_update", "en_US", ("Dana", "SKB-42"))
    send("whatsapp", target, outgoing("private", template=with_params), creds, transport)
    send("whatsapp", target, outgoing("private", template=Template("hello", "de")), creds, transport)
    first, second = (r.body for r in fake.requests("whatsapp"))
    assert first["type"] == "template" and "text" not in first
    assert first["template"] == {
        "name": "order_update",
        "language": {"code": "en_US"},
        "components": [
            {
                "type": "body",
                "parameters": [{"type": "text", "text": "Dana"}, {"type": "text", "text": "SKB-42"}],
            }
        ],
    }
    assert second["template"] == {"name": "hello", "language": {"code": "de"}}
    assert second["biz_opaque_callback_data"] == REPLY_ID


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (131047, "permanent"),
        (131026, "permanent"),
        (130429, "retryable"),
        (131056, "retryable"),
        (131000, "ambiguous"),
    ],
)
def test_whatsapp_error_codes(fake, creds, transport, code, kind):
    fake.fail("whatsapp", "reject", status=400, body={"error": {"code": code, "message": "x"}})
    target = Target("whatsapp", "direct_message", "wamid.in", "16505551234")
    outcome = send("whatsapp", target, outgoing("private"), creds, transport)
    assert (outcome.kind, outcome.code) == (kind, str(code))
    assert "WhatsApp" in outcome.message


# --- X ----------------------------------------------------------------------------------------------------


def test_x_reply_post_and_read_back(fake, creds, transport):
    target = Target("x", "mention", "1850000000000000000", CUSTOMER)
    outcome = send("x", target, outgoing(), creds, transport)
    [request] = fake.requests("x")
    assert request.path == "/x/2/tweets"
    assert request.body == {"text": TEXT, "reply": {"in_reply_to_tweet_id": "1850000000000000000"}}
    assert outcome.kind == "sent"
    found = ADAPTERS["x"].read_back(target, outgoing(), creds, transport)
    assert (found.verdict, found.message_id) == ("found", outcome.message_id)
    read = fake.requests("x")[-1]
    assert read.path == f"/x/2/users/{fake.x_user_id}/tweets"
    assert (
        read.query["since_id"] == "1850000000000000000" and "referenced_tweets" in read.query["tweet.fields"]
    )


def test_x_direct_message_and_read_back(fake, creds, transport):
    target = Target("x", "direct_message", "1850000000000000001", CUSTOMER)
    outcome = send("x", target, outgoing("private"), creds, transport)
    [request] = fake.requests("x")
    assert (request.path, request.body) == (f"/x/2/dm_conversations/with/{CUSTOMER}/messages", {"text": TEXT})
    assert outcome.kind == "sent"
    assert outcome.message_id == fake.accepted("x")[0].id
    found = ADAPTERS["x"].read_back(target, outgoing("private"), creds, transport)
    assert (found.verdict, found.message_id) == ("found", outcome.message_id)
    other = ADAPTERS["x"].read_back(target, outgoing("private", text="Something else"), creds, transport)
    assert other.verdict == "absent"


def test_x_duplicate_is_permanent(fake, creds, transport):
    target = Target("x", "mention", "1850000000000000000", CUSTOMER)
    assert send("x", target, outgoing(), creds, transport).kind == "sent"
    again = send("x", target, outgoing(), creds, transport)
    assert (again.kind, again.code) == ("permanent", "duplicate")
    assert "already posted the same text" in again.message


def test_x_rate_limit_waits_until_the_reset(fake, creds, transport):
    fake.fail("x", "429", retry_after=30)
    outcome = send("x", Target("x", "mention", "1850000000000000000", CUSTOMER), outgoing(), creds, transport)
    assert (outcome.kind, outcome.code) == ("retryable", "429")
    assert 28 <= outcome.retry_after <= 31


# --- LinkedIn ---------------------------------------------------------------------------------------------


def test_linkedin_reply_to_a_comment(fake, creds, transport):
    # As the inbound adapter stores it: native_id the notification id, parent_id the comment answered.
    target = Target("linkedin", "reply", "5603453321", LI_PERSON, thread_id=ACTIVITY, parent_id=LI_COMMENT)
    outcome = send("linkedin", target, outgoing(), creds, transport)
    [request] = fake.requests("linkedin")
    assert request.path == f"/linkedin/rest/socialActions/{quote(LI_COMMENT, safe='')}/comments"
    assert request.headers["linkedin-version"] == "202610"
    assert request.headers["x-restli-protocol-version"] == "2.0.0"
    assert request.body == {
        "actor": ORG,
        "object": ACTIVITY,
        "message": {"text": TEXT},
        "parentComment": LI_COMMENT,
    }
    [kept] = fake.accepted("linkedin")
    assert outcome == Outcome("sent", message_id=kept.id)
    found = ADAPTERS["linkedin"].read_back(target, outgoing(), creds, transport)
    assert (found.verdict, found.message_id) == ("found", kept.id)


def test_linkedin_without_a_comment_urn_comments_on_the_post(fake, creds, transport):
    target = Target("linkedin", "comment", "5603453321", LI_PERSON, thread_id=ACTIVITY)
    assert send("linkedin", target, outgoing(), creds, transport).kind == "sent"
    [request] = fake.requests("linkedin")
    assert request.path == f"/linkedin/rest/socialActions/{quote(ACTIVITY, safe='')}/comments"
    assert "parentComment" not in request.body
    missing = send(
        "linkedin", Target("linkedin", "comment", "5603453321", LI_PERSON), outgoing(), creds, transport
    )
    assert (missing.kind, missing.code) == ("permanent", "no_target")


def test_linkedin_id_from_the_header_alone(creds):
    def header_only(request: HttpRequest) -> HttpResponse:
        return HttpResponse(201, {"x-restli-id": "7100"}, b"")

    target = Target("linkedin", "comment", "5603453321", LI_PERSON, thread_id=ACTIVITY)
    outcome = LinkedInAdapter().send(target, outgoing(), creds, header_only)
    assert outcome == Outcome("sent", message_id=f"urn:li:comment:({ACTIVITY},7100)")


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, "permanent"), (403, "permanent"), (422, "permanent"), (429, "retryable"), (503, "ambiguous")],
)
def test_linkedin_errors(fake, creds, transport, status, kind):
    fake.fail(
        "linkedin",
        "reject",
        status=status,
        body={"message": "x", "serviceErrorCode": status, "status": status},
    )
    target = Target("linkedin", "comment", "5603453321", LI_PERSON, thread_id=ACTIVITY)
    assert send("linkedin", target, outgoing(), creds, transport).kind == kind


# --- TikTok -----------------------------------------------------------------------------------------------


def test_tiktok_sends_to_the_conversation(fake, creds, transport):
    target = Target("tiktok", "direct_message", "msg-1", "openid-1", thread_id="conv-9")
    outcome = send("tiktok", target, outgoing("private"), creds, transport)
    [request] = fake.requests("tiktok")
    assert request.path == "/tiktok/open_api/v1.3/business/message/send/"
    assert request.headers["access-token"] == "[redacted]"
    assert request.body == {
        "business_id": "biz-1",
        "recipient_type": "CONVERSATION",
        "recipient": "conv-9",
        "message_type": "TEXT",
        "text": {"body": TEXT},
    }
    assert outcome == Outcome("sent", message_id=fake.accepted("tiktok")[0].id)


@pytest.mark.parametrize(
    ("code", "kind"), [(40064, "retryable"), (40002, "permanent"), (40100, "retryable"), (50000, "ambiguous")]
)
def test_tiktok_an_http_200_with_a_code_is_an_error(fake, creds, transport, code, kind):
    fake.fail("tiktok", "reject", status=200, body={"code": code, "message": "no", "request_id": "1"})
    target = Target("tiktok", "direct_message", "msg-1", "openid-1", thread_id="conv-9")
    outcome = send("tiktok", target, outgoing("private"), creds, transport)
    assert (outcome.kind, outcome.code) == (kind, str(code))
    if code == 40064:
        assert 0 < outcome.retry_after <= 86400
    assert fake.accepted("tiktok") == []


def test_tiktok_needs_the_conversation(creds, transport):
    target = Target("tiktok", "direct_message", "msg-1", "openid-1")
    assert TikTokAdapter().send(target, outgoing("private"), creds, transport).code == "no_target"


# --- Generic ----------------------------------------------------------------------------------------------


def test_generic_delivery_is_signed_and_keeps_its_webhook_id(fake, creds, transport):
    target = Target("generic", "review", "rev-1", "cust-1", thread_id="t-1")
    first = send("generic", target, outgoing(), creds, transport)
    second = send("generic", target, outgoing(), creds, transport)
    assert first == second == Outcome("sent", message_id=f"msg_{REPLY_ID}")
    one, two = fake.requests("generic")
    assert one.headers["webhook-id"] == two.headers["webhook-id"] == f"msg_{REPLY_ID}"
    payload = Webhook(GENERIC_SECRET).verify(one.raw, one.headers)
    assert payload["type"] == "brand_reply.created" and payload["timestamp"].endswith("Z")
    assert payload["data"] == {
        "reply_id": REPLY_ID,
        "in_reply_to": "rev-1",
        "customer_id": "cust-1",
        "text": TEXT,
        "thread_id": "t-1",
    }
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"another key, 32 bytes long......").decode()).verify(
            one.raw, one.headers
        )
    assert (
        len(fake.accepted("generic")) == 2
    )  # the fake receiver stores both: deduplicating is the receiver's


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (410, "permanent"),
        (429, "retryable"),
        (503, "retryable"),
        (500, "ambiguous"),
        (400, "permanent"),
        (302, "permanent"),
    ],
)
def test_generic_answers(fake, creds, transport, status, kind):
    fake.fail(
        "generic", "reject", status=status, headers={"Retry-After": "12", "Location": "http://127.0.0.1:1/"}
    )
    outcome = send("generic", Target("generic", "review", "rev-1", "cust-1"), outgoing(), creds, transport)
    assert (outcome.kind, outcome.code) == (kind, str(status))
    if kind == "retryable":
        assert outcome.retry_after == 12.0


# --- error classes, every platform ------------------------------------------------------------------------

CASES = [
    ("facebook", fb_comment(), "public", "meta"),
    ("messenger", Target("messenger", "direct_message", "m_1", CUSTOMER), "private", "meta"),
    ("instagram", Target("instagram", "comment", "1799", CUSTOMER), "public", "meta"),
    ("whatsapp", Target("whatsapp", "direct_message", "wamid.1", "16505551234"), "private", "whatsapp"),
    ("x", Target("x", "mention", "1850000000000000000", CUSTOMER), "public", "x"),
    (
        "linkedin",
        Target("linkedin", "reply", "5603453321", LI_PERSON, thread_id=ACTIVITY, parent_id=LI_COMMENT),
        "public",
        "linkedin",
    ),
    (
        "tiktok",
        Target("tiktok", "direct_message", "tt-msg-77", "openid-cust-1", thread_id="conv-9"),
        "private",
        "tiktok",
    ),
    ("generic", Target("generic", "review", "rev-1", "cust-1"), "public", "generic"),
]
IDS = [case[0] for case in CASES]


@pytest.mark.parametrize(("platform", "target", "visibility", "fake_name"), CASES, ids=IDS)
def test_429_is_retryable_after_the_platforms_wait(
    fake, creds, transport, platform, target, visibility, fake_name
):
    fake.fail(fake_name, "429", retry_after=17)
    outcome = send(platform, target, outgoing(visibility), creds, transport)
    assert outcome.kind == "retryable"
    assert 15 <= outcome.retry_after <= 18
    assert fake.accepted() == []


@pytest.mark.parametrize(("platform", "target", "visibility", "fake_name"), CASES, ids=IDS)
def test_500_is_ambiguous(fake, creds, transport, platform, target, visibility, fake_name):
    fake.fail(fake_name, "500")
    outcome = send(platform, target, outgoing(visibility), creds, transport)
    assert outcome.kind == "ambiguous"


@pytest.mark.parametrize(("platform", "target", "visibility", "fake_name"), CASES, ids=IDS)
def test_connection_refused_is_retryable(fake, platform, target, visibility, fake_name):
    closed = closed_port_url()
    creds = secrets_for(
        fake,
        base_urls={name: f"{closed}/{name}" for name in ("meta", "instagram", "x", "linkedin", "tiktok")},
        generic={"url": f"{closed}/generic/replies", "webhook_secret": GENERIC_SECRET},
    )
    outcome = send(
        platform, target, outgoing(visibility), creds, UrllibTransport(connect_timeout=2, read_timeout=5)
    )
    assert (outcome.kind, outcome.code) == ("retryable", "unreachable")


READ_BACK_CASES = [case for case in CASES if case[0] in ("facebook", "instagram", "x", "linkedin")] + [
    ("x", Target("x", "direct_message", "1850000000000000001", CUSTOMER), "private", "x")
]


@pytest.mark.parametrize(
    ("platform", "target", "visibility", "fake_name"),
    READ_BACK_CASES,
    ids=[*IDS[:1], "instagram", "x", "linkedin", "x-dm"],
)
def test_accepted_then_timed_out_is_ambiguous_and_read_back_finds_it(
    fake, creds, transport, impatient, platform, target, visibility, fake_name
):
    fake.fail(fake_name, "accept_then_timeout")
    out = outgoing(visibility)
    outcome = send(platform, target, out, creds, impatient)
    assert (outcome.kind, outcome.code) == ("ambiguous", "timeout")
    [kept] = fake.accepted()
    assert ADAPTERS[platform].read_back(target, out, creds, transport).message_id == kept.id


@pytest.mark.parametrize(
    ("platform", "target", "visibility", "fake_name"),
    READ_BACK_CASES,
    ids=[*IDS[:1], "instagram", "x", "linkedin", "x-dm"],
)
def test_timed_out_without_accepting_is_ambiguous_and_read_back_says_absent(
    fake, creds, transport, impatient, platform, target, visibility, fake_name
):
    fake.fail(fake_name, "timeout")
    out = outgoing(visibility)
    assert send(platform, target, out, creds, impatient).kind == "ambiguous"
    assert fake.accepted() == []
    assert ADAPTERS[platform].read_back(target, out, creds, transport).verdict == "absent"


def test_accepted_then_500_is_ambiguous(fake, creds, transport, echoes):
    fake.fail("messenger", "accept_then_500")
    target = Target("messenger", "direct_message", "m_1", CUSTOMER)
    assert send("messenger", target, outgoing("private"), creds, transport).kind == "ambiguous"
    assert len(fake.accepted("meta")) == 1 and len(echoes.items) == 1  # the echo settles it


def test_a_failed_read_back_cannot_tell(fake, creds, transport):
    target = Target("x", "mention", "1850000000000000000", CUSTOMER)
    fake.fail("x", "500", method="GET")
    assert ADAPTERS["x"].read_back(target, outgoing(), creds, transport).verdict == "cannot_tell"

    def broken(request: HttpRequest) -> HttpResponse:
        raise TransportError("reset", sent=True)

    for platform, case_target, visibility, _ in READ_BACK_CASES:
        assert (
            ADAPTERS[platform].read_back(case_target, outgoing(visibility), creds, broken).verdict
            == "cannot_tell"
        )


def test_a_2xx_without_the_id_is_ambiguous(creds):
    def empty(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, {}, b"{}")

    for platform, target, visibility, _ in CASES:
        if platform == "generic":
            continue
        outcome = safe(ADAPTERS[platform].send(target, outgoing(visibility), creds, empty), target)
        assert (platform, outcome.kind) == (platform, "ambiguous")


def test_a_platform_without_credentials_is_permanent(transport):
    bare = SendSecrets()
    for platform, target, visibility, _ in CASES:
        outcome = ADAPTERS[platform].send(target, outgoing(visibility), bare, transport)
        assert (outcome.kind, outcome.code) == ("permanent", "not_configured")


def test_read_back_matches_text_as_the_platform_returns_it(creds):
    target = Target("x", "mention", "1850000000000000000", CUSTOMER)
    out = outgoing(text="Fish & chips: https://example.com/menu")
    body = {
        "data": [
            {
                "id": "9",
                "text": "Fish &amp; chips: https://t.co/abc",
                "referenced_tweets": [{"type": "replied_to", "id": "1850000000000000000"}],
            }
        ],
        "meta": {"result_count": 1},
    }

    def timeline(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, {}, json.dumps(body).encode())

    assert XAdapter().read_back(target, out, creds, timeline).message_id == "9"


def test_facebook_read_back_ignores_the_customers_own_comment_and_cannot_tell_past_one_page(creds):
    target = fb_comment()
    page = {
        "data": [{"id": "c1", "message": TEXT, "from": {"id": CUSTOMER}}],
        "paging": {"next": "https://next"},
    }

    def answer(request: HttpRequest) -> HttpResponse:
        return HttpResponse(200, {}, json.dumps(page).encode())

    assert FacebookAdapter().read_back(target, outgoing(), creds, answer).verdict == "cannot_tell"
    page.pop("paging")
    assert FacebookAdapter().read_back(target, outgoing(), creds, answer).verdict == "absent"


def test_generic_signature_timestamp_comes_from_the_clock(creds):
    seen: list[HttpRequest] = []

    def capture(request: HttpRequest) -> HttpResponse:
        seen.append(request)
        return HttpResponse(204, {}, b"")

    adapter = GenericAdapter(clock=lambda: 1_700_000_000.5)
    adapter.send(Target("generic", "review", "rev-1", "cust-1"), outgoing(), creds, capture)
    [request] = seen
    assert request.headers["webhook-timestamp"] == "1700000000"
    assert json.loads(request.body)["timestamp"] == "2023-11-14T22:13:20.500000Z"


# --- the transport --------------------------------------------------------------------------------------


def test_transport_refused_connection_was_not_sent():
    with pytest.raises(TransportError) as raised:
        UrllibTransport(connect_timeout=2, read_timeout=5)(
            HttpRequest("POST", f"{closed_port_url()}/x", {}, b"{}")
        )
    assert raised.value.sent is False


def test_transport_failed_tls_handshake_was_not_sent(fake):
    https = fake.url.replace("http://", "https://")
    with pytest.raises(TransportError) as raised:
        UrllibTransport(connect_timeout=2, read_timeout=2)(
            HttpRequest("POST", f"{https}/meta/me/messages", {}, b"{}")
        )
    assert raised.value.sent is False
    assert fake.requests() == []


def test_transport_read_timeout_may_have_been_sent(fake, impatient):
    fake.fail("tiktok", "timeout")
    with pytest.raises(TransportError) as raised:
        impatient(HttpRequest("POST", f"{fake.url}/tiktok/open_api/v1.3/business/message/send/", {}, b"{}"))
    assert raised.value.sent is True
    assert "tiktok" not in str(raised.value)  # the message names no URL


def test_transport_lowercases_headers_and_follows_no_redirect(fake, transport):
    fake.fail(
        "generic", "reject", status=307, headers={"Location": f"{fake.url}/x/2/tweets", "X-Custom": "1"}
    )
    response = transport(HttpRequest("POST", fake.generic_url, {"Content-Type": "application/json"}, b"{}"))
    assert response.status == 307
    assert response.headers["x-custom"] == "1" and response.headers["location"].endswith("/x/2/tweets")
    assert [r.platform for r in fake.requests()] == ["generic"]
