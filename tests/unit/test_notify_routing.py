"""Routing as configuration: which targets a notice reaches by priority and audience, and a
configuration that is wrong is refused with the field named."""

from __future__ import annotations

import copy

import pytest

from chalicelib.domain.notices import Notice
from chalicelib.domain.notify_routing import (
    DEFAULT_CONFIG,
    DingTalkRobot,
    EmailList,
    NotificationConfigError,
    SnsTopic,
    WeComRobot,
    mentions,
    parse_config,
    targets_for,
)

WECOM = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1"
DINGTALK = "https://oapi.dingtalk.com/robot/send?access_token=t1"

CONFIG = {
    "email": {"sender": "OrderHub <alerts@example.com>"},
    "channels": {
        "ops-wecom": {"type": "wecom", "url": WECOM},
        "ops-dingtalk": {
            "type": "dingtalk",
            "url": DINGTALK,
            "secret": "SECx",
            "at_mobiles": ["13800000000"],
            "mention_on": ["P0"],
        },
        "wh-wecom": {"type": "wecom", "url": WECOM.replace("k1", "k2")},
        "ops-mail": {"type": "email", "to": ["ops@example.com"]},
        "finance-mail": {"type": "email", "to": ["finance@example.com", "cfo@example.com"]},
    },
    "routes": [
        {
            "audiences": ["ops", "cs", "admin"],
            "priorities": ["P0", "P1", "P2"],
            "sns": "priority",
            "channels": ["ops-wecom", "ops-dingtalk"],
        },
        {
            "audiences": ["warehouse"],
            "priorities": ["*"],
            "sns": "priority",
            "channels": ["wh-wecom"],
        },
        {"audiences": ["*"], "priorities": ["P0"], "channels": ["ops-mail", "ops-wecom"]},
        {
            "audiences": ["finance"],
            "priorities": ["*"],
            "sns": "finance",
            "channels": ["finance-mail"],
        },
    ],
}


def notice(priority: str = "P1", audience: str = "ops") -> Notice:
    return Notice("anomaly_opened", priority, audience, f"{priority} x", "")


def names(priority: str, audience: str, config=None) -> list[str]:
    chosen = parse_config(CONFIG) if config is None else config
    return [t.name for t in targets_for(notice(priority, audience), chosen)]


# --- routing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "audience", "expected"),
    [
        ("P0", "ops", ["sns:P0", "ops-wecom", "ops-dingtalk", "ops-mail"]),
        ("P1", "ops", ["sns:P1", "ops-wecom", "ops-dingtalk"]),
        ("P2", "cs", ["sns:P2", "ops-wecom", "ops-dingtalk"]),
        ("P1", "warehouse", ["sns:P1", "wh-wecom"]),
        ("P0", "warehouse", ["sns:P0", "wh-wecom", "ops-mail", "ops-wecom"]),
        ("info", "finance", ["sns:finance", "finance-mail"]),
        ("P0", "finance", ["ops-mail", "ops-wecom", "sns:finance", "finance-mail"]),
        ("info", "ops", []),
    ],
)
def test_targets_by_priority_and_audience(priority, audience, expected):
    assert names(priority, audience) == expected


def test_each_target_appears_once_even_when_several_routes_name_it():
    found = names("P0", "ops")
    assert len(found) == len(set(found))


def test_sns_by_priority_has_no_topic_for_info_notices():
    config = parse_config(
        {"routes": [{"audiences": ["*"], "priorities": ["*"], "sns": "priority"}]}
    )
    assert names("info", "ops", config) == []
    assert names("P2", "ops", config) == ["sns:P2"]


def test_default_config_is_sns_only_by_priority_and_finance():
    assert names("P0", "ops", DEFAULT_CONFIG) == ["sns:P0"]
    assert names("info", "finance", DEFAULT_CONFIG) == ["sns:finance"]
    assert names("P1", "finance", DEFAULT_CONFIG) == ["sns:P1", "sns:finance"]
    assert all(isinstance(t, SnsTopic) for t in targets_for(notice("P0"), DEFAULT_CONFIG))


def test_parsed_channels_carry_their_settings():
    config = parse_config(CONFIG)
    assert config.channels["ops-wecom"] == WeComRobot("ops-wecom", WECOM)
    assert config.channels["ops-dingtalk"] == DingTalkRobot(
        "ops-dingtalk", DINGTALK, "SECx", ("13800000000",), False, ("P0",)
    )
    assert config.channels["finance-mail"] == EmailList(
        "finance-mail", ("finance@example.com", "cfo@example.com")
    )
    assert config.email_sender == "OrderHub <alerts@example.com>"


def test_dingtalk_mentions_only_at_its_priorities():
    robot = parse_config(CONFIG).channels["ops-dingtalk"]
    assert isinstance(robot, DingTalkRobot)
    assert mentions(robot, notice("P0")) == (("13800000000",), False)
    assert mentions(robot, notice("P1")) == ((), False)


def test_an_empty_document_is_a_valid_config_with_no_routes():
    config = parse_config({})
    assert config.routes == () and names("P0", "ops", config) == []


def test_a_loopback_http_robot_is_allowed_for_the_local_stub():
    doc = {
        "channels": {
            "w": {"type": "wecom", "url": "http://127.0.0.1:8011/cgi-bin/webhook/send?key=k"}
        }
    }
    assert parse_config(doc).channels["w"].url.startswith("http://127.0.0.1")


# --- validation ------------------------------------------------------------------------


def broken(change) -> dict:
    doc = copy.deepcopy(CONFIG)
    change(doc)
    return doc


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(route=[]), "route is not a known field"),
        (lambda d: d["channels"]["ops-wecom"].update(type="slack"), "channels.ops-wecom.type"),
        (lambda d: d["channels"]["ops-wecom"].pop("url"), "channels.ops-wecom.url"),
        (
            lambda d: d["channels"]["ops-wecom"].update(url="http://qyapi.weixin.qq.com/x?key=k"),
            "channels.ops-wecom.url must be https",
        ),
        (
            lambda d: d["channels"]["ops-wecom"].update(url="https://qyapi.weixin.qq.com/x"),
            "channels.ops-wecom.url must carry the robot's 'key='",
        ),
        (
            lambda d: d["channels"]["ops-dingtalk"].update(
                url="https://oapi.dingtalk.com/robot/send"
            ),
            "'access_token='",
        ),
        (lambda d: d["channels"]["ops-dingtalk"].update(secret=1), "channels.ops-dingtalk.secret"),
        (
            lambda d: d["channels"]["ops-dingtalk"].update(at_all="no"),
            "channels.ops-dingtalk.at_all",
        ),
        (
            lambda d: d["channels"]["ops-dingtalk"].update(at_mobiles="138"),
            "channels.ops-dingtalk.at_mobiles",
        ),
        (
            lambda d: d["channels"]["ops-dingtalk"].update(mention_on=["P3"]),
            "channels.ops-dingtalk.mention_on[0]",
        ),
        (lambda d: d["channels"]["ops-dingtalk"].update(token="x"), "channels.ops-dingtalk.token"),
        (lambda d: d["channels"]["ops-mail"].update(to=[]), "channels.ops-mail.to"),
        (lambda d: d["channels"]["ops-mail"].update(to=["nobody"]), "channels.ops-mail.to[0]"),
        (lambda d: d["email"].update(sender="not an address"), "email.sender"),
        (lambda d: d.pop("email"), "email.sender is required"),
        (lambda d: d["routes"][0].update(audiences=["ops", "sales"]), "routes[0].audiences[1]"),
        (lambda d: d["routes"][1].update(priorities=["P4"]), "routes[1].priorities[0]"),
        (lambda d: d["routes"][1].pop("priorities"), "routes[1].priorities"),
        (lambda d: d["routes"][0].update(sns="P0"), "routes[0].sns"),
        (lambda d: d["routes"][2]["channels"].append("pager"), "routes[2].channels[2]"),
        (lambda d: d["routes"][2].update(channel=["x"]), "routes[2].channel is not a known field"),
        (
            lambda d: d["routes"].append({"audiences": ["*"], "priorities": ["*"]}),
            "routes[4] sends nowhere",
        ),
        (lambda d: d.update(routes={}), "routes must be a list"),
        (lambda d: d.update(channels=[]), "channels must be an object"),
    ],
)
def test_a_bad_config_is_refused_naming_the_field(change, field):
    with pytest.raises(NotificationConfigError) as refused:
        parse_config(broken(change))
    assert field in str(refused.value)
    assert str(refused.value).startswith("orderhub/notifications: ")


def test_a_document_that_is_not_an_object_is_refused():
    with pytest.raises(NotificationConfigError, match="must be a JSON object"):
        parse_config(["routes"])  # type: ignore[arg-type]
