"""``socialcrm cases`` against the local stack: list a team's queue, read a conversation, assign, resolve."""

from __future__ import annotations

import pytest

from socialcrm.cli import main
from socialcrm.local import deliveries as d
from tests.e2e.pipeline import now, unique_number, wait_until

pytestmark = pytest.mark.e2e


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_an_agent_works_a_messenger_conversation_from_the_terminal(pipeline, capsys):
    url = str(pipeline.http.base_url).rstrip("/")
    local = ("--local", "--api-url", url)
    # Given a customer's two Messenger messages about a broken order, and the Page's reply echoed back
    customer = str(unique_number())
    first = d.messenger_message(f"m_cli-{customer}-1", customer, "My order arrived broken, terrible.", now())
    second = d.messenger_message(f"m_cli-{customer}-2", customer, "The box was crushed too.", now())
    for payload in (first, second):
        assert pipeline.deliver(payload).status_code == 200
    wait_until(
        lambda: all(
            pipeline.interaction(i).get("routing") for i in (*first.interaction_ids, *second.interaction_ids)
        ),
        what="both messages are routed",
    )
    case_id = pipeline.interaction(first.interaction_ids[0])["routing"]["case_id"]
    assert (
        pipeline.deliver(d.messenger_echo(f"m_cli-{customer}-r", customer, "So sorry!", now())).status_code
        == 200
    )
    wait_until(
        lambda: pipeline.http.get(f"/cases/{case_id}").json().get("first_response_at") is not None,
        what="the echo answers the case",
    )

    # When the agent lists support's queue, the case is there, one line, answered natively
    code, out, _ = run(capsys, "cases", "list", "--team", "support", "--limit", "100", *local)
    assert code == 0
    [line] = [line for line in out.splitlines() if line.startswith(case_id)]
    assert "P2" in line and "met" in line and " 3 " in line  # two messages and the brand's reply

    # And shows it: the clocks and the conversation in order, the brand's reply last, no message text
    code, out, _ = run(capsys, "cases", "show", case_id, *local)
    assert code == 0
    assert "first response" in out and "(native)" in out and "3 message(s)" in out
    lines = [line for line in out.splitlines() if "messenger:m_cli-" in line]
    assert [("brand" in line) for line in lines] == [False, False, True]
    assert "terrible" not in out and "crushed" not in out

    # And assigns and resolves it
    assert (
        run(capsys, "cases", "assign", case_id, "--to", "agent-7", *local)[1].strip()
        == f"{case_id} assigned to agent-7"
    )
    code, out, _ = run(capsys, "cases", "resolve", case_id, *local)
    assert code == 0 and f"{case_id} resolved at" in out and "resolution met" in out
    assert pipeline.http.get(f"/cases/{case_id}").json()["status"] == "resolved"


def test_a_wrong_case_id_or_an_unknown_case_is_one_clear_line(pipeline, capsys):
    url = str(pipeline.http.base_url).rstrip("/")
    code, out, err = run(capsys, "cases", "show", "not-a-case", "--local", "--api-url", url)
    assert code == 2 and out == "" and err.count("\n") == 1 and "a case id is c_ or s_" in err
    code, _, err = run(capsys, "cases", "resolve", "c_" + "0" * 32, "--local", "--api-url", url)
    assert code == 2 and err.count("\n") == 1 and "404" in err and "Traceback" not in err
    code, _, err = run(capsys, "cases", "list", "--team", "Support!", "--local", "--api-url", url)
    assert code == 2 and "--team" in err
