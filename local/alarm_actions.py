"""What AWS does with alarms and texts that moto 5.2.5 does not (local only).

- **Alarm actions.** moto stores an alarm's `AlarmActions` / `OKActions` /
  `InsufficientDataActions` but never runs them: `set_alarm_state` only changes the state
  (moto/cloudwatch/models.py, `CloudWatchBackend.set_alarm_state` → `Alarm.update_state`).
  CloudWatch publishes, on each change of state (not on a set to the state it is already in),
  a JSON document to every SNS topic of the new state's actions, subject
  `ALARM: "<name>" in <region name>`. `patch_alarm_actions` wraps `set_alarm_state` to do the
  same in the emulator's process, through moto's own SNS backend, so the topics' subscribers
  (SQS taps, and the queue that stands in for the relay's Lambda subscription) receive what
  they would in AWS.
- **SMS.** moto's SNS keeps a text published to a phone number in memory
  (`sms_messages`) and sends nothing. `patch_sms_sink` also POSTs each one as
  `{"message_id", "to", "message"}` to the URL in ORDERHUB_LOCAL_SMS_SINK (the notification
  stub's `POST /_stub/sms`, local/stub_notify.py), which plays the phone.

Both patches run in the emulator's process (local/emulator.py calls `patch_local_aws`), under
its request lock: an action is published before `SetAlarmState` answers, as soon as it would
be in AWS for any practical test.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.request
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("orderhub.local.alarm_actions")

SMS_SINK_VARIABLE = "ORDERHUB_LOCAL_SMS_SINK"
_MARK = "_orderhub_local_patch"
_LOCK = threading.Lock()
REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "cn-north-1": "China (Beijing)",
}


def _stamp(moment: datetime) -> str:
    """CloudWatch's notification time format: 2026-12-07T15:04:05.123+0000."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def alarm_notification(alarm: Any, old_state: str, account_id: str) -> dict[str, Any]:
    """The document CloudWatch publishes to an alarm's action topics (its documented fields)."""
    region = alarm.region_name
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": account_id,
        "AlarmConfigurationUpdatedTimestamp": _stamp(alarm.configuration_updated_timestamp),
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": _stamp(alarm.state_updated_timestamp),
        "Region": REGION_NAMES.get(region, region),
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old_state,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "Trigger": {
            "MetricName": alarm.metric_name,
            "Namespace": alarm.namespace,
            "StatisticType": "ExtendedStatistic" if alarm.extended_statistic else "Statistic",
            "Statistic": (alarm.statistic or "").upper() or None,
            "ExtendedStatistic": alarm.extended_statistic,
            "Unit": alarm.unit,
            "Dimensions": [{"name": d.name, "value": d.value} for d in alarm.dimensions],
            "Period": alarm.period,
            "EvaluationPeriods": alarm.evaluation_periods,
            "ComparisonOperator": alarm.comparison_operator,
            "Threshold": float(alarm.threshold) if alarm.threshold is not None else None,
            "TreatMissingData": alarm.treat_missing_data,
        },
    }


def _actions_for(alarm: Any) -> list[str]:
    return {
        "ALARM": list(alarm.alarm_actions or []),
        "OK": list(alarm.ok_actions or []),
        "INSUFFICIENT_DATA": list(alarm.insufficient_data_actions or []),
    }.get(alarm.state_value, [])


def run_alarm_actions(backend: Any, alarm: Any, old_state: str) -> list[str]:
    """Publish the notification to each SNS action of the alarm's new state; returns the
    topics published to (other action types, EC2 or Auto Scaling, do not exist locally)."""
    from moto.sns.models import sns_backends

    if not alarm.actions_enabled:
        return []
    document = alarm_notification(alarm, old_state, backend.account_id)
    region_name = REGION_NAMES.get(alarm.region_name, alarm.region_name)
    subject = f'{alarm.state_value}: "{alarm.name}" in {region_name}'[:99]
    published = []
    for arn in _actions_for(alarm):
        parts = arn.split(":")
        if len(parts) < 6 or parts[2] != "sns":
            continue
        sns = sns_backends[parts[4]][parts[3]]
        sns.publish(message=json.dumps(document), arn=arn, subject=subject)
        published.append(arn)
    return published


def patch_alarm_actions() -> None:
    from moto.cloudwatch.models import CloudWatchBackend

    original = CloudWatchBackend.set_alarm_state
    if getattr(original, _MARK, False):
        return

    def set_alarm_state(
        self: Any, alarm_name: str, reason: str, reason_data: str, state_value: str
    ) -> None:
        alarm = self.alarms.get(alarm_name)
        old_state = alarm.state_value if alarm is not None else ""
        original(self, alarm_name, reason, reason_data, state_value)
        if alarm is not None and old_state != state_value:  # a change of state acts
            try:
                run_alarm_actions(self, alarm, old_state)
            except Exception:  # the state is set either way, as in AWS
                log.exception("alarm actions of %s failed", alarm_name)

    setattr(set_alarm_state, _MARK, True)
    CloudWatchBackend.set_alarm_state = set_alarm_state  # type: ignore[method-assign]


def _to_sink(url: str, record: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(record).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
    except Exception as exc:  # the phone being off loses the text, as it would
        log.warning("SMS sink %s did not take the text: %s", url, exc)


def patch_sms_sink() -> None:
    from moto.sns.models import SNSBackend

    original = SNSBackend.publish
    if getattr(original, _MARK, False):
        return

    def publish(self: Any, message: str, arn: str | None, *args: Any, **kwargs: Any) -> str:
        message_id = original(self, message, arn, *args, **kwargs)
        phone = kwargs.get("phone_number") or (args[0] if args else None)
        sink = os.environ.get(SMS_SINK_VARIABLE, "")
        if phone and sink:
            _to_sink(sink, {"message_id": message_id, "to": phone, "message": message})
        return str(message_id)

    setattr(publish, _MARK, True)
    SNSBackend.publish = publish  # type: ignore[method-assign]


def patch_local_aws() -> None:
    """Both patches; idempotent, process-wide."""
    with _LOCK:
        patch_alarm_actions()
        patch_sms_sink()
