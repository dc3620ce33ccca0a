"""``socialcrm rules dry-run``: replays stored interactions against a candidate document, writes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import yaml
from moto import mock_aws

from socialcrm.cli import main
from socialcrm.routing.service import QueuedRecord, route_batch
from socialcrm.routing.source import REPO_RULES_FILE
from socialcrm.topology import TABLES
from tests.support.pipeline import analysed, interaction
from tests.support.routing import routing_environment, schedules, store

NOW = datetime.now(tz=UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def routed():
    """Four customer messages of the last days, routed with the shipped rules (a dry run changes nothing,
    so the tests of this module share them): a purchase question, a complaint and its follow-up in the
    same conversation (which joins the complaint's case), and praise (recorded, no case)."""
    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        for name, value in routing_environment().items():
            patch.setenv(name, value)
        import route.handler as handler

        handler.runtime.cache_clear()
        items = []
        for n, (text, label, user, conversation, minutes) in enumerate(
            [
                ("How much is the premium plan?", "NEUTRAL", "u0", None, 0),
                ("the app is broken", "NEGATIVE", "u1", None, -1),
                ("love it", "POSITIVE", "u2", None, -2),
                ("still broken, hello?", "NEGATIVE", "u1", "message:1", 5),  # x:1's conversation
            ]
        ):
            item = analysed(interaction(n, text=text, user=user, conversation=conversation), label)
            at = NOW - timedelta(days=1) + timedelta(minutes=minutes)
            items.append(item.model_copy(update={"occurred_at": at, "received_at": at}))
        store(*items, at=NOW)
        records = [
            QueuedRecord(f"m{n}", json.dumps({"detail-type": "InteractionEnriched", "detail": _detail(i)}))
            for n, i in enumerate(items)
        ]
        assert route_batch(records, ports=handler.runtime(), now=NOW).failed == []
        yield items
        handler.runtime.cache_clear()


def _detail(item):
    from socialcrm.events.models import InteractionEnriched

    return json.loads(InteractionEnriched.of(item).model_dump_json())


def _snapshot() -> dict:
    dynamodb = boto3.client("dynamodb")
    return {
        table: sorted(json.dumps(i, sort_keys=True) for i in dynamodb.scan(TableName=table)["Items"])
        for table in ("socialcrm-cases", "socialcrm-interactions", "socialcrm-counters")
    } | {"schedules": schedules()}


def candidate(tmp_path, change) -> str:
    document = yaml.safe_load(REPO_RULES_FILE.read_text(encoding="utf-8"))
    change(document)
    path = tmp_path / "new.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    return str(path)


def test_a_dry_run_prints_what_would_change_and_writes_nothing(routed, tmp_path, capsys):
    # Given a candidate that makes purchase questions P2 for sales only
    def purchase_p2(document):
        rule = next(r for r in document["rules"] if r["id"] == "purchase-question")
        rule["then"] = {"teams": ["sales"], "priority": "P2", "tags": ["purchase-intent"]}

    path = candidate(tmp_path, purchase_p2)
    before = _snapshot()
    # When it is dry-run against the last 7 days
    code = main(["rules", "dry-run", "--rules", path, "--days", "7", "--json"])
    report = json.loads(capsys.readouterr().out)
    # Then it replayed the four messages and names the one that changes, and how
    assert code == 0
    assert report["replayed"] == 4 and report["unchanged"] == 3
    # (two cases opened, the follow-up joined the complaint's, the praise was only recorded: as stored)
    assert (report["cases_opened"], report["joined"], report["not_opened"], report["opened_resolved"]) == (
        2,
        1,
        1,
        0,
    )
    assert report["cases"]["before"] == {
        "opened": 2,
        "opened_resolved": 0,
        "joined": 1,
        "not_opened": 0,
        "no_case": 1,
    }
    (change,) = report["changes"]
    assert change["interaction_id"] == "x:0" and set(change["changed"]) == {"teams", "priority", "sla"}
    assert change["before"]["teams"] == ["marketing", "sales"] and change["after"]["teams"] == ["sales"]
    assert (change["before"]["sla_minutes"], change["after"]["sla_minutes"]) == (240, 60)
    assert report["priority"]["after"]["P2"] == report["priority"]["before"]["P2"] + 1
    # And nothing was written anywhere
    assert _snapshot() == before


def test_the_text_report_shows_counts_and_each_change(routed, tmp_path, capsys):
    path = candidate(tmp_path, lambda d: d["service_levels"]["P2"].update({"first_response": 30}))
    assert main(["rules", "dry-run", "--rules", path]) == 0
    out = capsys.readouterr().out
    assert "Nothing was written but the access log" in out and "interactions replayed  4" in out
    assert "cases it would open    2" in out
    assert "  joined their case              1       1" in out
    assert "  not opened (recorded)          0       1" in out
    assert "x:1" in out and "SLA       60 → 30 min" in out


def test_a_dry_run_can_compare_two_documents(routed, tmp_path, capsys):
    # Given a candidate without the praise rule
    def no_praise(document):
        document["rules"] = [r for r in document["rules"] if r["id"] != "praise"]

    path = candidate(tmp_path, no_praise)
    assert main(["rules", "dry-run", "--rules", path, "--against", str(REPO_RULES_FILE), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    # Then only the praise changes: it would open a case instead of being recorded
    (change,) = report["changes"]
    assert change["interaction_id"] == "x:2" and change["changed"] == ["case"]
    assert (change["before"]["case"], change["after"]["case"]) == ("recorded", "opened")
    assert (report["cases"]["before"]["opened"], report["cases"]["after"]["opened"]) == (2, 3)


def test_an_invalid_candidate_is_refused_naming_the_rule_and_field(routed, tmp_path, capsys):
    def typo(document):
        document["rules"][3]["then"]["teams"] = ["suport"]

    assert main(["rules", "dry-run", "--rules", candidate(tmp_path, typo)]) == 2
    err = capsys.readouterr().err
    assert "rule 'complaint' (rules[3])" in err and "then.teams[0]" in err


def test_validate_json_prints_the_document_appconfig_serves(capsys):
    # Given the shipped rules, When validated with --json
    assert main(["rules", "validate", str(REPO_RULES_FILE), "--json"]) == 0
    captured = capsys.readouterr()

    # Then stdout is the document as compact JSON (what a new AppConfig version holds), the verdict on stderr
    document = json.loads(captured.out)
    assert [rule["id"] for rule in document["rules"]][:4] == [
        "move-to-private",
        "faq-delivery-times",
        "out-of-hours-ack",
        "complaint",
    ]
    assert document["service_levels"]["P2"] == {
        "first_response": 60,
        "next_response": 120,
        "resolution": 1440,
    }
    assert "valid (" in captured.err


def test_validate_json_takes_one_file(capsys):
    assert main(["rules", "validate", str(REPO_RULES_FILE), str(REPO_RULES_FILE), "--json"]) == 2
    assert "name one file" in capsys.readouterr().err


def test_a_dry_run_shows_the_automatic_replies_a_candidate_would_send(routed, tmp_path, capsys):
    # Given a candidate that answers purchase questions automatically, in private (the messages are X
    # mentions: automation never answers publicly on X)
    def answer_prices(document):
        document["templates"]["prices"] = {
            "text": {"default": "Our plans and prices: https://example.com/pricing"}
        }
        rule = next(r for r in document["rules"] if r["id"] == "purchase-question")
        rule["then"]["reply"] = {"template": "prices", "visibility": "private"}

    path = candidate(tmp_path, answer_prices)
    assert main(["rules", "dry-run", "--rules", path, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    # Then the report lists the one purchase question answered, by rule and template
    assert report["automatic_replies"] == {"purchase-question → prices (private)": 1}
    # And the text report says so too
    assert main(["rules", "dry-run", "--rules", path]) == 0
    out = capsys.readouterr().out
    assert "automatic replies it would send  1" in out and "purchase-question → prices (private)" in out


def test_a_dry_run_logs_whose_messages_it_read_before_it_prints_them(routed, tmp_path, capsys):
    path = candidate(tmp_path, lambda d: None)
    ledger = boto3.client("dynamodb")
    table = TABLES["access_ledger"].local_name
    before = ledger.scan(TableName=table)["Items"]
    # When an analyst dry-runs a document, giving a ticket as the reason
    assert main(["rules", "dry-run", "--rules", path, "--json", "--reason", "T-314"]) == 0
    # Then one entry names each subject whose messages were read (three people), with who and why
    new = [i for i in ledger.scan(TableName=table)["Items"] if i not in before]
    assert {i["pk"]["S"] for i in new} == {f"s#{i.subject_id}" for i in routed}
    assert len(new) == 3 and len({i["entry_id"]["S"] for i in new}) == 1
    entry = new[0]
    assert entry["route"]["S"] == "CLI socialcrm rules dry-run" and entry["reason"]["S"] == "T-314"
    assert entry["principal"]["S"].startswith("arn:aws:")


def test_a_dry_run_that_cannot_log_its_reads_shows_nothing(routed, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ACCESS_LEDGER_TABLE", "no-such-table")
    code = main(["rules", "dry-run", "--rules", candidate(tmp_path, lambda d: None)])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "access log could not be written" in err
    assert "x:1" not in err


def test_a_reason_that_is_not_a_ticket_reference_is_refused(routed, tmp_path, capsys):
    code = main(["rules", "dry-run", "--rules", candidate(tmp_path, lambda d: None), "--reason", "Ana asked"])
    assert code == 2 and "ticket reference" in capsys.readouterr().err
