"""The running stack found through its state file: stale files, exports for the docs, demo SKUs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench.demo import Shelf, demo_skus
from bench.load import Order
from local import control


def write_state(path, pid: int) -> None:
    path.write_text(
        json.dumps({"pid": pid, "api_url": "http://127.0.0.1:9", "aws_url": "http://127.0.0.1:8"})
    )


def test_state_of_a_live_stack_is_read(tmp_path):
    state = tmp_path / "stack.json"
    write_state(state, os.getpid())
    assert control.running_state(state)["api_url"] == "http://127.0.0.1:9"


def test_state_left_by_a_killed_stack_is_removed(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: its pid is free
    state = tmp_path / "stack.json"
    write_state(state, child.pid)
    assert control.running_state(state) is None
    assert not state.exists()


def test_env_exports_the_urls_and_a_key_per_role(monkeypatch, tmp_path):
    monkeypatch.setenv("ORDERHUB_STATE_FILE", str(tmp_path / "stack.json"))
    lines = control.env_lines({"api_url": "http://127.0.0.1:9", "aws_url": "http://x:8"})
    exports = dict(line.removeprefix("export ").split("=", 1) for line in lines)
    assert exports["ORDERHUB_API"] == "http://127.0.0.1:9"
    assert exports["ORDERHUB_AWS"] == "http://x:8"
    assert {"ADMIN_KEY", "OPS_KEY", "CS_KEY", "WAREHOUSE_KEY", "FINANCE_KEY"} <= set(exports)
    assert exports["CS_KEY"] == "oh_dev_cs_local_only"
    assert "ORDERHUB_STUB" not in exports  # only what the state file says


def test_env_exports_each_emulator_group(monkeypatch, tmp_path):
    monkeypatch.setenv("ORDERHUB_STATE_FILE", str(tmp_path / "stack.json"))
    environment = {
        "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:7001",
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": "http://127.0.0.1:7001",
        "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:7002",
        "AWS_ENDPOINT_URL_SNS": "http://127.0.0.1:7002",
        "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:7003",
        "AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:7004",
    }
    state = {"aws_url": "http://127.0.0.1:5000", "environment": environment}
    exports = dict(line.removeprefix("export ").split("=", 1) for line in control.env_lines(state))
    assert exports["ORDERHUB_AWS"] == "http://127.0.0.1:5000"  # still serves every service
    assert exports["ORDERHUB_AWS_DYNAMODB"] == "http://127.0.0.1:7001"
    assert exports["ORDERHUB_AWS_SQS"] == "http://127.0.0.1:7002"
    assert exports["ORDERHUB_AWS_S3"] == "http://127.0.0.1:7003"
    assert exports["ORDERHUB_AWS_KMS"] == "http://127.0.0.1:7004"
    assert not any(name.startswith("AWS_") for name in exports)  # the shell's AWS untouched


def test_demo_leaves_the_limited_sale_sku_alone_and_sells_from_one_warehouse():
    skus = demo_skus("wh-shanghai")
    assert "GIFT-BOX-NY" not in skus  # the limited-sale example's SKU
    assert skus["KETTLE-CLAY-1L"] == 8 and skus["TEA-LONGJING-250G"] == 120


def test_demo_shelf_drops_lines_stock_cannot_take_above_the_floor():
    shelf = Shelf("http://unused", "k", "wh-shanghai", {"A": 10, "B": 10})
    shelf.available = {"A": 4, "B": 10}
    order = Order("o", 0.0, [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 2}], {})
    assert shelf.fit(order)
    assert [line["sku"] for line in order.lines] == ["B"]  # A would fall under the floor
    assert shelf.available == {"A": 4, "B": 8}
    empty = Order("p", 0.0, [{"sku": "A", "quantity": 2}], {})
    assert not shelf.fit(empty) and empty.lines == []
