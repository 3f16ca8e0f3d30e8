"""CloudWatch alarm state changes, turned into notices for people. Pure Python.

Every alarm (infra/resources.json) acts on the alerts topic of its priority, for ALARM and for
OK. The relay (`relay_alarms`, chalicelib/api/alarm_relay.py) is subscribed to those topics and
hands each message here:

- `parse_alarm_message`: CloudWatch's JSON (AlarmName, NewStateValue, OldStateValue,
  NewStateReason, StateChangeTime, AlarmArn, Trigger, ...) into an `AlarmChange`; anything
  else on the topics (OrderHub's own notices are published there too) is None and ignored.
- `decide`: one message per real change of state. An ALARM is announced unless the last
  announced state is already ALARM (ALARM → INSUFFICIENT_DATA → ALARM, or SNS redelivering
  the message); an OK only after an announced ALARM (the recovery); INSUFFICIENT_DATA never;
  a change older than the last announced one (SNS does not keep order) never.
- `relay_alarm`: claim the new state in the `AlarmStates` store with a write conditioned on
  the state read (two deliveries of one message cannot both announce), then notify; if no
  route took the notice the claim is put back and the error raised, so Lambda retries.

Each notice links to the console page that shows the thing to fix (the metric table's and
`CONSOLE_PAGES`' choice) or, for infrastructure alarms, to the CloudWatch dashboard, and
carries the alarm's own CloudWatch page and its runbook line (docs/operations.md) as facts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote

from chalicelib.domain.metric_table import BY_ALARM
from chalicelib.domain.notices import Notice, Notifier

ALARM, OK, INSUFFICIENT = "ALARM", "OK", "INSUFFICIENT_DATA"
ANNOUNCE, RECOVER = "alarm", "alarm_recovered"  # the notices' kinds
DASHBOARD = "orderhub-operations"
RUNBOOK = "docs/operations.md"
AUDIENCE = "ops"

# console routes (coord: `{base}/console#/...`) of the alarms whose cause has a page there;
# the others link to the CloudWatch dashboard
CONSOLE_PAGES: Mapping[str, str] = {
    "orderhub-oversell-rate-above-0": "anomalies",
    "orderhub-oversold-stock-items": "inventory",
    "orderhub-anomaly-ratio-over-3-pct": "anomalies",
    "orderhub-customer-chase-rate-over-1.5-pct": "anomalies",
    "orderhub-events-pending-over-5-min": "anomalies",
    "orderhub-clock-skew-events": "anomalies",
    "orderhub-channel-health-failing": "board",
    "orderhub-pull-store-failures": "board",
    "orderhub-stock-pushes-pending-over-10-min": "inventory",
}


def stageless(name: str, stage: str) -> str:
    """An alarm's name without its stage: infra names every resource `orderhub-{stage}-...`
    (chalicelib/settings.py `resource_name`), this module's tables use the stage-less name
    (`orderhub-oversell-rate-above-0`, prod's `orderhub-prod-oversell-rate-above-0`)."""
    app, _, short = name.partition("-")
    if stage and short.startswith(f"{stage}-"):
        return f"{app}-{short.removeprefix(f'{stage}-')}"
    return name


def staged_dashboard(stage: str) -> str:
    """The stage's CloudWatch dashboard (`orderhub-prod-operations`)."""
    app, _, short = DASHBOARD.partition("-")
    return f"{app}-{stage}-{short}" if stage else DASHBOARD


class AlarmMessageInvalid(ValueError):
    """A message that claims to be a CloudWatch alarm but cannot be read."""


@dataclass(frozen=True)
class AlarmChange:
    name: str
    description: str
    new_state: str
    old_state: str
    reason: str
    changed_at: datetime  # UTC
    region: str  # region code, from the alarm's ARN
    metric: str = ""  # Namespace/MetricName
    stage: str = ""  # the stage the alarm's name carries (the relay's own: ORDERHUB_STAGE)


@dataclass(frozen=True)
class AlarmState:
    """The last announced state of one alarm (what the banner and `decide` read)."""

    name: str
    state: str
    changed_at: datetime
    priority: str
    since: datetime  # when the current ALARM began (= changed_at for an ALARM)
    title: str = ""
    description: str = ""
    reason: str = ""
    link: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "changed_at": self.changed_at.isoformat(),
            "priority": self.priority,
            "since": self.since.isoformat(),
            "title": self.title,
            "description": self.description,
            "reason": self.reason,
            "link": self.link,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlarmState:
        return cls(
            name=str(data["name"]),
            state=str(data["state"]),
            changed_at=datetime.fromisoformat(str(data["changed_at"])),
            priority=str(data.get("priority", "")),
            since=datetime.fromisoformat(str(data.get("since") or data["changed_at"])),
            title=str(data.get("title", "")),
            description=str(data.get("description", "")),
            reason=str(data.get("reason", "")),
            link=str(data.get("link", "")),
        )


class AlarmStates(Protocol):
    """The announced state per alarm (orderhub-ops-stats `ALARM`/name in DynamoDB)."""

    def get(self, name: str) -> AlarmState | None: ...

    def replace(self, new: AlarmState, expected: AlarmState | None) -> bool:
        """Write `new` if the stored state is still `expected` (None: none stored); False
        when another delivery changed it first."""
        ...

    def undo(self, new: AlarmState, previous: AlarmState | None) -> None:
        """Put `previous` back (None: forget the alarm) if `new` is still what is stored."""
        ...

    def all(self) -> list[AlarmState]: ...


def _time(text: str) -> datetime:
    """CloudWatch writes '2026-12-07T15:04:05.123+0000'."""
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, pattern).astimezone(UTC)
        except ValueError:
            continue
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def parse_alarm_message(message: str) -> AlarmChange | None:
    """The alarm change in an SNS message's text; None when it is not an alarm's message."""
    try:
        document = json.loads(message)
    except ValueError:
        return None
    if not isinstance(document, dict) or "AlarmName" not in document:
        return None
    try:
        name = str(document["AlarmName"])
        new_state = str(document["NewStateValue"])
        changed_at = _time(str(document["StateChangeTime"]))
    except (KeyError, ValueError) as exc:
        raise AlarmMessageInvalid(f"alarm message without a readable {exc}") from None
    arn = str(document.get("AlarmArn") or "")
    region = arn.split(":")[3] if arn.count(":") >= 5 else ""
    found = document.get("Trigger")
    trigger: dict[str, Any] = found if isinstance(found, dict) else {}
    metric = "/".join(str(trigger[k]) for k in ("Namespace", "MetricName") if trigger.get(k))
    return AlarmChange(
        name=name,
        description=str(document.get("AlarmDescription") or ""),
        new_state=new_state,
        old_state=str(document.get("OldStateValue") or ""),
        reason=str(document.get("NewStateReason") or ""),
        changed_at=changed_at,
        region=region,
        metric=metric,
    )


def decide(change: AlarmChange, last: AlarmState | None) -> str | None:
    """ANNOUNCE, RECOVER or None (nothing worth a message: see the module docstring)."""
    if last is not None and change.changed_at <= last.changed_at:
        return None
    if change.new_state == ALARM:
        return None if last is not None and last.state == ALARM else ANNOUNCE
    if change.new_state == OK and last is not None and last.state == ALARM:
        return RECOVER
    return None


def console_url(base_url: str, route: str) -> str:
    """`{base}/console#/{route}` (coord's scheme), or "" without a base URL."""
    return f"{base_url.rstrip('/')}/console#/{route}" if base_url else ""


def cloudwatch_alarm_url(region: str, name: str) -> str:
    region = region or "us-east-1"
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#alarmsV2:alarm/{quote(name, safe='')}"
    )


def dashboard_url(region: str, dashboard: str = DASHBOARD) -> str:
    region = region or "us-east-1"
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#dashboards/dashboard/{dashboard}"
    )


def link_for_alarm(change: AlarmChange, base_url: str) -> str:
    """The console page showing the alarm's cause, else the CloudWatch dashboard."""
    route = CONSOLE_PAGES.get(stageless(change.name, change.stage))
    if route and base_url:
        return console_url(base_url, route)
    return dashboard_url(change.region, staged_dashboard(change.stage))


def _span(seconds: float) -> str:
    minutes = max(int(seconds // 60), 0)
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def alarm_notice(
    change: AlarmChange, kind: str, priority: str, base_url: str, since: datetime | None = None
) -> Notice:
    """The notice for an announced ALARM (kind ANNOUNCE) or its recovery (RECOVER)."""
    row = BY_ALARM.get(stageless(change.name, change.stage))
    facts: dict[str, str] = {"alarm": change.name, "state": change.new_state}
    if change.metric:
        facts["metric"] = change.metric
    if row is not None:
        facts["target"] = f"{row.label} {row.target}"
    if kind == RECOVER:
        title = f"{priority} recovered: {change.name}"
        lasted = (change.changed_at - since).total_seconds() if since else None
        body = f"Back to OK after {_span(lasted)} in ALARM." if lasted is not None else "OK."
        body += f"\n{change.reason}" if change.reason else ""
    else:
        title = f"{priority} ALARM: {change.name}"
        body = "\n".join(t for t in (change.description, change.reason) if t)
    facts["alarm page"] = cloudwatch_alarm_url(change.region, change.name)
    facts["runbook"] = f"{RUNBOOK} ({change.name})"
    return Notice(
        kind=kind,
        priority=priority,
        audience=AUDIENCE,
        title=title,
        body=body,
        link=link_for_alarm(change, base_url),
        at=change.changed_at,
        facts=facts,
        via=row.via if row is not None else (),
    )


@dataclass(frozen=True)
class Relayed:
    alarm: str
    state: str
    outcome: str  # announced | recovered | ignored | lost_race

    def to_dict(self) -> dict[str, str]:
        return {"alarm": self.alarm, "state": self.state, "outcome": self.outcome}


def relay_alarm(
    change: AlarmChange,
    priority: str,
    states: AlarmStates,
    notifier: Notifier,
    base_url: str,
) -> Relayed:
    """Announce a real change of the alarm's state once (see the module docstring)."""
    last = states.get(change.name)
    kind = decide(change, last)
    if kind is None:
        return Relayed(change.name, change.new_state, "ignored")
    since = last.since if kind == RECOVER and last is not None else change.changed_at
    notice = alarm_notice(change, kind, priority, base_url, since=since)
    new = AlarmState(
        name=change.name,
        state=change.new_state,
        changed_at=change.changed_at,
        priority=priority,
        since=since if kind == ANNOUNCE else change.changed_at,
        title=notice.title,
        description=change.description,
        reason=change.reason,
        link=notice.link,
    )
    if not states.replace(new, last):
        return Relayed(change.name, change.new_state, "lost_race")
    try:
        notifier.notify(notice)
    except Exception:
        states.undo(new, last)  # the next delivery (Lambda's retry) announces it again
        raise
    return Relayed(change.name, change.new_state, "announced" if kind == ANNOUNCE else "recovered")


def banners(states: Iterable[AlarmState], is_banner: Callable[[str], bool]) -> list[dict[str, Any]]:
    """What the console shows above every page: the banner alarms now in ALARM, oldest first."""
    shown = [s for s in states if s.state == ALARM and is_banner(s.name)]
    return [
        {
            "alarm": s.name,
            "priority": s.priority,
            "title": s.title,
            "message": s.description,
            "reason": s.reason,
            "since": s.since.isoformat(),
            "link": s.link,
        }
        for s in sorted(shown, key=lambda s: s.since)
    ]


def banner_alarm(name: str, stage: str = "") -> bool:
    row = BY_ALARM.get(stageless(name, stage))
    return bool(row and row.banner)
