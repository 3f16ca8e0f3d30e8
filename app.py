"""OrderHub's Chalice app: wiring only. Routes, consumers and schedules live in chalicelib/api."""

from chalice import Chalice

from chalicelib.api import (
    admin,
    amazon,
    anomalies,
    channel_health,
    console,
    console_api,
    kpis,
    openapi,
    operations,
    personal_data,
    pollers,
    processor,
    queries,
    reports,
    stock,
    stock_push,
    timeline,
    webhooks,
)
from chalicelib.api.http import authenticate_request
from chalicelib.observability import observe

app = Chalice(app_name="orderhub")
app.register_middleware(observe, "all")
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
    console_api.bp,
    console.bp,
):
    app.register_blueprint(blueprint)
