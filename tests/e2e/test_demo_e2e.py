"""`make demo`, `make status` and `make stop` against a stack of their own: the demo leaves the
stack usable (nothing rejected for stock, the limited-sale SKU untouched, a summary), and the
stack is found and stopped through its state file whatever its ports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from tests.conftest import ROOT
from tests.e2e.conftest import ADMIN_KEY, Stack, start_stack

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(tmp_path_factory.mktemp("demo-stack"))
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait()


def run(stack: Stack, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ORDERHUB_STATE_FILE": str(stack.state_file)}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def available(stack: Stack, sku: str) -> int:
    view = requests.get(f"{stack.api}/inventory/{sku}", headers=AUTH, timeout=10).json()
    return int(view["total"]["available"])


def test_status_finds_the_stack_and_env_exports_its_urls(own_stack):
    status = run(own_stack, "-m", "local.control", "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert own_stack.api in status.stdout and "200 ok" in status.stdout
    env = run(own_stack, "-m", "tools.orderhub", "env")
    assert f"export ORDERHUB_API={own_stack.api}" in env.stdout
    assert "export CS_KEY=oh_dev_cs_local_only" in env.stdout


def test_demo_books_without_rejections_and_keeps_the_stack_usable(own_stack):
    gift_before = available(own_stack, "GIFT-BOX-NY")
    demo = run(own_stack, "-m", "bench.demo", "--duration", "12", "--rate", "3")
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    summary = demo.stdout.strip().splitlines()[-1]
    assert summary.startswith("done: ") and " booked, 0 rejected, " in summary, summary
    assert "still pending" in summary
    assert available(own_stack, "GIFT-BOX-NY") == gift_before  # the limited-sale example's
    for sku in ("TEA-LONGJING-250G", "CUP-CELADON-2PK", "KETTLE-CLAY-1L"):
        assert available(own_stack, sku) >= 3, sku
    anomalies = requests.get(
        f"{own_stack.api}/anomalies?rule=out_of_stock", headers=AUTH, timeout=10
    ).json()
    assert anomalies["anomalies"] == [], anomalies


def test_stop_ends_the_stack_and_status_then_says_so(own_stack):
    stop = run(own_stack, "-m", "local.control", "stop", timeout=60)
    assert stop.returncode == 0 and "stopped" in stop.stdout, stop.stdout + stop.stderr
    deadline = time.monotonic() + 30
    while own_stack.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert own_stack.process.returncode == 0
    assert not own_stack.state_file.exists()
    status = run(own_stack, "-m", "local.control", "status")
    assert status.returncode == 3 and "not running" in status.stdout
