"""Typed settings, read from the environment only when first needed (never at import)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chalicelib.domain.audit import DEFAULT_RETENTION_DAYS, MIN_RETENTION_DAYS
from chalicelib.domain.delivery import BASE_DELAY_SECONDS
from chalicelib.domain.index_shards import DEFAULT_INDEX_SHARDS, MAX_INDEX_SHARDS

APP_NAME = "orderhub"
STAGE = "ORDERHUB_STAGE"  # the stage the function belongs to (infra Globals: the `Stage` parameter)
STAGE_PATTERN = r"[a-z][a-z0-9]{0,9}"  # short: a bucket name carries it and the account id


def resource_name(stage: str, name: str) -> str:
    """The one naming rule of a stage's resources: `orderhub-{stage}-{name}` (tables, queues,
    topics, alarms, buckets, the bus, the KMS alias; infra/resources.json writes each as
    `orderhub-${Stage}-...` and tools/package.py sets `Stage`). `name` is the short name
    (`order-events`) or the stage-less one the docs use (`orderhub-order-events`); a name that
    carries the stage already is returned as it is. An empty stage gives the stage-less name."""
    prefix = f"{APP_NAME}-"
    staged = f"{prefix}{stage}-" if stage else prefix
    if name.startswith(staged):
        return name
    short = name.removeprefix(prefix)
    return f"{staged}{short}"


def secret_name(stage: str, name: str) -> str:
    """A stage's own secret: `orderhub/{stage}/{name}` (`orderhub/{name}` without a stage)."""
    return f"{APP_NAME}/{stage}/{name}" if stage else f"{APP_NAME}/{name}"


METRICS_NAMESPACE = "OrderHub"  # the functions' CloudWatch namespace, stage-less
METRICS_NAMESPACE_VAR = "POWERTOOLS_METRICS_NAMESPACE"  # infra Globals: `OrderHub-${Stage}`


def metrics_namespace(stage: str) -> str:
    """A stage's own metrics namespace, `OrderHub-{stage}` (`OrderHub` without a stage): its
    alarms watch it, so one stage's load never trips another's alarms."""
    return f"{METRICS_NAMESPACE}-{stage}" if stage else METRICS_NAMESPACE


class ConfigError(RuntimeError):
    """The function's environment lacks something it needs: a deployment mistake."""


_REQUIRED = {
    "catalog_table": "ORDERHUB_CATALOG_TABLE",
    "inventory_table": "ORDERHUB_INVENTORY_TABLE",
    "orders_table": "ORDERHUB_ORDERS_TABLE",
    "events_table": "ORDERHUB_EVENTS_TABLE",
    "anomalies_table": "ORDERHUB_ANOMALIES_TABLE",
    "trail_table": "ORDERHUB_TRAIL_TABLE",
    "poll_cursors_table": "ORDERHUB_POLL_CURSORS_TABLE",
    "order_queue_url": "ORDERHUB_ORDER_QUEUE_URL",
    "order_dlq_url": "ORDERHUB_ORDER_DLQ_URL",
    "raw_bucket": "ORDERHUB_RAW_BUCKET",
    "event_bus": "ORDERHUB_EVENT_BUS",
    "audit_table": "ORDERHUB_AUDIT_TABLE",
    # the KMS key that wraps personal-data keys (infra: alias/orderhub-pii)
    "pii_key_id": "ORDERHUB_PII_KEY_ID",
}
CHANNEL_API_URL = "ORDERHUB_CHANNEL_API_URL"  # optional: the generic stock-push endpoint
BIGCOMMERCE_API_URL = "ORDERHUB_BIGCOMMERCE_API_URL"  # optional: BigCommerce's API (local: stub)
DEFAULT_BIGCOMMERCE_API_URL = "https://api.bigcommerce.com"
# optional: TikTok Shop's and Douyin's order APIs, for thin events' details (local: stub)
TIKTOK_API_URL = "ORDERHUB_TIKTOK_API_URL"
DEFAULT_TIKTOK_API_URL = "https://open-api.tiktokglobalshop.com"
DOUYIN_API_URL = "ORDERHUB_DOUYIN_API_URL"
DEFAULT_DOUYIN_API_URL = "https://openapi-fxg.jinritemai.com"
RETRY_BASE = "ORDERHUB_RETRY_BASE_SECONDS"  # optional: first retry delay (tests shorten it)
PENDING_ALERT = "ORDERHUB_PENDING_ALERT_SECONDS"  # optional: when a pending event raises a P0
# optional: the pull platforms' router URLs (local: local/stub_pull.py) and how far their
# query windows stay behind the clock
TAOBAO_API_URL = "ORDERHUB_TAOBAO_API_URL"
DEFAULT_TAOBAO_API_URL = "https://eco.taobao.com/router/rest"
PDD_API_URL = "ORDERHUB_PDD_API_URL"
DEFAULT_PDD_API_URL = "https://gw-api.pinduoduo.com/api/router"
JD_API_URL = "ORDERHUB_JD_API_URL"
DEFAULT_JD_API_URL = "https://api.jd.com/routerjson"
PULL_SETTLE = "ORDERHUB_PULL_SETTLE_SECONDS"
DEFAULT_PULL_SETTLE_SECONDS = 180
DEFAULT_PENDING_ALERT_SECONDS = 300
API_KEY_MAX_DAYS = "ORDERHUB_API_KEY_MAX_DAYS"  # optional: longest API key life, 1..90
AUDIT_RETENTION = "ORDERHUB_AUDIT_RETENTION_DAYS"  # optional: audit TTL, at least 180 days
# optional: the notification SNS topics (infra Globals); an unset one is no SNS route
NOTIFY_TOPIC_VARS = {
    "P0": "ORDERHUB_ALERTS_P0_TOPIC_ARN",
    "P1": "ORDERHUB_ALERTS_P1_TOPIC_ARN",
    "P2": "ORDERHUB_ALERTS_P2_TOPIC_ARN",
    "finance": "ORDERHUB_FINANCE_TOPIC_ARN",
}
NOTIFICATIONS_SECRET = "ORDERHUB_NOTIFICATIONS_SECRET"  # optional: routing config secret
DEFAULT_NOTIFICATIONS_SECRET = "orderhub/notifications"
# optional: reports (chalicelib/domain/reports.py): the bucket (unset: the raw-payload bucket,
# under reports/), how long presigned links live (days, 1..7) and a secret holding an IAM
# user's keys to sign them with (unset: the function's own, short-lived, credentials)
REPORTS_BUCKET = "ORDERHUB_REPORTS_BUCKET"
REPORT_LINK_DAYS = "ORDERHUB_REPORT_LINK_DAYS"
DEFAULT_REPORT_LINK_DAYS = 3
REPORT_SIGNER_SECRET = "ORDERHUB_REPORT_SIGNER_SECRET"
# optional: the base URL anomaly notices link from (the API's URL: `{base}/orders/...`);
# unset: notices carry no link
LINK_BASE_URL = "ORDERHUB_LINK_BASE_URL"
# optional: channel health and daily KPIs (chalicelib/domain/channel_health.py, kpis.py): the
# ops-stats table, and where the Shopify / WooCommerce health probes call (unset: each store's
# own `https://{shop_domain}` / `site_url`; locally the stub platform)
OPS_STATS_TABLE = "ORDERHUB_OPS_STATS_TABLE"
DEFAULT_OPS_STATS_TABLE = "orderhub-ops-stats"
# optional: buyers' after-sales requests (chalicelib/domain/after_sales.py)
AFTER_SALES_TABLE = "ORDERHUB_AFTER_SALES_TABLE"
DEFAULT_AFTER_SALES_TABLE = "orderhub-after-sales"
SHOPIFY_API_URL = "ORDERHUB_SHOPIFY_API_URL"
SHOPIFY_API_VERSION = "ORDERHUB_SHOPIFY_API_VERSION"
DEFAULT_SHOPIFY_API_VERSION = "2025-07"
WOOCOMMERCE_API_URL = "ORDERHUB_WOOCOMMERCE_API_URL"
# optional: carrier tracks, notes and pick lists (chalicelib/domain/tracking.py, order_notes.py):
# their tables, the tracking aggregators' API bases (local: the stub tracking provider), and
# how long a moving parcel's track may stay silent before `logistics_stalled` (hours)
TRACKS_TABLE = "ORDERHUB_TRACKS_TABLE"
DEFAULT_TRACKS_TABLE = "orderhub-tracks"
ORDER_ACTIVITY_TABLE = "ORDERHUB_ORDER_ACTIVITY_TABLE"
DEFAULT_ORDER_ACTIVITY_TABLE = "orderhub-order-activity"
KUAIDI100_API_URL = "ORDERHUB_KUAIDI100_API_URL"
DEFAULT_KUAIDI100_API_URL = "https://poll.kuaidi100.com"
AFTERSHIP_API_URL = "ORDERHUB_AFTERSHIP_API_URL"
DEFAULT_AFTERSHIP_API_URL = "https://api.aftership.com/tracking/2024-10"
TRACK_STALL_HOURS = "ORDERHUB_TRACK_STALL_HOURS"
DEFAULT_TRACK_STALL_HOURS = 48.0
# optional: stock pushes through each platform's API (docs/channel-apis.md): the listing map
# table, the queue of stock nudges (a change leaves within seconds; unset: the minute sweeper
# only), Amazon SP-API's and its login's URLs (local: the stub platform)
LISTINGS_TABLE = "ORDERHUB_LISTINGS_TABLE"
DEFAULT_LISTINGS_TABLE = "orderhub-listings"
STOCK_NUDGE_QUEUE_URL = "ORDERHUB_STOCK_NUDGE_QUEUE_URL"
AMAZON_API_URL = "ORDERHUB_AMAZON_API_URL"
DEFAULT_AMAZON_API_URL = "https://sellingpartnerapi-na.amazon.com"
AMAZON_LWA_URL = "ORDERHUB_AMAZON_LWA_URL"
DEFAULT_AMAZON_LWA_URL = "https://api.amazon.com/auth/o2/token"
# optional: the console's reads (chalicelib/domain/order_search.py): the secret holding the
# phone blind index's HMAC key (unset: phones are not indexed, search by phone finds nothing)
# and the buyer lifecycle thresholds as JSON (unset: domain defaults)
BLIND_INDEX_SECRET = "ORDERHUB_BLIND_INDEX_SECRET"
BUYER_LIFECYCLE = "ORDERHUB_BUYER_LIFECYCLE"
# optional: how many hash values each write-sharded sparse index spreads over
# (chalicelib/domain/index_shards.py; may grow at any time, shrink only after a backfill)
INDEX_SHARDS = "ORDERHUB_INDEX_SHARDS"
# optional: hot SKUs (comma-separated) whose stock is sharded from the start, the shard count
# K (also for SKUs marked hot automatically) and the throttled commits of one stock item that
# mark it hot (0: never automatically). See "Hot SKUs" in docs/architecture.md.
HOT_SKUS = "ORDERHUB_HOT_SKUS"
HOT_SHARDS = "ORDERHUB_HOT_SHARDS"
HOT_AUTO_THROTTLES = "ORDERHUB_HOT_AUTO_THROTTLES"


@dataclass(frozen=True)
class Settings:
    catalog_table: str
    inventory_table: str
    orders_table: str
    events_table: str
    anomalies_table: str
    trail_table: str
    poll_cursors_table: str
    order_queue_url: str
    order_dlq_url: str
    raw_bucket: str
    event_bus: str
    audit_table: str
    pii_key_id: str
    region: str
    channel_api_url: str = ""  # unset: platforms without their own push adapter are not pushed
    taobao_api_url: str = DEFAULT_TAOBAO_API_URL
    pdd_api_url: str = DEFAULT_PDD_API_URL
    jd_api_url: str = DEFAULT_JD_API_URL
    pull_settle_seconds: int = DEFAULT_PULL_SETTLE_SECONDS
    bigcommerce_api_url: str = DEFAULT_BIGCOMMERCE_API_URL  # thin BigCommerce events' details
    tiktok_api_url: str = DEFAULT_TIKTOK_API_URL  # thin TikTok Shop events' details
    douyin_api_url: str = DEFAULT_DOUYIN_API_URL  # thin Douyin events' details
    retry_base_seconds: int = BASE_DELAY_SECONDS
    pending_alert_seconds: int = DEFAULT_PENDING_ALERT_SECONDS
    audit_retention_days: int = DEFAULT_RETENTION_DAYS
    notify_topics: Mapping[str, str] = field(default_factory=dict)  # P0|P1|P2|finance -> ARN
    notifications_secret: str = DEFAULT_NOTIFICATIONS_SECRET
    reports_bucket: str = ""  # unset: raw_bucket (see `report_bucket`)
    report_link_days: int = DEFAULT_REPORT_LINK_DAYS
    report_signer_secret: str = ""
    link_base_url: str = ""  # anomaly notices link to `{link_base_url}/orders/...`
    ops_stats_table: str = DEFAULT_OPS_STATS_TABLE  # channel health, daily KPI counters
    after_sales_table: str = DEFAULT_AFTER_SALES_TABLE  # after-sales requests
    shopify_api_url: str = ""  # health probe base; unset: https://{shop_domain}
    shopify_api_version: str = DEFAULT_SHOPIFY_API_VERSION
    woocommerce_api_url: str = ""  # health probe base; unset: the store's site_url
    api_key_max_days: int = 90  # API keys live at most this long (never more than 90)
    tracks_table: str = DEFAULT_TRACKS_TABLE  # carrier tracks
    order_activity_table: str = DEFAULT_ORDER_ACTIVITY_TABLE  # notes, pick lists, review notes
    kuaidi100_api_url: str = DEFAULT_KUAIDI100_API_URL
    aftership_api_url: str = DEFAULT_AFTERSHIP_API_URL
    track_stall_hours: float = DEFAULT_TRACK_STALL_HOURS
    listings_table: str = DEFAULT_LISTINGS_TABLE  # the listing map (stock pushes)
    stock_nudge_queue_url: str = ""  # unset: stock changes wait for the minute sweeper
    amazon_api_url: str = DEFAULT_AMAZON_API_URL
    amazon_lwa_url: str = DEFAULT_AMAZON_LWA_URL
    blind_index_secret: str = ""  # the phone blind index key's secret
    buyer_lifecycle: str = ""  # JSON thresholds of the buyer lifecycle tags
    stage: str = ""  # the stage every resource name carries (`resource_name`); "": local
    index_shards: int = DEFAULT_INDEX_SHARDS  # hash values per write-sharded sparse index
    hot_skus: tuple[str, ...] = ()  # stock sharded from the start (hot SKUs)
    hot_shards: int = 4  # K shard items per hot SKU x warehouse
    hot_auto_throttles: int = 3  # throttled commits of one item that mark it hot (0: off)

    @property
    def report_bucket(self) -> str:
        return self.reports_bucket or self.raw_bucket

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
        try:
            pull_settle = int(environ.get(PULL_SETTLE) or DEFAULT_PULL_SETTLE_SECONDS)
        except ValueError:
            raise ConfigError(f"{PULL_SETTLE} must be whole seconds") from None
        try:
            audit_days = int(environ.get(AUDIT_RETENTION) or DEFAULT_RETENTION_DAYS)
        except ValueError:
            raise ConfigError(f"{AUDIT_RETENTION} must be whole days") from None
        if audit_days < MIN_RETENTION_DAYS:
            raise ConfigError(f"{AUDIT_RETENTION} must be at least {MIN_RETENTION_DAYS} days")
        try:
            link_days = int(environ.get(REPORT_LINK_DAYS) or DEFAULT_REPORT_LINK_DAYS)
        except ValueError:
            raise ConfigError(f"{REPORT_LINK_DAYS} must be whole days") from None
        if not 1 <= link_days <= 7:
            raise ConfigError(f"{REPORT_LINK_DAYS} must be 1..7 (SigV4 links last 7 days at most)")
        try:
            key_days = int(environ.get(API_KEY_MAX_DAYS) or 90)
        except ValueError:
            raise ConfigError(f"{API_KEY_MAX_DAYS} must be whole days") from None
        if not 1 <= key_days <= 90:
            raise ConfigError(f"{API_KEY_MAX_DAYS} must be 1..90 (keys rotate quarterly)")
        try:
            stall_hours = float(environ.get(TRACK_STALL_HOURS) or DEFAULT_TRACK_STALL_HOURS)
        except ValueError:
            raise ConfigError(f"{TRACK_STALL_HOURS} must be hours (e.g. 48)") from None
        if not stall_hours > 0:
            raise ConfigError(f"{TRACK_STALL_HOURS} must be more than 0 hours")
        try:
            hot_shards = int(environ.get(HOT_SHARDS) or 4)
            hot_auto = int(environ.get(HOT_AUTO_THROTTLES) or 3)
        except ValueError:
            raise ConfigError(
                f"{HOT_SHARDS} and {HOT_AUTO_THROTTLES} must be whole numbers"
            ) from None
        if not 1 <= hot_shards <= 32 or hot_auto < 0:
            raise ConfigError(f"{HOT_SHARDS} must be 1..32 and {HOT_AUTO_THROTTLES} at least 0")
        shards = _index_shards(environ)
        return cls(
            index_shards=shards,
            hot_skus=tuple(s.strip() for s in environ.get(HOT_SKUS, "").split(",") if s.strip()),
            hot_shards=hot_shards,
            hot_auto_throttles=hot_auto,
            api_key_max_days=key_days,
            region=region,
            channel_api_url=environ.get(CHANNEL_API_URL, ""),
            taobao_api_url=environ.get(TAOBAO_API_URL) or DEFAULT_TAOBAO_API_URL,
            pdd_api_url=environ.get(PDD_API_URL) or DEFAULT_PDD_API_URL,
            jd_api_url=environ.get(JD_API_URL) or DEFAULT_JD_API_URL,
            pull_settle_seconds=pull_settle,
            bigcommerce_api_url=environ.get(BIGCOMMERCE_API_URL) or DEFAULT_BIGCOMMERCE_API_URL,
            tiktok_api_url=environ.get(TIKTOK_API_URL) or DEFAULT_TIKTOK_API_URL,
            douyin_api_url=environ.get(DOUYIN_API_URL) or DEFAULT_DOUYIN_API_URL,
            retry_base_seconds=retry_base,
            pending_alert_seconds=pending_alert,
            audit_retention_days=audit_days,
            notify_topics={k: environ[v] for k, v in NOTIFY_TOPIC_VARS.items() if environ.get(v)},
            notifications_secret=environ.get(NOTIFICATIONS_SECRET) or DEFAULT_NOTIFICATIONS_SECRET,
            reports_bucket=environ.get(REPORTS_BUCKET, ""),
            report_link_days=link_days,
            report_signer_secret=environ.get(REPORT_SIGNER_SECRET, ""),
            link_base_url=environ.get(LINK_BASE_URL, ""),
            ops_stats_table=environ.get(OPS_STATS_TABLE) or DEFAULT_OPS_STATS_TABLE,
            after_sales_table=environ.get(AFTER_SALES_TABLE) or DEFAULT_AFTER_SALES_TABLE,
            shopify_api_url=environ.get(SHOPIFY_API_URL, ""),
            shopify_api_version=environ.get(SHOPIFY_API_VERSION) or DEFAULT_SHOPIFY_API_VERSION,
            woocommerce_api_url=environ.get(WOOCOMMERCE_API_URL, ""),
            tracks_table=environ.get(TRACKS_TABLE) or DEFAULT_TRACKS_TABLE,
            order_activity_table=environ.get(ORDER_ACTIVITY_TABLE) or DEFAULT_ORDER_ACTIVITY_TABLE,
            kuaidi100_api_url=environ.get(KUAIDI100_API_URL) or DEFAULT_KUAIDI100_API_URL,
            aftership_api_url=environ.get(AFTERSHIP_API_URL) or DEFAULT_AFTERSHIP_API_URL,
            track_stall_hours=stall_hours,
            listings_table=environ.get(LISTINGS_TABLE) or DEFAULT_LISTINGS_TABLE,
            stock_nudge_queue_url=environ.get(STOCK_NUDGE_QUEUE_URL, ""),
            amazon_api_url=environ.get(AMAZON_API_URL) or DEFAULT_AMAZON_API_URL,
            amazon_lwa_url=environ.get(AMAZON_LWA_URL) or DEFAULT_AMAZON_LWA_URL,
            blind_index_secret=environ.get(BLIND_INDEX_SECRET, ""),
            buyer_lifecycle=environ.get(BUYER_LIFECYCLE, ""),
            stage=environ.get(STAGE, ""),
            **values,
        )


def _index_shards(environ: Mapping[str, str]) -> int:
    try:
        shards = int(environ.get(INDEX_SHARDS) or DEFAULT_INDEX_SHARDS)
    except ValueError:
        raise ConfigError(f"{INDEX_SHARDS} must be a whole number (e.g. 16)") from None
    if not 1 <= shards <= MAX_INDEX_SHARDS:
        raise ConfigError(f"{INDEX_SHARDS} must be 1..{MAX_INDEX_SHARDS}")
    return shards
