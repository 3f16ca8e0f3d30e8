"""Typed settings, read from the environment only when first needed (never at import)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.domain.delivery import BASE_DELAY_SECONDS


class ConfigError(RuntimeError):
    """The function's environment lacks something it needs: a deployment mistake."""


_REQUIRED = {
    "catalog_table": "ORDERHUB_CATALOG_TABLE",
    "inventory_table": "ORDERHUB_INVENTORY_TABLE",
    "orders_table": "ORDERHUB_ORDERS_TABLE",
    "events_table": "ORDERHUB_EVENTS_TABLE",
    "anomalies_table": "ORDERHUB_ANOMALIES_TABLE",
    "trail_table": "ORDERHUB_TRAIL_TABLE",
    "order_queue_url": "ORDERHUB_ORDER_QUEUE_URL",
    "order_dlq_url": "ORDERHUB_ORDER_DLQ_URL",
    "raw_bucket": "ORDERHUB_RAW_BUCKET",
    "event_bus": "ORDERHUB_EVENT_BUS",
}
CHANNEL_API_URL = "ORDERHUB_CHANNEL_API_URL"  # optional: the generic stock-push endpoint
RETRY_BASE = "ORDERHUB_RETRY_BASE_SECONDS"  # optional: first retry delay (tests shorten it)
PENDING_ALERT = "ORDERHUB_PENDING_ALERT_SECONDS"  # optional: when a pending event raises a P0
DEFAULT_PENDING_ALERT_SECONDS = 300


@dataclass(frozen=True)
class Settings:
    catalog_table: str
    inventory_table: str
    orders_table: str
    events_table: str
    anomalies_table: str
    trail_table: str
    order_queue_url: str
    order_dlq_url: str
    raw_bucket: str
    event_bus: str
    region: str
    channel_api_url: str = ""  # unset: platforms without their own push adapter are not pushed
    retry_base_seconds: int = BASE_DELAY_SECONDS
    pending_alert_seconds: int = DEFAULT_PENDING_ALERT_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        missing = [var for var in _REQUIRED.values() if not environ.get(var)]
        region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or ""
        if not region:
            missing.append("AWS_REGION")
        if missing:
            raise ConfigError("missing environment variables: " + ", ".join(missing))
        values = {field: environ[var] for field, var in _REQUIRED.items()}
        try:
            retry_base = int(environ.get(RETRY_BASE) or BASE_DELAY_SECONDS)
        except ValueError:
            raise ConfigError(f"{RETRY_BASE} must be whole seconds") from None
        try:
            pending_alert = int(environ.get(PENDING_ALERT) or DEFAULT_PENDING_ALERT_SECONDS)
        except ValueError:
            raise ConfigError(f"{PENDING_ALERT} must be whole seconds") from None
        return cls(
            region=region,
            channel_api_url=environ.get(CHANNEL_API_URL, ""),
            retry_base_seconds=retry_base,
            pending_alert_seconds=pending_alert,
            **values,
        )
