"""Powertools Logger and Metrics, created on first use, and the middleware every function runs.

Logs are JSON with a correlation id (the order's key in the processor, the delivery id at the
webhook) in AWS, where CloudWatch Logs Insights reads them; on the local stack
(`ORDERHUB_LOG_FORMAT=text`) each record is one readable line instead. Metrics are CloudWatch
EMF lines flushed at the end of each invocation (the local stack turns their printing off).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from chalicelib.settings import METRICS_NAMESPACE, METRICS_NAMESPACE_VAR

if TYPE_CHECKING:
    from aws_lambda_powertools.logging.types import LogRecord

SERVICE = "orderhub"
NAMESPACE = METRICS_NAMESPACE  # without a stage (tests, tools); a function's: `namespace()`
LOG_FORMAT = "ORDERHUB_LOG_FORMAT"  # "json" (default, AWS) or "text" (the local stack)
# keys every record carries that a person reading the local log does not need on each line
_QUIET_KEYS = frozenset(
    {"level", "location", "message", "timestamp", "service", "xray_trace_id", "cold_start"}
    | {"function_request_id", "function_name", "function_arn", "function_memory_size"}
)


class TextFormatter(LambdaPowertoolsFormatter):
    """One line per record: time, level, message, then the record's own keys as key=value."""

    def serialize(self, log: LogRecord) -> str:
        extra = " ".join(
            f"{key}={value}"
            for key, value in dict(log).items()
            if key not in _QUIET_KEYS and value not in (None, "", [], {})
        )
        when = str(log.get("timestamp", ""))[11:23]
        line = f"{when} {log.get('level', ''):<7} {log.get('message')}"
        return f"{line}  {extra}" if extra else line


@cache
def logger() -> Logger:
    if os.environ.get(LOG_FORMAT, "json") == "text":
        return Logger(service=SERVICE, logger_formatter=TextFormatter())
    return Logger(service=SERVICE)


def namespace() -> str:
    """The function's metrics namespace: its stage's (`OrderHub-{stage}`, infra Globals set
    POWERTOOLS_METRICS_NAMESPACE as its alarms' namespace), `OrderHub` where unset."""
    return os.environ.get(METRICS_NAMESPACE_VAR) or NAMESPACE


@cache
def metrics() -> Metrics:
    return Metrics(namespace=namespace(), service=SERVICE)


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
