"""Start and stop the whole pipeline on this machine: ``make local``, ``make demo``, the e2e tests, the bench.

Two processes, the embedded AWS and the rest in threads:

* moto's server on a free loopback port, the embedded AWS, in a process of its own
  (:mod:`socialcrm.local.aws_server`);
* every table, queue, DLQ, the bus and its rules, created by ``create_resources`` from
  ``socialcrm.topology`` (the definitions the CDK app builds from);
* the offline Comprehend (``socialcrm.local.comprehend_offline``) on another free port;
* a fake platform API (``socialcrm.local.fake_platform``) on another: replies are sent there, it records
  every request, and it posts the echoes Meta would (signed) back to the local webhook route. Unless the
  secrets file has its own ``send`` section, the stack answers through it with development credentials
  (the functions read a copy of the secrets file with them added);
* the HTTP API (:class:`socialcrm.local.app.LocalApi` under uvicorn) on ``host:port``;
* one poller per queue feeding its function (:mod:`socialcrm.local.poller`);
* the routing package's in-process SLA timer, and the daily report's schedule (:class:`DailyReportSchedule`):
  EventBridge Scheduler's part.

The handlers take everything from the environment, as in Lambda, so the stack sets the process
environment they read (endpoints, fake credentials, region, table and queue names, the secrets file)
while it runs, and puts the previous environment back when it stops.

Used as a context manager (``port=0`` picks a free port)::

    with LocalStack(port=0) as stack:
        httpx.get(f"{stack.url}/interactions/x:1").status_code  # 404
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any

import boto3

from socialcrm.local.resources import LocalResources, create_resources
from socialcrm.observability import logger
from socialcrm.secrets import PlatformSecrets, load_secrets_file
from socialcrm.topology import FUNCTIONS

ROOT = Path(__file__).resolve().parents[3]
DEV_SECRETS_FILE = ROOT / "config" / "dev-secrets.json"
REGION = "eu-west-1"
START_TIMEOUT_SECONDS = 30.0
KEEP_ALIVE_SECONDS = 65  # how long the HTTP API keeps an idle connection open
# Environment variables that would send a client elsewhere than the embedded AWS, or fail it.
_UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
_UNSET_PREFIX = "AWS_ENDPOINT_URL_"
_IGNORE_ENDPOINTS = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
# lru_cached factories below the handlers (module, function) holding a client or clock of one stack.
_CACHED_FACTORIES = (
    ("socialcrm.enrichment.comprehend", "comprehend_client"),
    ("socialcrm.routing.runtime", "local_timer"),
)
# Settings the functions read that the local stack gives its own value, unless the environment has one.
LOCAL_DEFAULTS = {
    # The erase function waits this long before verifying (90 s in AWS: the enrich timeout and a margin);
    # a local enrich batch finishes in seconds.
    "ERASURE_SETTLE_SECONDS": "5",
    # The erasure reads the dead-letter queues; moto is one server, so no long polling is needed.
    "DLQ_SCAN_WAIT_SECONDS": "0",
    # The daily report goes to this folder instead of the reports bucket.
    "REPORTS_DIR": str(ROOT / "reports"),
    # No IAM authoriser here: the X-Dev-Persona / X-Dev-Teams headers of loopback clients name the caller
    # (socialcrm.local.principals). The CDK app never sets it.
    "SOCIALCRM_DEV_PRINCIPALS": "1",
}
# When the daily report runs each day (UTC), as the schedule of the CDK app: cron(30 0 * * ? *).
DAILY_REPORT_AT = dt_time(0, 30)
# The YouTube channel the local stack follows over WebSub (the demo's reviewer), unless YOUTUBE_CHANNELS says.
LOCAL_YOUTUBE_CHANNEL = "UC9ReviewsWithRahul00001"
# How often the websub function runs, as the schedule of the CDK app: rate(1 hour).
WEBSUB_EVERY = timedelta(hours=1)


# How long after accepting a message the fake platform posts its echo (Meta's arrive within seconds).
ECHO_DELAY_SECONDS = 0.2


def dev_send_secrets(platform_url: str) -> dict[str, Any]:
    """Development send credentials, every platform answered through the fake platform at ``platform_url``,
    for the accounts the demo's deliveries come from (``socialcrm.local.deliveries``)."""
    from socialcrm.local import deliveries

    return {
        "base_urls": {
            name: f"{platform_url}/{name}" for name in ("meta", "instagram", "x", "linkedin", "tiktok")
        },
        "facebook": {"access_token": "dev-page-token-NOT-REAL"},
        # Instagram Login: the Instagram account's own token (its DMs and comments on graph.instagram.com)
        "instagram": {"access_token": "dev-instagram-token-NOT-REAL"},
        "whatsapp": {
            "access_token": "dev-whatsapp-token-NOT-REAL",
            "phone_number_id": deliveries.WHATSAPP_PHONE_NUMBER_ID,
        },
        "x": {"access_token": "dev-x-token-NOT-REAL", "user_id": deliveries.X_BRAND},
        "linkedin": {
            "access_token": "dev-linkedin-token-NOT-REAL",
            "organization_urn": deliveries.LINKEDIN_ORGANIZATION,
        },
        "tiktok": {
            "access_token": "dev-tiktok-token-NOT-REAL",
            "business_id": deliveries.TIKTOK_BUSINESS,
            "region": "US",
        },
        "generic": {
            "url": f"{platform_url}/generic/replies",
            "webhook_secret": "whsec_ZGV2LWdlbmVyaWMtcmVwbHktc2VjcmV0LU5PVC1SRUFM",
        },
    }


def dev_platform(**options: Any) -> Any:
    """The fake platform API with the demo's accounts (``socialcrm.local.deliveries``)."""
    from socialcrm.local import deliveries
    from socialcrm.local.fake_platform import FakePlatform

    return FakePlatform(
        page_id=deliveries.FACEBOOK_PAGE,
        instagram_account_id=deliveries.INSTAGRAM_ACCOUNT,
        x_user_id=deliveries.X_BRAND,
        **options,
    )


class LocalStackError(Exception):
    """The local stack cannot start; the message says why, for a person."""


class PortInUseError(LocalStackError):
    pass


def secrets_file_to_use(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The secrets file: the one given, else ``SOCIALCRM_SECRETS_FILE``, else the checked-in dev file."""
    chosen = explicit or os.environ.get("SOCIALCRM_SECRETS_FILE") or DEV_SECRETS_FILE
    return Path(chosen).expanduser().resolve()


def bind_port(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` for the API, or ``PortInUseError`` with a clear message."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by accepted connections: without it a response's head and body wait on the client's
    # delayed ACK (Nagle), 40 ms a request (uvicorn sets it only on sockets it binds itself).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise PortInUseError(
                f"Port {port} on {host} is already in use (is another `make local` running?); "
                f"stop it or choose another port, e.g. `make local PORT={port + 1}`."
            ) from exc
        raise LocalStackError(f"Cannot listen on {host}:{port}: {exc.strerror}.") from exc
    return sock


class LocalStack:
    """The local pipeline; ``start()``/``stop()`` or use it as a context manager.

    ``port=0`` picks a free port (tests). ``batching_window_seconds`` overrides every queue's
    batching window and ``retry_delay_seconds`` is how soon a failed record is retried; the defaults
    are the topology's window and one second.
    """

    def __init__(
        self,
        port: int = 3000,
        *,
        host: str = "127.0.0.1",
        secrets_file: str | os.PathLike[str] | None = None,
        batching_window_seconds: float | None = None,
        retry_delay_seconds: int = 1,
    ) -> None:
        self.host, self.port = host, port
        self.secrets_file = secrets_file_to_use(secrets_file)
        self.batching_window_seconds = batching_window_seconds
        self.retry_delay_seconds = retry_delay_seconds
        self.secrets: PlatformSecrets | None = None
        self.resources = LocalResources()
        self.aws_url = ""
        self.comprehend_url = ""
        self.pollers: list[Any] = []
        self._moto: Any = None
        self._analyser: Any = None
        self.platform: Any = None  # the fake platform API (socialcrm.local.fake_platform.FakePlatform)
        self.hub: Any = None  # the fake WebSub hub (socialcrm.local.fake_hub.FakeHub)
        self.websub: WebSubSchedule | None = None
        self._runtime_dir: Any = None
        self._sla_timer: Any = None
        self.daily_report: DailyReportSchedule | None = None
        self._server: Any = None
        self._server_thread: threading.Thread | None = None
        self._saved_env: dict[str, str | None] = {}
        self._running = False

    @property
    def url(self) -> str:
        """Where the HTTP API listens, e.g. ``http://127.0.0.1:3000``."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._running and self._server_thread is not None and self._server_thread.is_alive()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        """Start everything, or raise ``ConfigurationError`` (the secrets file, naming the field) or
        ``PortInUseError``/``LocalStackError`` before anything is left running."""
        self.secrets = load_secrets_file(self.secrets_file)
        sock = bind_port(self.host, self.port)
        self.port = sock.getsockname()[1]
        try:
            self._start_aws()
            self._start_analyser()
            self._set_environment()
            self._start_platform()
            self.resources = create_resources(boto3.session.Session())
            self._set(self.resources.environment)
            self._set(function_environment())
            _forget_runtimes()
            self._start_api(sock)
            self._start_pollers()
            self._start_schedules()
        except BaseException:
            sock.close()
            self.stop()
            raise
        self._running = True
        return self

    def stop(self) -> None:
        """Stop the API, then the pollers (a batch in hand is finished), the analyser and the embedded AWS."""
        self._running = False
        if self._server is not None:
            self._server.should_exit = True
        if self._server_thread is not None:
            self._server_thread.join(10)
        for poller in self.pollers:
            poller.signal_stop()  # all at once: each may be in a long poll of up to a second
        for poller in self.pollers:
            poller.stop()
        if self._sla_timer is not None:
            self._sla_timer.stop()
        if self.daily_report is not None:
            self.daily_report.stop()
        if self.websub is not None:
            self.websub.stop()
            self.websub = None
        if self.hub is not None:
            self.hub.stop()
            self.hub = None
        if self._analyser is not None:
            self._analyser.shutdown()
            self._analyser.server_close()
        if self.platform is not None:
            self.platform.stop()
            self.platform = None
        if self._runtime_dir is not None:
            self._runtime_dir.cleanup()
            self._runtime_dir = None
        self._stop_aws()
        self._server = self._server_thread = self._analyser = self._sla_timer = None
        self.daily_report = None
        self.pollers = []
        self._restore_environment()
        _forget_runtimes()

    # --- parts -------------------------------------------------------------------------------------

    def _start_aws(self) -> None:
        """moto's server in a process of its own (:mod:`socialcrm.local.aws_server`)."""
        package_root = str(Path(__file__).resolve().parents[2])  # the directory holding ``socialcrm``
        paths = [package_root, *filter(None, [os.environ.get("PYTHONPATH")])]
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
        self._moto = subprocess.Popen(  # noqa: S603 - this interpreter, a module of this package
            [sys.executable, "-m", "socialcrm.local.aws_server", "--host", self.host],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=environment,
            text=True,
            start_new_session=True,  # a Ctrl-C stops the stack, which stops this in turn
        )
        assert self._moto.stdout is not None
        ready, _, _ = select.select([self._moto.stdout], [], [], START_TIMEOUT_SECONDS)
        line = self._moto.stdout.readline().strip() if ready else ""  # "listening on http://HOST:PORT"
        if not line.startswith("listening on "):
            self._stop_aws()
            raise LocalStackError("the embedded AWS (socialcrm.local.aws_server) did not start")
        self.aws_url = line.removeprefix("listening on ")

    def _stop_aws(self) -> None:
        process, self._moto = self._moto, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # the server stops when its standard input closes
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def _start_analyser(self) -> None:
        from socialcrm.local.comprehend_offline import serve

        self._analyser = serve(self.host, 0)
        host, port = self._analyser.server_address[:2]
        self.comprehend_url = f"http://{host}:{port}"

    def _set_environment(self) -> None:
        for name in [*_UNSET, _IGNORE_ENDPOINTS, *(n for n in os.environ if n.startswith(_UNSET_PREFIX))]:
            self._set({name: None})
        self._set(
            {
                "AWS_ENDPOINT_URL": self.aws_url,
                "AWS_ENDPOINT_URL_COMPREHEND": self.comprehend_url,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "SOCIALCRM_SECRETS_FILE": str(self.secrets_file),
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_NAMESPACE": "socialcrm",
            }
        )
        boto3.DEFAULT_SESSION = None  # a default session made earlier may hold other credentials

    def _start_platform(self) -> None:
        import tempfile

        self.platform = dev_platform(host=self.host, port=0, on_accept=self._echo)
        self.platform.start()
        document = json.loads(self.secrets_file.read_text(encoding="utf-8"))
        if "send" not in document:
            document["send"] = dev_send_secrets(self.platform.url)
        self._runtime_dir = tempfile.TemporaryDirectory(prefix="socialcrm-local-")
        secrets = Path(self._runtime_dir.name) / "secrets.json"
        secrets.write_text(json.dumps(document), encoding="utf-8")
        self.secrets = load_secrets_file(secrets)  # the functions' view, validated now
        self._set({"SOCIALCRM_SECRETS_FILE": str(secrets)})
        from socialcrm.local.fake_hub import FakeHub

        self.hub = FakeHub(self.host, 0).start()
        self._set(
            {
                "WEBSUB_HUB_URL": self.hub.subscribe_url,
                "WEBSUB_CALLBACK_URL": f"{self.url}/webhooks/youtube",
                "YOUTUBE_CHANNELS": os.environ.get("YOUTUBE_CHANNELS", LOCAL_YOUTUBE_CHANNEL),
            }
        )

    def _echo(self, platform: str, body: dict[str, Any]) -> None:
        """Post what the platform sends back after accepting a message (Meta's echo or status) to the
        local webhook route, signed as Meta signs it, shortly after answering, as Meta does."""
        meta = self.secrets.meta if self.secrets is not None else None
        if meta is None:
            return
        raw = json.dumps(body).encode()
        signature = hmac.new(meta.app_secret.get_secret_value().encode(), raw, hashlib.sha256).hexdigest()
        request = urllib.request.Request(  # noqa: S310  (the local stack's own loopback URL)
            f"{self.url}/webhooks/meta",
            data=raw,
            headers={"content-type": "application/json", "x-hub-signature-256": f"sha256={signature}"},
            method="POST",
        )

        def post() -> None:
            time.sleep(ECHO_DELAY_SECONDS)
            if not self._running:
                return  # the stack stopped meanwhile
            try:
                with urllib.request.urlopen(request, timeout=10):  # noqa: S310
                    pass
            except OSError:
                logger.warning("the fake platform's echo was not delivered", platform=platform)

        threading.Thread(target=post, name="fake-platform-echo", daemon=True).start()

    def _start_api(self, sock: socket.socket) -> None:
        import uvicorn

        from socialcrm.local.app import LocalApi

        api = LocalApi()
        for runtime in api.runtimes():  # fail at start, not on the first request
            runtime()
        # Idle keep-alive connections stay open longer than any client keeps them (httpx: 5 s): with
        # both at 5 s, a request sent on a connection the server is closing at that moment is lost
        # (a read error in the client) whenever a busy stack answers slowly.
        config = uvicorn.Config(
            api,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=5,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
        self._server = uvicorn.Server(config)
        self._server_thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="local-api", daemon=True
        )
        self._server_thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._server_thread.is_alive() or time.monotonic() > deadline:
                raise LocalStackError(f"The HTTP API did not start on {self.url}.")
            time.sleep(0.02)

    def _start_pollers(self) -> None:
        from socialcrm.local.poller import build_pollers

        sqs = boto3.session.Session().client("sqs")
        self.pollers = build_pollers(
            sqs,
            self.resources.queue_urls,
            region=REGION,
            retry_delay_seconds=self.retry_delay_seconds,
            batching_window_seconds=self.batching_window_seconds,
        )
        for poller in self.pollers:
            poller.start()

    def _start_schedules(self) -> None:
        from socialcrm.routing.runtime import start_local_sla_timer

        self._sla_timer = start_local_sla_timer()
        self.daily_report = DailyReportSchedule(REGION)
        self.daily_report.start()
        self.websub = WebSubSchedule(REGION)
        self.websub.start()

    # --- environment -------------------------------------------------------------------------------

    def _set(self, values: Mapping[str, str | None]) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _restore_environment(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}
        boto3.DEFAULT_SESSION = None


def function_environment() -> dict[str, str]:
    """What the functions' own ``FunctionSpec.environment`` and the local defaults add (one process
    hosts every function); a variable already set in the environment keeps its value."""
    values = {**LOCAL_DEFAULTS}
    for spec in FUNCTIONS.values():
        values.update(spec.environment)
    return {name: value for name, value in values.items() if name not in os.environ}


def _forget_runtimes() -> None:
    """Drop the handlers' cached runtimes and client factories, so they are built (again) from the
    current environment rather than pointing at a stack that is gone."""
    for spec in FUNCTIONS.values():
        module = sys.modules.get(spec.handler.rpartition(".")[0])
        if module is None:
            continue
        for value in list(vars(module).values()):
            if hasattr(value, "cache_clear") and getattr(value, "__module__", None) == module.__name__:
                value.cache_clear()
    for module_name, name in _CACHED_FACTORIES:
        factory = getattr(sys.modules.get(module_name), name, None)
        if factory is not None:
            factory.cache_clear()


class _ScheduledFunction(ABC):
    """A function EventBridge Scheduler invokes in AWS, invoked in process here on a thread of its own;
    ``_loop`` says when."""

    def __init__(self, key: str, region: str) -> None:
        from socialcrm.local.poller import import_handler

        self.region = region
        self.function = FUNCTIONS[key]
        self.handler = import_handler(self.function.handler)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def invoke(self, event: dict[str, Any]) -> Any:
        """Invoke the function with ``event``, as the schedule does, under its name in the logs."""
        from socialcrm.local.logs import FUNCTION
        from socialcrm.local.poller import LocalLambdaContext

        token = FUNCTION.set(self.function.key)
        try:
            return self.handler(event, LocalLambdaContext(self.function, self.region))
        finally:
            FUNCTION.reset(token)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"{self.function.key}-schedule", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop; an invocation under way is finished first (the stack stops its AWS only after that)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.function.timeout_seconds)

    @abstractmethod
    def _loop(self) -> None:
        """Invoke the function at its times until :meth:`stop`."""


class DailyReportSchedule(_ScheduledFunction):
    """The daily report's schedule, in process: at ``DAILY_REPORT_AT`` each day (UTC) the daily_report
    function is invoked with the event EventBridge Scheduler sends it, and reports on the day before.
    :meth:`run` invokes it now, for any day (``make demo`` writes today's)."""

    def __init__(self, region: str, at: dt_time = DAILY_REPORT_AT) -> None:
        super().__init__("daily_report", region)
        self.at = at
        self._last_due: datetime | None = None

    def run(self, day: date | None = None, *, scheduled_time: datetime | None = None) -> str:
        """Invoke the function for ``day`` (or as the schedule would at ``scheduled_time``); returns
        the folder the report was written to."""
        event = {"day": day.isoformat()} if day else {"scheduled_time": _iso(scheduled_time or _utcnow())}
        return str(self.invoke(event)["location"])

    def next_run(self, now: datetime) -> datetime:
        """The first scheduled time after ``now``."""
        today = datetime.combine(now.date(), self.at, tzinfo=UTC)
        return today if today > now else today + timedelta(days=1)

    def _loop(self) -> None:
        while not self._stop.is_set():
            # Never the same time twice, even if the clock goes back; days missed while asleep are skipped.
            now = _utcnow()
            due = self.next_run(max(now, self._last_due) if self._last_due else now)
            while (left := (due - _utcnow()).total_seconds()) > 0:
                if self._stop.wait(left):
                    return
            self._last_due = due
            try:
                self.run(scheduled_time=due)  # the function logs where it wrote the report
            except Exception:  # as a failed scheduled invocation: logged, and tomorrow's still runs
                logger.exception("daily report failed", scheduled_time=_iso(due))


class WebSubSchedule(_ScheduledFunction):
    """The websub function's schedule, in process: it runs at start (the channels are subscribed at the
    fake hub and verified through the local webhook route) and then every :data:`WEBSUB_EVERY`."""

    def __init__(self, region: str) -> None:
        super().__init__("websub", region)

    def run(self) -> dict[str, Any]:
        return dict(self.invoke({}))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run()
            except Exception:  # as a failed scheduled invocation: logged, and the next hour's still runs
                logger.exception("websub run failed")
            if self._stop.wait(WEBSUB_EVERY.total_seconds()):
                return


def _utcnow() -> datetime:
    return datetime.now(tz=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
