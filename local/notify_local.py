"""The local stack's notification plumbing (local only; nothing like it is deployed):

- `tap_sns_topics`: an SQS queue `<topic>-tap` subscribed to each SNS topic of
  infra/resources.json (moto delivers SNS to SQS subscriptions), so developers and tests can
  read what was published, as `tap_event_buses` does for the EventBridge bus. Messages arrive
  in SNS's JSON envelope (`Message`, `Subject`, `MessageAttributes`).
- `seed_notifications`: the routing configuration (`orderhub/notifications`, pointing at the
  stub robots of local/stub_notify.py) into the emulated Secrets Manager, and the email sender
  verified in the emulated SES (moto refuses mail from an unverified address, as SES does).

Mail sent through moto's SES is not delivered anywhere; read it back from the emulator with
`sent_emails` (moto's `GET /moto-api/data.json`, model `ses.Message`: id, source,
destinations, subject and body — the HTML part when there is one).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Mapping
from email.utils import parseaddr
from typing import Any

from chalicelib.domain.notify_routing import SECRET_NAME
from local.provision import ACCOUNT_ID, resolve


def tap_sns_topics(
    template: Mapping[str, Any], clients: Callable[[str], Any], region: str, stage: str = ""
) -> dict[str, str]:
    """Subscribe a queue `<topic>-tap` to every topic; returns topic name -> queue URL."""
    sqs, sns = clients("sqs"), clients("sns")
    taps = {}
    for res in template.get("Resources", {}).values():
        if res.get("Type") != "AWS::SNS::Topic":
            continue
        topic = resolve(res["Properties"]["TopicName"], {}, region, stage)
        queue = f"{topic}-tap"
        url = sqs.create_queue(QueueName=queue)["QueueUrl"]
        sns.subscribe(
            TopicArn=f"arn:aws:sns:{region}:{ACCOUNT_ID}:{topic}",
            Protocol="sqs",
            Endpoint=f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{queue}",
        )
        taps[topic] = url
    return taps


def seed_notifications(
    config: Mapping[str, Any], secretsmanager: Any, ses: Any, name: str = SECRET_NAME
) -> None:
    """Store the routing configuration and verify its email sender."""
    secretsmanager.create_secret(Name=name, SecretString=json.dumps(dict(config)))
    sender = parseaddr(str(config.get("email", {}).get("sender", "")))[1]
    if sender:
        ses.verify_email_identity(EmailAddress=sender)


def sent_emails(aws_url: str) -> list[dict[str, Any]]:
    """Every email moto's SES accepted, oldest first (over HTTP, from the running emulator)."""
    with urllib.request.urlopen(f"{aws_url}/moto-api/data.json", timeout=30) as response:
        data = json.loads(response.read())
    messages: list[dict[str, Any]] = data.get("ses", {}).get("Message", [])
    return messages
