"""`make run`: the whole of OrderHub on this machine, with no AWS account and no network.

Parts, all on loopback:
- the AWS emulator (moto server, every request serialized) in its own process;
- every resource of infra/resources.json created on it, and local/seed.json loaded;
- the HTTP API through `chalice local` in its own process;
- a stub sales-platform API (local/stub_platform.py) recording the stock pushes it receives;
- stub Taobao (TMC), Pinduoduo and JD routers (local/stub_pull.py) that the pull pollers
  call, signed and checked as the real ones (`pull_stub_url` in the state file);
- stub WeCom / DingTalk group robots (local/stub_notify.py) capturing the notifications, an
  SQS tap on each SNS topic and a verified SES sender (local/notify_local.py);
- in this process, a worker per SQS consumer (Lambda's event source mapping) and a scheduler
  (EventBridge schedules), calling the same Chalice handler functions AWS calls.
Ctrl-C (or SIGTERM) stops every part; children also die with this process.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib.settings import STAGE, resource_name

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_FILE = ROOT / "build" / "local" / "stack.json"
REGION = "us-east-1"
POLLERS_PER_QUEUE = 2
AWS_VARIABLES = (
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
)

log = logging.getLogger("orderhub.local")


def state_path() -> Path:
    """Where the running stack says where it is (ORDERHUB_STATE_FILE, for tests, overrides)."""
    return Path(os.environ.get("ORDERHUB_STATE_FILE") or DEFAULT_STATE_FILE)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """New session (Ctrl-C reaches only the stack), and SIGTERM when the stack dies (Linux)."""
    os.setsid()
    with contextlib.suppress(OSError):  # not Linux: children then outlive a killed stack
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _name(process: subprocess.Popen[bytes]) -> str:
    args = process.args
    return str(args[1:3] if isinstance(args, list) else args)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{_name(process)} exited with {process.returncode} at start")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listened on port {port} within {timeout:.0f} s")


def _wait_for_health(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chalice local exited with {process.returncode} at start")
        try:
            with urllib.request.urlopen(url, timeout=15) as response:
                if response.status == 200:
                    return
        except Exception as exc:  # not up yet
            last = str(exc)
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s ({last})")


class LocalStack:
    def __init__(self, api_port: int, aws_port: int) -> None:
        self.api_port = api_port
        self.aws_port = aws_port
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.aws_url = f"http://127.0.0.1:{aws_port}"
        self.children: list[subprocess.Popen[bytes]] = []
        self.threads: list[Any] = []
        self.scheduler: Any = None
        self.stub: Any = None
        self.pull_stub: Any = None  # local/stub_pull.py: Taobao, Pinduoduo and JD routers
        self.notify_stub: Any = None  # local/stub_notify.py: WeCom and DingTalk robots
        self.tracking_stub: Any = None  # local/stub_tracking.py: 快递100 and AfterShip
        self.sns_taps: dict[str, str] = {}
        self.aws_endpoints: dict[str, str] = {}  # AWS_ENDPOINT_URL_<SERVICE>: its group's URL
        self.event_taps: dict[str, str] = {}
        self.queues: dict[str, Any] = {}
        self.lambda_subscriptions: list[Any] = []
        self.stopping = threading.Event()
        # the stage in every resource name (`orderhub-{stage}-...`); "" (the default): the
        # stage-less names the docs and tests use
        self.stage = os.environ.get(STAGE, "")

    def _spawn(self, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(args, cwd=ROOT, env=env, preexec_fn=_die_with_parent)
        self.children.append(child)
        return child

    def start(self) -> None:
        from local.alarm_actions import SMS_SINK_VARIABLE
        from local.emulator import set_fake_aws_env
        from local.emulator_groups import endpoint_variables, fetch_endpoints
        from local.stub_notify import start_notify_stub
        from local.stub_platform import start_stub
        from local.stub_pull import start_pull_stub
        from local.stub_tracking import start_tracking_stub

        self.stub = start_stub(os.environ.get("ORDERHUB_STUB_PORT"))
        self.pull_stub = start_pull_stub(
            os.environ.get("ORDERHUB_PULL_STUB_PORT"),
            health=self.stub.health.control,
            inventory=self.stub.inventory,  # Taobao/PDD/JD stock calls land in the same record
        )  # one `POST /_stub/health` (stub platform) fails or slows every platform's probes
        self.notify_stub = start_notify_stub(os.environ.get("ORDERHUB_NOTIFY_STUB_PORT"))
        self.tracking_stub = start_tracking_stub(
            os.environ.get("ORDERHUB_TRACKING_STUB_PORT"), self.api_url
        )

        env = dict(os.environ)
        set_fake_aws_env(env, REGION)
        env["AWS_ENDPOINT_URL"] = self.aws_url
        env[SMS_SINK_VARIABLE] = f"{self.notify_stub.url}/_stub/sms"  # the emulator's texts
        env["PYTHONUNBUFFERED"] = "1"

        emulator = self._spawn(
            [
                sys.executable,
                "-m",
                "local.emulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.aws_port),
                "--split",  # a process (and lock) per service group: local/emulator_groups.py
            ],
            env,
        )
        _wait_for_port(self.aws_port, emulator, 60)
        self.aws_endpoints = endpoint_variables(fetch_endpoints(self.aws_url))
        env.update(self.aws_endpoints)  # botocore's per-service variables beat AWS_ENDPOINT_URL

        os.environ.clear()
        os.environ.update(env)
        function_env = self._provision_and_seed()
        env.update(function_env)
        os.environ.update(function_env)

        self._start_workers()
        api = self._spawn(
            [
                sys.executable,
                "-m",
                "local.api_server",  # `chalice local`, with the template's gateway responses
                "local",
                "--stage",
                "local",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.api_port),
                "--no-autoreload",
            ],
            env,
        )
        _wait_for_health(f"{self.api_url}/health", api, 60)
        state_file = state_path()
        state_file.parent.mkdir(parents=True, exist_ok=True)
        state_file.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "api_url": self.api_url,
                    "aws_url": self.aws_url,
                    "stub_url": self.stub.url,
                    "pull_stub_url": self.pull_stub.url,
                    "notify_stub_url": self.notify_stub.url,
                    "tracking_stub_url": self.tracking_stub.url,
                    "sns_taps": self.sns_taps,
                    "event_taps": self.event_taps,
                    "children": [child.pid for child in self.children],
                    "environment": {
                        k: env[k]
                        for k in [*sorted(function_env), *AWS_VARIABLES, *self.aws_endpoints]
                    },
                },
                indent=2,
            )
        )

    def _provision_and_seed(self) -> dict[str, str]:
        import boto3

        from chalicelib.deps import Container, use_container
        from local.notify_local import seed_notifications, tap_sns_topics
        from local.provision import function_environment, load_template, provision, tap_event_buses
        from local.seed import apply_seed, load_seed
        from local.stub_tracking import seed_tracking_secrets

        session = boto3.session.Session(region_name=REGION)
        template = load_template(stage=self.stage)
        resources = provision(template, session.client, REGION, self.stage)
        function_env = function_environment(template, resources, REGION, self.stage)
        function_env["ORDERHUB_CHANNEL_API_URL"] = self.stub.url  # AWS: each platform's API
        function_env.update(self.pull_stub.function_environment())  # pollers -> stub routers
        function_env["ORDERHUB_BIGCOMMERCE_API_URL"] = self.stub.url  # its Orders API too
        function_env["ORDERHUB_TIKTOK_API_URL"] = self.stub.url  # TikTok's order API
        function_env["ORDERHUB_DOUYIN_API_URL"] = self.stub.url  # Douyin's order API
        function_env["ORDERHUB_LINK_BASE_URL"] = self.api_url  # anomaly notices link here
        function_env["ORDERHUB_LOG_FORMAT"] = "text"  # one readable line per record
        function_env["POWERTOOLS_METRICS_DISABLED"] = "true"  # no EMF JSON in the terminal
        # health probes: AWS calls each store's https://{shop_domain} / site_url instead
        function_env["ORDERHUB_SHOPIFY_API_URL"] = self.stub.url
        function_env["ORDERHUB_WOOCOMMERCE_API_URL"] = self.stub.url
        function_env.update(self.tracking_stub.function_environment())  # 快递100, AfterShip
        function_env["ORDERHUB_AMAZON_API_URL"] = self.stub.url  # SP-API (stock, order lists)
        function_env["ORDERHUB_AMAZON_LWA_URL"] = f"{self.stub.url}/auth/o2/token"
        self.event_taps = tap_event_buses(template, session.client, REGION, self.stage)
        os.environ.update(function_env)
        deps = Container()
        use_container(deps)
        apply_seed(
            load_seed(),
            deps.catalog_store,
            deps.orders,
            session.client("secretsmanager"),
            deps.api_keys,
            stage=self.stage,  # the stores' secrets carry it
        )
        self._seed_channels(load_seed())
        self.sns_taps = tap_sns_topics(template, session.client, REGION, self.stage)
        seed_tracking_secrets(session.client("secretsmanager"), self.stage)
        seed_notifications(
            self.notify_stub.local_config(),
            session.client("secretsmanager"),
            session.client("ses"),
            function_env["ORDERHUB_NOTIFICATIONS_SECRET"],  # the stage's (infra Globals)
        )
        self.queues = {
            r.attrs["QueueName"]: r for r in resources.values() if "QueueName" in r.attrs
        }
        # functions subscribed to topics (AWS::SNS::Subscription, protocol lambda)
        self.lambda_subscriptions = [r for r in resources.values() if "Function" in r.attrs]
        return function_env

    def _seed_channels(self, seed: dict[str, Any]) -> None:
        """The demo stores' listing maps (discovered from the stubs' catalogs) and yesterday's
        order lists on their platforms (local/seed_channels.py)."""
        from chalicelib.api.stock_push import refresh_listing_map
        from local.seed_channels import seed_day_lists

        mapped = refresh_listing_map(None, None)
        if mapped["errors"] or mapped["unmapped"]:
            log.warning("listing maps incomplete: %s", mapped)
        seed_day_lists(seed["stores"], self.stub.url, datetime.now(UTC))

    def _start_workers(self) -> None:
        import boto3
        from chalice.app import ScheduledEventConfig, SQSEventConfig

        from app import app
        from chalicelib.observability import logger, metrics
        from local.scheduler import Job, Schedule, Scheduler
        from local.worker import SqsPoller

        # Powertools' Logger is not safe to create from several threads at once: create it
        # (and Metrics) here, before the pollers' first invocations race to
        logger(), metrics()

        sqs = boto3.session.Session(region_name=REGION).client("sqs")
        jobs = []
        for source in app.event_sources:
            if isinstance(source, SQSEventConfig):
                queue = self.queues[resource_name(self.stage, str(source.queue))]
                for _ in range(POLLERS_PER_QUEUE):
                    poller = SqsPoller(
                        sqs,
                        queue.ref,
                        queue.attrs["Arn"],
                        source.name,
                        app.handler_map[source.name],
                        REGION,
                        batch_size=source.batch_size,
                        batching_window=source.maximum_batching_window_in_seconds,
                    )
                    poller.start()
                    self.threads.append(poller)
            elif isinstance(source, ScheduledEventConfig):
                expression = source.schedule_expression
                text = expression if isinstance(expression, str) else expression.to_string()
                jobs.append(Job(source.name, Schedule(text), app.handler_map[source.name]))
        self.scheduler = Scheduler(jobs, REGION)
        self.scheduler.start()
        self.threads.append(self.scheduler)
        self._start_sns_deliveries(sqs)

    def _start_sns_deliveries(self, sqs: Any) -> None:
        """SNS invoking the functions subscribed to topics (local/worker.py SnsLambdaPoller)."""
        from chalice.utils import to_cfn_resource_name

        from app import app
        from local.worker import SnsLambdaPoller

        by_logical_name = {to_cfn_resource_name(name): name for name in app.handler_map}
        for subscription in self.lambda_subscriptions:
            name = by_logical_name[subscription.attrs["Function"]]
            poller = SnsLambdaPoller(
                sqs,
                subscription.attrs["QueueUrl"],
                subscription.ref,
                name,
                app.handler_map[name],
                REGION,
            )
            poller.start()
            self.threads.append(poller)

    def wait(self) -> int:
        """Block until asked to stop (0) or until a part dies (1)."""
        while not self.stopping.wait(0.5):
            for child in self.children:
                if child.poll() is not None:
                    log.error(
                        "%s exited with %s; stopping the stack", _name(child), child.returncode
                    )
                    return 1
        return 0

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:  # workers first: they must not lose the emulator mid-batch
            thread.stop()
        for thread in self.threads:
            settle = getattr(thread, "settle", None)  # an SQS poller: its batch in hand, if any
            if callable(settle):
                settle(15)
            else:
                thread.join(timeout=15)
        if self.stub is not None:
            self.stub.stop()
        if self.pull_stub is not None:
            self.pull_stub.stop()
        if self.notify_stub is not None:
            self.notify_stub.stop()
        if self.tracking_stub is not None:
            self.tracking_stub.stop()
        from local.emulator_groups import stop_processes

        stop_processes(reversed(self.children))  # the API before the emulator it calls
        state_path().unlink(missing_ok=True)


BANNER = """
OrderHub local stack is up (AWS emulated by moto; no account, no network).
  API          {api}          GET {api}/health
  Webhooks     POST {api}/webhooks/mall/demo-shop   (signing secret in local/seed.json)
  Keys         dev keys per role in local/seed.json; in a shell: eval "$(bin/orderhub env)"
  AWS emulator {aws}
  Channel stub {stub}/_stub/pushes   (stock pushes; ORDERHUB_STUB_PORT)
  Pull stub    {pull}/_stub/taobao/orders   (Taobao/Pinduoduo/JD routers; ORDERHUB_PULL_STUB_PORT)
  Robots stub  {notify}/_stub/notifications   (WeCom/DingTalk, _stub/sms; ..._NOTIFY_STUB_PORT)
  Tracking     {tracking}/_stub/tracking/push   (快递100/AfterShip; ORDERHUB_TRACKING_STUB_PORT)
  Events       queue orderhub-inventory-tap   (LimitedSale / LimitedSaleLifted, local only)
  Jobs         make job NAME=publish_queue_metrics   (or push_stock, audit_inventory, ...)
  Elsewhere    make status, make demo, make stop   (they find this stack in {state})
Press Ctrl-C (or make stop) to stop.
"""


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("werkzeug", "botocore", "pynamodb", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    api_port = int(os.environ.get("ORDERHUB_API_PORT", "8000"))
    aws_port = int(os.environ.get("ORDERHUB_AWS_PORT", "5000"))
    stack = LocalStack(api_port, aws_port)

    def request_stop(signum: int, frame: Any) -> None:
        stack.stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    code = 0
    try:
        stack.start()
        print(
            BANNER.format(
                api=stack.api_url,
                aws=stack.aws_url,
                stub=stack.stub.url,
                pull=stack.pull_stub.url,
                notify=stack.notify_stub.url,
                tracking=stack.tracking_stub.url,
                state=state_path(),
            ),
            flush=True,
        )
        code = stack.wait()
    except Exception as exc:
        log.error("local stack failed to start: %s", exc)
        code = 1
    finally:
        stack.stop()
        print("OrderHub local stack stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
