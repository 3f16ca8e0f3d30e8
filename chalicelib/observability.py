"""Powertools Logger and Metrics, created on first use, and the middleware every function runs.

Logs are JSON with a correlation id (the order's key in the processor, the delivery id at the
webhook); metrics are CloudWatch EMF lines flushed at the end of each invocation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics

SERVICE = "orderhub"
NAMESPACE = "OrderHub"


@cache
def logger() -> Logger:
    return Logger(service=SERVICE)


@cache
def metrics() -> Metrics:
    return Metrics(namespace=NAMESPACE, service=SERVICE)


def observe(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware for every function: Lambda context in each log line, metrics flushed."""
    log = logger()
    context = getattr(event, "lambda_context", None) or getattr(event, "context", None)
    request_id = getattr(context, "aws_request_id", None)
    if request_id:
        log.append_keys(
            function_request_id=request_id, function_name=getattr(context, "function_name", "")
        )
    log.set_correlation_id(None)
    try:
        return get_response(event)
    finally:
        collected = metrics()
        if collected.metric_set:
            collected.flush_metrics()
