"""`bin/orderhub alarm set NAME ALARM|OK [--reason TEXT]`: CloudWatch's SetAlarmState, to try
an alarm's actions end to end (its topic, the relay, WeCom/DingTalk/email/SMS). On the local
stack the emulator runs the actions; in AWS the alarm returns to its real state at its next
evaluation. `bin/orderhub alarm list` shows each alarm's state.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from chalicelib.settings import STAGE, resource_name

STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")


def add_parser(sub: Any) -> None:
    alarm = sub.add_parser("alarm", help="CloudWatch alarms: list them, set one's state to try it")
    actions = alarm.add_subparsers(dest="action", required=True)
    setting = actions.add_parser("set", help="set an alarm's state (runs its actions)")
    setting.add_argument("name", help="e.g. orderhub-order-events-dlq-not-empty")
    setting.add_argument("state", choices=STATES)
    setting.add_argument("--reason", default="set by bin/orderhub alarm set")
    actions.add_parser("list", help="every OrderHub alarm and its state")


def run(env: dict[str, str], args: argparse.Namespace) -> int:
    import boto3

    os.environ.update(env)
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    cloudwatch = boto3.session.Session(region_name=region).client("cloudwatch")
    stage = env.get(STAGE, "")  # a stage's alarms are `orderhub-{stage}-...`
    if args.action == "list":
        prefix = resource_name(stage, "")
        pages = cloudwatch.get_paginator("describe_alarms").paginate(AlarmNamePrefix=prefix)
        for page in pages:
            for found in page["MetricAlarms"]:
                print(f"{found['StateValue']:<18} {found['AlarmName']}")
        return 0
    args.name = resource_name(stage, args.name)  # the docs' stage-less name works too
    known = cloudwatch.describe_alarms(AlarmNames=[args.name])["MetricAlarms"]
    if not known:
        print(f"no alarm '{args.name}'; `bin/orderhub alarm list` names them")
        return 2
    cloudwatch.set_alarm_state(AlarmName=args.name, StateValue=args.state, StateReason=args.reason)
    print(f"{args.name}: {known[0]['StateValue']} -> {args.state}")
    return 0
