"""Local-stack figures, measured over HTTP on loopback against ``LocalStack`` with the topology's settings.

* ``local_e2e_ms_p50``: webhook accepted (the 200 received) → the interaction readable through
  ``GET /interactions/{id}``, one delivery at a time on a quiet stack; the median of ``samples``.
  It includes the inbound queue's batching window (``topology.QUEUES["inbound"]``), as in AWS.
* ``local_throughput_per_s``, over 1,000 and over 10,000 deliveries (each on a fresh stack), and
  ``local_throughput_ratio`` (the second over the first: a stack that slows down as it fills falls below
  1): ``deliveries`` signed webhooks (every platform in turn) sent by a load
  generator holding at most ``concurrency`` requests in flight, divided by the time from the first
  send until every one is enriched (the inbound queue empty). Zero lost is checked, not assumed: the
  interactions read back through the CRM timeline routes must number exactly the deliveries sent, and
  the dead-letter queues must be empty; otherwise the measurement fails.

Run on its own: ``python bench/local.py`` (1,000 then 10,000 deliveries), ``python bench/local.py --quick``
(500).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "functions"), str(ROOT)]
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

DELIVERIES = (1_000, 10_000)
QUICK_DELIVERIES = 500
SAMPLES = 7
QUICK_SAMPLES = 3
CONCURRENCY = 16
USERS_PER_PLATFORM = 40
DRAIN_DEADLINE_SECONDS = 1800.0


def measure(
    deliveries: tuple[int, ...] = DELIVERIES, samples: int = SAMPLES, concurrency: int = CONCURRENCY
) -> dict[str, Any]:
    """The figures, each run on a fresh local stack (a free port); raises if a delivery was lost."""
    import httpx

    from socialcrm.local.deliveries import Signer
    from socialcrm.local.stack import LocalStack

    with LocalStack(port=0) as stack:
        assert stack.secrets is not None
        signer = Signer(stack.secrets)
        with httpx.Client(base_url=stack.url, timeout=30.0) as http:
            latencies = [_one_latency(http, signer, n) for n in range(samples)]
    per_second: dict[str, float] = {}
    for count in deliveries:
        with LocalStack(port=0) as stack:
            assert stack.secrets is not None
            per_second[str(count)] = round(_throughput(stack, Signer(stack.secrets), count, concurrency), 1)
    figures: dict[str, Any] = {
        "local_e2e_ms_p50": round(statistics.median(latencies)),
        "local_throughput_per_s": per_second,
    }
    if len(deliveries) > 1:
        first, last = per_second[str(deliveries[0])], per_second[str(deliveries[-1])]
        figures["local_throughput_ratio"] = round(last / first, 2)
    return figures


# --- latency ------------------------------------------------------------------------------------------


def _one_latency(http: Any, signer: Any, n: int) -> float:
    from socialcrm.local import deliveries as d

    payload = d.generic_review(
        f"latency-{time.time_ns()}-{n}",
        "bench-latency",
        "bench",
        "The kettle arrived on time and works well, thank you.",
        datetime.now(tz=UTC),
    )
    delivery = signer.sign(payload)
    response = http.post(delivery.path, content=payload.body, headers=delivery.headers)
    accepted = time.perf_counter()
    if response.status_code != 200:
        raise RuntimeError(f"latency delivery refused: {response.status_code} {response.text}")
    give_up = accepted + 60.0
    while http.get(f"/interactions/{payload.interaction_ids[0]}").status_code != 200:
        if time.perf_counter() > give_up:
            raise RuntimeError("latency delivery not readable after 60 s")
        time.sleep(0.01)
    return (time.perf_counter() - accepted) * 1000


# --- throughput ---------------------------------------------------------------------------------------


def _payloads(count: int) -> Iterator[tuple[Any, tuple[str, str]]]:
    """``count`` deliveries of every platform in turn, each with the (platform, user) it belongs to."""
    from socialcrm.local import deliveries as d

    run = time.time_ns() % 10**12
    makers: list[Callable[[int, str, datetime], tuple[Any, tuple[str, str]]]] = [
        lambda n, u, t: (
            d.x_mention(f"{run}{n:07d}", f"7{u}", "bench_user", "@acme where is my parcel?", "en", t),
            ("x", f"7{u}"),
        ),
        lambda n, u, t: (
            d.generic_review(f"b-{run}-{n}", f"cust-{u}", "bench", "Good kettle, fast delivery.", t),
            ("generic", f"cust-{u}"),
        ),
        lambda n, u, t: (
            d.tiktok_message(f"{run}{n:07d}", f"-000bench{u}", "bench", "Is this in stock?", t),
            ("tiktok", f"-000bench{u}"),
        ),
        lambda n, u, t: (
            d.linkedin_comment(run * 10**7 + n, f"urn:li:person:bench{u}", "Congratulations!", t),
            ("linkedin", f"urn:li:person:bench{u}"),
        ),
        lambda n, u, t: (
            d.whatsapp_message(f"wamid.bench{run}{n}", f"9190000{u}", "Bench", "Price please?", t),
            ("whatsapp", f"9190000{u}"),
        ),
        lambda n, u, t: (
            d.youtube_upload(f"v{run}{n}", f"UCbench{u}", "Bench", "A new video about kettles", t),
            ("youtube", f"UCbench{u}"),
        ),
        lambda n, u, t: (
            d.instagram_message(f"aWdfbench{run}{n}", f"1784{u}", "Love the new colours!", t),
            ("instagram", f"1784{u}"),
        ),
        lambda n, u, t: (
            d.facebook_comment(f"{run}_{n}", f"7234{u}", "Bench", "Is this available in blue?", t),
            ("facebook", f"7234{u}"),
        ),
    ]
    for n, make in zip(range(count), itertools.cycle(makers), strict=False):
        yield make(n, f"{(n // len(makers)) % USERS_PER_PLATFORM:03d}", datetime.now(tz=UTC))


def _throughput(stack: Any, signer: Any, count: int, concurrency: int) -> float:
    import boto3

    sent: dict[tuple[str, str], int] = {}
    for _payload, subject in _payloads(count):
        sent[subject] = sent.get(subject, 0) + 1
    started = time.perf_counter()
    asyncio.run(_send_all(stack.url, signer, count, concurrency))
    sending = time.perf_counter() - started
    sqs = boto3.client("sqs")
    _wait_drained(sqs, stack.resources.queue_urls["inbound"])
    elapsed = time.perf_counter() - started
    read_back = _read_back(stack.url, sent)
    dead = _dead_letters(sqs, stack.resources.dlq_urls)
    print(
        f"  {count} deliveries sent in {sending:.1f} s, all enriched after {elapsed:.1f} s; "
        f"read back {read_back}; dead letters {dead}",
        flush=True,
    )
    if read_back != count or dead:
        raise RuntimeError(f"lost deliveries: sent {count}, read back {read_back}, dead letters {dead}")
    return count / elapsed


async def _send_all(url: str, signer: Any, count: int, concurrency: int) -> None:
    import httpx

    payloads = iter(_payloads(count))
    refused: list[str] = []

    async def worker(client: httpx.AsyncClient) -> None:
        for payload, _subject in payloads:  # a shared iterator: each delivery is sent once
            delivery = signer.sign(payload)
            response = await client.post(delivery.path, content=payload.body, headers=delivery.headers)
            if response.status_code != 200 or json.loads(response.text).get("queued") != 1:
                refused.append(f"{response.status_code} {response.text[:120]}")

    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(base_url=url, timeout=60.0, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    if refused:
        raise RuntimeError(f"{len(refused)} deliveries not queued, e.g. {refused[0]}")


def _wait_drained(sqs: Any, url: str) -> None:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    give_up = time.perf_counter() + DRAIN_DEADLINE_SECONDS
    while time.perf_counter() < give_up:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        if all(attributes[name] == "0" for name in names):
            return
        time.sleep(0.5)  # moto counts a queue's messages one by one: asking often slows the stack
    raise RuntimeError("the inbound queue did not drain")


def _read_back(url: str, sent: dict[tuple[str, str], int]) -> int:
    """Every interaction of every subject the load used, counted through the CRM timeline route."""
    import httpx

    from socialcrm.models import BRAND_REPLY

    total = 0
    with httpx.Client(base_url=url, timeout=60.0) as http:
        for platform, user_id in sent:
            cursor = None
            while True:
                params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
                page = http.get(f"/subjects/{platform}/{user_id}/interactions", params=params).json()
                # the customers' messages: out of hours, automatic acknowledgements join the timelines
                total += sum(1 for item in page["items"] if item["kind"] != BRAND_REPLY)
                cursor = page.get("next_cursor")
                if not cursor:
                    break
    return total


def _dead_letters(sqs: Any, dlq_urls: dict[str, str]) -> int:
    attributes = [
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        for url in dlq_urls.values()
    ]
    return sum(int(a["ApproximateNumberOfMessages"]) for a in attributes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_DELIVERIES} deliveries, {QUICK_SAMPLES} samples"
    )
    parser.add_argument("--deliveries", type=int, default=None)
    parser.add_argument("--samples", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    args = parser.parse_args(argv)
    deliveries = (args.deliveries,) if args.deliveries else (QUICK_DELIVERIES,) if args.quick else DELIVERIES
    samples = args.samples or (QUICK_SAMPLES if args.quick else SAMPLES)
    print(json.dumps(measure(deliveries, samples, args.concurrency)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
