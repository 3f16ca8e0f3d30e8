"""Links into the browser console (one page, hash routes), the scheme notices and reports
use: `{base}/console#/orders/{platform}/{store}/{order_id}`, `#/anomalies/{key}`,
`#/anomalies`, `#/inventory/{sku}`, `#/inventory`, `#/board`, `#/reports/{yyyy-mm-dd}`.
`base` is ORDERHUB_LINK_BASE_URL (the API's own base URL). Pure."""

from __future__ import annotations

from urllib.parse import quote


def console_link(base_url: str, *parts: str) -> str:
    """`{base}/console#/part/part...`, each part URL-encoded; "" without a base URL."""
    if not base_url:
        return ""
    route = "/".join(quote(p, safe="") for p in parts)
    return f"{base_url.rstrip('/')}/console#/{route}"


def order_link(base_url: str, platform: str, store: str, order_id: str) -> str:
    return console_link(base_url, "orders", platform, store, order_id)


def anomaly_link(base_url: str, key: str = "") -> str:
    return console_link(base_url, "anomalies", key) if key else console_link(base_url, "anomalies")


def inventory_link(base_url: str, sku: str = "") -> str:
    return console_link(base_url, "inventory", sku) if sku else console_link(base_url, "inventory")


def board_link(base_url: str) -> str:
    return console_link(base_url, "board")


def report_link(base_url: str, day: str) -> str:
    return console_link(base_url, "reports", day)
