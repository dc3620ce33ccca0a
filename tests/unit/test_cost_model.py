"""The cost model bills a global secondary index as DynamoDB does (bench/cost.py, quoted in the README)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bench_cost", ROOT / "bench" / "cost.py")
assert _spec is not None and _spec.loader is not None
cost = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = cost  # its dataclasses look their module up while they are made
_spec.loader.exec_module(cost)

SCHEMA = cost._Schema(keys=("pk",), indexes=())
ALL = cost._Index("by_queue", ("queue", "rank"), "ALL", ())
KEYS = cost._Index("by_queue", ("queue", "rank"), "KEYS_ONLY", ())


def _item(queue: str | None = "team|open", rank: str = "1", body: str = "x") -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": "c1"}, "rank": {"S": rank}, "body": {"S": body}}
    if queue is not None:
        item["queue"] = {"S": queue}
    return item


def test_an_item_entering_or_leaving_an_index_writes_it_once():
    assert cost._index_units(SCHEMA, ALL, {}, _item()) == 1
    assert cost._index_units(SCHEMA, ALL, _item(), {}) == 1
    assert cost._index_units(SCHEMA, ALL, _item(queue=None), _item(queue=None)) == 0


def test_a_changed_index_key_deletes_and_puts():
    assert cost._index_units(SCHEMA, ALL, _item(rank="1"), _item(rank="2")) == 2


def test_a_keys_only_index_is_not_written_when_other_attributes_change():
    assert cost._index_units(SCHEMA, KEYS, _item(body="a"), _item(body="b")) == 0
    assert cost._index_units(SCHEMA, ALL, _item(body="a"), _item(body="b")) == 1


def test_an_index_is_billed_on_the_projected_size():
    large = _item(body="y" * 2900)  # about 2.9 KB: three units
    assert cost._index_units(SCHEMA, ALL, {}, large) == 3
    assert cost._index_units(SCHEMA, KEYS, {}, large) == 1
