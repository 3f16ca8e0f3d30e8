"""The anomaly engine: lifecycle, SLA escalation, announcements and the scan. Pure Python.

An anomaly opens once per (rule, subject): every repeat while it is open or acknowledged only
counts (`occurrences`) and refreshes `last_seen_at`. Its life:

    open ──acknowledge──▶ acknowledged ──resolve──▶ resolved
      └───────────────────resolve────────────────────▲        │ occurs again: reopens
      ▲─────────────────────────────────────────────────────────┘ (a new episode)

Every active anomaly carries `due_at`, the next moment the engine must look at it, and the
store keeps it in an index on (status, due_at), so `scan_anomalies` finds its work by a query:
- just opened (or reopened): due at once; the scan announces it (a Notice `anomaly_opened` to
  the rule's owner role) and makes it due at its acknowledge deadline (opened + SLA);
- still open at that deadline: escalated (level + 1, Notice `anomaly_escalated` to the rule's
  escalation role), due again one acknowledge period later; acknowledged: due at its resolve
  deadline, escalated there and every resolve period after; at level 3 it is no longer due
  (`NEVER`) but stays listed as active;
- resolved: leaves the index, and its episode is kept as its own record (for the monthly
  review and `?status=resolved`). The live record forgets the episode, so the next
  occurrence opens a new one: a resolved anomaly that recurs reopens, and is announced again.

Rules the scan evaluates itself (time-based, `domain/anomaly_rules.py`) are level-triggered:
while the condition holds the anomaly stays open; resolving it while the condition still
holds reopens it at the next scan. Acknowledge to stop escalation; resolve when fixed.

Notices are sent before the state moves on: a notice that no route takes leaves the anomaly
due, and the next run tries again (at least once). Two runs at the same moment may both
announce; the conditional write lets only one move the state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

from chalicelib.domain import anomaly_rules as rules
from chalicelib.domain.anomaly_rules import AnomalyRule, Waiting, rule_for
from chalicelib.domain.bounds import check_free_text
from chalicelib.domain.errors import Conflict, Forbidden, InvalidPayload, NotFound
from chalicelib.domain.links import anomaly_link, order_link
from chalicelib.domain.model import Anomaly, Priority
from chalicelib.domain.notices import Notice, Notifier
from chalicelib.domain.principal import Principal
from chalicelib.domain.scrub import scrub_free_text

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
ACTIVE = (OPEN, ACKNOWLEDGED)
STATUSES = (OPEN, ACKNOWLEDGED, RESOLVED)
MAX_LEVEL = 3  # escalations per episode; after the last, the anomaly is no longer due
NEVER = datetime(9999, 12, 31, tzinfo=UTC)
MAX_NOTE = 1000
RESOLVED_LISTING_DAYS = 30  # `GET /anomalies?status=resolved` without `since`


def time_key(moment: datetime) -> str:
    """Fixed-width UTC text, so text order is time order (index range keys)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time_key(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class AnomalyRecord:
    """One stored anomaly: the live one (`rule#subject`) or a resolved episode of it."""

    key: str
    rule: str
    subject: str
    priority: str
    status: str  # open | acknowledged | resolved
    detail: str = ""
    opened_at: datetime | None = None  # this episode's start (None on a resolved live record)
    last_seen_at: datetime | None = None
    occurrences: int = 0  # in this episode
    due_at: datetime | None = None  # when the engine looks next (active ones only)
    announced_at: datetime | None = None
    escalation_level: int = 0
    escalated_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str = ""
    acknowledge_note: str = ""
    resolved_at: datetime | None = None  # for an active one: when its last episode ended
    resolved_by: str = ""
    resolution_note: str = ""
    resolved_count: int = 0  # episodes resolved before (on the live record)
    episode_of: str = ""  # set on a resolved episode's own record: the live key

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def rule_def(self) -> AnomalyRule:
        return rule_for(self.rule, self.priority)


class AnomalyStore(Protocol):
    """Where anomalies live (adapters/anomalies.py; tests/anomaly_fakes.py)."""

    def open_anomaly(self, anomaly: Anomaly, now: datetime) -> None: ...

    def open_unless_active(self, anomaly: Anomaly, now: datetime) -> bool:
        """Open (or reopen) it unless it is open or acknowledged; True when it opened."""
        ...

    def get(self, key: str) -> AnomalyRecord | None: ...

    def due(self, now: datetime, limit: int = 200) -> list[AnomalyRecord]:
        """Active anomalies whose `due_at` has come, read consistently, oldest due first."""
        ...

    def active(self, status: str | None = None, limit: int = 1000) -> list[AnomalyRecord]: ...

    def resolved(self, since: datetime, until: datetime, limit: int = 200) -> list[AnomalyRecord]:
        """Resolved episodes, newest first."""
        ...

    def mark_announced(self, record: AnomalyRecord, next_due: datetime, now: datetime) -> bool:
        """False when the record changed since it was read (someone else moved it)."""
        ...

    def escalate(
        self, record: AnomalyRecord, level: int, next_due: datetime, now: datetime
    ) -> bool: ...

    def acknowledge(
        self, record: AnomalyRecord, actor: str, note: str, next_due: datetime, now: datetime
    ) -> AnomalyRecord:
        """Raise Conflict when the record changed since it was read."""
        ...

    def resolve(self, record: AnomalyRecord, actor: str, note: str, now: datetime) -> AnomalyRecord:
        """Close the episode; return its record. Raise Conflict when it changed."""
        ...


class ShipmentWatch(Protocol):
    """Orders on the awaiting_shipment index (see `anomaly_rules.awaiting_shipment`)."""

    def waiting(self, stage: str, before: datetime, limit: int = 500) -> list[Waiting]:
        """Orders on clock `stage` (paid | shipped) since `before` or earlier."""
        ...


class AfterSalesFeed(Protocol):
    """Buyers' after-sales requests not yet answered (adapters/after_sales.py): the order
    key as subject, the request's time as `since`."""

    def unanswered(self, before: datetime, limit: int = 500) -> list[Waiting]: ...


# ---- deadlines ------------------------------------------------------------------------------


def acknowledge_deadline(record: AnomalyRecord) -> datetime | None:
    if record.opened_at is None:
        return None
    return record.opened_at + record.rule_def.sla.acknowledge


def resolve_deadline(record: AnomalyRecord) -> datetime | None:
    if record.opened_at is None:
        return None
    return record.opened_at + record.rule_def.sla.resolve


def _period(record: AnomalyRecord) -> timedelta:
    sla = record.rule_def.sla
    return sla.acknowledge if record.status == OPEN else sla.resolve


def due_after_escalation(record: AnomalyRecord, level: int, now: datetime) -> datetime:
    """One SLA period after the deadline just passed; at least half a period from now, so a
    scan that fell behind does not escalate several levels in consecutive runs."""
    if level >= MAX_LEVEL:
        return NEVER
    seen = record.due_at or now
    return max(seen + _period(record), now + _period(record) / 2)


def due_after_acknowledge(record: AnomalyRecord, now: datetime) -> datetime:
    if record.escalation_level >= MAX_LEVEL:
        return NEVER
    return resolve_deadline(record) or now


# ---- notices ---------------------------------------------------------------------------------


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _span(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 72 * 60:
        return f"{minutes / 60:g} h"
    return f"{minutes / 1440:g} days"


def anomaly_path(key: str) -> str:
    return "/anomalies/" + quote(key, safe="")


def link_for(record: AnomalyRecord, base_url: str) -> str:
    """The console's investigation panel for order subjects, else the anomaly's own screen
    (domain/links.py); "" without a base URL."""
    parts = record.subject.split("#")
    if record.rule_def.subject == "order" and len(parts) == 3:
        return order_link(base_url, *parts)
    return anomaly_link(base_url, record.key)


def _facts(record: AnomalyRecord) -> dict[str, str]:
    rule = record.rule_def
    facts = {
        "anomaly": record.key,
        "owner": rule.owner,
        "opened": _when(record.opened_at),
        "acknowledge by": _when(acknowledge_deadline(record)),
        "resolve by": _when(resolve_deadline(record)),
        "occurrences": str(record.occurrences),
    }
    if record.acknowledged_by:
        facts["acknowledged by"] = record.acknowledged_by
    return facts


def opened_notice(record: AnomalyRecord, base_url: str = "") -> Notice:
    rule = record.rule_def
    again = (
        f" (reopened; resolved {record.resolved_count}x before)" if record.resolved_count else ""
    )
    return Notice(
        kind="anomaly_opened",
        priority=record.priority,
        audience=rule.owner,
        title=f"{record.priority} {record.rule}: {record.subject}{again}",
        body="\n".join(
            [
                rule.condition,
                record.detail,
                f"Acknowledge within {_span(rule.sla.acknowledge)}, resolve within "
                f"{_span(rule.sla.resolve)}: POST {anomaly_path(record.key)}/acknowledge",
            ]
        ),
        link=link_for(record, base_url),
        at=record.opened_at,
        facts=_facts(record),
    )


def escalated_notice(record: AnomalyRecord, level: int, base_url: str = "") -> Notice:
    rule = record.rule_def
    if record.status == OPEN:
        missed = f"not acknowledged within {_span(rule.sla.acknowledge)}"
    else:
        missed = (
            f"acknowledged by {record.acknowledged_by or 'someone'}, not resolved within "
            f"{_span(rule.sla.resolve)}"
        )
    return Notice(
        kind="anomaly_escalated",
        priority=record.priority,
        audience=rule.escalation_audience(level),
        title=f"{record.priority} escalated (level {level}): {record.rule}: {record.subject}",
        body="\n".join([f"{missed} (owner: {rule.owner}).", rule.condition, record.detail]),
        link=link_for(record, base_url),
        at=record.due_at,
        facts={**_facts(record), "level": str(level)},
    )


def resolved_notice(episode: AnomalyRecord, base_url: str = "") -> Notice:
    """Told to whoever the anomaly was last escalated to, so an escalation is closed too."""
    rule = episode.rule_def
    note = f": {episode.resolution_note}" if episode.resolution_note else ""
    return Notice(
        kind="anomaly_resolved",
        priority=episode.priority,
        audience=rule.escalation_audience(episode.escalation_level),
        title=f"{episode.priority} resolved: {episode.rule}: {episode.subject}",
        body=f"resolved by {episode.resolved_by}{note}",
        link=link_for(replace(episode, key=episode.episode_of or episode.key), base_url),
        at=episode.resolved_at,
        facts={**_facts(episode), "resolved by": episode.resolved_by},
    )


# ---- acknowledge, resolve, list (the API) -----------------------------------------------------


def _actor(principal: Principal) -> str:
    return principal.owner or principal.key_id


def _require_owner(principal: Principal, record: AnomalyRecord, verb: str) -> None:
    owner = record.rule_def.owner
    if principal.role not in ("admin", owner):
        raise Forbidden(
            f"anomaly {record.key} ({record.rule}) belongs to role '{owner}': only '{owner}' "
            f"or 'admin' may {verb} it, not role '{principal.role}'"
        )


def parse_note(body: Any) -> str:
    """The optional `{"note": "..."}` of an acknowledge or resolve request."""
    if body is None or body == {}:
        return ""
    if not isinstance(body, Mapping):
        raise InvalidPayload('body must be a JSON object: {"note": "..."} (optional)')
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise InvalidPayload(f"note must be text of at most {MAX_NOTE} characters")
    return scrub_free_text(check_free_text(note, "note", MAX_NOTE).strip())


def _found(store: AnomalyStore, key: str) -> AnomalyRecord:
    record = store.get(key)
    if record is None:
        raise NotFound(f"no anomaly {key!r}; list them with GET /anomalies")
    return record


def acknowledge(
    store: AnomalyStore, key: str, principal: Principal, note: str, now: datetime
) -> tuple[AnomalyRecord, AnomalyRecord]:
    """Someone owns it now: escalation waits for the resolve deadline. (before, after)."""
    record = _found(store, key)
    _require_owner(principal, record, "acknowledge")
    if record.status == RESOLVED:
        raise Conflict(f"anomaly {key} is resolved; nothing to acknowledge")
    if record.status == ACKNOWLEDGED:
        raise Conflict(
            f"anomaly {key} was acknowledged by {record.acknowledged_by} at "
            f"{_when(record.acknowledged_at)}"
        )
    after = store.acknowledge(
        record, _actor(principal), note, due_after_acknowledge(record, now), now
    )
    return record, after


def resolve(
    store: AnomalyStore, key: str, principal: Principal, note: str, now: datetime
) -> tuple[AnomalyRecord, AnomalyRecord]:
    """Close the episode (acknowledged or not). Returns (before, the resolved episode)."""
    record = _found(store, key)
    _require_owner(principal, record, "resolve")
    if not record.active:
        raise Conflict(f"anomaly {key} is already resolved")
    return record, store.resolve(record, _actor(principal), note, now)


def resolution_notice(episode: AnomalyRecord, base_url: str = "") -> Notice | None:
    """An escalated anomaly's resolution is told to whoever it was escalated to."""
    return resolved_notice(episode, base_url) if episode.escalation_level > 0 else None


def list_anomalies(
    store: AnomalyStore, params: Mapping[str, str], now: datetime, limit: int = 200
) -> list[AnomalyRecord]:
    """`?status=open|acknowledged|resolved&priority=P0|P1|P2&rule=...&since=YYYY-MM-DD`;
    without status, the active ones. Active ones sort by priority, then oldest first;
    resolved ones newest first."""
    status = params.get("status") or ""
    priority = params.get("priority") or ""
    rule = params.get("rule") or ""
    if status and status not in STATUSES:
        raise InvalidPayload(f"status must be one of {', '.join(STATUSES)}")
    if priority and priority not in {p.value for p in Priority}:
        raise InvalidPayload("priority must be P0, P1 or P2")
    if status == RESOLVED:
        since = now - timedelta(days=RESOLVED_LISTING_DAYS)
        if params.get("since"):
            try:
                since = datetime.fromisoformat(params["since"]).replace(tzinfo=UTC)
            except ValueError:
                raise InvalidPayload("since must be YYYY-MM-DD") from None
        found = store.resolved(since, now, limit=1000)
    else:
        found = sorted(
            store.active(status or None),
            key=lambda r: (r.priority, r.opened_at or now, r.key),
        )
    chosen = [
        r
        for r in found
        if (not priority or r.priority == priority) and (not rule or r.rule == rule)
    ]
    return chosen[:limit]


def anomaly_view(record: AnomalyRecord) -> dict[str, Any]:
    """The API's JSON for one anomaly: its state, its rule's owner and SLA deadlines."""
    rule = record.rule_def
    active = record.active

    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    view: dict[str, Any] = {
        "key": record.key,
        "path": anomaly_path(record.episode_of or record.key),
        "rule": record.rule,
        "subject": record.subject,
        "priority": record.priority,
        "status": record.status,
        "detail": record.detail,
        "owner": rule.owner,
        "condition": rule.condition,
        "opened_at": iso(record.opened_at),
        "last_seen_at": iso(record.last_seen_at),
        "occurrences": record.occurrences,
        "acknowledge_by": iso(acknowledge_deadline(record)),
        "resolve_by": iso(resolve_deadline(record)),
        "escalation_level": record.escalation_level,
        "announced_at": iso(record.announced_at),
        "next_check_at": iso(record.due_at) if active and record.due_at != NEVER else None,
        "acknowledged": (
            {
                "at": iso(record.acknowledged_at),
                "by": record.acknowledged_by,
                "note": record.acknowledge_note,
            }
            if record.acknowledged_at
            else None
        ),
        "resolved": (
            {
                "at": iso(record.resolved_at),
                "by": record.resolved_by,
                "note": record.resolution_note,
            }
            if record.status == RESOLVED and record.resolved_at
            else None
        ),
        "times_resolved_before": record.resolved_count,
    }
    if record.episode_of:
        view["episode_of"] = record.episode_of
    return view


# ---- the scan -------------------------------------------------------------------------------


@dataclass
class ScanReport:
    opened: list[str] = field(default_factory=list)
    announced: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    notify_failed: list[str] = field(default_factory=list)
    raced: list[str] = field(default_factory=list)  # moved by someone else meanwhile

    def to_dict(self) -> dict[str, Any]:
        return {
            "opened": self.opened,
            "announced": self.announced,
            "escalated": self.escalated,
            "notify_failed": self.notify_failed,
            "raced": self.raced,
        }


def evaluate_time_rules(
    watch: ShipmentWatch,
    after_sales: AfterSalesFeed,
    dlq_depths: Callable[[], Mapping[str, Mapping[str, int]]],
    now: datetime,
) -> tuple[list[Anomaly], list[str]]:
    """What the time-based rules find now, each through its index (never a table scan).
    A rule whose source fails is reported in the second list and the others still run."""
    checks: dict[str, Callable[[], list[Anomaly]]] = {
        rules.PAID_NOT_PICKED: lambda: rules.paid_not_picked(
            watch.waiting("paid", rules.due_since(rules.PAID_NOT_PICKED, now)), now
        ),
        rules.LOGISTICS_STALLED: lambda: rules.logistics_stalled(
            watch.waiting("shipped", rules.due_since(rules.LOGISTICS_STALLED, now)), now
        ),
        rules.AFTER_SALES_UNANSWERED: lambda: rules.after_sales_unanswered(
            after_sales.unanswered(rules.due_since(rules.AFTER_SALES_UNANSWERED, now)), now
        ),
        rules.DLQ_NOT_EMPTY: lambda: [
            found
            for queue, depth in sorted(dlq_depths().items())
            if (found := rules.dlq_not_empty(queue, depth)) is not None
        ],
    }
    found: list[Anomaly] = []
    failed: list[str] = []
    for name, check in checks.items():
        try:
            found += check()
        except Exception as exc:  # one source down must not stop the others, nor escalation
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    return found, failed


def scan(
    store: AnomalyStore,
    notifier: Notifier,
    now: Callable[[], datetime],
    found: Iterable[Anomaly] = (),
    base_url: str = "",
    limit: int = 200,
) -> ScanReport:
    """Open what the time-based rules found (unless already active), then announce what
    opened and escalate what passed its SLA."""
    report = ScanReport()
    for anomaly in found:
        if store.open_unless_active(anomaly, now()):
            report.opened.append(anomaly.key)
    moment = now()
    for record in store.due(moment, limit):
        # an anomaly acknowledged before it was announced needs no announcement
        announce = record.status == OPEN and record.announced_at is None
        level = record.escalation_level + 1
        notice = (
            opened_notice(record, base_url)
            if announce
            else escalated_notice(record, level, base_url)
        )
        try:
            notifier.notify(notice)
        except Exception:  # no route took it: stays due, the next run tries again
            report.notify_failed.append(record.key)
            continue
        if announce:
            ack_by = acknowledge_deadline(record) or moment
            moved = store.mark_announced(record, ack_by, moment)
            (report.announced if moved else report.raced).append(record.key)
        else:
            moved = store.escalate(
                record, level, due_after_escalation(record, level, moment), moment
            )
            (report.escalated if moved else report.raced).append(record.key)
    return report
