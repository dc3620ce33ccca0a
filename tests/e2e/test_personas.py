"""Who may do what on the local stack: each persona over HTTP (the development principal's headers stand
for the IAM tags there), and the CLI's profile per persona."""

from __future__ import annotations

import pytest

from socialcrm.cli import main
from socialcrm.local import deliveries as d
from tests.e2e.pipeline import now, unique_number, wait_until

pytestmark = pytest.mark.e2e


def as_(persona: str, teams: str = "") -> dict[str, str]:
    return {"x-dev-persona": persona, "x-dev-teams": teams}


def test_each_persona_reaches_its_own_routes_and_a_team_only_its_cases(pipeline):
    # Given a customer's complaint in a Messenger message, routed to support
    customer = str(unique_number())
    payload = d.messenger_message(f"m_p-{customer}", customer, "My order arrived broken, terrible.", now())
    assert pipeline.deliver(payload).status_code == 200
    wait_until(lambda: pipeline.interaction(payload.interaction_ids[0]).get("routing"), what="routed")
    routing = pipeline.interaction(payload.interaction_ids[0])["routing"]
    case_id = routing["case_id"]
    assert "support" in routing["teams"] and "pr" not in routing["teams"]
    http = pipeline.http

    # When a support agent and a PR agent read it
    support = http.get(f"/cases/{case_id}", headers=as_("agent", "support"))
    pr = http.get(f"/cases/{case_id}", headers=as_("agent", "pr"))
    pr_queue = http.get("/cases", params={"limit": 100}, headers=as_("agent", "pr"))
    # Then support sees it; for PR it does not exist, and it is not in their queue
    assert support.status_code == 200
    assert pr.status_code == 404
    assert case_id not in {c["case_id"] for c in pr_queue.json()["items"]}

    # And the agent may not file an erasure, the compliance officer may not open a queue
    erase = http.post(
        "/erasure-requests",
        json={"subjects": [{"platform": "facebook", "user_id": customer}], "reference": "T-1"},
        headers=as_("agent", "support"),
    )
    assert (erase.status_code, erase.json()["message"]) == (
        403,
        "compliance-officer only: POST /erasure-requests.",
    )
    queue = http.get("/cases", headers=as_("compliance-officer"))
    assert (queue.status_code, queue.json()["message"]) == (403, "agent or team-lead only: GET /cases.")
    # And the report reader reads the summary and nothing of a person's
    today = now().date().isoformat()
    summary = http.get("/reports/summary", params={"from": today, "to": today}, headers=as_("report-reader"))
    assert summary.status_code == 200
    assert http.get(f"/cases/{case_id}", headers=as_("report-reader")).status_code == 403
    # And an agent without teams is told which tag is missing
    untagged = http.get("/cases", headers=as_("agent"))
    assert untagged.status_code == 403 and "socialcrm:teams" in untagged.json()["message"]


def test_the_cli_acts_as_its_profiles_persona_and_says_who_may(pipeline, capsys, monkeypatch, tmp_path):
    # Given an AWS config file with a profile per persona, as for the AWS CLI
    config = tmp_path / "config"
    config.write_text(
        "[profile agent]\nsocialcrm_persona = agent\nsocialcrm_teams = support\n\n"
        "[profile dpo]\nsocialcrm_persona = compliance-officer\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    url = str(pipeline.http.base_url).rstrip("/")
    erase = ("privacy", "erase", "--platform", "x", "--user-id", "nobody-1", "--reference", "T-1")
    # When the agent's profile files an erasure
    code = main([*erase, "--local", "--api-url", url, "--profile", "agent"])
    _, err = capsys.readouterr()
    # Then it is refused in one line that says who may
    assert code != 0 and "not allowed: compliance-officer only" in err
    # And the compliance officer's profile may read the work queue of no one
    code = main(["cases", "list", "--team", "support", "--local", "--api-url", url, "--profile", "dpo"])
    _, err = capsys.readouterr()
    assert code != 0 and "not allowed: agent or team-lead only" in err
