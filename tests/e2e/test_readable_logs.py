"""What a developer reads while the local stack runs: one line per stage, and no personal data."""

from __future__ import annotations

import io

import pytest

from socialcrm.local import deliveries as d
from socialcrm.local import logs
from socialcrm.observability import logger
from tests.e2e.pipeline import now, unique_number, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def readable_log():
    """The stack's log as ``make local`` renders it, captured."""
    buffer = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    undo = logs.install(logger, "INFO")
    try:
        yield buffer
    finally:
        undo()
        handler.setStream(previous)  # type: ignore[attr-defined]


def test_each_stage_of_an_interaction_is_one_readable_line_without_personal_data(pipeline, readable_log):
    # Given a WhatsApp customer with a name, a phone number and a message
    phone, name, text = (
        f"4477{unique_number()}",
        "Zanele Okonkwo-Whitfield",
        "Please call me about invoice 42",
    )
    payload = d.whatsapp_message(f"wamid.HBgL{unique_number()}", phone, name, text, now())
    interaction_id = payload.interaction_ids[0]

    # When it goes through the pipeline
    assert pipeline.deliver(payload).status_code == 200
    ref = pipeline.interaction(interaction_id)["interaction_ref"]
    wait_until(lambda: f"enriched   interaction_ref={ref}" in readable_log.getvalue(), what="enriched line")

    # Then the log shows received, queued and enriched as lines a person can follow, by the keyed ref...
    lines = readable_log.getvalue().splitlines()
    mine = [line for line in lines if ref in line]
    assert any(" ingest  queued " in line for line in mine)
    assert any(" enrich  enriched " in line and "language=en" in line for line in mine)
    assert any(" ingest  received " in line and "platform=meta" in line for line in lines)
    # ...and nothing that identifies the person: no name, no phone number, no message text
    everything = readable_log.getvalue()
    for personal in (name, "Okonkwo", text, "invoice 42"):
        assert personal not in everything
    assert f"whatsapp:{phone}" not in everything and f"={phone}" not in everything
    # ...nor the WhatsApp message id, which encodes the phone number
    assert payload.interaction_ids[0].split(":", 1)[1] not in everything


def test_a_refused_delivery_is_logged_with_its_reason(pipeline, readable_log):
    # Given a TikTok message with a forged signature
    payload = d.tiktok_message(str(unique_number()), "-000buyer", "buyer", "Is this in stock?", now())

    # When it is posted
    response = pipeline.deliver(payload, headers=pipeline.signer.forged(payload).headers)

    # Then the log says it was refused, for which platform and why
    assert response.status_code == 401
    refused = [line for line in readable_log.getvalue().splitlines() if " refused " in line]
    assert refused and "platform=tiktok" in refused[-1] and "error=invalid_signature" in refused[-1]
