"""The nightly ledger audit, incremental: a checkpoint of every balance the ledger implies, and
each night only the movements since it. Pure.

The audit compares each stock item's stored balances with the sum of its ledger movements
(stock_ops.audit_stock). Summing all history every night costs in proportion to all history;
instead a checkpoint holds the sums through a moment `through`, and a run reads only the
records processed since (`LedgerSource.records_between`, a query of the events table's
day-keyed `ledger_day` index: one Beijing day's hash values, never a Scan):

    expected(now) = checkpoint(through) + movements in [through, now)

and it saves the next checkpoint through `now - SETTLE`. The margin: a record carries the
time its processing started and commits within the processor's Lambda timeout (15 minutes at
most on Lambda), so once `SETTLE` has passed no record can still appear before `through`.
A checkpoint is the ledger's sums, never the stored balances, so a drift stays a drift on
every later night until someone corrects it through the ledger.

A staged commit (domain/staged.py) may still be rolled back, deleting its records, while its
root record is `staging`: such records are not folded into a checkpoint; their keys are kept
(`unsettled`) and read again next run, counted once their root is final, dropped once gone.

The first run finds no checkpoint and builds one from the full history once
(`LedgerSource.all_records`, a Scan); every later run reads about one day. Records written
before the `ledger_day` attribute existed need no backfill for this: the first run's Scan
counts them, and every later record carries the attribute.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from chalicelib.domain.index_shards import shard_of

LEDGER_ZONE = ZoneInfo("Asia/Shanghai")  # the audit runs after Beijing midnight
SETTLE = timedelta(minutes=30)  # > the longest Lambda timeout (15 min): see the docstring
STAGING = "staging"
BUCKETS = ("on_hand", "locked", "reserved", "available")

Balances = dict[tuple[str, str], dict[str, int]]


def ledger_day(at: datetime) -> str:
    """The Beijing day of a processing time: `YYYY-MM-DD`."""
    return at.astimezone(LEDGER_ZONE).date().isoformat()


def ledger_day_value(event_key: str, processed_at: datetime, shards: int) -> str:
    """The `ledger_day` index hash value of a record: its Beijing day and a shard of its key
    (`2026-12-07#5`), so one day's records spread over `shards` partitions. Only records that
    move stock carry it (the index is sparse). A backfill of old records may set it with
    this; the audit does not need it (see the module docstring)."""
    return f"{ledger_day(processed_at)}#{shard_of(event_key, shards)}"


def days_between(start: datetime, end: datetime) -> list[str]:
    """The Beijing days from `start`'s to `end`'s, both included."""
    first = start.astimezone(LEDGER_ZONE).date()
    last = end.astimezone(LEDGER_ZONE).date()
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


@dataclass(frozen=True)
class Checkpoint:
    """The ledger's sums over every record processed before `through` (but `unsettled`)."""

    through: datetime
    balances: Mapping[tuple[str, str], Mapping[str, int]]
    unsettled: tuple[str, ...] = ()
    records: int = 0  # records folded in since the first checkpoint (for the log)


class LedgerSource(Protocol):
    def latest_checkpoint(self) -> Checkpoint | None: ...

    def save_checkpoint(self, checkpoint: Checkpoint) -> None: ...

    def records_between(self, start: datetime, end: datetime) -> Iterable[Mapping[str, Any]]:
        """Records that moved stock, processed in [start, end): by day, never a Scan."""
        ...

    def all_records(self) -> Iterable[Mapping[str, Any]]:
        """Every record (a Scan): the first run only."""
        ...

    def get_record(self, event_key: str) -> Mapping[str, Any] | None: ...


@dataclass
class LedgerRun:
    expected: Balances  # the ledger's sums now: what every stored balance must equal
    checkpoint: Checkpoint  # the one saved by this run
    full_history: bool  # no checkpoint was found: built from the whole ledger
    records_read: int
    days_read: list[str] = field(default_factory=list)


def add_movements(
    balances: Mapping[tuple[str, str], Mapping[str, int]], records: Iterable[Mapping[str, Any]]
) -> Balances:
    """A copy of `balances` plus every movement of `records`."""
    sums: Balances = {key: dict(value) for key, value in balances.items()}
    for record in records:
        for move in record.get("movements", ()):
            bucket = sums.setdefault(
                (str(move["sku"]), str(move["warehouse"])), dict.fromkeys(BUCKETS, 0)
            )
            for name in BUCKETS:
                bucket[name] = bucket.get(name, 0) + int(move[name])
    return sums


def root_key(event_key: str) -> str:
    """The event record a staged part belongs to (`<event>#part<i>` -> `<event>`)."""
    head, sep, index = event_key.rpartition("#part")
    return head if sep and index.isdigit() else event_key


def run_ledger(source: LedgerSource, now: datetime) -> LedgerRun:
    """The ledger's sums as of `now` from the last checkpoint and the records since; saves
    the next checkpoint (through `now - SETTLE`)."""
    previous = source.latest_checkpoint()
    through = now - SETTLE
    if previous is None:
        records = list(source.all_records())
        prior: Mapping[tuple[str, str], Mapping[str, int]] = {}
        carried: Sequence[str] = ()
        counted_before = 0
        days: list[str] = []
    else:
        through = max(through, previous.through)  # a rerun the same night does not go back
        records = list(source.records_between(previous.through, now))
        prior, carried, counted_before = previous.balances, previous.unsettled, previous.records
        days = days_between(previous.through, now)
    settled_earlier: list[Mapping[str, Any]] = []
    still_open: list[Mapping[str, Any]] = []
    roots: dict[str, bool] = {}
    for key in carried:  # staged records not final at the last checkpoint
        record = source.get_record(key)
        if record is None:
            continue  # rolled back: its movements were reversed and its record deleted
        (still_open if _unsettled(record, source, roots) else settled_earlier).append(record)
    before = [r for r in records if _processed(r) < through]
    tail = [r for r in records if _processed(r) >= through]
    fold = [r for r in before if not _unsettled(r, source, roots)]
    still_open += [r for r in before if _unsettled(r, source, roots)]
    checkpoint = Checkpoint(
        through,
        add_movements(prior, [*settled_earlier, *fold]),
        tuple(sorted({str(r["event_key"]) for r in still_open})),
        counted_before + len(settled_earlier) + len(fold),
    )
    source.save_checkpoint(checkpoint)
    expected = add_movements(checkpoint.balances, [*still_open, *tail])
    read = len(records) + len(carried)
    return LedgerRun(expected, checkpoint, previous is None, read, days)


def _processed(record: Mapping[str, Any]) -> datetime:
    at = record["processed_at"]
    return at if isinstance(at, datetime) else datetime.fromisoformat(str(at))


def _unsettled(record: Mapping[str, Any], source: LedgerSource, roots: dict[str, bool]) -> bool:
    """Whether a staged commit that may still be rolled back wrote this record: its root
    record (itself, for part 0) is still `staging`."""
    if record.get("outcome") != STAGING:
        return False
    root = root_key(str(record["event_key"]))
    if root == record["event_key"]:
        return True
    if root not in roots:
        found = source.get_record(root)
        # gone while this part is still here: a rollback under way, so not final either
        roots[root] = found is None or found.get("outcome") == STAGING
    return roots[root]


def day_bounds(day: str) -> tuple[datetime, datetime]:
    """A Beijing day's [start, end) as aware datetimes."""
    start = datetime.combine(date.fromisoformat(day), datetime.min.time(), LEDGER_ZONE)
    return start, start + timedelta(days=1)
