"""Reply figures: platform calls per reply under faults, and how soon an automatic reply goes out.

* ``platform_calls_per_reply``: replies on every platform socialcrm answers (Messenger, WhatsApp, Facebook
  comments publicly, Instagram DMs, X posts and DMs, LinkedIn comments, TikTok DMs, generic), recorded
  through the reply service and sent by the send function's code (``socialcrm.replies.sender.deliver``)
  against the fake platform on loopback, with moto as AWS. Every queued message is delivered 3 times (SQS
  at least once); 30% of replies meet 429 or 500 answers first (refused before accepting), 10% an
  "accepted, then timed out" answer. The platforms echo what they accept where they do (Messenger,
  Instagram, WhatsApp: the echo reaches the route consumer's ``confirm_echo``). The figure is accepted
  platform calls per reply on the platforms that can reconcile (goal 1.00), with replies lost (not sent
  and not failed or unknown) and duplicated (accepted twice), and the replies left ``unknown`` per
  platform (those that can tell nothing: TikTok).
* ``auto_reply_ms_p50``: the local stack, a Messenger question that a rule answers automatically: from
  the webhook's 200 to the fake platform receiving the answer; the median of ``samples``. The inbound
  queue's batching window (5 s, as in AWS) is part of it and reported on its own.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
for _name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    os.environ.setdefault(_name, "bench")

SEED = 20261125
REPLIES_PER_CHANNEL = 30
DELIVERIES_PER_MESSAGE = 3
REFUSED_FIRST = 0.3  # 429 or 500 before accepting
ACCEPTED_THEN_TIMEOUT = 0.1
SAMPLES = 5
PEPPER = "bench-pepper-0123456789abcdef"

# channel: (platform, kind, visibility, fake platform name)
CHANNELS = {
    "messenger": ("messenger", "direct_message", "private", "meta"),
    "whatsapp": ("whatsapp", "direct_message", "private", "whatsapp"),
    "facebook-comment": ("facebook", "comment", "public", "meta"),
    "instagram-dm": ("instagram", "direct_message", "private", "meta"),
    "x-post": ("x", "mention", "public", "x"),
    "x-dm": ("x", "direct_message", "private", "x"),
    "linkedin-comment": ("linkedin", "comment", "public", "linkedin"),
    "tiktok-dm": ("tiktok", "direct_message", "private", "tiktok"),
    "generic": ("generic", "review", "public", "generic"),
}


class Queue:
    """The outbound queue as SQS is: each message delivered ``DELIVERIES_PER_MESSAGE`` times, when due."""

    def __init__(self) -> None:
        self.messages: list[tuple[datetime, int]] = []
        self.now = datetime.now(tz=UTC)

    def enqueue(self, reply_id: str, *, version: int, delay_seconds: int = 0) -> None:
        self.messages.append((self.now + timedelta(seconds=delay_seconds), version))


def _interaction(channel: str, n: int, now: datetime) -> Any:
    from socialcrm.local import deliveries as d
    from socialcrm.models import Author, Interaction, conversation_ref, interaction_ref, subject_id

    platform, kind, _, _ = CHANNELS[channel]
    user = f"{3000 + n}"
    native, thread, parent = f"{channel}-{n}", None, None
    if platform == "whatsapp":
        user = f"91987654{n:04d}"
        native = f"wamid.bench{n}"
    if platform == "facebook":
        native = f"{d.FACEBOOK_PAGE}_{9000 + n}_{n}"
    if platform == "x":
        native = str(1861000000000000000 + n)
    if platform == "linkedin":
        native = f"urn:li:comment:({d.LINKEDIN_ACTIVITY},{7000 + n})"
        thread = d.LINKEDIN_ACTIVITY
    if platform == "tiktok":
        thread = f"conv-{n}"
    interaction_id = f"{platform}:{native}"
    return Interaction(
        interaction_id=interaction_id,
        interaction_ref=interaction_ref(PEPPER, interaction_id),
        subject_id=subject_id(PEPPER, platform, user),
        platform=platform,  # type: ignore[arg-type]  # one of CHANNELS' platforms
        kind=kind,  # type: ignore[arg-type]
        native_id=native,
        thread_id=thread,
        parent_id=parent,
        author=Author(user_id=user, handle=f"customer{n}"),
        text=f"Question {n}: where is my order?",
        occurred_at=now - timedelta(minutes=5),
        received_at=now - timedelta(minutes=5),
        conversation_ref=conversation_ref(PEPPER, platform, f"{channel}:{n}"),
    )


def measure_platform_calls() -> dict[str, Any]:
    from moto import mock_aws

    from socialcrm.dal import models as interaction_models
    from socialcrm.dal.repository import InteractionRepository
    from socialcrm.local.resources import create_resources
    from socialcrm.local.stack import dev_platform, dev_send_secrets
    from socialcrm.models import BRAND_REPLY, Author, interaction_ref
    from socialcrm.replies import sender
    from socialcrm.replies.runtime import build_send_runtime
    from socialcrm.replies.service import ReplyPorts, ReplyRequest, request_reply
    from socialcrm.replies.store import ReplyRepository
    from socialcrm.routing import store as routing_models
    from socialcrm.routing.case import conversation_of
    from socialcrm.routing.conversation import open_case
    from socialcrm.routing.evaluator import Decision
    from socialcrm.routing.store import CaseRepository
    from socialcrm.settings import SendSettings

    rng = random.Random(SEED)
    echoes: list[tuple[str, dict[str, Any]]] = []
    with mock_aws(), tempfile.TemporaryDirectory() as folder:
        resources = create_resources()
        for name, value in resources.environment.items():
            os.environ[name] = value
        fake = dev_platform(port=0, timeout_seconds=0.6, on_accept=lambda p, body: echoes.append((p, body)))
        fake.start()
        try:
            document = json.loads((ROOT / "config" / "dev-secrets.json").read_text())
            document["subject_pepper"] = PEPPER
            document["send"] = dev_send_secrets(fake.url)
            secrets_file = Path(folder) / "secrets.json"
            secrets_file.write_text(json.dumps(document))
            os.environ["SOCIALCRM_SECRETS_FILE"] = str(secrets_file)
            os.environ["SEND_READ_TIMEOUT_SECONDS"] = "0.3"
            interaction_models.bind(
                {"interactions": resources.environment["INTERACTIONS_TABLE"]}, region="eu-west-1"
            )
            routing_models.bind(
                {
                    "cases": resources.environment["CASES_TABLE"],
                    "counters": resources.environment["COUNTERS_TABLE"],
                },
                region="eu-west-1",
            )
            queue = Queue()
            ports = build_send_runtime(SendSettings.from_env())
            ports = dataclasses.replace(ports, outbound=queue, breaker=sender.Breaker(threshold=10**6))
            replies = ReplyRepository()
            api = ReplyPorts(
                cases=ports.cases,
                replies=replies,
                interactions=ports.interactions,
                suppressions=ports.suppressions,
                secrets=ports.secrets,
                rules=ports.rules,
                outbound=queue,
            )
            sent_ports = sender.SentPorts(
                replies=replies,
                cases=ports.cases,
                rules=ports.rules,
                scheduler=ports.scheduler,
                publisher=ports.publisher,
                echoes=ports.echoes,
            )
            # The platforms that echo have echoed our replies before (their apps are subscribed).
            for platform in ("messenger", "instagram", "whatsapp"):
                ports.echoes.echo_seen(platform, queue.now - timedelta(days=1))
            levels = ports.rules().document
            decision = Decision(
                teams=("support",), priority="P3", tags=(), rules=(), notify=(), sla_minutes=240, topics=()
            )
            channel_of: dict[str, str] = {}
            texts: dict[str, str] = {}
            faults: Counter[str] = Counter()
            accepted: Counter[str] = Counter()
            for channel in CHANNELS:
                for n in range(REPLIES_PER_CHANNEL):
                    item = _interaction(channel, n, queue.now)
                    InteractionRepository().store_new(item, enriched_at=queue.now)
                    case = open_case(
                        item,
                        decision,
                        levels,
                        conversation_ref=conversation_of(item),
                        sequence=1,
                        now=queue.now,
                    )
                    assert CaseRepository().open(case)
                    text = f"Thanks for writing, we are on it ({channel} {n})."
                    visibility = CHANNELS[channel][2]
                    reply, _ = request_reply(
                        case.case_id,
                        ReplyRequest(text=text, visibility=visibility),  # type: ignore[arg-type]
                        idempotency_key=f"bench-{channel}-{n}",
                        requested_by="bench",
                        ports=api,
                        now=queue.now,
                    )
                    channel_of[reply.reply_id] = channel
                    texts[reply.reply_id] = text
            # Deliver: each due message three times, the echoes through confirm_echo, time moving on.
            order = list(channel_of)
            rng.shuffle(order)
            for reply_id in order:
                channel = channel_of[reply_id]
                fake_name = CHANNELS[channel][3]
                roll = rng.random()
                if roll < REFUSED_FIRST:
                    fake.fail(fake_name, rng.choice(["429", "500"]), times=rng.randint(1, 2), retry_after=5)
                    faults["refused"] += 1
                elif roll < REFUSED_FIRST + ACCEPTED_THEN_TIMEOUT:
                    fake.fail(fake_name, "accept_then_timeout", times=1)
                    faults["accepted_then_timeout"] += 1
                queued = replies.get(reply_id)
                assert queued is not None
                pending = [(queue.now, queued.version)]
                queue.messages = []
                rounds = 0
                while pending and rounds < 500:
                    rounds += 1
                    due, version = min(pending)
                    pending.remove((due, version))
                    queue.now = max(queue.now, due)
                    for _ in range(DELIVERIES_PER_MESSAGE):
                        sender.deliver(reply_id, ports=ports, now=queue.now, version=version)
                        _echo_back(
                            echoes, sent_ports, PEPPER, BRAND_REPLY, Author, interaction_ref, queue.now
                        )
                    pending += queue.messages
                    queue.messages = []
                # A Standard Webhooks receiver keeps one delivery per webhook-id (the spec's idempotency).
                kept = {
                    (a.id if a.platform == "generic" else n)
                    for n, a in enumerate(fake.accepted())
                    if a.text == texts[reply_id]
                }
                accepted[reply_id] = len(kept)
                fake.reset()  # this reply's faults and accepted messages end with it
            by_channel: dict[str, Counter[str]] = defaultdict(Counter)
            statuses: dict[str, str] = {}
            for reply_id, channel in channel_of.items():
                ended = replies.get(reply_id)
                assert ended is not None
                by_channel[channel][ended.status] += 1
                statuses[reply_id] = ended.status
        finally:
            fake.stop()
    reconcilable = [r for r, c in channel_of.items() if not c.startswith("tiktok")]
    sent_reconcilable = [r for r in reconcilable if accepted[r] >= 1]
    lost = sum(1 for r in channel_of if accepted[r] == 0 and statuses[r] not in ("failed", "unknown"))
    return {
        "platform_calls_per_reply": round(
            sum(accepted[r] for r in reconcilable) / max(1, len(sent_reconcilable)), 3
        ),
        "replies_lost": lost,
        "replies_duplicated": sum(1 for r in channel_of if accepted[r] > 1),
        "replies_duplicated_by_channel": dict(Counter(channel_of[r] for r in channel_of if accepted[r] > 1)),
        "replies_unknown_by_platform": {c: counts["unknown"] for c, counts in sorted(by_channel.items())},
        "replies_by_status": {c: dict(counts) for c, counts in sorted(by_channel.items())},
        "replies_measured": len(channel_of),
        "replies_faults_injected": dict(faults),
    }


def _echo_back(echoes, sent_ports, pepper, brand_reply, author_cls, ref_of, now) -> None:  # type: ignore[no-untyped-def]
    """The platforms' echoes, as the route consumer would get them: each confirms its reply."""
    from socialcrm.models import Interaction, conversation_ref, reply_marker, subject_id
    from socialcrm.replies import sender

    while echoes:
        platform, body = echoes.pop(0)
        if platform == "whatsapp":
            status = body["entry"][0]["changes"][0]["value"]["statuses"][0]
            marker, native, customer = (
                status.get("biz_opaque_callback_data"),
                status["id"],
                status["recipient_id"],
            )
        else:
            event = body["entry"][0]["messaging"][0]
            marker, native = event["message"].get("metadata"), event["message"]["mid"]
            customer = event["recipient"]["id"]
        if reply_marker(marker) is None:
            continue
        interaction_id = f"{platform}:{native}"
        echo = Interaction(
            interaction_id=interaction_id,
            interaction_ref=ref_of(pepper, interaction_id),
            subject_id=subject_id(pepper, platform, customer.lstrip("+")),
            platform=platform,
            kind=brand_reply,
            native_id=native,
            author=author_cls(user_id="brand"),
            occurred_at=now,
            received_at=now,
            conversation_ref=conversation_ref(pepper, platform, f"echo:{customer}"),
            reply_marker=marker,
        )
        sender.confirm_echo(echo, ports=sent_ports)


def measure_auto_reply(samples: int = SAMPLES) -> dict[str, Any]:
    import httpx

    from socialcrm.local import deliveries as d
    from socialcrm.local.deliveries import Signer
    from socialcrm.local.stack import LocalStack
    from socialcrm.topology import QUEUES

    latencies = []
    with LocalStack(port=0) as stack:
        assert stack.secrets is not None and stack.platform is not None
        signer = Signer(stack.secrets)
        with httpx.Client(base_url=stack.url, timeout=30.0) as http:
            for n in range(samples):
                customer = f"{time.time_ns()}{n}"
                payload = d.messenger_message(
                    f"m_bench-auto-{customer}",
                    customer,
                    "Hi! How long does delivery take to Pune?",
                    datetime.now(tz=UTC),
                )
                delivery = signer.sign(payload)
                response = http.post(delivery.path, content=payload.body, headers=delivery.headers)
                accepted = time.time()
                assert response.status_code == 200, response.text
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    got = [
                        r
                        for r in stack.platform.requests("meta")
                        if (r.body or {}).get("recipient") == {"id": customer}
                    ]
                    if got:
                        latencies.append((got[0].time - accepted) * 1000)
                        break
                    time.sleep(0.02)
                else:
                    raise RuntimeError("the automatic reply never reached the platform")
    return {
        "auto_reply_ms_p50": round(statistics.median(latencies)),
        "auto_reply_batching_window_ms": QUEUES["inbound"].batching_window_seconds * 1000
        + QUEUES["route"].batching_window_seconds * 1000
        + QUEUES["outbound"].batching_window_seconds * 1000,
    }


def measure() -> dict[str, Any]:
    saved = dict(os.environ)
    try:
        calls = measure_platform_calls()
    finally:  # the moto resources' names and the bench's secrets file are this measurement's only
        os.environ.clear()
        os.environ.update(saved)
    return {**calls, **measure_auto_reply()}


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
