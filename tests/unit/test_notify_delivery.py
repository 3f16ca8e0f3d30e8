"""RoutingNotifier over fakes: every route gets the notice in its format, one route's failure
never stops the others, and `notify` raises only when every route failed."""

from __future__ import annotations

import io
import json
import urllib.error
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.adapters.notify import (
    DeliveryFailed,
    NotificationFailed,
    RobotClient,
    RoutingNotifier,
    SesMailer,
    SnsPublisher,
    config_reader,
)
from chalicelib.domain.notices import Notice
from chalicelib.domain.notify_formats import dingtalk_sign
from chalicelib.domain.notify_routing import DEFAULT_CONFIG, NotificationConfigError, parse_config
from tests.fakes import FakeNotifier, FakeSecrets, FixedClock

WECOM = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1"
DINGTALK = "https://oapi.dingtalk.com/robot/send?access_token=t1"
TOPICS = {
    t: f"arn:aws:sns:us-east-1:123456789012:orderhub-{t.lower()}"
    for t in ("P0", "P1", "P2", "finance")
}
CONFIG = parse_config(
    {
        "email": {"sender": "alerts@example.com"},
        "channels": {
            "ops-wecom": {"type": "wecom", "url": WECOM},
            "ops-dingtalk": {"type": "dingtalk", "url": DINGTALK, "secret": "SECx"},
            "ops-mail": {"type": "email", "to": ["ops@example.com"]},
        },
        "routes": [
            {
                "audiences": ["*"],
                "priorities": ["P0", "P1"],
                "sns": "priority",
                "channels": ["ops-wecom", "ops-dingtalk", "ops-mail"],
            }
        ],
    }
)
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


class FakeSns:
    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []
        self.error: Exception | None = None

    def publish(self, **kwargs: Any) -> dict[str, str]:
        if self.error:
            raise self.error
        self.published.append(kwargs)
        return {"MessageId": f"m-{len(self.published)}"}


class FakeSes:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.error: Exception | None = None

    def send_email(self, **kwargs: Any) -> dict[str, str]:
        if self.error:
            raise self.error
        self.sent.append(kwargs)
        return {"MessageId": "e-1"}


class FakeRobots:
    """Stands in for urlopen: records requests, answers per host."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any], float]] = []
        self.answers: dict[str, Any] = {}  # host -> bytes answer or an exception

    def __call__(self, request: Any, timeout: float) -> Any:
        host = urlsplit(request.full_url).netloc
        self.requests.append((request.full_url, json.loads(request.data), timeout))
        answer = self.answers.get(host, b'{"errcode":0,"errmsg":"ok"}')
        if isinstance(answer, Exception):
            raise answer
        return io.BytesIO(answer)

    def bodies(self, host: str) -> list[dict[str, Any]]:
        return [body for url, body, _ in self.requests if urlsplit(url).netloc == host]


class Failures:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, route: str, reason: str, notice: Notice) -> None:
        self.seen.append((route, reason))


@pytest.fixture
def world():
    sns, ses, robots, failures = FakeSns(), FakeSes(), FakeRobots(), Failures()
    clock = FixedClock(datetime(2026, 11, 25, 8, 0, 0, tzinfo=UTC))
    state = {"config": CONFIG}

    def config():
        value = state["config"]
        if isinstance(value, Exception):
            raise value
        return value

    notifier = RoutingNotifier(
        config,
        SnsPublisher(lambda: sns, TOPICS),
        RobotClient(opener=robots),
        SesMailer(lambda: ses),
        clock,
        on_failure=failures,
    )
    return notifier, sns, ses, robots, failures, state


def test_every_route_gets_the_notice_in_its_own_format(world):
    notifier, sns, ses, robots, failures, _ = world
    notifier.notify(NOTICE)
    (published,) = sns.published
    assert published["TopicArn"] == TOPICS["P1"]
    assert json.loads(published["Message"])["title"] == NOTICE.title
    assert published["MessageAttributes"]["priority"] == {"DataType": "String", "StringValue": "P1"}
    (wecom,) = robots.bodies("qyapi.weixin.qq.com")
    assert wecom["msgtype"] == "markdown" and "content" in wecom["markdown"]
    (dingtalk,) = robots.bodies("oapi.dingtalk.com")
    assert set(dingtalk["markdown"]) == {"title", "text"}
    (mail,) = ses.sent
    assert mail["Source"] == "alerts@example.com"
    assert mail["Destination"] == {"ToAddresses": ["ops@example.com"]}
    assert mail["Message"]["Subject"]["Data"] == "[OrderHub] P1 unknown_sku: mall#demo-shop#A-7"
    assert failures.seen == []
    assert all(timeout == 5.0 for _, _, timeout in robots.requests)


def test_a_signed_dingtalk_robot_gets_timestamp_and_sign_from_the_clock(world):
    notifier, _, _, robots, _, _ = world
    notifier.notify(NOTICE)
    (url,) = [u for u, _, _ in robots.requests if "dingtalk" in u]
    query = parse_qs(urlsplit(url).query)
    millis = int(datetime(2026, 11, 25, 8, 0, tzinfo=UTC).timestamp() * 1000)
    assert query["access_token"] == ["t1"] and query["timestamp"] == [str(millis)]
    assert query["sign"] == parse_qs("s=" + dingtalk_sign("SECx", millis))["s"]


def test_one_failing_route_does_not_stop_the_others(world):
    notifier, sns, ses, robots, failures, _ = world
    robots.answers["qyapi.weixin.qq.com"] = b'{"errcode":45009,"errmsg":"api freq out of limit"}'
    sns.error = RuntimeError("throttled")
    delivery = notifier.deliver(NOTICE)
    assert delivery.delivered == ["ops-dingtalk", "ops-mail"]
    assert set(delivery.failed) == {"sns:P1", "ops-wecom"}
    assert "errcode 45009" in delivery.failed["ops-wecom"]
    assert [route for route, _ in failures.seen] == ["sns:P1", "ops-wecom"]
    assert len(ses.sent) == 1
    notifier.notify(NOTICE)  # some routes took it: no exception


def test_notify_raises_only_when_every_route_failed(world):
    notifier, sns, ses, robots, failures, _ = world
    sns.error = RuntimeError("down")
    ses.error = RuntimeError("down")
    robots.answers["qyapi.weixin.qq.com"] = urllib.error.URLError("timed out")
    robots.answers["oapi.dingtalk.com"] = b'{"errcode":310000,"errmsg":"sign not match"}'
    with pytest.raises(NotificationFailed) as failed:
        notifier.notify(NOTICE)
    assert set(failed.value.failures) == {"sns:P1", "ops-wecom", "ops-dingtalk", "ops-mail"}
    assert len(failures.seen) == 4


def test_failure_reasons_never_carry_the_robot_key(world):
    notifier, _, _, robots, failures, _ = world
    robots.answers["qyapi.weixin.qq.com"] = urllib.error.HTTPError(WECOM, 502, "bad", {}, None)
    notifier.deliver(NOTICE)
    ((route, reason),) = failures.seen
    assert route == "ops-wecom" and reason == "qyapi.weixin.qq.com answered HTTP 502"
    assert "k1" not in reason


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"<html>", "not JSON"),
        (b'{"errmsg":"ok"}', "errcode None"),
        (b'{"errcode":93000,"errmsg":"invalid webhook url"}', "errcode 93000 invalid webhook url"),
        (TimeoutError("timed out"), "unreachable"),
    ],
)
def test_robot_answers_other_than_errcode_0_are_failures(answer, reason):
    robots = FakeRobots()
    robots.answers["qyapi.weixin.qq.com"] = answer
    with pytest.raises(DeliveryFailed, match=reason):
        RobotClient(opener=robots).post(WECOM, {"msgtype": "markdown"})


def test_a_notice_with_no_route_is_not_an_error(world):
    notifier, sns, _, robots, failures, _ = world
    notifier.notify(Notice("report", "info", "finance", "Daily reconciliation", ""))
    assert sns.published == [] and robots.requests == [] and failures.seen == []


def test_a_topic_not_deployed_is_no_route_not_a_failure(world):
    _, _, ses, robots, failures, _ = world
    notifier = RoutingNotifier(
        lambda: CONFIG,
        SnsPublisher(lambda: None, {}),  # no topic ARNs in this deployment
        RobotClient(opener=robots),
        SesMailer(lambda: ses),
        FixedClock(),
        on_failure=failures,
    )
    delivery = notifier.deliver(NOTICE)
    assert "sns:P1" not in delivery.results and len(delivery.delivered) == 3


def test_an_unusable_config_is_reported_and_sns_still_gets_the_notice(world):
    notifier, sns, _, robots, failures, state = world
    state["config"] = NotificationConfigError("orderhub/notifications: routes[0].sns must be ...")
    notifier.notify(NOTICE)
    assert [p["TopicArn"] for p in sns.published] == [TOPICS["P1"]]
    assert robots.requests == []
    assert failures.seen[0][0] == "config" and "routes[0].sns" in failures.seen[0][1]


def test_an_unusable_config_and_sns_down_raises(world):
    notifier, sns, _, _, _, state = world
    state["config"] = RuntimeError("AccessDenied")
    sns.error = RuntimeError("down")
    with pytest.raises(NotificationFailed):
        notifier.notify(NOTICE)


def test_config_reader_parses_the_secret_and_treats_a_missing_one_as_the_default():
    document = {"routes": [{"audiences": ["*"], "priorities": ["*"], "sns": "priority"}]}
    read = config_reader(
        FakeSecrets({"orderhub/notifications": document}), "orderhub/notifications"
    )
    assert len(read().routes) == 1

    class Missing:
        def get_secret(self, name: str) -> Any:
            raise RuntimeError(
                "An error occurred (ResourceNotFoundException) when calling the GetSecretValue "
                "operation: Secrets Manager can't find the specified secret."
            )

    assert config_reader(Missing(), "orderhub/notifications")() is DEFAULT_CONFIG


def test_config_reader_refuses_an_invalid_secret():
    secrets = FakeSecrets({"orderhub/notifications": {"routes": [{"audiences": ["*"]}]}})
    with pytest.raises(NotificationConfigError, match=r"routes\[0\]\.priorities"):
        config_reader(secrets, "orderhub/notifications")()


def test_aws_clients_are_built_once_and_only_when_used():
    built: list[str] = []

    def client() -> FakeSns:
        built.append("sns")
        return FakeSns()

    publisher = SnsPublisher(client, TOPICS)
    assert built == []
    publisher.publish("P0", NOTICE)
    publisher.publish("P1", NOTICE)
    assert built == ["sns"]


def test_fake_notifier_records_and_can_fail():
    fake = FakeNotifier()
    fake.notify(NOTICE)
    assert fake.notices == [NOTICE]
    fake.error = NotificationFailed({"sns:P1": "down"})
    with pytest.raises(NotificationFailed):
        fake.notify(NOTICE)
