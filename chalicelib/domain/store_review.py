"""The seed's "rotate quarterly, disable unused accounts" for platform stores. Pure.

- **Secret age**: a store's secret carries when its signing value was set (`secret_set_at`,
  written by `bin/orderhub stores add` and `secrets rotate`); a secret written otherwise is as
  old as Secrets Manager's last change to it. At `REMINDER_DAYS` (80) the daily review opens a
  P2 `store_secret_aging` anomaly for the store (its notice is the reminder), repeated daily
  until the secret is rotated.
- **Unused stores**: a store that received nothing (no webhook, no pulled order, no Amazon
  notification: no trail receipt) for `UNUSED_DAYS` (90), and whose secret is at least that
  old (a store just added is not unused), is disabled: its deliveries are refused (403) and
  its pollers skip it, until `bin/orderhub stores enable` re-enables it. Audited
  (`store.disable` by `system`, `store.enable` by the operator) with a P2 `store_unused`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.domain.ports import Store
from chalicelib.domain.timeutil import parse_aware

REMINDER_DAYS = 80
UNUSED_DAYS = 90
SET_AT_FIELD = "secret_set_at"


def secret_set_at(secret: Mapping[str, Any], changed_at: datetime | None) -> datetime | None:
    """When the secret's signing value was set: its own stamp, else the manager's last change."""
    stamp = secret.get(SET_AT_FIELD)
    if isinstance(stamp, str):
        try:
            return parse_aware(stamp)
        except ValueError:
            pass
    return changed_at


@dataclass(frozen=True)
class StoreReview:
    aging: tuple[tuple[Store, int], ...]  # (store, age in days) at or past the reminder
    unused: tuple[Store, ...]  # to disable
    unknown_age: tuple[Store, ...]  # no stamp and no manager date: reported, never disabled


def last_receipt_day(
    receipts_on: Callable[[str, str, str], list[Any]], store: Store, now: datetime
) -> date | None:
    """The newest UTC day within UNUSED_DAYS with a receipt for `store` (newest first, so an
    active store costs one query)."""
    today = now.date()
    for back in range(UNUSED_DAYS + 1):
        day = today - timedelta(days=back)
        if receipts_on(store.platform, store.store_id, day.isoformat()):
            return day
    return None


def review_stores(
    stores: Iterable[Store],
    set_at: Mapping[tuple[str, str], datetime | None],
    used_lately: Callable[[Store], bool],
    now: datetime,
) -> StoreReview:
    aging: list[tuple[Store, int]] = []
    unused: list[Store] = []
    unknown: list[Store] = []
    for store in stores:
        since = set_at.get((store.platform, store.store_id))
        if since is None:
            unknown.append(store)
            continue
        age = (now - since).days
        if age >= REMINDER_DAYS:
            aging.append((store, age))
        if not store.disabled and age >= UNUSED_DAYS and not used_lately(store):
            unused.append(store)
    return StoreReview(tuple(aging), tuple(unused), tuple(unknown))


def aging_detail(store: Store, age: int) -> str:
    return (
        f"store {store.platform}/{store.store_id}'s signing secret is {age} days old; rotate "
        f"it (quarterly): bin/orderhub secrets rotate --store {store.platform}/{store.store_id}"
    )


def unused_detail(store: Store) -> str:
    return (
        f"store {store.platform}/{store.store_id} received nothing for {UNUSED_DAYS} days and "
        "was disabled; if it is still sold on, re-enable it: "
        f"bin/orderhub stores enable {store.platform}/{store.store_id}"
    )
