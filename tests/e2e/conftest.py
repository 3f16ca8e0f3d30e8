"""End-to-end: start the real local stack (`python -m local.stack`, as `make run` does) on free
ports, drive it over HTTP, stop it with Ctrl-C's signal."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from chalicelib.channels.standard_webhooks import sign_standard_webhook
from local.emulator_groups import endpoint_for
from tests.conftest import ROOT

SEED = json.loads((ROOT / "local" / "seed.json").read_text())
ADMIN_KEY = SEED["api_keys"][0]["key"]
STORE = next(s for s in SEED["stores"] if (s["platform"], s["store_id"]) == ("mall", "demo-shop"))
SECRET = STORE["credentials"]["webhook_secret"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    process: subprocess.Popen[bytes]
    api: str
    aws: str
    state_file: Path
    log_file: Path

    @property
    def stub(self) -> str:
        """The stub platform's URL (the stack picked a free port; it says which)."""
        return str(json.loads(self.state_file.read_text())["stub_url"])

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_KEY}"}

    def client(self, service: str) -> Any:
        environment = json.loads(self.state_file.read_text())["environment"]
        return boto3.client(
            service,
            endpoint_url=endpoint_for(service, environment, self.aws),  # its group's process
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def post_order(
        self, payload: dict[str, Any], msg_id: str, secret: str = SECRET, tamper: bool = False
    ) -> requests.Response:
        raw = json.dumps(payload).encode()
        now = datetime.now(UTC)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": sign_standard_webhook(secret, msg_id, now, raw),
        }
        if tamper:
            raw = raw.replace(b'"quantity": 1', b'"quantity": 9')
        return requests.post(
            f"{self.api}/webhooks/mall/{STORE['store_id']}", data=raw, headers=headers, timeout=10
        )

    def receive(
        self,
        sku: str,
        adjustment_id: str,
        quantity: int,
        reason: str,
        warehouse: str = "wh-guangzhou",
    ) -> requests.Response:
        """A stock receipt through the adjustments API."""
        receipt = {
            "adjustment_id": adjustment_id,
            "warehouse": warehouse,
            "kind": "receipt",
            "quantity": quantity,
            "reason": reason,
        }
        return requests.post(
            f"{self.api}/inventory/{sku}/adjustments", json=receipt, headers=self.auth, timeout=10
        )

    def get(self, path: str) -> requests.Response:
        return requests.get(f"{self.api}{path}", headers=self.auth, timeout=10)

    def wait_for_order(self, order_id: str, version: int = 1, timeout: float = 30) -> dict:
        return self.wait_for("mall", STORE["store_id"], order_id, version, timeout)

    def wait_for(
        self, platform: str, store: str, order_id: str, version: int = 1, timeout: float = 30
    ) -> dict:
        """The order once stored at `version` or later (any platform's)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = self.get(f"/orders/{platform}/{store}/{order_id}")
            if response.status_code == 200 and response.json()["version"] >= version:
                return dict(response.json())
            time.sleep(0.2)
        raise AssertionError(
            f"order {platform}/{store}/{order_id} v{version} not stored within {timeout} s"
        )

    def run_job(self, name: str) -> dict:
        """Run a scheduled job on demand against this stack (`make job NAME=...`)."""
        env = dict(os.environ, ORDERHUB_STATE_FILE=str(self.state_file))
        done = subprocess.run(
            [sys.executable, "-m", "local.job", name],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout[done.stdout.index("{\n") :]))

    def wait_for_empty_queue(self, timeout: float = 30) -> None:
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName="orderhub-order-events")["QueueUrl"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            attrs = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )
            if sum(int(v) for v in attrs["Attributes"].values()) == 0:
                return
            time.sleep(0.2)
        raise AssertionError("order queue did not drain")


def start_stack(tmp: Path) -> Stack:
    api_port, aws_port = free_port(), free_port()
    state_file = tmp / "stack.json"
    log_file = tmp / "stack.log"
    env = dict(
        os.environ,
        ORDERHUB_API_PORT=str(api_port),
        ORDERHUB_AWS_PORT=str(aws_port),
        ORDERHUB_STUB_PORT=str(free_port()),
        ORDERHUB_STATE_FILE=str(state_file),
    )
    with open(log_file, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local.stack"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("stack exited at start:\n" + log_file.read_text()[-5000:])
        if state_file.exists():
            return Stack(
                process,
                f"http://127.0.0.1:{api_port}",
                f"http://127.0.0.1:{aws_port}",
                state_file,
                log_file,
            )
        time.sleep(0.2)
    process.kill()
    raise AssertionError("stack did not come up in 90 s:\n" + log_file.read_text()[-5000:])


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(tmp_path_factory.mktemp("stack"))
    yield running
    if running.process.poll() is None:
        running.process.send_signal(signal.SIGINT)
        try:
            running.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            running.process.kill()
