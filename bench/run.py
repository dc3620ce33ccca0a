"""`make bench`: measure every tracked figure and write them to bench/results.json.

Each figure module has `measure() -> dict`. Run one with `python bench/run.py ingest_figures`.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "functions"), str(ROOT)]
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

MODULES = [
    "ingest_figures",
    "enrichment",
    "pipeline_figures",
    "routing",
    "conversations",
    "replies",
    "assets",
    "erasure",
    "reporting",
    "local",
    "fuzz",
    "cost",
    "customers",
    "personas",
]
RESULTS = HERE / "results.json"


def main(argv: list[str]) -> int:
    chosen = argv or MODULES
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    figures = results.get("figures", {})
    for name in chosen:
        started = time.perf_counter()
        print(f"measuring {name} ...", flush=True)
        measured = importlib.import_module(name).measure()
        figures.update(measured)
        print(f"  {json.dumps(measured)}  ({time.perf_counter() - started:.0f} s)", flush=True)
    results = {
        "measured_at": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": "make bench",
        "figures": dict(sorted(figures.items())),
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
