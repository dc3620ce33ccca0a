"""The registry of personal-data stores: every table is accounted for, in an order that keeps keys derivable."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from socialcrm.api.privacy import ErasureRequestBody
from socialcrm.errors import ConfigurationError
from socialcrm.privacy.requests import ErasureRecord
from socialcrm.privacy.stores import (
    CLASSIFIED,
    CLASSIFIED_QUEUES,
    NOT_REACHED,
    PERSONAL_DATA_QUEUES,
    PERSONAL_DATA_TABLES,
    IndexedStore,
    ProfileStore,
    build_stores,
)
from socialcrm.topology import RETENTION_DAYS, TABLES, queue_keys

DLQS = {key: f"https://sqs.local/{key}" for key in PERSONAL_DATA_QUEUES}

SUBJECT = "a" * 64


def test_every_table_is_either_erased_or_kept_for_a_stated_reason():
    # Given the tables the project declares
    erased, kept = set(PERSONAL_DATA_TABLES), set(CLASSIFIED)
    # Then each is in exactly one of the two lists, and every kept table says why
    assert erased.isdisjoint(kept)
    assert erased | kept == set(TABLES), f"classify these tables: {sorted(set(TABLES) - erased - kept)}"
    assert all(len(reason) > 30 for reason in CLASSIFIED.values())


def test_every_queue_is_either_erased_or_kept_for_a_stated_reason():
    # Given every queue of the app (work queues, their dead-letter queues, the others the infra creates)
    erased, kept = set(PERSONAL_DATA_QUEUES), set(CLASSIFIED_QUEUES)
    # Then each is erased by subject or kept with its reason: a queue added later fails here until classified
    assert erased.isdisjoint(kept)
    assert erased | kept == set(queue_keys()), (
        f"classify these queues: {sorted(set(queue_keys()) - erased - kept)}"
    )
    assert all(len(reason) > 30 for reason in CLASSIFIED_QUEUES.values())
    # And the dead-letter queue of every consumer that can hold a message about a person is erased
    assert {"inbound-dlq", "route-dlq", "report-dlq"} <= erased


def test_every_table_has_a_retention_period_enforced_by_ttl():
    for key, spec in TABLES.items():
        assert key in RETENTION_DAYS, key
        assert spec.ttl_attribute, key


def test_derived_stores_come_before_the_stores_whose_ids_compute_their_keys():
    registry = build_stores({key: f"t-{key}" for key in PERSONAL_DATA_TABLES}, dlq_urls=DLQS)
    names = registry.names
    # the brand's replies are found through the subject's cases, so they are erased before them
    assert names == (
        "report_seen",
        "brand_replies",
        "shared_cases",
        *PERSONAL_DATA_TABLES[1:],
        *PERSONAL_DATA_QUEUES,
    )
    assert names.index("report_seen") < min(names.index("cases"), names.index("interactions"))
    assert names.index("subjects") > max(names.index("cases"), names.index("interactions"))


def test_a_missing_table_name_is_a_configuration_error_naming_it():
    names = {key: key for key in PERSONAL_DATA_TABLES if key != "cases"}
    with pytest.raises(ConfigurationError, match="cases"):
        build_stores(names, dlq_urls=DLQS)


def test_a_missing_dead_letter_queue_is_a_configuration_error_naming_it():
    tables = {key: key for key in PERSONAL_DATA_TABLES}
    with pytest.raises(ConfigurationError, match="route-dlq"):
        build_stores(tables, dlq_urls={k: v for k, v in DLQS.items() if k != "route-dlq"})


def test_a_store_refuses_a_table_it_could_only_erase_by_scanning():
    with pytest.raises(ValueError, match="by_subject"):
        IndexedStore("subjects", spec=TABLES["subjects"], table_name="t")
    with pytest.raises(ValueError, match="subject_id"):
        ProfileStore("interactions", spec=TABLES["interactions"], table_name="t")


def test_an_erasure_record_is_due_in_30_days_and_shows_totals_but_not_its_bookkeeping():
    at = datetime(2026, 11, 22, 10, tzinfo=UTC)
    record = ErasureRecord.new(
        "r1", subject_ids=[SUBJECT, SUBJECT, "b" * 64], reference="T-1", requested_by="arn:x", now=at
    )
    record.subjects[0].erased.update({"interactions": 3, "subjects": 1})
    record.subjects[1].erased.update({"interactions": 2})
    view = record.view()
    assert view["due_at"] == "2026-12-22T10:00:00Z" and view["subject_count"] == 2  # duplicates merged
    assert view["erased"] == {"interactions": 5, "subjects": 1}
    # And the proof says what no erasure can reach
    assert view["not_reached"] == list(NOT_REACHED) and any("backup" in line for line in NOT_REACHED)
    assert not {"phase", "done", "lease_until", "version", "announced"} & set(view)


@pytest.mark.parametrize("reference", ["T-42", "JIRA-1234", "zendesk#99", "case/2026/11"])
def test_a_ticket_reference_is_accepted(reference):
    assert ErasureRequestBody(subjects=[{"platform": "x", "user_id": "1"}], reference=reference)


@pytest.mark.parametrize("reference", ["", "Ana Quixote", "ana@example.com", "x" * 65, "-leading"])
def test_a_reference_that_could_carry_personal_data_is_refused(reference):
    with pytest.raises(ValidationError):
        ErasureRequestBody(subjects=[{"platform": "x", "user_id": "1"}], reference=reference)


def test_the_settle_period_outlasts_every_writer_that_checked_the_tombstone_just_before_it():
    # Given the consumers that read the tombstone before they write something derived from a subject
    from datetime import timedelta

    from socialcrm.privacy.suppression import DynamoSuppressionCheck
    from socialcrm.reporting.consumer import ERASED_CASE_MARGIN
    from socialcrm.settings import EraseSettings
    from socialcrm.topology import FUNCTIONS

    settle = EraseSettings.model_fields["settle_seconds"].default
    cache = DynamoSuppressionCheck.__init__.__kwdefaults__["cache_seconds"]
    # Then verification starts only after the slowest of them has finished (its timeout and the cache)
    assert settle > max(FUNCTIONS[key].timeout_seconds for key in ("enrich", "report")) + cache
    # And the report consumer drops case facts opened until a route run after the settle period ended
    assert timedelta(seconds=settle + FUNCTIONS["route"].timeout_seconds + cache) <= ERASED_CASE_MARGIN
