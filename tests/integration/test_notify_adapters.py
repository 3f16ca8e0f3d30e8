"""The notification adapters for real: SNS and SES under moto (resources from
infra/resources.json, the routing secret in Secrets Manager), and the WeCom / DingTalk robot
client against the stub robots on loopback, which check messages as the real robots do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib.adapters.notify import DeliveryFailed, NotificationFailed, RobotClient
from chalicelib.deps import Container
from chalicelib.domain.notices import Notice
from chalicelib.domain.notify_formats import (
    WECOM_MAX_BYTES,
    dingtalk_markdown,
    dingtalk_signed_url,
    wecom_markdown,
)
from local.notify_local import seed_notifications, tap_sns_topics
from local.provision import load_template
from local.stub_notify import DINGTALK_ROBOTS, EMAIL_SENDER, WECOM_ROBOTS, StubNotify
from tests.conftest import ROOT

REGION = "us-east-1"
WECOM_KEY = next(iter(WECOM_ROBOTS))
DINGTALK_TOKEN, (_, DINGTALK_SECRET) = next(iter(DINGTALK_ROBOTS.items()))

NOTICE = Notice(
    "anomaly_opened",
    "P1",
    "ops",
    "P1 unknown_sku: mall#demo-shop#A-7",
    "SKU X-1 is not in the catalog.",
    "https://orderhub.example.com/orders/mall/demo-shop/A-7/timeline",
    datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
    {"sku": "X-1"},
)


@pytest.fixture
def stub() -> Iterator[StubNotify]:
    running = StubNotify(port=0).start()
    yield running
    running.stop()


def now_ms() -> int:
    return int(time.time() * 1000)


def wecom_url(stub: StubNotify, key: str = WECOM_KEY) -> str:
    return f"{stub.url}/cgi-bin/webhook/send?key={key}"


def dingtalk_url(stub: StubNotify, token: str = DINGTALK_TOKEN) -> str:
    return f"{stub.url}/robot/send?access_token={token}"


def post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return dict(json.loads(response.read()))


# --- robots against the stub -----------------------------------------------------------


def test_wecom_message_reaches_the_stub_as_sent(stub):
    RobotClient().post(wecom_url(stub), wecom_markdown(NOTICE))
    (captured,) = stub.captured()
    assert captured["robot"] == "wecom" and captured["name"] == "ops-wecom"
    assert captured["body"] == wecom_markdown(NOTICE)


def test_signed_dingtalk_message_is_verified_and_captured(stub):
    url = dingtalk_signed_url(dingtalk_url(stub), DINGTALK_SECRET, now_ms())
    RobotClient().post(url, dingtalk_markdown(NOTICE))
    (captured,) = stub.captured("dingtalk")
    assert captured["body"] == dingtalk_markdown(NOTICE)
    assert "sign" not in captured["query"] and captured["query"]["access_token"] == DINGTALK_TOKEN


@pytest.mark.parametrize(
    ("secret", "millis"),
    [
        ("SECwrong", None),  # wrong secret
        (DINGTALK_SECRET, -2 * 3600 * 1000),  # signed two hours ago
    ],
    ids=["wrong-secret", "stale-timestamp"],
)
def test_a_bad_dingtalk_signature_is_refused_like_dingtalk_does(stub, secret, millis):
    at = now_ms() + (millis or 0)
    url = dingtalk_signed_url(dingtalk_url(stub), secret, at)
    with pytest.raises(DeliveryFailed, match="errcode 310000 sign not match"):
        RobotClient().post(url, dingtalk_markdown(NOTICE))
    assert stub.captured() == []


def test_an_unsigned_post_to_a_signed_dingtalk_robot_is_refused(stub):
    with pytest.raises(DeliveryFailed, match="310000"):
        RobotClient().post(dingtalk_url(stub), dingtalk_markdown(NOTICE))


def test_an_unknown_robot_key_is_refused(stub):
    with pytest.raises(DeliveryFailed, match="93000"):
        RobotClient().post(wecom_url(stub, "nope"), wecom_markdown(NOTICE))


def test_the_stub_refuses_wecom_content_over_4096_bytes_and_ours_fits(stub):
    too_long = {"msgtype": "markdown", "markdown": {"content": "字" * 1366}}  # 4098 bytes
    assert post_json(wecom_url(stub), too_long)["errcode"] == 40058
    huge = replace(NOTICE, body="库存不足。" * 2000)
    RobotClient().post(wecom_url(stub), wecom_markdown(huge))
    (captured,) = stub.captured()
    assert len(captured["body"]["markdown"]["content"].encode()) <= WECOM_MAX_BYTES


def test_the_stub_can_be_told_to_fail_and_reset(stub):
    post_json(f"{stub.url}/_stub/fail", {"robot": "wecom", "errcode": 45009, "count": 1})
    with pytest.raises(DeliveryFailed, match="45009"):
        RobotClient().post(wecom_url(stub), wecom_markdown(NOTICE))
    RobotClient().post(wecom_url(stub), wecom_markdown(NOTICE))  # the next one passes
    post_json(f"{stub.url}/_stub/fail", {"robot": "wecom", "status": 502})
    with pytest.raises(DeliveryFailed, match="HTTP 502"):
        RobotClient().post(wecom_url(stub), wecom_markdown(NOTICE))
    post_json(f"{stub.url}/_stub/reset", {})
    assert stub.captured() == []
    RobotClient().post(wecom_url(stub), wecom_markdown(NOTICE))
    with urllib.request.urlopen(f"{stub.url}/_stub/notifications?robot=wecom", timeout=5) as r:
        assert len(json.loads(r.read())) == 1


def test_an_unreachable_robot_is_a_delivery_failure():
    with pytest.raises(DeliveryFailed, match="unreachable"):
        RobotClient(timeout=1).post("http://127.0.0.1:9/cgi-bin/webhook/send?key=k", {})


# --- the whole notifier over moto and the stub -----------------------------------------


@pytest.fixture
def container(stack_env) -> Container:
    """With the real clock: DingTalk (and the stub) refuse a sign more than an hour off."""
    return Container(environ=stack_env)


@pytest.fixture
def seeded(container, aws, stub):
    """The local stack's setup: SNS taps, the routing secret pointing at the stub, the
    sender verified in SES."""
    taps = tap_sns_topics(load_template(), aws.client, REGION)
    seed_notifications(stub.local_config(), aws.client("secretsmanager"), aws.client("ses"))
    return taps


def tapped(aws, url: str) -> list[dict]:
    out = aws.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in out.get("Messages", [])]


def sent_mail() -> list:
    return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)


def test_every_infra_topic_reaches_the_functions_environment(container):
    topics = container.settings.notify_topics
    assert set(topics) == {"P0", "P1", "P2", "finance"}
    assert topics["P0"].endswith(":orderhub-alerts-p0")
    assert topics["finance"].endswith(":orderhub-finance-reports")


def test_a_p0_notice_goes_to_sns_both_robots_and_email(container, aws, stub, seeded):
    notice = replace(NOTICE, priority="P0", title="P0 out_of_stock: mall#demo-shop#A-1001")
    delivery = container.notifier.deliver(notice)
    assert delivery.failed == {}
    assert delivery.delivered == ["sns:P0", "ops-wecom", "ops-dingtalk", "ops-mail", "ops-sms"]
    (published,) = tapped(aws, seeded["orderhub-alerts-p0"])
    assert published["Subject"] == "[OrderHub] P0 out_of_stock: mall#demo-shop#A-1001"
    assert json.loads(published["Message"])["link"] == NOTICE.link
    assert published["MessageAttributes"]["audience"] == {"Type": "String", "Value": "ops"}
    assert tapped(aws, seeded["orderhub-alerts-p1"]) == []
    bodies = {c["robot"]: c["body"] for c in stub.captured()}
    assert bodies == {"wecom": wecom_markdown(notice), "dingtalk": dingtalk_markdown(notice)}
    (mail,) = sent_mail()
    assert mail.source == f"OrderHub <{EMAIL_SENDER}>"
    assert mail.destinations == {"ToAddresses": ["ops@example.com"]}
    assert mail.subject == "[OrderHub] P0 out_of_stock: mall#demo-shop#A-1001"
    assert NOTICE.link in mail.body  # moto keeps the HTML part


def test_a_finance_report_goes_to_the_finance_topic_and_email(container, aws, stub, seeded):
    report = Notice(
        "report",
        "info",
        "finance",
        "Daily reconciliation 2026-11-24",
        "2 stores with differences.",
        "https://orderhub-reports.s3.amazonaws.com/reports/x.csv?X-Amz-Signature=abc",
    )
    container.notifier.notify(report)
    (published,) = tapped(aws, seeded["orderhub-finance-reports"])
    assert json.loads(published["Message"])["link"] == report.link
    assert stub.captured() == []
    (mail,) = sent_mail()
    assert mail.destinations == {"ToAddresses": ["finance@example.com"]}


def test_robots_failing_leave_sns_and_email_delivered(container, aws, stub, seeded):
    post_json(f"{stub.url}/_stub/fail", {"robot": "wecom", "errcode": 45009})
    post_json(f"{stub.url}/_stub/fail", {"robot": "dingtalk", "status": 500})
    notice = replace(NOTICE, priority="P0")
    delivery = container.notifier.deliver(notice)
    assert set(delivery.failed) == {"ops-wecom", "ops-dingtalk"}
    assert delivery.delivered == ["sns:P0", "ops-mail", "ops-sms"]
    container.notifier.notify(notice)  # some routes took it: no exception


def test_an_unverified_sender_fails_only_the_email_route(container, aws, stub, seeded):
    aws.client("ses").delete_identity(Identity=EMAIL_SENDER)
    delivery = container.notifier.deliver(replace(NOTICE, priority="P0"))
    assert set(delivery.failed) == {"ops-mail"}
    assert "not verified" in delivery.failed["ops-mail"]


def test_without_the_secret_notices_go_to_sns_only(container, aws):
    taps = tap_sns_topics(load_template(), aws.client, REGION)
    container.notifier.notify(NOTICE)
    assert len(tapped(aws, taps["orderhub-alerts-p1"])) == 1


def test_an_invalid_secret_still_reaches_sns_and_everything_down_raises(container, aws):
    taps = tap_sns_topics(load_template(), aws.client, REGION)
    aws.client("secretsmanager").create_secret(
        Name="orderhub/notifications", SecretString=json.dumps({"routes": [{"sns": "P1"}]})
    )
    container.notifier.notify(NOTICE)
    assert len(tapped(aws, taps["orderhub-alerts-p1"])) == 1
    for arn in container.settings.notify_topics.values():
        aws.client("sns").delete_topic(TopicArn=arn)
    with pytest.raises(NotificationFailed):
        container.notifier.notify(NOTICE)


# --- the operator command --------------------------------------------------------------


def functions_env(monkeypatch, stack_env) -> None:
    """The CLI reads the functions' variables (in AWS: exported by the operator)."""
    for name, value in stack_env.items():
        monkeypatch.setenv(name, value)


def test_notify_test_command_sends_and_reports_each_route(
    stack_env, aws, stub, seeded, capsys, monkeypatch
):
    from tools.orderhub import main

    functions_env(monkeypatch, stack_env)
    code = main(["notify", "test", "--priority", "P1", "--link", NOTICE.link])
    out = capsys.readouterr().out
    assert code == 0
    for route in ("sns:P1", "ops-wecom", "ops-dingtalk"):
        assert f"{route}\tdelivered" in out
    assert "3 of 3 routes took the notice" in out
    assert {c["robot"] for c in stub.captured()} == {"wecom", "dingtalk"}
    assert stub.captured("wecom")[0]["body"]["markdown"]["content"].startswith("### P1 test notice")


def test_notify_routes_command_shows_where_each_notice_goes(
    stack_env, aws, stub, seeded, capsys, monkeypatch
):
    from tools.orderhub import main

    functions_env(monkeypatch, stack_env)
    assert main(["notify", "routes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "P0\tops\tsns:P0, ops-wecom, ops-dingtalk, ops-mail, ops-sms" in lines
    assert "info\tfinance\tsns:finance, finance-mail" in lines
    assert "info\tops\t(nowhere)" in lines


# --- over HTTP, as on the local stack ----------------------------------------------------


def test_notify_test_command_against_the_http_emulator_as_make_run_has_it(
    emulated_stack, stub, tmp_path
):
    """What the e2e test does, without the API and workers: topics tapped, the secret seeded,
    the command run as a separate process through the state file, and everything read back
    over HTTP (SNS tap, the stub, moto's SES through /moto-api/data.json)."""
    from local.notify_local import sent_emails
    from local.stack import AWS_VARIABLES

    session = emulated_stack.session
    taps = tap_sns_topics(load_template(), session.client, REGION)
    seed_notifications(stub.local_config(), session.client("secretsmanager"), session.client("ses"))
    aws_url = os.environ["AWS_ENDPOINT_URL"]
    state = tmp_path / "stack.json"
    environment = {**emulated_stack.environ, **{k: os.environ[k] for k in AWS_VARIABLES}}
    state.write_text(json.dumps({"environment": environment}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")}
    env["ORDERHUB_STATE_FILE"] = str(state)
    before = len(sent_emails(aws_url))

    done = subprocess.run(
        [sys.executable, "-m", "tools.orderhub", "notify", "test", "--priority", "P0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 of 5 routes took the notice" in done.stdout  # P0: SMS too
    (published,) = tapped(session, taps["orderhub-alerts-p0"])
    assert published["Subject"] == "[OrderHub] P0 test notice"
    assert [c["robot"] for c in stub.captured()] == ["wecom", "dingtalk"]
    mails = sent_emails(aws_url)[before:]
    assert [m["subject"] for m in mails] == ["[OrderHub] P0 test notice"]
