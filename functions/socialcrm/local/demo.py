"""``make demo``: start the local stack, play a morning of webhooks from every platform, print what happened.

The deliveries are what the platforms send (:mod:`socialcrm.local.deliveries`), signed with the
development secrets: English and Hindi, complaints, praise, purchase questions, a three-message
Messenger conversation, a read receipt, one redelivery and one forged signature. The demo waits for the
pipeline (each interaction readable, enriched and routed), then prints per platform what arrived, its
language, sentiment and routing, the teams' work queues, the conversation's one case answered by the
Page's reply as Meta echoes it (no PATCH: the echo stops the clock) and the praise that opened no case,
an agent's reply sent through the fake platform (the case's first response set by the send, the
platform's echo recognised), the rules' automatic replies (the out-of-hours acknowledgement: the demo's
business hours are set to have ended, so it shows at any time of day) and every call the fake platform
recorded, the report summary and the daily report's files, an erasure and a retry of the erased
subject's message, and stops the stack. Exit code 0 when everything arrived.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx

from socialcrm.api.callers import DEV_PERSONA_HEADER, DEV_TEAMS_HEADER, LOCAL_PRINCIPAL_VARIABLE
from socialcrm.api.path_ids import encode_path_id
from socialcrm.errors import ConfigurationError
from socialcrm.local import deliveries as d
from socialcrm.local import logs
from socialcrm.local.principals import DevPrincipal
from socialcrm.local.stack import LOCAL_YOUTUBE_CHANNEL, LocalStack, LocalStackError
from socialcrm.observability import logger
from socialcrm.personas import route_of
from socialcrm.platforms import ROUTE_PLATFORMS as PLATFORM_ROUTES
from socialcrm.subscriptions.websub import topic_of

PIPELINE_DEADLINE_SECONDS = 60.0
ROUTING_DEADLINE_SECONDS = 30.0
ERASURE_DEADLINE_SECONDS = 90.0
TEXT_WIDTH = 40
ID_WIDTH = 44


# One customer's Messenger conversation: three messages that make one case, answered by the Page.
PSID = "6543210987654321"
CONVERSATION = (
    ("m_demo-conversation-1", "Hi, my order #AC50311 has not arrived yet.", 10),
    ("m_demo-conversation-2", "It was supposed to come on Monday, I need it for a wedding on Saturday.", 11),
    ("m_demo-conversation-3", "Can someone please check where it is? This is really frustrating.", 13),
)
PAGE_REPLY = ("m_demo-page-reply-1", "So sorry, Kavya! Your parcel is at the Pune hub and arrives tomorrow.")
# The WhatsApp question an agent answers from socialcrm.
WHATSAPP_QUESTION = "wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhggNDFCMjk2QjA3RkNCNjM5QzEzNUE5RkM4"
# The same customer (Priya) on WhatsApp, on X, and on the shop's review site, which knows her phone number.
PRIYA_WHATSAPP = "919876543210"
PRIYA_X = "1598700001"
PRIYA_FOLLOW_UP = "wamid.HBgMOTE5ODc2NTQzMjEwFQIAEhggRk9MTE9XVVAtMDAwMDAwMDAwMDAwMDAx"
# Who the local stack records as the reader in the access log (a deployed API records the IAM principal).
DEMO_PRINCIPAL = "demo-agent (local stack)"
AGENT_REPLY = "Hi Priya! Yes, the blue cotton kurta is in stock in M, and delivery to Pune is free this week."


@dataclass
class Sent:
    """One delivery of the demo and what the API answered."""

    label: str
    payload: d.Payload
    how: str = "signed"  # signed | duplicate | forged
    status: int = 0
    answer: dict[str, Any] = field(default_factory=dict)


def morning(at: datetime) -> list[Sent]:
    """The demo's deliveries: a realistic morning for a retail brand, a few minutes apart."""

    def t(minutes: int) -> datetime:
        return at - timedelta(minutes=30 - minutes)

    hindi_comment = d.facebook_comment(
        "1152241093327104_884312907731",
        "7234567890123456",
        "Aarav Mehta",
        "मेरा ऑर्डर #AC48213 दो हफ्ते से नहीं आया और कस्टमर केयर कोई जवाब नहीं दे रहा। बहुत खराब सर्विस, मुझे पैसे वापस चाहिए।",
        t(0),
    )
    return [
        Sent("Facebook comment, Hindi complaint", hindi_comment),
        Sent(
            "Instagram DM, praise",
            d.instagram_message(
                "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1NzI2NjUzMDI2OjM0MDI4",
                "5349211864701234",
                "Just got the linen kurta and I absolutely love it! The fabric is gorgeous, thank you so much 😍",
                t(2),
            ),
        ),
        Sent(
            "WhatsApp message, purchase question",
            d.whatsapp_message(
                WHATSAPP_QUESTION,
                PRIYA_WHATSAPP,
                "Priya Sharma",
                "Hi! Is the blue cotton kurta available in size M? How much is delivery to Pune?",
                t(4),
            ),
        ),
        Sent(
            "WhatsApp read receipt",
            d.whatsapp_read_receipt("wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSQzU3RkU0", "919876543210", t(5)),
        ),
        Sent(
            "X mention, Hindi (lang=hi)",
            d.x_mention(
                "1861034512894627842",
                "1422556069",
                "rohit_k",
                "@AcmeStoreIN मेरा रिफंड तीन हफ्ते से अटका है, कोई जवाब नहीं मिल रहा। बहुत निराश हूँ।",
                "hi",
                t(7),
            ),
        ),
        Sent(
            "X mention, a large account angry",
            d.x_mention(
                "1861036120954380291",
                "2284617790",
                "techwithtanvi",
                "@AcmeStoreIN My order was cancelled for the third time and nobody replies. "
                "Worst service ever, so angry and disappointed.",
                "en",
                t(8),
                followers=184_000,
            ),
        ),
        Sent(
            "X DM",
            d.x_direct_message(
                "1861037790012745733",
                "3001969357",
                "meera_writes",
                "Hey, when does the winter collection go on sale? I want to buy the wool shawl as a gift.",
                t(9),
            ),
        ),
        Sent(
            "LinkedIn comment",
            d.linkedin_comment(
                5603453321,
                "urn:li:person:zLqTygBP8S",
                "Great to see Acme opening a warehouse in Bengaluru. Congratulations to the whole team!",
                t(12),
            ),
        ),
        Sent(
            "TikTok business message",
            d.tiktok_message(
                "7440211875631270401",
                "-000buyerOpenIdNeha",
                "neha.styles",
                "Does the denim jacket from your last video come in black? I want to order two.",
                t(15),
            ),
        ),
        Sent(
            "YouTube upload",
            d.youtube_upload(
                "Xk3vQ9Lm2pA",
                LOCAL_YOUTUBE_CHANNEL,
                "Reviews with Rahul",
                "Acme linen kurta review after thirty days of wear: honest opinion",
                t(18),
            ),
        ),
        Sent(
            "review (Standard Webhooks)",
            d.generic_review(
                "rv-20261123-0042",
                "cust-88213",
                "homecook_asha",
                "Delivery took two weeks and the pressure cooker box arrived crushed. Terrible packaging.",
                t(21),
            ),
        ),
        Sent(
            "X mention, the WhatsApp customer complains",
            d.x_mention(
                "1861038805512245760",
                PRIYA_X,
                "priya_sharma_designs",
                "@AcmeStoreIN My last order still hasn't shipped and nobody answers. Really disappointed.",
                "en",
                t(22),
            ),
        ),
        Sent(
            "review with the reviewer's phone number",
            d.generic_review(
                "rv-20261123-0043",
                "cust-90417",
                "priya_s",
                "Ordered two kurtas, still not shipped after two weeks. Very poor communication.",
                t(23),
                phone="+91 98765 43210",
            ),
        ),
        *(
            Sent(
                f"Messenger conversation, message {n + 1} of 3",
                d.messenger_message(mid, PSID, text, t(minute)),
            )
            for n, (mid, text, minute) in enumerate(CONVERSATION)
        ),
        Sent("Facebook comment again (Meta retry)", hindi_comment, how="duplicate"),
        Sent(
            "X mention with a forged signature",
            d.x_mention(
                "1861040000000000001",
                "99999999",
                "not_x",
                "@AcmeStoreIN click here for free vouchers",
                "en",
                t(25),
            ),
            how="forged",
        ),
    ]


# --- running -----------------------------------------------------------------------------------------


class Demo:
    def __init__(self, stack: LocalStack, http: httpx.Client, out: Callable[[str], None] = print) -> None:
        assert stack.secrets is not None
        self.stack, self.http, self.out = stack, http, out
        self.signer = d.Signer(stack.secrets)
        self.handshakes: dict[str, str] = {}
        self.sent: list[Sent] = []
        self.stored: dict[str, dict[str, Any]] = {}
        self.missing: dict[str, str] = {}
        self.first_responses = 0
        self.baseline: dict[str, Any] = {}

    def run(self) -> bool:
        started = time.monotonic()
        self.baseline = self._today_summary()
        self.handshakes = {route: self._handshake(route) for route in PLATFORM_ROUTES}
        self.sent = morning(datetime.now(tz=UTC))
        for item in self.sent:
            self._send(item)
        self.out(f"sent {len(self.sent)} deliveries; waiting for the pipeline…")
        self._wait_for_pipeline()
        elapsed = time.monotonic() - started
        self._print_summary(elapsed)
        self._print_work_queues()
        self._print_personas()
        self._print_conversation()
        self._print_replies()
        self._print_report()
        self._print_daily_report()
        self._print_erasure()
        self._print_customer()
        return not self.missing

    # handshakes and deliveries

    def _handshake(self, route: str) -> str:
        secrets = self.stack.secrets
        assert secrets is not None
        entry = secrets.for_platform(route)
        if entry is None:
            return "not configured in the secrets file: its route answers 404"
        if route == "youtube":
            return self._websub()
        query = {
            "meta": {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": ""},
            "x": {"crc_token": "9b4507b3-9040-4669-9ca3-6b94edb50553"},
            "linkedin": {"challengeCode": "890e4665-4dfe-4ab1-b689-ed553bceeed0"},
        }.get(route, {})
        if "hub.verify_token" in query:
            query["hub.verify_token"] = entry.verify_token.get_secret_value()
        response = self.http.get(f"/webhooks/{route}", params=query)
        if response.status_code == 405:
            return "no handshake in its protocol: GET answers 405"
        if response.status_code == 200:
            return "handshake answered, 200"
        return f"handshake FAILED, {response.status_code}"

    def _websub(self) -> str:
        """YouTube: the websub function subscribed the channel at the (fake) hub when the stack started, and
        the hub's verification went through the webhook route; one nobody asked for is refused."""
        topic = topic_of(LOCAL_YOUTUBE_CHANNEL)
        if self.stack.hub is None or not self.stack.hub.wait_verified(topic, timeout=15):
            return "subscription at the hub NOT verified"
        stranger = self.http.get(
            "/webhooks/youtube",
            params={
                "hub.mode": "subscribe",
                "hub.topic": topic_of("UC0123456789abcdefghijkl"),
                "hub.challenge": "1",
            },
        )
        return (
            f"channel subscribed at the hub, its verification answered 200; a verification nobody asked for "
            f"→ {stranger.status_code}"
        )

    def _send(self, item: Sent) -> None:
        if item.payload.route == "youtube" and item.how == "signed" and self.stack.hub is not None:
            # As YouTube does: the hub sends the notification, signed with the secret the subscription gave it
            statuses = self.stack.hub.publish(topic_of(LOCAL_YOUTUBE_CHANNEL), item.payload.body)
            item.status = statuses[0] if statuses else 0
            item.answer = {"via": "the hub"}
            return
        delivery = (
            self.signer.forged(item.payload) if item.how == "forged" else self.signer.sign(item.payload)
        )
        response = self.http.post(delivery.path, content=item.payload.body, headers=delivery.headers)
        item.status = response.status_code
        try:
            item.answer = response.json()
        except ValueError:
            item.answer = {"body": response.text[:80]}

    def _expected(self) -> list[str]:
        ids = [
            i for s in self.sent if s.how == "signed" and s.status == 200 for i in s.payload.interaction_ids
        ]
        return list(dict.fromkeys(ids))

    def _wait_for_pipeline(self) -> None:
        pending = self._expected()
        give_up = time.monotonic() + PIPELINE_DEADLINE_SECONDS
        routing_give_up = time.monotonic() + PIPELINE_DEADLINE_SECONDS + ROUTING_DEADLINE_SECONDS
        while pending:
            for interaction_id in list(pending):
                response = self.http.get(f"/interactions/{encode_path_id(interaction_id)}")
                if response.status_code != 200:
                    continue
                item = response.json()
                self.stored[interaction_id] = item
                if item.get("routing") or time.monotonic() > give_up:
                    pending.remove(interaction_id)
            if time.monotonic() > routing_give_up:
                break
            if pending:
                time.sleep(0.25)
        for interaction_id in pending:
            if interaction_id not in self.stored:
                self.missing[interaction_id] = f"not readable after {PIPELINE_DEADLINE_SECONDS:.0f} s"

    # the summary

    def _print_summary(self, elapsed: float) -> None:
        out = self.out
        header = ["interaction", "kind", "lang", "sentiment", "routing", "text"]
        tables = {route: [self._row(i) for i in self._ids(route)] for route in PLATFORM_ROUTES}
        widths = [
            max(len(row[n]) for row in [header, *(row for rows in tables.values() for row in rows)])
            for n in range(len(header) - 1)
        ]

        def line(cells: list[str]) -> str:
            return (
                "    "
                + "  ".join(c.ljust(w) for c, w in zip(cells[:-1], widths, strict=True))
                + "  "
                + cells[-1]
            )

        out("")
        out(
            f"socialcrm demo: {len(self.sent)} deliveries, pipeline done in {elapsed:.1f} s ({self.stack.url})"
        )
        out("")
        out(line(header))
        for route, rows in tables.items():
            out(f"  {route} ({self.handshakes.get(route, '?')})")
            for row in rows:
                out(line(row))
            for sent in self.sent:
                if sent.payload.route == route and (sent.how != "signed" or not sent.payload.interaction_ids):
                    out(f"    {_note(sent)}")
            if not rows and not any(s.payload.route == route for s in self.sent):
                out("    nothing sent by the demo")
        if any(item.get("language") not in (None, "en") for item in self.stored.values()):
            out("")
            out(
                "  Sentiment of languages other than English is NEUTRAL locally: the offline analyser reads English"
            )
            out("  only (VADER). Comprehend analyses Hindi and the others in AWS.")
        if self.missing:
            out("")
            out("  missing: " + ", ".join(f"{i} ({why})" for i, why in self.missing.items()))

    def _ids(self, route: str) -> list[str]:
        ids = [
            i
            for s in self.sent
            if s.payload.route == route and s.how == "signed"
            for i in s.payload.interaction_ids
        ]
        return list(dict.fromkeys(ids))

    def _row(self, interaction_id: str) -> list[str]:
        shown = _short(interaction_id)
        item = self.stored.get(interaction_id)
        if item is None:
            why = self.missing.get(interaction_id) or self._refusal(interaction_id) or "not stored"
            return [shown, "", "", "", "", f"nothing arrived: {why}"]
        sentiment = item.get("sentiment") or {}
        label = sentiment.get("label") or item.get("sentiment_status") or "-"
        score = (sentiment.get("scores") or {}).get(str(label).lower())
        return [
            shown,
            item.get("kind", "?"),
            item.get("language") or "-",
            f"{label} {score:.2f}" if isinstance(score, float) else str(label),
            _routing(item.get("routing")),
            _excerpt(item.get("text", "")),
        ]

    def _refusal(self, interaction_id: str) -> str | None:
        for sent in self.sent:
            if interaction_id in sent.payload.interaction_ids and sent.status != 200:
                return f"the delivery was refused, {_answer(sent)}"
        return None

    # work queues, reports and erasure

    def _print_work_queues(self) -> None:
        teams = sorted(
            {t for item in self.stored.values() for t in (item.get("routing") or {}).get("teams") or []}
        )
        self.out("")
        self.out("work queues (GET /cases?team=…&status=open, most urgent first)")
        now = datetime.now(tz=UTC)
        for team in teams:
            response = self.http.get("/cases", params={"team": team, "status": "open"})
            cases = response.json().get("items", []) if response.status_code == 200 else []
            if not cases:
                self.out(f"  {team:<10} {response.status_code} no open cases")
                continue
            first = cases[0]
            due = datetime.fromisoformat(first["sla_due_at"]) - now
            tags = f", tags {', '.join(first['tags'])}" if first.get("tags") else ""
            self.out(
                f"  {team:<10} {len(cases)} open; next {first['priority']} {_short(first.get('interaction_id') or first['case_id'])}, "
                f"due in {max(0, int(due.total_seconds() // 60))} min (rules {', '.join(first['rules'])}{tags})"
            )

    def _print_personas(self) -> None:
        """Who may do what: each persona's own routes, and a team's own cases (the local stack's
        development principal stands for the IAM tags; in AWS they come from the caller's role)."""
        self.out("")
        self.out(
            "who may do what (X-Dev-Persona / X-Dev-Teams: the local stack's stand-in for the IAM role's tags)"
        )
        support = self.http.get("/cases", params={"team": "support"}, headers=_as("agent", "support"))
        cases = support.json().get("items", []) if support.status_code == 200 else []
        pr_queue = self.http.get("/cases", params={"limit": 100}, headers=_as("agent", "pr"))
        pr_cases = pr_queue.json().get("items", []) if pr_queue.status_code == 200 else []
        only_pr = all("pr" in case["teams"] for case in pr_cases)
        self.out(
            f"  agent of pr        GET /cases → {pr_queue.status_code}, {len(pr_cases)} case(s), "
            f"{'each of a PR case' if only_pr else 'SOME OF ANOTHER TEAM'}"
        )
        if cases:
            theirs = next((c for c in cases if "pr" not in c["teams"]), cases[0])
            hidden = self.http.get(f"/cases/{theirs['case_id']}", headers=_as("agent", "pr")).status_code
            self.out(
                f"  agent of pr        GET /cases/{{case_id}} of support → {hidden}: another team's case is not disclosed"
            )
        checks = [
            (
                "agent of support",
                _as("agent", "support"),
                "PATCH",
                f"/cases/{cases[0]['case_id']}" if cases else None,
                {"priority": "P1"},
            ),
            (
                "agent of support",
                _as("agent", "support"),
                "POST",
                "/erasure-requests",
                {"subjects": [{"platform": "x", "user_id": "0"}], "reference": "demo-0"},
            ),
            ("report-reader", _as("report-reader"), "GET", "/subjects/x/0/export", None),
            ("operator", _as("operator"), "GET", "/customers/cu_0", None),
        ]
        for who, headers, method, path, body in checks:
            if path is None:
                continue
            answer = self.http.request(method, path, json=body, headers=headers)
            message = answer.json().get("message", "") if answer.status_code == 403 else ""
            self.out(f"  {who:<18} {route_of(method, path)} → {answer.status_code} {message}")
        today = datetime.now(tz=UTC).date().isoformat()
        summary = self.http.get(
            "/reports/summary", params={"from": today, "to": today}, headers=_as("report-reader")
        )
        self.out(f"  report-reader      GET /reports/summary → {summary.status_code}")

    def _print_conversation(self) -> None:
        """The Messenger conversation: one case for its three messages, answered by the Page's echo; and
        the praise that opened no case."""
        out = self.out
        out("")
        out("conversations (GET /cases/{case_id})")
        first = self.stored.get(f"messenger:{CONVERSATION[0][0]}") or {}
        case_id = (first.get("routing") or {}).get("case_id")
        if not case_id:
            out("  the Messenger conversation has no case (it should have one)")
            return
        case = self.http.get(f"/cases/{case_id}").json()
        out(
            f"  Messenger, one customer: {case.get('message_count')} messages → 1 case {case_id} "
            f"({case.get('priority')} {'+'.join(case.get('teams', []))}), first response due "
            f"{case.get('sla_due_at')}"
        )
        mid, text = PAGE_REPLY
        echo = d.messenger_echo(mid, PSID, text, datetime.now(tz=UTC))
        signed = self.signer.sign(echo)
        sent = self.http.post(signed.path, content=echo.body, headers=signed.headers)
        out(f"  the Page replies in Messenger; Meta echoes it to the webhook → {sent.status_code}")
        answered = _poll(
            lambda: self.http.get(f"/cases/{case_id}"),
            lambda r: r.status_code == 200 and r.json().get("first_response_at") is not None,
            deadline=ROUTING_DEADLINE_SECONDS,
        ).json()
        if answered.get("first_response_at"):
            self.first_responses += 1
            brand = sum(1 for m in answered.get("messages", []) if m.get("from_brand"))
            out(
                f"  → first_response_at {answered['first_response_at']} ({answered.get('first_response_source')}, "
                f"no PATCH), sla_met={answered.get('sla_met')}, first-response clocks deleted; "
                f"{answered.get('message_count')} messages, {brand} from the brand"
            )
        else:
            out("  → the echo did not reach the case (it should have)")
        for interaction_id, item in self.stored.items():
            routing = item.get("routing") or {}
            if routing and not routing.get("case_id"):
                rules = ", ".join(routing.get("rules") or []) or "-"
                out(f"  {_short(interaction_id)}: recorded and counted, no case opened (rules {rules})")

    def _print_replies(self) -> None:
        """An agent answers the WhatsApp question from its case; the rules' automatic replies; the calls
        the fake platform recorded."""
        out = self.out
        out("")
        out("answering (POST /cases/{case_id}/replies → outbound queue → send → the platform's API)")
        question = self.stored.get(f"whatsapp:{WHATSAPP_QUESTION}") or {}
        case_id = (question.get("routing") or {}).get("case_id")
        if case_id:
            started = time.monotonic()
            asked = self.http.post(
                f"/cases/{case_id}/replies",
                json={"text": AGENT_REPLY},
                headers={"idempotency-key": "demo-whatsapp-answer"},
            )
            reply = asked.json()
            out(
                f"  an agent answers the WhatsApp question on {case_id} → {asked.status_code} {reply.get('status')}"
            )
            reply_id = reply.get("reply_id")
            if reply_id:
                reply = _poll(
                    lambda: self.http.get(f"/cases/{case_id}/replies/{reply_id}"),
                    lambda r: r.status_code == 200 and r.json().get("status") != "queued",
                    deadline=ROUTING_DEADLINE_SECONDS,
                ).json()
            case = self.http.get(f"/cases/{case_id}").json()
            if reply.get("status") == "sent":
                self.first_responses += 1 if case.get("first_response_at") else 0
                out(
                    f"  → sent in {time.monotonic() - started:.1f} s, WhatsApp message id "
                    f"{_short(str(reply.get('platform_message_id')))}; first_response_at "
                    f"{case.get('first_response_at')} set by the send, sla_met={case.get('sla_met')}"
                )
            else:
                out(f"  → {reply.get('status')}: {reply.get('error_message')}")
        automatic: dict[str, tuple[str, dict[str, Any]]] = {}
        for interaction_id, item in self.stored.items():
            routed = (item.get("routing") or {}).get("case_id")
            if routed:
                for r in self.http.get(f"/cases/{routed}/replies").json().get("items", []):
                    if r.get("author") == "automation":
                        automatic.setdefault(r["reply_id"], (interaction_id, r))
        out(f"  automatic replies (the rules' reply and move_to_private actions): {len(automatic)}")
        for interaction_id, reply in automatic.values():
            out(
                f"    {_short(interaction_id):<{ID_WIDTH}} {reply['requested_by']}, {reply.get('template')} "
                f"({reply['visibility']}) → {reply['status']}"
            )
        platform = self.stack.platform
        calls = platform.requests() if platform is not None else []
        out(
            f"  the fake platform recorded {len(calls)} call(s) (GET {self.stack.url.rsplit(':', 1)[0]}:…/_fake/requests):"
        )
        for call in calls:
            out(f"    {call.platform:<9} {call.method} {call.path}")

    def _today_summary(self) -> dict[str, Any]:
        """Today's report as it stands (what the stack counted before the demo, when it ran before)."""
        response = self.http.get("/reports/summary", params=_report_days())
        return response.json() if response.status_code == 200 else {}

    def _print_report(self) -> None:
        days = _report_days()
        today = days["from"] if days["from"] == days["to"] else f"{days['from']} to {days['to']}"
        response = _poll(
            lambda: self.http.get("/reports/summary", params=days),
            lambda r: (
                r.status_code == 200
                and _report_complete(r.json(), self.baseline, self.stored.values(), self.first_responses)
            ),
            deadline=20.0,
        )
        self.out("")
        if response.status_code != 200:
            self.out(f"report: {response.status_code} {response.text[:120]}")
            return
        summary = response.json()
        self.out(f"report for {today} (GET /reports/summary)")
        totals = summary.get("totals", {})
        self.out("  totals       " + _pairs(totals))
        for key in ("by_platform", "by_language", "by_sentiment", "by_team"):
            if summary.get(key):
                self.out(f"  {key:<12} {_pairs(summary[key])}")

    def _print_daily_report(self) -> None:
        if self.stack.daily_report is None:
            return
        try:
            folder = Path(self.stack.daily_report.run(datetime.now(tz=UTC).date()))
        except Exception as exc:
            self.out(f"  the daily report failed: {exc}")
            return
        shown = folder.relative_to(Path.cwd()) if folder.is_relative_to(Path.cwd()) else folder
        files = ", ".join(sorted(p.name for p in folder.iterdir()))
        self.out(f"  daily report (the scheduled function, run now for today): {shown}/  {files}")
        self.out(f"  open {shown / 'report.html'} in a browser for its charts")

    def _print_erasure(self) -> None:
        target = next(s for s in self.sent if s.label.startswith("X mention, Hindi"))
        user_id = "1422556069"
        self.out("")
        self.out(f"erasure of X user {user_id} (POST /erasure-requests, reference demo-1)")
        created = self.http.post(
            "/erasure-requests",
            json={"subjects": [{"platform": "x", "user_id": user_id}], "reference": "demo-1"},
            headers=_as("compliance-officer"),
        )
        if created.status_code != 202:
            self.out(f"  refused: {created.status_code} {created.text[:160]}")
            return
        request_id = created.json().get("request_id")
        response = _poll(
            lambda: self.http.get(f"/erasure-requests/{request_id}"),
            lambda r: r.status_code == 200 and r.json().get("status") in ("COMPLETED", "FAILED"),
            deadline=ERASURE_DEADLINE_SECONDS,
        )
        status = response.json() if response.status_code == 200 else {}
        self.out(
            f"  request {request_id}: {status.get('status', response.status_code)}, verified={status.get('verified')}"
        )
        erased = status.get("erased") or {}
        if erased:
            self.out("  erased       " + _pairs(erased))
        gone = self.http.get(f"/interactions/{encode_path_id(target.payload.interaction_ids[0])}").status_code
        self.out(f"  GET /interactions/{target.payload.interaction_ids[0]} → {gone}")
        again = self.signer.sign(target.payload)
        replay = self.http.post(again.path, content=target.payload.body, headers=again.headers)
        self.out(f"  the same mention delivered again → {replay.status_code} {replay.text}")
        self._wait_for_inbound_queue()
        if (
            self.http.get(f"/interactions/{encode_path_id(target.payload.interaction_ids[0])}").status_code
            == 200
        ):
            self.out("  …and it was stored again (it should not have been)")
        else:
            self.out(
                "  …accepted, as a platform must be answered, but not stored again: the subject is erased"
            )

    def _print_customer(self) -> None:
        """Priya's customer: linked automatically by her phone number, her X identity linked by an agent,
        the merged timeline and segments, erased in one request, and the access log of who read it."""
        out, why = self.out, {"X-Reason": "demo-2"}
        out("")
        out("one customer across channels")
        timeline = self.http.get(f"/subjects/whatsapp/{PRIYA_WHATSAPP}/interactions?limit=1", headers=why)
        customer_id = timeline.json().get("customer_id") if timeline.status_code == 200 else None
        if not customer_id:
            out(
                f"  her WhatsApp and web review were not linked ({timeline.status_code}): is routing running?"
            )
            return
        customer = f"/customers/{customer_id}"
        out(f"  WhatsApp and the web review carry one phone number: linked automatically as {customer_id}")
        linked = self.http.post(
            f"{customer}/identities",
            json={"platform": "x", "user_id": PRIYA_X, "reason": "demo-2"},
            headers=why,
        )
        out(f"  POST {customer}/identities (her X account, reason demo-2) → {linked.status_code}")
        follow_up = d.whatsapp_message(
            PRIYA_FOLLOW_UP, PRIYA_WHATSAPP, "Priya Sharma", "Still no update. This is terrible, I am very disappointed.",
            datetime.now(tz=UTC),
        )  # fmt: skip
        self._send(Sent("WhatsApp follow-up", follow_up))
        view = _poll(
            lambda: self.http.get(customer, headers=why),
            lambda r: r.status_code == 200 and "repeat-complainer" in r.json().get("segments", []),
            deadline=ROUTING_DEADLINE_SECONDS,
        ).json()
        identities = ", ".join(i["platform"] for i in view.get("identities", []))
        out(f"  identities   {identities}  (each a pseudonymous subject id)")
        out(f"  segments     {', '.join(view.get('segments') or []) or '-'}  (her follow-up recomputed them)")
        out(
            f"  by platform  {_pairs(view.get('by_platform') or {})}; open cases {len(view.get('open_cases', []))}"
        )
        page = self.http.get(f"{customer}/interactions?limit=10", headers=why).json()
        out(f"  merged timeline, newest first (GET {customer}/interactions):")
        for item in page.get("items", []):
            sentiment = (item.get("sentiment") or {}).get("label", "-")
            said = "(the brand's reply)" if item.get("kind") == "brand_reply" else _excerpt(item["text"])
            out(f"    {item['occurred_at'][11:19]}  {item['platform']:<9} {sentiment:<9} {said}")
        erasure = self.http.post(
            "/erasure-requests", json={"customers": [customer_id], "reference": "demo-3"}
        )
        if erasure.status_code != 202:
            out(f"  erasure refused: {erasure.status_code} {erasure.text[:160]}")
            return
        request_id = erasure.json()["request_id"]
        proof = _poll(
            lambda: self.http.get(f"/erasure-requests/{request_id}"),
            lambda r: r.status_code == 200 and r.json().get("status") in ("COMPLETED", "FAILED"),
            deadline=ERASURE_DEADLINE_SECONDS,
        ).json()
        out(
            f"  POST /erasure-requests {{customers: [{customer_id}]}} → {proof.get('status')}, "
            f"verified={proof.get('verified')}, {len(proof.get('subjects', []))} identities"
        )
        out("  erased       " + _pairs(proof.get("erased") or {}))
        out(f"  GET {customer} → {self.http.get(customer).status_code}")
        log = self.http.get(f"{customer}/access-log").json()
        out(f"  access log of {customer_id} (kept after the erasure: who read her data, and why):")
        runs: list[tuple[str, str, str, str, int]] = []  # (time of the latest, route, reason, who, reads)
        for entry in log.get("items", []):
            what = (entry["route"], entry.get("reason") or "-", entry["principal"])
            if runs and runs[-1][1:4] == what:
                runs[-1] = (*runs[-1][:4], runs[-1][4] + 1)
            else:
                runs.append((entry["at"][11:19], *what, 1))
        for at, route, reason, who, reads in runs:
            times = f"{reads}x" if reads > 1 else ""
            out(f"    {at}  {route:<44} {times:<3} reason {reason:<7} by {who}")

    def _wait_for_inbound_queue(self) -> None:
        """Until the enrich function has taken every message of the inbound queue (nothing left in flight)."""
        sqs = boto3.client("sqs")
        url = self.stack.resources.queue_urls["inbound"]
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]

        give_up = time.monotonic() + PIPELINE_DEADLINE_SECONDS
        while time.monotonic() < give_up:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
            if all(attributes[name] == "0" for name in names):
                return
            time.sleep(0.25)


def _report_complete(
    summary: dict[str, Any], baseline: dict[str, Any], stored: Iterable[dict[str, Any]], first_responses: int
) -> bool:
    """True once the report counts, beyond ``baseline``, every stored interaction, every team it was routed
    to, and the first responses given."""
    items = list(stored)
    teams = sum(len((item.get("routing") or {}).get("teams") or []) for item in items)

    def grew(read: Callable[[dict[str, Any]], int]) -> int:
        return read(summary) - read(baseline)

    return bool(
        grew(lambda s: s.get("totals", {}).get("interactions", 0)) >= len(items)
        and grew(lambda s: sum(s.get("by_team", {}).values())) >= teams
        and grew(lambda s: s.get("totals", {}).get("first_responses", 0)) >= first_responses
    )


def _note(sent: Sent) -> str:
    """One line for a delivery that is not a new interaction: a duplicate, a forgery, a status update."""
    if sent.how == "duplicate":
        return (
            f"↳ {sent.label}: {_answer(sent)}, acknowledged; the copy is dropped before analysis, stored once"
        )
    if sent.how == "forged":
        stored = "" if sent.status != 200 else " (ACCEPTED: it should have been refused)"
        return f"✗ {sent.label}: {_answer(sent)}{stored}, nothing stored"
    return f"· {sent.label}: {_answer(sent)}, a status update, not an interaction: nothing stored"


def _answer(sent: Sent) -> str:
    answer = sent.answer
    if "error" in answer:
        return f"{sent.status} {answer['error']} ({str(answer.get('message', '')).rstrip('.')})"
    if {"received", "queued", "refused"} <= answer.keys():
        return f"{sent.status} received={answer['received']} queued={answer['queued']} refused={answer['refused']}"
    return f"{sent.status}"


def _routing(routing: Any) -> str:
    if not isinstance(routing, dict):
        return "-"
    if not routing.get("case_id"):
        return "recorded"
    teams = "+".join(routing.get("teams") or []) or "-"
    return f"{routing.get('priority', '?')} {teams}"


def _short(interaction_id: str) -> str:
    return interaction_id if len(interaction_id) <= ID_WIDTH else interaction_id[: ID_WIDTH - 1] + "…"


def _excerpt(text: str) -> str:
    flat = " ".join(str(text).split())
    return f"“{flat[:TEXT_WIDTH]}…”" if len(flat) > TEXT_WIDTH else f"“{flat}”"


def _pairs(values: dict[str, Any]) -> str:
    return "  ".join(f"{key}={value}" for key, value in values.items() if not isinstance(value, dict | list))


def _report_days() -> dict[str, str]:
    """The report's days: today's, and yesterday's too just after midnight, since the morning's messages
    are dated up to 30 minutes back (they count on the day they were written)."""
    now = datetime.now(tz=UTC)
    return {"from": (now - timedelta(minutes=30)).date().isoformat(), "to": now.date().isoformat()}


def _as(persona: str, teams: str = "") -> dict[str, str]:
    """The development principal's headers: who a demo request is from (``socialcrm.local.principals``)."""
    return {DEV_PERSONA_HEADER: persona, DEV_TEAMS_HEADER: teams}


def _poll(
    request: Callable[[], httpx.Response], done: Callable[[httpx.Response], bool], deadline: float
) -> httpx.Response:
    give_up = time.monotonic() + deadline
    while True:
        response = request()
        if done(response) or time.monotonic() > give_up:
            return response
        time.sleep(0.5)


def parse_args(argv: Iterable[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make demo", description="Run the local stack and play a demo.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--secrets-file", default=None)
    return parser.parse_args(list(argv) if argv is not None else None)


def closed_now_rules(folder: Path, now: datetime) -> Path:
    """The repository's rules with business hours (every day, UTC) that exclude ``now``: the demo's
    messages arrive out of hours, so the out-of-hours acknowledgement shows at any time of day."""
    import yaml

    from socialcrm.routing.source import REPO_RULES_FILE

    document = yaml.safe_load(REPO_RULES_FILE.read_text(encoding="utf-8"))
    start, end = ("13:00", "17:00") if now.hour < 12 else ("02:00", "06:00")
    document["business_hours"] = {
        "timezone": "UTC",
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "start": start,
        "end": end,
    }
    path = folder / "demo-rules.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def main(argv: Iterable[str] | None = None) -> int:
    args = parse_args(argv)
    undo_logs = logs.install(logger, "ERROR")  # the summary tells the story; only real failures interrupt
    folder = tempfile.TemporaryDirectory(prefix="socialcrm-demo-")
    now = datetime.now(tz=UTC)
    if "RULES_FILE" not in os.environ:
        os.environ["RULES_FILE"] = str(closed_now_rules(Path(folder.name), now))
        print(
            "the demo's rules are config/rules.yaml with business hours that exclude now "
            f"({now:%H:%M} UTC), so its messages arrive out of hours"
        )
    os.environ.setdefault(LOCAL_PRINCIPAL_VARIABLE, DEMO_PRINCIPAL)
    stack = LocalStack(args.port, secrets_file=args.secrets_file)
    print("starting the local stack (embedded AWS, offline Comprehend, API, pollers)…", flush=True)
    try:
        stack.start()
    except (ConfigurationError, LocalStackError) as exc:
        undo_logs()
        folder.cleanup()
        print(f"make demo: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        stack.stop()
        undo_logs()
        return 130
    try:
        with httpx.Client(base_url=stack.url, timeout=30.0, auth=DevPrincipal()) as http:
            complete = Demo(stack, http).run()
    except KeyboardInterrupt:
        print("\ninterrupted.")
        complete = False
    finally:
        stack.stop()
        undo_logs()
        folder.cleanup()
    print("\nstack stopped.")
    return 0 if complete else 1


if __name__ == "__main__":
    raise SystemExit(main())
