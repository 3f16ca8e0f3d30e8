"""Notifications out: SNS topics, WeCom / DingTalk group robots, email through SES, SMS.

`RoutingNotifier` is the `Notifier` (chalicelib/domain/notices.py): it reads the routing
configuration (Secrets Manager, `orderhub/notifications`, chalicelib/domain/notify_routing.py),
delivers the notice to every target it names in that target's format
(chalicelib/domain/notify_formats.py), and keeps going when one fails: each failure is
logged (route name and host only: robot URLs carry credentials) and counted as
`NotificationFailures`; it raises `NotificationFailed` only when every target failed.

SMS goes through SNS Publish to each E.164 number (`SmsSender`), within the channel's budget
(`SmsBudget`: a shared counter per channel and window, so concurrent functions share it); a
text the budget refuses is `suppressed`, not a failure (the notice still went elsewhere).

An unreadable or invalid configuration is logged and counted too, and the notice still goes
to the SNS topics of `DEFAULT_CONFIG`, so an alarm is never lost to a typo in a robot list.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from chalicelib.domain.notices import Notice
from chalicelib.domain.notify_formats import (
    dingtalk_markdown,
    dingtalk_signed_url,
    email_message,
    sms_text,
    sns_message,
    sns_subject,
    wecom_markdown,
)
from chalicelib.domain.notify_routing import (
    DEFAULT_CONFIG,
    DingTalkRobot,
    EmailList,
    NotificationConfigError,
    RoutingConfig,
    SmsList,
    SnsTopic,
    Target,
    WeComRobot,
    mentions,
    parse_config,
    targets_for,
)

ROBOT_TIMEOUT = 5.0  # seconds per robot POST
FAILURE_METRIC = "NotificationFailures"
SUPPRESSED_METRIC = "SmsSuppressed"


class _Lazy:
    """An AWS client built on first use (a notice may go to robots only)."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._client: Any = None

    def __call__(self) -> Any:
        if self._client is None:
            self._client = self._build()
        return self._client


class DeliveryFailed(Exception):
    """One target did not take the notice; the message is safe to log (no credentials)."""


class NotificationFailed(Exception):
    """Every target of a notice failed (or its only ones did)."""

    def __init__(self, failures: Mapping[str, str]) -> None:
        super().__init__(
            "no route took the notice: " + "; ".join(f"{k}: {v}" for k, v in failures.items())
        )
        self.failures = dict(failures)


# --- the senders ---------------------------------------------------------------------


class SnsPublisher:
    """Publishes a notice to one of the topics (P0, P1, P2, finance) whose ARNs it knows."""

    def __init__(self, client: Callable[[], Any], topic_arns: Mapping[str, str]) -> None:
        self._client = _Lazy(client)
        self.topic_arns = dict(topic_arns)

    def publish(self, topic: str, notice: Notice) -> str:
        arn = self.topic_arns[topic]
        try:
            answer = self._client().publish(
                TopicArn=arn,
                Subject=sns_subject(notice),
                Message=sns_message(notice),
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in (
                        ("priority", notice.priority),
                        ("audience", notice.audience),
                        ("kind", notice.kind),
                    )
                    if value
                },
            )
        except Exception as exc:  # botocore ClientError, endpoint errors
            raise DeliveryFailed(f"SNS publish to {arn.rsplit(':', 1)[-1]} failed: {exc}") from None
        return str(answer.get("MessageId", ""))


class RobotClient:
    """POSTs a JSON message to a WeCom or DingTalk robot; both answer `{"errcode": 0, ...}`."""

    def __init__(
        self, timeout: float = ROBOT_TIMEOUT, opener: Callable[..., Any] = urllib.request.urlopen
    ) -> None:
        self._timeout = timeout
        self._open = opener

    def post(self, url: str, message: Mapping[str, Any]) -> None:
        host = urlsplit(url).netloc  # never the path or query: they hold the robot's key
        request = urllib.request.Request(
            url,
            data=json.dumps(message, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json; charset=utf-8"},
            method="POST",
        )
        try:
            with self._open(request, timeout=self._timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise DeliveryFailed(f"{host} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:  # refused, DNS, timeout
            why = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise DeliveryFailed(f"{host} unreachable: {why}") from None
        try:
            answer = json.loads(raw)
        except ValueError:
            raise DeliveryFailed(f"{host} answered something that is not JSON") from None
        if not isinstance(answer, dict) or answer.get("errcode") != 0:
            code = answer.get("errcode") if isinstance(answer, dict) else None
            text = answer.get("errmsg") if isinstance(answer, dict) else None
            raise DeliveryFailed(f"{host} refused: errcode {code} {text or ''}".rstrip())


class SesMailer:
    """Sends the notice's email (subject, text, HTML) through SES."""

    def __init__(self, client: Callable[[], Any]) -> None:
        self._client = _Lazy(client)

    def send(self, sender: str, to: Sequence[str], notice: Notice) -> str:
        mail = email_message(notice)
        try:
            answer = self._client().send_email(
                Source=sender,
                Destination={"ToAddresses": list(to)},
                Message={
                    "Subject": {"Data": mail.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": mail.text, "Charset": "UTF-8"},
                        "Html": {"Data": mail.html, "Charset": "UTF-8"},
                    },
                },
            )
        except Exception as exc:  # botocore ClientError (unverified sender, throttling, ...)
            raise DeliveryFailed(f"SES send_email failed: {exc}") from None
        return str(answer.get("MessageId", ""))


class SmsSender:
    """Texts one E.164 number through SNS Publish (transactional: delivered before marketing)."""

    def __init__(self, client: Callable[[], Any]) -> None:
        self._client = _Lazy(client)

    def send(self, number: str, text: str) -> str:
        try:
            answer = self._client().publish(
                PhoneNumber=number,
                Message=text,
                MessageAttributes={
                    "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}
                },
            )
        except Exception as exc:  # botocore ClientError (opted out, spend limit, ...)
            # the number is personal data: name only its last two digits
            raise DeliveryFailed(f"SMS to ...{number[-2:]} failed: {exc}") from None
        return str(answer.get("MessageId", ""))


class SmsBudget(Protocol):
    def take(self, channel: str, window: str, limit: int, expires: datetime) -> int | None:
        """Count one text of `channel` in `window`: its number (1..limit), or None when the
        window's `limit` is spent. Shared by every function (a conditional counter)."""
        ...


class MemorySmsBudget:
    """The budget in one process (tests, and the CLI's test command)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def take(self, channel: str, window: str, limit: int, expires: datetime) -> int | None:
        used = self.counts.get((channel, window), 0)
        if used >= limit:
            return None
        self.counts[(channel, window)] = used + 1
        return used + 1


def sms_window(now: datetime, minutes: int) -> tuple[str, datetime]:
    """The window `now` falls in (its start, as text) and when its counter may be forgotten."""
    span = minutes * 60
    start = int(now.timestamp()) // span * span
    begin = datetime.fromtimestamp(start, tz=UTC)
    return begin.strftime("%Y-%m-%dT%H:%MZ"), begin + timedelta(seconds=span, days=1)


# --- the notifier --------------------------------------------------------------------


@dataclass
class Delivery:
    """What became of one notice: each target's name and None (delivered) or the reason."""

    results: dict[str, str | None] = field(default_factory=dict)

    @property
    def delivered(self) -> list[str]:
        return [name for name, error in self.results.items() if error is None]

    @property
    def failed(self) -> dict[str, str]:
        return {name: error for name, error in self.results.items() if error is not None}


def _log_failure(route: str, reason: str, notice: Notice) -> None:
    from chalicelib.observability import logger, metrics

    logger().error(
        "notification not delivered",
        extra={"route": route, "reason": reason, "kind": notice.kind, "title": notice.title},
    )
    metrics().add_metric(name=FAILURE_METRIC, unit="Count", value=1)


def _log_suppressed(channel: str, notice: Notice) -> None:
    from chalicelib.observability import logger, metrics

    logger().warning(
        "SMS budget spent: text suppressed",
        extra={"route": channel, "kind": notice.kind, "title": notice.title},
    )
    metrics().add_metric(name=SUPPRESSED_METRIC, unit="Count", value=1)


def _log_info(message: str, **extra: Any) -> None:
    from chalicelib.observability import logger

    logger().info(message, extra=extra)


class RoutingNotifier:
    """The `Notifier`: every route configured for the notice, one failure never stops the rest."""

    def __init__(
        self,
        config: Callable[[], RoutingConfig],
        sns: SnsPublisher,
        robots: RobotClient,
        mailer: SesMailer,
        now: Callable[[], datetime],
        on_failure: Callable[[str, str, Notice], None] = _log_failure,
        sms: SmsSender | None = None,
        budget: SmsBudget | None = None,
    ) -> None:
        self._config = config
        self._sns = sns
        self._robots = robots
        self._mailer = mailer
        self._now = now
        self._on_failure = on_failure
        self._sms = sms
        self._budget = budget if budget is not None else MemorySmsBudget()

    def notify(self, notice: Notice) -> None:
        delivery = self.deliver(notice)
        if delivery.results and not delivery.delivered:
            raise NotificationFailed(delivery.failed)

    def deliver(self, notice: Notice) -> Delivery:
        """Send to every target; report each one's outcome (never raises for a target)."""
        delivery = Delivery()
        try:
            config = self._config()
        except Exception as exc:  # unreadable secret or invalid JSON: SNS still gets it
            reason = str(exc) if isinstance(exc, NotificationConfigError) else repr(exc)
            self._on_failure("config", reason, notice)
            config = DEFAULT_CONFIG
        for target in targets_for(notice, config):
            if isinstance(target, SnsTopic) and target.topic not in self._sns.topic_arns:
                continue  # that topic is not deployed here: no route, not a failure
            try:
                if isinstance(target, SmsList):
                    self._text(target, notice)
                else:
                    self._send(target, notice, config)
            except Exception as exc:
                reason = str(exc) if isinstance(exc, DeliveryFailed) else repr(exc)
                delivery.results[target.name] = reason
                self._on_failure(target.name, reason, notice)
            else:
                delivery.results[target.name] = None
        if not delivery.results:
            _log_info("notice has no route", kind=notice.kind, audience=notice.audience)
        return delivery

    def _text(self, target: SmsList, notice: Notice) -> None:
        """Text every number of the channel, within its budget; a spent budget suppresses."""
        if self._sms is None:
            raise DeliveryFailed("no SMS sender configured")
        window, expires = sms_window(self._now(), target.window_minutes)
        taken = self._budget.take(target.name, window, target.limit, expires)
        if taken is None:
            _log_suppressed(target.name, notice)
            return  # not a failure: the budget exists to drop these
        text = sms_text(notice, last_in_window=taken == target.limit)
        failures = []
        for number in target.to:
            try:
                self._sms.send(number, text)
            except DeliveryFailed as exc:
                failures.append(str(exc))
        if failures and len(failures) == len(target.to):
            raise DeliveryFailed("; ".join(failures))
        for reason in failures:  # some numbers got it: the rest are still worth knowing
            self._on_failure(target.name, reason, notice)

    def _send(self, target: Target, notice: Notice, config: RoutingConfig) -> None:
        if isinstance(target, SnsTopic):
            self._sns.publish(target.topic, notice)
        elif isinstance(target, WeComRobot):
            self._robots.post(target.url, wecom_markdown(notice))
        elif isinstance(target, DingTalkRobot):
            at_mobiles, at_all = mentions(target, notice)
            url = target.url
            if target.secret:
                millis = int(self._now().timestamp() * 1000)
                url = dingtalk_signed_url(url, target.secret, millis)
            self._robots.post(url, dingtalk_markdown(notice, at_mobiles, at_all))
        elif isinstance(target, EmailList):
            self._mailer.send(config.email_sender, target.to, notice)


def config_reader(secrets: Any, name: str) -> Callable[[], RoutingConfig]:
    """Reads and validates the routing secret on each notice (the secrets adapter caches it
    for 60 s); a secret that does not exist means `DEFAULT_CONFIG`."""

    def read() -> RoutingConfig:
        try:
            document = secrets.get_secret(name)
        except Exception as exc:
            if "ResourceNotFound" in repr(exc) or "can't find the specified secret" in str(exc):
                return DEFAULT_CONFIG
            raise
        return parse_config(document, source=name)

    return read


def build_notifier(
    secrets: Any,
    secret_name: str,
    topic_arns: Mapping[str, str],
    client: Callable[[str], Any],
    now: Callable[[], datetime],
    budget: SmsBudget | None = None,
) -> RoutingNotifier:
    """The notifier the functions use; AWS clients are built on first use."""
    return RoutingNotifier(
        config_reader(secrets, secret_name),
        SnsPublisher(lambda: client("sns"), topic_arns),
        RobotClient(),
        SesMailer(lambda: client("ses")),
        now,
        sms=SmsSender(lambda: client("sns")),
        budget=budget,
    )
