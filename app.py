"""OrderHub's Chalice app: wiring only. Routes, consumers and schedules live in chalicelib/api."""

import logging

from chalice import Chalice

from chalicelib import startup  # first: the garbage collector pauses while the app loads
from chalicelib.api import (
    admin,
    after_sales_pollers,
    alarm_relay,
    amazon,
    amazon_poll,
    anomalies,
    backfill,
    channel_health,
    console,
    console_api,
    indicator_reports,
    kpis,
    openapi,
    operations,
    order_actions,
    order_notes,
    personal_data,
    pollers,
    processor,
    queries,
    reports,
    stock,
    stock_push,
    timeline,
    tracking,
    webhooks,
)
from chalicelib.api.http import authenticate_request, chalice_errors
from chalicelib.observability import observe

# Chalice's own log handler would print every line of the "orderhub" logger a second time next
# to Powertools' (chalicelib/observability.py), which owns that logger.
app = Chalice(app_name="orderhub", configure_logs=False)
# botocore and pynamodb say at INFO where they found credentials and settings, on every client
for library in ("botocore", "pynamodb"):
    logging.getLogger(library).setLevel(logging.WARNING)
app.register_middleware(observe, "all")
app.register_middleware(chalice_errors, "http")
app.register_middleware(authenticate_request, "http")
for blueprint in (
    webhooks.bp,
    queries.bp,
    stock.bp,
    processor.bp,
    operations.bp,
    stock_push.bp,
    amazon.bp,
    admin.bp,
    pollers.bp,
    reports.bp,
    anomalies.bp,
    channel_health.bp,
    kpis.bp,
    timeline.bp,
    openapi.bp,
    personal_data.bp,
    order_actions.bp,
    alarm_relay.bp,
    indicator_reports.bp,
    order_notes.bp,
    tracking.bp,
    after_sales_pollers.bp,
    amazon_poll.bp,
    console_api.bp,
    console.bp,
    backfill.bp,
):
    app.register_blueprint(blueprint)

startup.settle()  # everything is loaded: freeze it, resume the collector (chalicelib/startup.py)
