"""The daily store review (domain/store_review.py), run by the daily access review
(`review_api_keys`, api/admin.py): secret-age reminders and unused stores disabled."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.api.access import audit
from chalicelib.deps import Container
from chalicelib.domain.audit import SYSTEM, Action
from chalicelib.domain.model import Anomaly, Priority
from chalicelib.domain.ports import Store
from chalicelib.domain.store_review import (
    UNUSED_DAYS,
    aging_detail,
    last_receipt_day,
    review_stores,
    secret_set_at,
    unused_detail,
)
from chalicelib.observability import logger, metrics


def _set_at(deps: Container, store: Store) -> datetime | None:
    try:
        secret = deps.secrets.get_secret(store.secret_name)
        stamped = secret_set_at(secret, None)
        return stamped or deps.secret_store.changed_at(store.secret_name)
    except Exception:
        logger().warning("store secret age unknown", extra={"store": store.store_id})
        return None


def run_store_review(deps: Container, now: datetime) -> dict[str, Any]:
    stores = deps.catalog_store.list_stores()
    ages = {(s.platform, s.store_id): _set_at(deps, s) for s in stores}

    def used_lately(store: Store) -> bool:
        return last_receipt_day(deps.trail.receipts, store, now) is not None

    review = review_stores(stores, ages, used_lately, now)
    for store, age in review.aging:
        subject = f"{store.platform}/{store.store_id}"
        anomaly = Anomaly("store_secret_aging", subject, Priority.P2, aging_detail(store, age))
        deps.orders.open_anomaly(anomaly, now)
    disabled = []
    for store in review.unused:
        reason = f"unused for {UNUSED_DAYS} days"
        deps.catalog_store.put_store(replace(store, disabled=True, disabled_reason=reason))
        subject = f"{store.platform}/{store.store_id}"
        anomaly = Anomaly("store_unused", subject, Priority.P2, unused_detail(store))
        deps.orders.open_anomaly(anomaly, now)
        audit(
            Action.STORE_DISABLE,
            f"store/{subject}",
            before={"disabled": False},
            after={"disabled": True, "reason": reason},
            actor=SYSTEM,
            user_agent="review_api_keys",
            deps=deps,
        )
        disabled.append(subject)
    metrics().add_metric(name="StoreSecretsAging", unit="Count", value=len(review.aging))
    metrics().add_metric(name="StoresDisabledUnused", unit="Count", value=len(disabled))
    return {
        "secrets_aging": [f"{s.platform}/{s.store_id}" for s, _ in review.aging],
        "disabled": disabled,
        "age_unknown": [f"{s.platform}/{s.store_id}" for s in review.unknown_age],
    }
