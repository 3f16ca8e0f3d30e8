"""The composition root: builds adapters on first use and caches them for the warm Lambda.

Nothing here runs at import. Tests and the local tools replace the container with
`use_container`; handlers reach everything through `container()`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cached_property
from typing import Any

from chalicelib.adapters.cache import CachedCatalog
from chalicelib.adapters.channel_push import StockPushRouter, build_stock_push_client
from chalicelib.adapters.dynamo import (
    DynamoCatalog,
    DynamoOrderRepository,
    DynamoTrail,
    Models,
    TableNames,
    build_models,
)
from chalicelib.adapters.events import EventBridgePublisher
from chalicelib.adapters.messaging import (
    DeadLetterQueue,
    MessageLoader,
    QueueMonitor,
    QueueVisibility,
    RawArchive,
    SqsEventQueue,
)
from chalicelib.adapters.secrets import SecretsManagerSource
from chalicelib.domain.auth import ApiKeyAuthenticator
from chalicelib.domain.ports import Warehouse
from chalicelib.domain.stock_push import EVENT_SOURCE
from chalicelib.domain.timeutil import utc_now
from chalicelib.settings import Settings


class Container:
    """Every adapter the handlers use, built lazily from settings."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._environ = environ
        self.now = now
        self._lock = threading.Lock()

    @cached_property
    def settings(self) -> Settings:
        return Settings.from_env(self._environ if self._environ is not None else os.environ)

    @cached_property
    def _session(self) -> Any:
        import boto3  # imported here: no AWS library loads before a handler needs it

        return boto3.session.Session(region_name=self.settings.region)

    def _client(self, service: str) -> Any:
        with self._lock:  # boto3 sessions are not thread-safe; clients are
            return self._session.client(service)

    @cached_property
    def sqs(self) -> Any:
        return self._client("sqs")

    @cached_property
    def s3(self) -> Any:
        return self._client("s3")

    @cached_property
    def events(self) -> Any:
        return self._client("events")

    @cached_property
    def models(self) -> Models:
        s = self.settings
        names = TableNames(
            s.catalog_table,
            s.inventory_table,
            s.orders_table,
            s.events_table,
            s.anomalies_table,
            s.trail_table,
        )
        return build_models(names, s.region)

    @cached_property
    def orders(self) -> DynamoOrderRepository:
        return DynamoOrderRepository(self.models)

    @cached_property
    def trail(self) -> DynamoTrail:
        return DynamoTrail(self.models)

    @cached_property
    def catalog_store(self) -> DynamoCatalog:
        return DynamoCatalog(self.models)

    @cached_property
    def catalog(self) -> CachedCatalog:
        return CachedCatalog(self.catalog_store)

    @cached_property
    def secrets(self) -> SecretsManagerSource:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        return SecretsManagerSource(SecretsProvider(boto3_client=self._client("secretsmanager")))

    @cached_property
    def queue(self) -> SqsEventQueue:
        return SqsEventQueue(
            self.sqs, self.settings.order_queue_url, self.s3, self.settings.raw_bucket
        )

    @cached_property
    def dead_letters(self) -> DeadLetterQueue:
        return DeadLetterQueue(self.sqs, self.settings.order_dlq_url, self.settings.order_queue_url)

    @cached_property
    def visibility(self) -> QueueVisibility:
        return QueueVisibility(self.sqs, self.settings.order_queue_url)

    @cached_property
    def loader(self) -> MessageLoader:
        return MessageLoader(self.s3)

    @cached_property
    def raw_archive(self) -> RawArchive:
        return RawArchive(self.s3, self.settings.raw_bucket)

    @cached_property
    def queue_monitor(self) -> QueueMonitor:
        s = self.settings
        return QueueMonitor(self.sqs, {"orders": s.order_queue_url, "orders_dlq": s.order_dlq_url})

    @cached_property
    def inventory_events(self) -> EventBridgePublisher:
        return EventBridgePublisher(self.events, self.settings.event_bus, EVENT_SOURCE)

    @cached_property
    def channel_push(self) -> StockPushRouter:
        return build_stock_push_client(self.settings.channel_api_url)

    @cached_property
    def authenticator(self) -> ApiKeyAuthenticator:
        return ApiKeyAuthenticator(self.catalog)

    def warehouses(self) -> dict[str, Warehouse]:
        return {w.warehouse_id: w for w in self.catalog.list_warehouses()}


_container: Container | None = None
_container_lock = threading.Lock()


def container() -> Container:
    global _container
    with _container_lock:
        if _container is None:
            _container = Container()
        return _container


def use_container(replacement: Container | None) -> None:
    """Install a container (tests, local tools); None resets to a fresh one on next use."""
    global _container
    with _container_lock:
        _container = replacement
