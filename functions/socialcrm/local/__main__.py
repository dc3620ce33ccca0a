"""``make local``: the whole pipeline on this machine until Ctrl-C (``python -m socialcrm.local --port 3000``)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from socialcrm.errors import ConfigurationError
from socialcrm.local import logs
from socialcrm.local.stack import DAILY_REPORT_AT, LOCAL_DEFAULTS, LocalStack, LocalStackError
from socialcrm.observability import logger
from socialcrm.topology import FUNCTIONS, QUEUES, ROUTES

REPORTS_FOLDER = Path(os.environ.get("REPORTS_DIR", LOCAL_DEFAULTS["REPORTS_DIR"]))
PLATFORM_ROUTES = ("meta", "x", "linkedin", "tiktok", "youtube", "generic")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make local", description="Run the socialcrm pipeline locally.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")), help="HTTP API port")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP API address (loopback by default)")
    parser.add_argument(
        "--secrets-file",
        default=None,
        help="platform-secrets JSON (default: $SOCIALCRM_SECRETS_FILE, else config/dev-secrets.json)",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser.parse_args(argv)


def banner(stack: LocalStack) -> str:
    """What is running and where, for a person; names of configured platforms, never their secrets."""
    assert stack.secrets is not None
    configured = [name for name in PLATFORM_ROUTES if stack.secrets.for_platform(name) is not None]
    lines = [
        "socialcrm local stack",
        f"  HTTP API      {stack.url}",
        *(f"                {method:<6} {path}" for method, path, _function, _iam in ROUTES),
        f"  embedded AWS  {stack.aws_url}  (moto; AWS_ENDPOINT_URL={stack.aws_url} aws ... to look inside)",
        f"  replay        AWS_ENDPOINT_URL={stack.aws_url} AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local "
        "AWS_REGION=eu-west-1 socialcrm events replay --bus socialcrm --from … --to …",
        f"  Comprehend    {stack.comprehend_url}  (offline analyser)",
        f"  daily report  {_shown_path(REPORTS_FOLDER)}/<day>/ at {DAILY_REPORT_AT:%H:%M} UTC (JSON, CSV, HTML with charts)",
        f"  secrets       {_shown(stack)}  (platforms: {', '.join(configured) or 'none'})",
    ]
    if stack.platform is not None:
        lines.append(
            f"  fake platform {stack.platform.url}  (replies go here: GET /_fake/requests, POST /_fake/faults)"
        )
    for queue in QUEUES.values():
        consumers = ", ".join(spec.key for spec in FUNCTIONS.values() if spec.queue == queue.key)
        window = (
            queue.batching_window_seconds
            if stack.batching_window_seconds is None
            else stack.batching_window_seconds
        )
        lines.append(
            f"  queue         {queue.local_name} → {consumers} (batch {queue.batch_size}, window {window:g} s, "
            f"DLQ after {queue.max_receive_count} receives)"
        )
    lines.append(
        "Logs follow each interaction: received → queued → enriched → routed. Ctrl-C stops everything."
    )
    return "\n".join(lines)


def _shown(stack: LocalStack) -> str:
    return _shown_path(stack.secrets_file)


def _shown_path(path: Path) -> str:
    try:
        return str(path.relative_to(os.getcwd()))
    except ValueError:
        return str(path)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stack = LocalStack(args.port, host=args.host, secrets_file=args.secrets_file)
    undo_logs = logs.install(logger, args.log_level)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # even when started with SIGINT ignored (a background job)
    try:
        stack.start()
    except (ConfigurationError, LocalStackError) as exc:
        undo_logs()
        print(f"make local: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        _stop(stack)
        return 0
    try:
        print(banner(stack), flush=True)
        while stack.running:
            time.sleep(0.5)
        print("make local: the HTTP API stopped unexpectedly.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        _stop(stack)
        undo_logs()
        print("stopped.", flush=True)


def _stop(stack: LocalStack) -> None:
    """Stop the stack; a second Ctrl-C while it stops is ignored rather than left half-stopped."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
