"""Domain events onto a custom EventBridge bus (`orderhub-inventory`).

A custom bus, not the default one: Chalice's schedules live on the default bus, and consumers
subscribe to our events by rule without seeing AWS's own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.domain.errors import TransientFailure


class EventBridgePublisher:
    def __init__(self, events: Any, bus_name: str, source: str) -> None:
        self._events = events
        self._bus = bus_name
        self._source = source

    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None:
        entry = {
            "EventBusName": self._bus,
            "Source": self._source,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, separators=(",", ":"), default=str),
        }
        try:
            answer = self._events.put_events(Entries=[entry])
        except (BotoCoreError, ClientError) as exc:
            raise TransientFailure(f"EventBridge put_events failed: {exc}") from None
        if answer.get("FailedEntryCount"):
            failed = answer["Entries"][0]
            raise TransientFailure(
                f"EventBridge refused {detail_type}: "
                f"{failed.get('ErrorCode')}: {failed.get('ErrorMessage')}"
            )
