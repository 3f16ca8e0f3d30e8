"""What OrderHub tells people, independent of how it reaches them. Pure Python.

The anomaly engine (opened, escalated, resolved), the channel health checks and the
reports (reconciliation, monthly review) each produce `Notice`s and hand them to a
`Notifier`; the notification adapters route each by its `audience` and `priority` to SNS
topics, WeCom / DingTalk group robots and email (routing is configuration), so producers
never know the channels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Notice:
    """One message for people. Never carries personal data (buyer name, phone, address)."""

    kind: str  # anomaly_opened | anomaly_escalated | anomaly_resolved | health | report | alarm
    priority: str  # P0 | P1 | P2 for anomalies and health; "info" for reports
    audience: str  # the owner role it is for: ops | cs | finance | warehouse | admin
    title: str  # one line, e.g. "P0 out_of_stock: mall#demo-shop#A-1001"
    body: str  # a few plain lines (rendered as markdown by the robot formats)
    link: str = ""  # where to look: the order's timeline, the report's presigned URL
    at: datetime | None = None  # when it happened (UTC)
    facts: Mapping[str, str] = field(default_factory=dict)  # short key/value lines
    # Channel types the notice must reach besides its routes ("wecom", "dingtalk", "email",
    # "sms"), when a rule names them (the metric table, chalicelib/domain/metric_table.py).
    via: tuple[str, ...] = ()


class Notifier(Protocol):
    def notify(self, notice: Notice) -> None:
        """Deliver to every route configured for the notice; raise only if none took it."""
        ...
