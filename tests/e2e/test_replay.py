"""``socialcrm events replay`` on the local stack: replaying the archive over events already handled changes
nothing a person can see: no case reopened or duplicated, nothing counted twice, no reply sent, and
nothing of an erased subject comes back."""

from __future__ import annotations

import time
from datetime import timedelta

import boto3
import pytest

from socialcrm.api.path_ids import encode_path_id
from socialcrm.cli import main
from socialcrm.local import deliveries as d
from socialcrm.topology import BUS_NAME, archive_name
from tests.e2e.pipeline import now, poll, unique_number, wait_until

pytestmark = pytest.mark.e2e


def _quiet(stack) -> bool:
    """No message waiting or in flight on any work queue of the stack."""
    sqs = boto3.client("sqs", endpoint_url=stack.aws_url)
    for url in stack.resources.queue_urls.values():
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        if any(int(value) for value in attributes.values()):
            return False
    return True


def _settled(stack) -> None:
    """Wait until the queues have been quiet for a moment (a consumer may publish more as it ends)."""
    quiet_since = None
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        if _quiet(stack):
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 1.5:
                return
        else:
            quiet_since = None
        time.sleep(0.1)
    raise AssertionError("the work queues did not drain")


def test_replaying_the_archive_changes_no_case_no_count_sends_nothing_and_brings_back_no_erased_subject(
    stack, pipeline
):
    started = now() - timedelta(seconds=5)
    kept_user, erased_user = str(unique_number()), str(unique_number())
    # Given two customers' complaints routed into cases, and the second customer erased since
    kept = d.x_mention(
        str(unique_number()), kept_user, "kept_user", "@acme my refund never came, awful", "en", now()
    )
    erased = d.x_mention(
        str(unique_number()), erased_user, "erased_user", "@acme the app is broken, terrible", "en", now()
    )
    for payload in (kept, erased):
        assert pipeline.deliver(payload).status_code == 200
    kept_id, erased_id = kept.interaction_ids[0], erased.interaction_ids[0]
    for interaction_id in (kept_id, erased_id):
        wait_until(
            lambda i=interaction_id: bool(pipeline.interaction(i).get("routing")),
            what="the complaint is routed",
        )
    case_id = pipeline.interaction(kept_id)["routing"]["case_id"]
    request = pipeline.http.post(
        "/erasure-requests",
        json={"subjects": [{"platform": "x", "user_id": erased_user}], "reference": "T-replay"},
    )
    assert request.status_code == 202, request.text
    request_id = request.json()["request_id"]
    wait_until(
        lambda: pipeline.http.get(f"/erasure-requests/{request_id}").json().get("status") == "COMPLETED",
        deadline=90,
        what="the erasure completed",
    )
    _settled(stack)
    day = {"from": started.date().isoformat(), "to": now().date().isoformat()}
    summary_before = pipeline.http.get("/reports/summary", params=day).json()
    case_before = poll(lambda: pipeline.http.get(f"/cases/{case_id}")).json()
    sent_before = len(stack.platform.requests())
    archive = boto3.client("events", endpoint_url=stack.aws_url).describe_archive(
        ArchiveName=archive_name(BUS_NAME)
    )
    assert archive["EventCount"] > 0  # the archive holds the events the pipeline published

    # When an operator replays the archive's events of the last minutes to every consumer
    code = main(
        [
            "events", "replay", "--bus", BUS_NAME, "--endpoint-url", stack.aws_url,
            "--from", started.isoformat(), "--to", now().isoformat(), "--yes", "--wait",
        ]
    )  # fmt: skip
    assert code == 0
    _settled(stack)

    # Then the case, the report's counts and the platform's requests are as they were
    assert pipeline.http.get(f"/cases/{case_id}").json() == case_before
    assert pipeline.http.get("/reports/summary", params=day).json() == summary_before
    assert len(stack.platform.requests()) == sent_before
    # … and nothing of the erased customer came back
    assert pipeline.http.get(f"/interactions/{encode_path_id(erased_id)}").status_code == 404
    timeline = pipeline.timeline("x", erased_user)
    assert timeline.status_code == 200 and timeline.json()["items"] == []
    assert pipeline.http.get(f"/erasure-requests/{request_id}").json()["status"] == "COMPLETED"
