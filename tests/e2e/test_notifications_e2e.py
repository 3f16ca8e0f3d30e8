"""Notifications through the running local stack: `bin/orderhub notify test` reads the routing
secret from the emulated Secrets Manager, the stub robots capture the WeCom and DingTalk
messages in their real formats (the DingTalk one signed and verified), the P1 SNS topic's tap
queue gets the notice, and a P0 also goes out by email through the emulated SES."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime

import pytest
import requests

from chalicelib.domain.notices import Notice
from chalicelib.domain.notify_formats import dingtalk_markdown, wecom_markdown
from local.notify_local import sent_emails
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

LINK = "https://orderhub.example.com/orders/mall/demo-shop/E2E-NOTIFY-1/timeline"


def state(stack) -> dict:
    return dict(json.loads(stack.state_file.read_text()))


def send_test_notice(stack, priority: str) -> str:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ORDERHUB_ORDER_QUEUE_URL", "ORDERHUB_ORDER_DLQ_URL")  # else: AWS mode
    }
    env["ORDERHUB_STATE_FILE"] = str(stack.state_file)
    command = ["notify", "test", "--priority", priority, "--link", LINK]
    done = subprocess.run(
        [sys.executable, "-m", "tools.orderhub", *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def tapped(stack, topic: str) -> list[dict]:
    sqs = stack.client("sqs")
    url = state(stack)["sns_taps"][topic]
    found = []
    while True:
        out = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages = out.get("Messages", [])
        if not messages:
            return found
        for m in messages:
            found.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_a_test_notice_reaches_the_robots_in_their_formats_and_the_p1_topic(stack):
    robots = state(stack)["notify_stub_url"]
    requests.post(f"{robots}/_stub/reset", timeout=10).raise_for_status()
    tapped(stack, "orderhub-alerts-p1")  # drain
    tapped(stack, "orderhub-alerts-p0")  # drain: other files' P0 anomalies share this stack

    out = send_test_notice(stack, "P1")
    assert "sns:P1\tdelivered" in out and "3 of 3 routes took the notice" in out

    (published,) = tapped(stack, "orderhub-alerts-p1")
    assert published["Subject"] == "[OrderHub] P1 test notice"
    assert published["MessageAttributes"]["priority"] == {"Type": "String", "Value": "P1"}
    document = json.loads(published["Message"])
    assert (document["priority"], document["audience"], document["link"]) == ("P1", "ops", LINK)
    assert tapped(stack, "orderhub-alerts-p0") == []

    # the same notice the CLI sent (its time is in the SNS message), in each robot's format
    sent = Notice(
        document["kind"],
        "P1",
        "ops",
        document["title"],
        document["body"],
        LINK,
        datetime.fromisoformat(document["at"]),
        document["facts"],
    )
    captured = requests.get(f"{robots}/_stub/notifications", timeout=10).json()
    assert [c["robot"] for c in captured] == ["wecom", "dingtalk"]
    wecom, dingtalk = captured
    assert wecom["body"] == wecom_markdown(sent)
    assert wecom["body"]["markdown"]["content"].startswith("### P1 test notice\n")
    assert f"[Open in OrderHub]({LINK})" in wecom["body"]["markdown"]["content"]
    assert dingtalk["body"] == dingtalk_markdown(sent)  # no @ below P0
    assert dingtalk["body"]["markdown"]["title"] == "OrderHub P1 test notice"
    assert set(dingtalk["query"]) == {"access_token", "timestamp"}  # sign checked by the stub


def test_a_p0_test_notice_also_goes_out_by_email(stack):
    robots = state(stack)["notify_stub_url"]
    requests.post(f"{robots}/_stub/reset", timeout=10).raise_for_status()
    before = len(sent_emails(stack.aws))

    out = send_test_notice(stack, "P0")
    assert "ops-mail\tdelivered" in out

    mails = sent_emails(stack.aws)[before:]
    assert [m["subject"] for m in mails] == ["[OrderHub] P0 test notice"]
    assert mails[0]["destinations"] == {"ToAddresses": ["ops@example.com"]}
    assert LINK in mails[0]["body"]
    assert len(tapped(stack, "orderhub-alerts-p0")) == 1
    robots_seen = requests.get(f"{robots}/_stub/notifications", timeout=10).json()
    assert [c["robot"] for c in robots_seen] == ["wecom", "dingtalk"]
