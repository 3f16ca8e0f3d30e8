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
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.deferred import deferred_imports

if TYPE_CHECKING:  # at run time, imported on first use: chalicelib/adapters/deferred.py
    from chalicelib.adapters.access import DynamoApiKeys, DynamoAuditLog, build_audit_model
    from chalicelib.adapters.after_sales import DynamoAfterSales, build_after_sales_model
    from chalicelib.adapters.alarm_states import DynamoAlarmStates, DynamoSmsBudget
    from chalicelib.adapters.amazon_orders import AmazonOrderApi, SpApiClient
    from chalicelib.adapters.anomalies import DynamoAnomalies, DynamoShipmentWatch
    from chalicelib.adapters.backfill import OrderIndexBackfill
    from chalicelib.adapters.cache import CachedCatalog
    from chalicelib.adapters.channel_push import build_stock_push_client
    from chalicelib.adapters.cursors import DynamoCursorStore, build_cursor_model
    from chalicelib.adapters.day_lists import day_list_sources
    from chalicelib.adapters.dynamo import DynamoOrderRepository
    from chalicelib.adapters.dynamo_models import Models, TableNames, build_models
    from chalicelib.adapters.dynamo_records import DynamoCatalog, DynamoTrail
    from chalicelib.adapters.events import EventBridgePublisher
    from chalicelib.adapters.health_probes import build_health_probes
    from chalicelib.adapters.history import OrderHistoryReader
    from chalicelib.adapters.ledger_checkpoints import DynamoLedgerSource
    from chalicelib.adapters.listings import DynamoListingMap
    from chalicelib.adapters.messaging import (
        DeadLetterQueue,
        MessageLoader,
        QueueMonitor,
        QueueVisibility,
        RawArchive,
        SqsEventQueue,
    )
    from chalicelib.adapters.notify import RoutingNotifier, build_notifier
    from chalicelib.adapters.ops_stats import (
        DynamoKpiSources,
        DynamoOpsStats,
        build_anomaly_openings_model,
        build_ops_stats_model,
    )
    from chalicelib.adapters.order_activity import DynamoOrderActivity, build_activity_model
    from chalicelib.adapters.order_days import DynamoOrderDays
    from chalicelib.adapters.order_search import (
        DynamoOrderSearch,
        DynamoStockList,
        PushRecorder,
        RecordingPushClient,
        build_search_models,
    )
    from chalicelib.adapters.personal_data import DataKeyCache, KmsEnvelopeVault, blind_index_key
    from chalicelib.adapters.platform_api import build_order_detail_router
    from chalicelib.adapters.platform_stock import PlatformStockPush, build_platform_stock_clients
    from chalicelib.adapters.pull_clients import RouterTransport
    from chalicelib.adapters.report_store import (
        S3Objects,
        S3ReportStore,
        S3StatementFiles,
        S3WmsSnapshots,
    )
    from chalicelib.adapters.reveals import DynamoRevealStore
    from chalicelib.adapters.secrets import SecretsManagerSource, SecretsManagerStore
    from chalicelib.adapters.statements import JdStatement, StatementRouter
    from chalicelib.adapters.stock_nudge import NudgingOrderRepository, SqsStockNudger
    from chalicelib.adapters.stock_shards import hot_config
    from chalicelib.adapters.tracking_clients import AfterShipClient, Kuaidi100Client
    from chalicelib.adapters.tracks import DynamoTracks, build_tracks_model
else:
    globals().update(deferred_imports(__file__))

from chalicelib.domain.auth import ApiKeyAuthenticator
from chalicelib.domain.channel_health import HealthProbe
from chalicelib.domain.details import OrderDetailRouter
from chalicelib.domain.ports import Warehouse
from chalicelib.domain.reconcile import StatementSource
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
        return build_models(names, s.region, shards=s.index_shards)

    @cached_property
    def orders(self) -> DynamoOrderRepository:
        url = self.settings.stock_nudge_queue_url
        s = self.settings  # hot SKUs: adapters/stock_shards.py
        hot = hot_config(s.hot_skus, s.hot_shards, s.hot_auto_throttles)
        if url:  # a stock change nudges the pusher (adapters/stock_nudge.py)
            return NudgingOrderRepository(self.models, SqsStockNudger(self.sqs, url), hot)
        return DynamoOrderRepository(self.models, hot)

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
    def personal_data(self) -> KmsEnvelopeVault:
        """Seals buyers' personal data and raw payloads per order (KMS envelope encryption)."""
        index_key = self._blind_index_key if self.settings.blind_index_secret else None
        return KmsEnvelopeVault(
            self._client("kms"),
            self.settings.pii_key_id,
            index_key=index_key,
            key_cache=DataKeyCache(),  # one data key per store for minutes, not one per order
        )

    def _blind_index_key(self) -> bytes:
        """The phone blind index's HMAC key (Secrets Manager, cached 60 s like store secrets)."""
        return blind_index_key(self.secrets.get_secret(self.settings.blind_index_secret))

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
    def order_history(self) -> OrderHistoryReader:
        """The order timeline's reads (records, trails, anomalies, DLQ, raw payloads)."""
        return OrderHistoryReader(self.models, self.dead_letters, self.raw_archive)

    @cached_property
    def queue_monitor(self) -> QueueMonitor:
        s = self.settings
        return QueueMonitor(self.sqs, {"orders": s.order_queue_url, "orders_dlq": s.order_dlq_url})

    @cached_property
    def inventory_events(self) -> EventBridgePublisher:
        return EventBridgePublisher(self.events, self.settings.event_bus, EVENT_SOURCE)

    @cached_property
    def listings(self) -> DynamoListingMap:
        """The listing map: where each SKU is listed in each store (domain/listings.py)."""
        return DynamoListingMap(self._client("dynamodb"), self.settings.listings_table)

    @cached_property
    def platform_stock(self) -> dict[str, PlatformStockPush]:
        """Each marketplace's inventory API: stock pushes and catalog lookups."""
        s = self.settings
        urls = {
            "shopify": s.shopify_api_url,
            "woocommerce": s.woocommerce_api_url,
            "bigcommerce": s.bigcommerce_api_url,
            "tiktok": s.tiktok_api_url,
            "douyin": s.douyin_api_url,
            "taobao": s.taobao_api_url,
            "jd": s.jd_api_url,
            "pinduoduo": s.pdd_api_url,
            "amazon": s.amazon_api_url,
        }
        return build_platform_stock_clients(
            self.secrets,
            self.catalog,
            self.listings,
            urls,
            s.shopify_api_version,
            s.amazon_lwa_url,
            now=self.now,
        )

    @cached_property
    def channel_push(self) -> RecordingPushClient:
        """The channels' push clients; each delivered push is recorded for the console."""
        return RecordingPushClient(
            build_stock_push_client(
                self.settings.channel_api_url, self.platform_stock, self.listings
            ),
            self.push_records,
            self.now,
            on_error=_push_record_failed,
        )

    @cached_property
    def push_records(self) -> PushRecorder:
        """The last quantity pushed per SKU and channel (`orderhub-ops-stats`, `PUSHED`)."""
        return PushRecorder(self._client("dynamodb"), self.settings.ops_stats_table)

    @cached_property
    def _search_models(self) -> tuple[Any, Any]:
        s = self.settings
        return build_search_models(s.orders_table, s.inventory_table, s.region)

    @cached_property
    def order_search(self) -> DynamoOrderSearch:
        """The console's order search (the orders table's search indexes)."""
        return DynamoOrderSearch(self._search_models[0])

    @cached_property
    def stock_list(self) -> DynamoStockList:
        """Every stock item by SKU (the inventory table's `stock_list` index)."""
        return DynamoStockList(self._search_models[1], self.settings.index_shards)

    @cached_property
    def poll_cursors(self) -> DynamoCursorStore:
        """Where the pull pollers keep their place (chalicelib/domain/polling.py)."""
        s = self.settings
        return DynamoCursorStore(build_cursor_model(s.poll_cursors_table, s.region))

    @cached_property
    def order_backfill(self) -> OrderIndexBackfill:
        """Old orders' index attributes (adapters/backfill.py), checkpointed with the cursors."""
        s = self.settings
        return OrderIndexBackfill(self.models, build_cursor_model(s.poll_cursors_table, s.region))

    @cached_property
    def pull_transport(self) -> RouterTransport:
        """HTTP to the pull platforms' routers (Taobao, Pinduoduo, JD)."""
        return RouterTransport()

    @cached_property
    def order_details(self) -> OrderDetailRouter:
        """Platforms' order APIs, keyed by platform: thin events are fetched before booking."""
        s = self.settings
        return build_order_detail_router(
            self.secrets,
            s.bigcommerce_api_url,
            tiktok_api_url=s.tiktok_api_url,
            douyin_api_url=s.douyin_api_url,
            now=self.now,
            amazon=AmazonOrderApi(self.secrets, self.sp_api),
        )

    @cached_property
    def sp_api(self) -> SpApiClient:
        """Amazon SP-API (Orders v0) with its LWA token cache: the order fetch and the poll."""
        return SpApiClient(self.settings.amazon_api_url, self.settings.amazon_lwa_url)

    @cached_property
    def api_keys(self) -> DynamoApiKeys:
        return DynamoApiKeys(self.models)

    @cached_property
    def secret_store(self) -> SecretsManagerStore:
        """Secrets read directly, with their dates (the store review: secret ages)."""
        return SecretsManagerStore(self._client("secretsmanager"))

    @cached_property
    def reveals(self) -> DynamoRevealStore:
        """Two-person decrypt: reveal requests and hourly reveal counts (domain/reveal.py)."""
        return DynamoRevealStore(self.models)

    @cached_property
    def audit_log(self) -> DynamoAuditLog:
        return DynamoAuditLog(build_audit_model(self.settings.audit_table, self.settings.region))

    @cached_property
    def authenticator(self) -> ApiKeyAuthenticator:
        return ApiKeyAuthenticator(self.catalog, usage=self.api_keys)

    @cached_property
    def anomalies(self) -> DynamoAnomalies:
        """The anomaly engine's store (lifecycle, escalation; domain/anomalies.py)."""
        return DynamoAnomalies(self.models)

    @cached_property
    def shipment_watch(self) -> DynamoShipmentWatch:
        return DynamoShipmentWatch(self.models)

    @cached_property
    def after_sales(self) -> DynamoAfterSales:
        """Buyers' after-sales requests (`orderhub-after-sales`): recorded from the webhooks
        of TikTok Shop, Douyin and Shopify; the anomaly scan's feed and the chase rate's count."""
        s = self.settings
        return DynamoAfterSales(
            build_after_sales_model(s.after_sales_table, s.region), s.index_shards
        )

    @cached_property
    def notifier(self) -> RoutingNotifier:
        """Notices to SNS, WeCom/DingTalk robots and SES, routed by `orderhub/notifications`."""
        s = self.settings
        return build_notifier(
            self.secrets,
            s.notifications_secret,
            s.notify_topics,
            self._client,
            self.now,
            budget=self.sms_budget,
        )

    @cached_property
    def sms_budget(self) -> DynamoSmsBudget:
        """Texts per SMS channel and window, shared by every function (`orderhub-ops-stats`)."""
        return DynamoSmsBudget(lambda: self.dynamodb, self.settings.ops_stats_table)

    @cached_property
    def alarm_states(self) -> DynamoAlarmStates:
        """The last announced state of each CloudWatch alarm (`orderhub-ops-stats`)."""
        return DynamoAlarmStates(lambda: self.dynamodb, self.settings.ops_stats_table)

    @cached_property
    def dynamodb(self) -> Any:
        return self._client("dynamodb")

    @cached_property
    def ledger_source(self) -> DynamoLedgerSource:
        """The nightly audit's ledger reads and checkpoints (domain/ledger_audit.py)."""
        return DynamoLedgerSource(self.models, lambda: self.dynamodb, self.settings.ops_stats_table)

    @cached_property
    def report_presigner(self) -> Any:
        """Signs report links: SigV4, regional virtual-hosted URLs (path-style against a local
        endpoint); with the keys in ORDERHUB_REPORT_SIGNER_SECRET when set, so links outlive
        the function's temporary credentials."""
        import boto3
        from botocore.config import Config

        config = Config(signature_version="s3v4", s3={"addressing_style": "virtual"})
        s = self.settings
        if not s.report_signer_secret:
            with self._lock:
                return self._session.client("s3", config=config)
        keys = self.secrets.get_secret(s.report_signer_secret)
        signer = boto3.session.Session(
            aws_access_key_id=str(keys["access_key_id"]),
            aws_secret_access_key=str(keys["secret_access_key"]),
            region_name=s.region,
        )
        return signer.client("s3", config=config)

    @cached_property
    def report_objects(self) -> S3Objects:
        return S3Objects(self.s3, self.settings.report_bucket)

    @cached_property
    def reports(self) -> S3ReportStore:
        """Reports under reports/<kind>/<date>/ with presigned links (domain/reports.py)."""
        return S3ReportStore(
            self.s3,
            self.settings.report_bucket,
            self.report_presigner,
            self.settings.report_link_days * 24 * 3600,
            self.now,
        )

    @cached_property
    def statements(self) -> StatementRouter:
        """The platforms' side of the reconciliation: statement files, else platform APIs."""
        apis: dict[str, StatementSource] = {
            "jd": JdStatement(self.settings.jd_api_url, self.pull_transport, self.secrets, self.now)
        }
        apis.update(day_list_sources(self.platform_stock, self.now))  # each platform's order list
        return StatementRouter(S3StatementFiles(self.report_objects), apis)

    @cached_property
    def order_days(self) -> DynamoOrderDays:
        return DynamoOrderDays(self.models)

    @cached_property
    def wms_snapshots(self) -> S3WmsSnapshots:
        return S3WmsSnapshots(self.report_objects)

    @cached_property
    def ops_stats(self) -> DynamoOpsStats:
        """Channel health results and daily KPIs (`orderhub-ops-stats`)."""
        s = self.settings
        return DynamoOpsStats(build_ops_stats_model(s.ops_stats_table, s.region))

    @cached_property
    def health_probes(self) -> dict[str, HealthProbe]:
        """One channel health probe per platform (adapters/health_probes.py)."""
        s = self.settings
        return build_health_probes(
            self.secrets,
            self.pull_transport,
            self.sqs,
            self.trail,
            shopify_api_url=s.shopify_api_url,
            shopify_api_version=s.shopify_api_version,
            woocommerce_api_url=s.woocommerce_api_url,
            bigcommerce_api_url=s.bigcommerce_api_url,
            tiktok_api_url=s.tiktok_api_url,
            douyin_api_url=s.douyin_api_url,
            taobao_api_url=s.taobao_api_url,
            pdd_api_url=s.pdd_api_url,
            jd_api_url=s.jd_api_url,
            now=self.now,
            stage=s.stage,  # the Amazon queue's name carries it
        )

    @cached_property
    def kpi_sources(self) -> DynamoKpiSources:
        """What the daily KPIs count: orders' `placed_day`, anomalies' `rule_opened`,
        after-sales requests' `opened_day`."""
        s = self.settings
        openings = build_anomaly_openings_model(s.anomalies_table, s.region)
        return DynamoKpiSources(self.models.orders, openings, self.after_sales)

    @cached_property
    def tracks(self) -> DynamoTracks:
        """Carrier tracks (`orderhub-tracks`, domain/tracking.py)."""
        s = self.settings
        return DynamoTracks(build_tracks_model(s.tracks_table, s.region), s.index_shards)

    @cached_property
    def order_activity(self) -> DynamoOrderActivity:
        """Notes, pick lists and review notes (`orderhub-order-activity`)."""
        s = self.settings
        return DynamoOrderActivity(build_activity_model(s.order_activity_table, s.region))

    @cached_property
    def tracking_providers(self) -> dict[str, Any]:
        """The tracking aggregators' clients by provider name; pushes come back to
        `{ORDERHUB_LINK_BASE_URL}/tracking/<provider>/callback`."""
        s = self.settings
        callback = s.link_base_url.rstrip("/") + "/tracking/kuaidi100/callback"
        return {
            "kuaidi100": Kuaidi100Client(
                s.kuaidi100_api_url, self.secrets, callback, now=self.now, stage=s.stage
            ),
            "aftership": AfterShipClient(s.aftership_api_url, self.secrets, stage=s.stage),
        }

    def warehouses(self) -> dict[str, Warehouse]:
        return {w.warehouse_id: w for w in self.catalog.list_warehouses()}


def _push_record_failed(exc: Exception) -> None:
    from chalicelib.observability import logger

    logger().warning("pushed quantity not recorded", extra={"error": repr(exc)})


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
