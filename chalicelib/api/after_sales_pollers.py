"""Scheduled pulls of Pinduoduo's and JD's after-sales lists into the after-sales record
(domain/after_sales.py `poll_after_sales`), every 5 minutes per store, each store after its
own cursor (`<platform>#<store>#after_sales` in `orderhub-poll-cursors`). Failures are the
order pollers' (api/pollers.py `run_pollers`): one store's never stops the others."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalice import Blueprint, Rate

from chalicelib.adapters.after_sales_pull import JdAfterSales, PinduoduoAfterSales
from chalicelib.api.pollers import run_pollers, window_policy
from chalicelib.channels import jd, pinduoduo
from chalicelib.channels.pull import pull_credentials
from chalicelib.deps import Container, container
from chalicelib.domain.after_sales import AfterSalesPages, poll_after_sales
from chalicelib.domain.ports import Store

bp = Blueprint(__name__)


@dataclass
class AfterSalesResult:
    progress: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.progress)


def cursor_key(store: Store) -> str:
    return f"{store.platform}#{store.store_id}#after_sales"


def _poll(deps: Container, store: Store, source: AfterSalesPages, result: AfterSalesResult) -> None:
    result.progress = poll_after_sales(
        cursor_key(store),
        deps.poll_cursors,
        source,
        deps.after_sales,
        deps.now(),
        window_policy(deps),
    )


def poll_pinduoduo_after_sales_store(
    deps: Container, store: Store, result: AfterSalesResult
) -> None:
    credentials = pull_credentials(deps.secrets.get_secret(store.secret_name), store.platform)
    source = PinduoduoAfterSales(
        deps.settings.pdd_api_url, credentials, deps.pull_transport, store, deps.now
    )
    _poll(deps, store, source, result)


def poll_jd_after_sales_store(deps: Container, store: Store, result: AfterSalesResult) -> None:
    credentials = pull_credentials(deps.secrets.get_secret(store.secret_name), store.platform)
    source = JdAfterSales(
        deps.settings.jd_api_url, credentials, deps.pull_transport, store, deps.now
    )
    _poll(deps, store, source, result)


@bp.schedule(Rate(5, unit=Rate.MINUTES))
def poll_pinduoduo_after_sales(event: Any) -> dict[str, Any]:
    """Pinduoduo: after-sales rows changed since each store's cursor."""
    return run_pollers(
        container(), pinduoduo.PLATFORM, poll_pinduoduo_after_sales_store, AfterSalesResult
    )


@bp.schedule(Rate(5, unit=Rate.MINUTES))
def poll_jd_after_sales(event: Any) -> dict[str, Any]:
    """JD: refund requests applied or checked since each store's cursor."""
    return run_pollers(container(), jd.PLATFORM, poll_jd_after_sales_store, AfterSalesResult)
