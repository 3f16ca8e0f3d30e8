"""Who hears about which notice: routing as configuration, validated. Pure Python.

The configuration is one JSON document, kept in Secrets Manager (robot URLs carry their
credential, DingTalk robots have signing secrets) under `orderhub/notifications`:

    {
      "email": {"sender": "OrderHub <alerts@example.com>"},
      "channels": {
        "ops-wecom": {"type": "wecom",
                      "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=..."},
        "ops-dingtalk": {"type": "dingtalk",
                         "url": "https://oapi.dingtalk.com/robot/send?access_token=...",
                         "secret": "SEC...", "at_mobiles": ["13800000000"], "at_all": false,
                         "mention_on": ["P0"]},
        "ops-mail": {"type": "email", "to": ["ops@example.com"]},
        "ops-sms": {"type": "sms", "to": ["+8613800000000"], "priorities": ["P0"],
                    "limit": 5, "window_minutes": 60}
      },
      "routes": [
        {"audiences": ["ops", "warehouse"], "priorities": ["P0", "P1"], "sns": "priority",
         "channels": ["ops-wecom", "ops-dingtalk"]},
        {"audiences": ["*"], "priorities": ["P0"], "channels": ["ops-mail", "ops-sms"]},
        {"audiences": ["finance"], "priorities": ["*"], "sns": "finance", "channels": []}
      ]
    }

A notice goes to the union of every route whose `audiences` holds its audience and whose
`priorities` holds its priority (`"*"`: any), each channel and topic once. `sns` picks an
SNS topic: `"priority"` the topic of the notice's priority (P0, P1, P2; none for `info`),
`"finance"` the finance topic; the topics' ARNs are the functions' settings, so an unset one
is simply no route. Without a configuration, `DEFAULT_CONFIG` applies: SNS only.

SMS channels text E.164 numbers (SNS Publish to a phone number). A text is intrusive and
costs money, so an SMS channel only takes the priorities it lists (`priorities`, default
`["P0"]`: P0 goes by SMS by default wherever a route names an SMS channel), and at most
`limit` texts per `window_minutes` (default 5 per 60) reach its numbers: the last one says
that further alerts go to the other channels only, so an alarm storm cannot send hundreds.

A notice that names channel types (`Notice.via`, from the metric table) goes where its
routes send it and also to the channels of those types on every route for its audience,
whatever the routes' priorities (the table's "→ WeCom + email" is a minimum). Alarm notices
(kinds `alarm`, `alarm_recovered`: relayed from CloudWatch alarms that the alerts topics
carried already) never go back to the SNS topics.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chalicelib.domain.notices import Notice

SECRET_NAME = "orderhub/notifications"
PRIORITIES = ("P0", "P1", "P2", "info")
AUDIENCES = ("ops", "cs", "finance", "warehouse", "admin")
ANY = "*"
SNS_BY_PRIORITY, SNS_FINANCE = "priority", "finance"
CHANNEL_TYPES = ("wecom", "dingtalk", "email", "sms")
ALARM_KINDS = frozenset({"alarm", "alarm_recovered"})  # relayed from SNS: never back to SNS
SMS_DEFAULT_PRIORITIES = ("P0",)
SMS_DEFAULT_LIMIT, SMS_DEFAULT_WINDOW_MINUTES = 5, 60
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
PRIORITY_TOPICS = ("P0", "P1", "P2")
TOPICS = (*PRIORITY_TOPICS, "finance")
LOOPBACK_HOSTS = ("localhost",)
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


class NotificationConfigError(ValueError):
    """The notification configuration is not usable; the message names the field."""


Fail = Callable[[str, str], NotificationConfigError]  # (field, problem) -> the error


@dataclass(frozen=True)
class WeComRobot:
    name: str
    url: str


@dataclass(frozen=True)
class DingTalkRobot:
    name: str
    url: str
    secret: str = ""  # the robot's signing secret (SEC...); "" when it is not signed
    at_mobiles: tuple[str, ...] = ()
    at_all: bool = False
    mention_on: tuple[str, ...] = ("P0",)  # priorities for which the at_* people are @-ed


@dataclass(frozen=True)
class EmailList:
    name: str
    to: tuple[str, ...]


@dataclass(frozen=True)
class SmsList:
    """Phone numbers (E.164) texted through SNS, at most `limit` texts per window."""

    name: str
    to: tuple[str, ...]
    priorities: tuple[str, ...] = SMS_DEFAULT_PRIORITIES
    limit: int = SMS_DEFAULT_LIMIT
    window_minutes: int = SMS_DEFAULT_WINDOW_MINUTES


Channel = WeComRobot | DingTalkRobot | EmailList | SmsList


def channel_type(channel: Channel) -> str:
    if isinstance(channel, WeComRobot):
        return "wecom"
    if isinstance(channel, DingTalkRobot):
        return "dingtalk"
    if isinstance(channel, EmailList):
        return "email"
    return "sms"


@dataclass(frozen=True)
class SnsTopic:
    """One of TOPICS: P0, P1, P2 or finance (its ARN is a setting)."""

    topic: str

    @property
    def name(self) -> str:
        return f"sns:{self.topic}"


Target = Channel | SnsTopic


@dataclass(frozen=True)
class Route:
    audiences: frozenset[str]
    priorities: frozenset[str]
    sns: str | None = None
    channels: tuple[str, ...] = ()

    def matches(self, notice: Notice) -> bool:
        return (ANY in self.audiences or notice.audience in self.audiences) and (
            ANY in self.priorities or notice.priority in self.priorities
        )


@dataclass(frozen=True)
class RoutingConfig:
    channels: Mapping[str, Channel]
    routes: tuple[Route, ...]
    email_sender: str = ""


DEFAULT_CONFIG = RoutingConfig(
    channels={},
    routes=(
        Route(frozenset({ANY}), frozenset({ANY}), SNS_BY_PRIORITY),
        Route(frozenset({"finance"}), frozenset({ANY}), SNS_FINANCE),
    ),
)


def targets_for(notice: Notice, config: RoutingConfig) -> list[Target]:
    """Every target the notice goes to, in route order, each once."""
    found: list[Target] = []
    for route in config.routes:
        if not route.matches(notice):
            continue
        topic = None
        if notice.kind in ALARM_KINDS:
            topic = None  # the alarm itself came through the topic
        elif route.sns == SNS_FINANCE:
            topic = "finance"
        elif route.sns == SNS_BY_PRIORITY and notice.priority in PRIORITY_TOPICS:
            topic = notice.priority
        candidates: list[Target] = [SnsTopic(topic)] if topic else []
        candidates += [
            c
            for c in (config.channels[name] for name in route.channels)
            if not isinstance(c, SmsList) or notice.priority in c.priorities
        ]
        found += [t for t in candidates if t not in found]
    return found + [t for t in _targets_via(notice, config) if t not in found]


def _targets_via(notice: Notice, config: RoutingConfig) -> list[Target]:
    """The channels of the notice's `via` types on every route for its audience."""
    found: list[Target] = []
    if not notice.via:
        return found
    for route in config.routes:
        if not (ANY in route.audiences or notice.audience in route.audiences):
            continue
        for channel in (config.channels[name] for name in route.channels):
            if channel_type(channel) in notice.via and channel not in found:
                found.append(channel)
    return found


def mentions(robot: DingTalkRobot, notice: Notice) -> tuple[tuple[str, ...], bool]:
    """(atMobiles, isAtAll) for this notice: the robot's people, only at its priorities."""
    if notice.priority not in robot.mention_on:
        return (), False
    return robot.at_mobiles, robot.at_all


# --- parsing and validation ------------------------------------------------------------


def parse_config(document: Mapping[str, Any], source: str = SECRET_NAME) -> RoutingConfig:
    """The configuration in `document`, or NotificationConfigError naming the bad field."""

    def fail(field: str, problem: str) -> NotificationConfigError:
        return NotificationConfigError(f"{source}: {field} {problem}")

    if not isinstance(document, Mapping):
        raise fail("(the document)", "must be a JSON object")
    _no_other_keys(document, {"email", "channels", "routes"}, "", fail)
    email = document.get("email", {})
    if not isinstance(email, Mapping):
        raise fail("email", "must be an object")
    _no_other_keys(email, {"sender"}, "email.", fail)
    sender = email.get("sender", "")
    if sender and not (isinstance(sender, str) and _EMAIL.match(parseaddr(sender)[1])):
        raise fail("email.sender", "must be an email address (optionally 'Name <address>')")

    raw_channels = document.get("channels", {})
    if not isinstance(raw_channels, Mapping):
        raise fail("channels", "must be an object of name -> channel")
    channels: dict[str, Channel] = {}
    for name, spec in raw_channels.items():
        channels[name] = _channel(str(name), spec, fail)
    if any(isinstance(c, EmailList) for c in channels.values()) and not sender:
        raise fail("email.sender", "is required when a channel has type 'email'")

    raw_routes = document.get("routes", [])
    if not isinstance(raw_routes, list):
        raise fail("routes", "must be a list")
    routes = tuple(_route(i, spec, channels, fail) for i, spec in enumerate(raw_routes))
    return RoutingConfig(channels, routes, sender or "")


def _no_other_keys(spec: Mapping[str, Any], allowed: set[str], prefix: str, fail: Fail) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise fail(
            f"{prefix}{unknown[0]}", f"is not a known field (known: {', '.join(sorted(allowed))})"
        )


def _channel(name: str, spec: Any, fail: Fail) -> Channel:
    where = f"channels.{name}"
    if not isinstance(spec, Mapping):
        raise fail(where, "must be an object")
    kind = spec.get("type")
    if kind == "wecom":
        _no_other_keys(spec, {"type", "url"}, f"{where}.", fail)
        return WeComRobot(name, _robot_url(spec.get("url"), "key", f"{where}.url", fail))
    if kind == "dingtalk":
        allowed = {"type", "url", "secret", "at_mobiles", "at_all", "mention_on"}
        _no_other_keys(spec, allowed, f"{where}.", fail)
        url = _robot_url(spec.get("url"), "access_token", f"{where}.url", fail)
        secret = spec.get("secret", "")
        if not isinstance(secret, str):
            raise fail(f"{where}.secret", "must be a string (the robot's SEC... signing secret)")
        mobiles = _strings(spec.get("at_mobiles", []), f"{where}.at_mobiles", fail)
        at_all = spec.get("at_all", False)
        if not isinstance(at_all, bool):
            raise fail(f"{where}.at_all", "must be true or false")
        mention_on = _strings(spec.get("mention_on", ["P0"]), f"{where}.mention_on", fail)
        _known(mention_on, PRIORITIES, f"{where}.mention_on", fail)
        return DingTalkRobot(name, url, secret, mobiles, at_all, mention_on)
    if kind == "email":
        _no_other_keys(spec, {"type", "to"}, f"{where}.", fail)
        to = _strings(spec.get("to"), f"{where}.to", fail)
        if not to:
            raise fail(f"{where}.to", "must list at least one address")
        for i, address in enumerate(to):
            if not _EMAIL.match(address):
                raise fail(f"{where}.to[{i}]", f"'{address}' is not an email address")
        return EmailList(name, to)
    if kind == "sms":
        return _sms(name, spec, fail)
    raise fail(f"{where}.type", f"must be one of wecom, dingtalk, email, sms (got {kind!r})")


def _sms(name: str, spec: Mapping[str, Any], fail: Fail) -> SmsList:
    where = f"channels.{name}"
    allowed = {"type", "to", "priorities", "limit", "window_minutes"}
    _no_other_keys(spec, allowed, f"{where}.", fail)
    to = _strings(spec.get("to"), f"{where}.to", fail)
    if not to:
        raise fail(f"{where}.to", "must list at least one phone number")
    for i, number in enumerate(to):
        if not _E164.match(number):
            raise fail(f"{where}.to[{i}]", f"'{number}' is not an E.164 number (+8613800000000)")
    raw = spec.get("priorities", list(SMS_DEFAULT_PRIORITIES))
    priorities = _strings(raw, f"{where}.priorities", fail)
    _known(priorities, PRIORITIES, f"{where}.priorities", fail)
    numbers = {}
    for key, default, top in (
        ("limit", SMS_DEFAULT_LIMIT, 100),
        ("window_minutes", SMS_DEFAULT_WINDOW_MINUTES, 1440),
    ):
        value = spec.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            raise fail(f"{where}.{key}", f"must be a whole number from 1 to {top}")
        numbers[key] = value
    return SmsList(name, to, priorities, numbers["limit"], numbers["window_minutes"])


def _robot_url(value: Any, credential: str, where: str, fail: Fail) -> str:
    if not isinstance(value, str) or not value:
        raise fail(where, "must be the robot's webhook URL")
    parts = urlsplit(value)
    if parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
        raise fail(where, "must be https (http only for a local stub on loopback)")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(where, "must be an https URL")
    if not parse_qs(parts.query).get(credential):
        raise fail(where, f"must carry the robot's '{credential}=' query parameter")
    return value


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _strings(value: Any, where: str, fail: Fail) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise fail(where, "must be a list of non-empty strings")
    return tuple(value)


def _known(values: Sequence[str], allowed: Sequence[str], where: str, fail: Fail) -> None:
    for i, value in enumerate(values):
        if value not in allowed:
            raise fail(f"{where}[{i}]", f"'{value}' is not one of {', '.join(allowed)}")


def _route(index: int, spec: Any, channels: Mapping[str, Channel], fail: Fail) -> Route:
    where = f"routes[{index}]"
    if not isinstance(spec, Mapping):
        raise fail(where, "must be an object")
    _no_other_keys(spec, {"audiences", "priorities", "sns", "channels"}, f"{where}.", fail)
    audiences = _strings(spec.get("audiences"), f"{where}.audiences", fail)
    _known(audiences, (*AUDIENCES, ANY), f"{where}.audiences", fail)
    priorities = _strings(spec.get("priorities"), f"{where}.priorities", fail)
    _known(priorities, (*PRIORITIES, ANY), f"{where}.priorities", fail)
    sns = spec.get("sns")
    if sns is not None and sns not in (SNS_BY_PRIORITY, SNS_FINANCE):
        raise fail(f"{where}.sns", f"must be 'priority' or 'finance' (got {sns!r})")
    names = _strings(spec.get("channels", []), f"{where}.channels", fail)
    for i, name in enumerate(names):
        if name not in channels:
            raise fail(f"{where}.channels[{i}]", f"names no channel ('{name}' is not in channels)")
    if sns is None and not names:
        raise fail(where, "sends nowhere: give it 'sns' or 'channels'")
    return Route(frozenset(audiences), frozenset(priorities), sns, names)
