"""Local AWS emulator for OrderHub: moto's server, serialized, patched (local/moto_patch.py).

**Races.** moto's backends do read-check-write without a lock, so concurrent conditional
writes against a threaded server oversell. :class:`SerializedApp` runs every request (body
read, moto call, response body) under one lock, which makes each API call atomic, like the
real service.

**One lock per service group.** ``python -m local.emulator --split`` (what `make run` starts)
serves the rest of AWS on its port and starts one more emulator process per service group
(DynamoDB; SQS with the services that deliver into it; S3; KMS), each with its own lock, so a
slow Query no longer holds up a SendMessage. Clients reach each group through botocore's
per-service endpoint variables; anything sent to the main port for a group is forwarded to
it. See local/emulator_groups.py.

moto's transactions, Query and SQS attributes are patched for speed (local/moto_patch.py).
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import logging
import os
import random
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from types import FrameType, TracebackType
from typing import Any, Self

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from local.keep_alive import KeepAliveRequestHandler
from local.moto_patch import (  # re-exported: tests and benches import them from here
    EAGER_QUEUE_ATTRIBUTES,
    MOTO_QUERY,
    MOTO_SORTED_ITEMS,
    is_moto_patched,
    patch_moto,
)

__all__ = [
    "EAGER_QUEUE_ATTRIBUTES",
    "MOTO_QUERY",
    "MOTO_SORTED_ITEMS",
    "Emulator",
    "SerializedApp",
    "classify_request",
    "is_moto_patched",
    "main",
    "patch_moto",
    "set_fake_aws_env",
]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

CONTROL_PATH = "/_orderhub/requests"
CONTROL_RESET_PATH = "/_orderhub/requests/reset"

# --------------------------------------------------------------------------- environment


def set_fake_aws_env(environ: MutableMapping[str, str], region: str = "us-east-1") -> None:
    """Point ``environ`` at a fake account: fixed test credentials and ``region``.

    Always overwrites: the local stack must never pick up (or leak requests signed with)
    a real account's credentials or profile.
    """
    environ["AWS_ACCESS_KEY_ID"] = "testing"
    environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    environ["AWS_DEFAULT_REGION"] = region
    environ["AWS_REGION"] = region
    # A profile or session token would override/extend the fake keys in botocore's chain.
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        environ.pop(name, None)


# --------------------------------------------------------------------------- WSGI wrapper

_SCOPE_RE = re.compile(r"Credential=[^/,\s]*/[^/]*/[^/]*/([^/]+)/aws4_request")
_ACTION_RE = re.compile(r"(?:^|&)Action=([^&]*)")
_TARGET_VERSION_RE = re.compile(r"_\d{8}$")


def _service_from_target(prefix: str) -> str:
    """Best-effort service from an unsigned target prefix ("AmazonSQS" -> "sqs")."""
    name = _TARGET_VERSION_RE.sub("", prefix)
    for vendor in ("Amazon", "AWS"):
        if name.startswith(vendor) and len(name) > len(vendor):
            name = name[len(vendor) :]
            break
    return name.lower()


def _form_body(environ: dict[str, Any]) -> str:
    """Read a form-encoded body and put it back for moto (as moto's own dispatcher does)."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return ""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return ""
    if length <= 0:
        return ""
    body: bytes = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body.decode("utf-8", "replace")


def classify_request(environ: dict[str, Any]) -> str:
    """Return "service.Operation" for an AWS request (may consume and replace the body).

    The service is the SigV4 credential scope's (botocore's signing name, the most reliable
    name), else derived from ``X-Amz-Target``. The operation is the target's suffix, else the
    query-protocol ``Action`` (query string or form body), else the HTTP method (REST APIs).
    """
    match = _SCOPE_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = match.group(1) if match else ""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        prefix, _, operation = target.rpartition(".")
        return f"{service or _service_from_target(prefix)}.{operation}"
    if not service:
        service = "moto-api" if environ.get("PATH_INFO", "").startswith("/moto-api") else "unknown"
    action = _ACTION_RE.search(environ.get("QUERY_STRING", "")) or _ACTION_RE.search(
        _form_body(environ)
    )
    if action:
        return f"{service}.{action.group(1)}"
    return f"{service}.{environ.get('REQUEST_METHOD', 'GET')}"


LONG_POLL_INTERVAL = 0.05  # seconds between immediate receives while a long poll waits


def _long_poll(environ: dict[str, Any]) -> tuple[float, bytes] | None:
    """(wait seconds, body with WaitTimeSeconds=0) for an SQS JSON-protocol long poll.

    Only the request's own WaitTimeSeconds is honoured here; a queue whose
    ReceiveMessageWaitTimeSeconds attribute is set would still wait inside moto (our queues
    leave it at 0).
    """
    if environ.get("HTTP_X_AMZ_TARGET") != "AmazonSQS.ReceiveMessage":
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    body: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        request = json.loads(body or b"{}")
        wait = float(request.get("WaitTimeSeconds") or 0)
    except (ValueError, TypeError, AttributeError):
        return None
    if wait <= 0:
        return None
    request["WaitTimeSeconds"] = 0
    return wait, json.dumps(request).encode()


FAULTS_PATH = "/_orderhub/faults"
_DDB = "com.amazonaws.dynamodb.v20120810#"


class FaultInjector:
    """Chaos for benchmarks and tests: at `rate`, answer a request with a failure AWS really
    gives, before moto sees it. DynamoDB reads get throttled or a 500 (botocore retries those);
    TransactWriteItems is cancelled with TransactionConflict (our code re-plans); SQS
    DeleteMessageBatch answers success without deleting — the effect of a Lambda that crashed
    after its DynamoDB commit and before the delete: the message comes back later."""

    OPERATIONS = (
        "dynamodb.GetItem",
        "dynamodb.Query",
        "dynamodb.TransactWriteItems",
        "sqs.DeleteMessageBatch",
    )

    def __init__(self) -> None:
        self.rate = 0.0
        self._rng = random.Random(0)
        self.injected: dict[str, int] = {}

    def configure(self, rate: float, seed: int) -> None:
        self.rate, self._rng, self.injected = max(0.0, min(1.0, rate)), random.Random(seed), {}

    def status(self) -> dict[str, Any]:
        return {"rate": self.rate, "injected": dict(sorted(self.injected.items()))}

    def fault(self, key: str, body: bytes) -> tuple[str, dict[str, Any]] | None:
        """(HTTP status, JSON body) of an injected failure, or None to let moto answer."""
        if not self.rate or key not in self.OPERATIONS or self._rng.random() >= self.rate:
            return None
        if key == "dynamodb.TransactWriteItems":
            items = len(json.loads(body or b"{}").get("TransactItems", [])) or 1
            kind, answer = (
                "transaction_conflict",
                (
                    "400 Bad Request",
                    {
                        "__type": f"{_DDB}TransactionCanceledException",
                        "Message": "Transaction cancelled, please refer cancellation reasons for "
                        "specific reasons [TransactionConflict] (injected)",
                        "CancellationReasons": [
                            {"Code": "TransactionConflict", "Message": "injected"}
                        ]
                        + [{"Code": "None"}] * (items - 1),
                    },
                ),
            )
        elif key == "sqs.DeleteMessageBatch":
            entries = json.loads(body or b"{}").get("Entries", [])
            kind, answer = (
                "lost_delete",
                ("200 OK", {"Successful": [{"Id": e["Id"]} for e in entries], "Failed": []}),
            )
        elif self._rng.random() < 0.5:
            kind, answer = (
                "throttle",
                (
                    "400 Bad Request",
                    {"__type": f"{_DDB}ThrottlingException", "message": "Rate exceeded (injected)"},
                ),
            )
        else:
            kind, answer = (
                "server_error",
                (
                    "500 Internal Server Error",
                    {"__type": f"{_DDB}InternalServerError", "message": "injected"},
                ),
            )
        self.injected[kind] = self.injected.get(kind, 0) + 1
        return answer


_MULTI_ITEM = {
    f"dynamodb.{op}"
    for op in ("TransactWriteItems", "TransactGetItems", "BatchGetItem", "BatchWriteItem")
}


_WRITES = {f"dynamodb.{op}" for op in ("PutItem", "UpdateItem", "DeleteItem")}


def _written_tables(key: str, body: bytes) -> list[tuple[str, str]]:
    """(table, "tx" | "plain") for each item a DynamoDB write request writes (bench/cost.py
    prices them per table: transactional writes cost twice, and each table has its indexes).
    A transaction's ConditionCheck writes nothing."""
    try:
        request = json.loads(body or b"{}")
        if key == "dynamodb.TransactWriteItems":
            return [
                (spec["TableName"], "tx")
                for entry in request["TransactItems"]
                for op, spec in entry.items()
                if op != "ConditionCheck"
            ]
        if key == "dynamodb.BatchWriteItem":
            return [
                (table, "plain")
                for table, entries in request["RequestItems"].items()
                for _ in entries
            ]
        if key in _WRITES:
            return [(request["TableName"], "plain")]
    except (ValueError, TypeError, KeyError, AttributeError):
        pass
    return []


def _item_count(body: bytes) -> int:
    """Items a multi-item DynamoDB request addresses (0 if it cannot be read)."""
    try:
        request = json.loads(body or b"{}")
        if "TransactItems" in request:
            return len(request["TransactItems"])
        return sum(
            len(spec["Keys"]) if isinstance(spec, dict) else len(spec)
            for spec in request.get("RequestItems", {}).values()
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return 0


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


class SerializedApp:
    """WSGI wrapper running each request under one lock and counting (service, operation)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.faults = FaultInjector()
        self._total = 0
        self._counts: dict[str, int] = {}
        self._items: dict[str, int] = {}  # items in multi-item DynamoDB calls (bench/cost.py)
        self._table_writes: dict[str, dict[str, int]] = {}  # table -> {"tx"|"plain": items}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_orderhub/"):
            return self._control(
                path, environ.get("REQUEST_METHOD", "GET"), start_response, _read_body(environ)
            )
        long_poll = _long_poll(environ)
        if long_poll is not None:
            return self._long_poll(environ, start_response, *long_poll)
        return self._serialized(environ, start_response)

    def _long_poll(
        self, environ: dict[str, Any], start_response: StartResponse, wait: float, body: bytes
    ) -> list[bytes]:
        """Answer an SQS long poll without holding the lock while it waits.

        moto implements WaitTimeSeconds by waiting inside the request, which under our lock
        would stall every other client (including the sender of the message it waits for).
        Instead: immediate receives under the lock, with short sleeps outside it, until a
        message arrives or the wait is over. Counted as one request, as AWS would bill it.
        """
        deadline = time.monotonic() + wait
        counted = False
        captured: list[Any] = []

        def capture(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            captured[:] = [status, headers, exc_info]
            return lambda data: None

        while True:
            attempt = dict(environ, CONTENT_LENGTH=str(len(body)))
            attempt["wsgi.input"] = io.BytesIO(body)
            payload = b"".join(self._serialized(attempt, capture, count=not counted))
            counted = True
            if not captured[0].startswith("200") or time.monotonic() >= deadline:
                break
            try:
                if json.loads(payload or b"{}").get("Messages"):
                    break
            except ValueError:
                break
            time.sleep(LONG_POLL_INTERVAL)
        start_response(*captured)
        return [payload]

    def _serialized(
        self, environ: dict[str, Any], start_response: StartResponse, count: bool = True
    ) -> list[bytes]:
        with self.lock:
            key = classify_request(environ)
            if count:
                self._counts[key] = self._counts.get(key, 0) + 1
                self._total += 1
                if key in _MULTI_ITEM:
                    items = _item_count(_read_body(environ))
                    self._items[key] = self._items.get(key, 0) + items
                if key in _WRITES or key in _MULTI_ITEM:
                    for table, kind in _written_tables(key, _read_body(environ)):
                        by_kind = self._table_writes.setdefault(table.rsplit("/", 1)[-1], {})
                        by_kind[kind] = by_kind.get(kind, 0) + 1
            injected = self.faults.fault(key, _read_body(environ)) if self.faults.rate else None
            if injected is not None:
                return _json_response(start_response, injected[0], injected[1])
            result = self.app(environ, start_response)
            # Materialize inside the lock: a lazy body may still read backend state.
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return [body]

    def counts(self) -> dict[str, Any]:
        """Return {"total": n, "by_operation": {"service.Op": n, ...}}, and "items" (items
        in TransactWriteItems, BatchGetItem, ... by operation) and "table_writes" (items
        written per table, {"tx": n, "plain": n}) once there are any."""
        with self.lock:
            counts: dict[str, Any] = {
                "total": self._total,
                "by_operation": dict(sorted(self._counts.items())),
            }
            if self._items:
                counts["items"] = dict(sorted(self._items.items()))
            if self._table_writes:
                counts["table_writes"] = {t: dict(k) for t, k in sorted(self._table_writes.items())}
            return counts

    def reset_counts(self) -> None:
        """Zero all request counts."""
        with self.lock:
            self._total = 0
            self._counts.clear()
            self._items.clear()
            self._table_writes.clear()

    def _control(
        self, path: str, method: str, start_response: StartResponse, body: bytes = b""
    ) -> list[bytes]:
        if path == FAULTS_PATH:
            if method == "POST":
                settings = json.loads(body or b"{}")
                with self.lock:
                    self.faults.configure(
                        float(settings.get("rate", 0)), int(settings.get("seed", 0))
                    )
            with self.lock:
                return _json_response(start_response, "200 OK", self.faults.status())
        if path == CONTROL_PATH and method == "GET":
            return _json_response(start_response, "200 OK", self.counts())
        if path == CONTROL_RESET_PATH and method == "POST":
            self.reset_counts()
            return _json_response(start_response, "200 OK", {"total": 0, "by_operation": {}})
        if path in (CONTROL_PATH, CONTROL_RESET_PATH):
            return _json_response(start_response, "405 Method Not Allowed", {"error": method})
        return _json_response(start_response, "404 Not Found", {"error": path})


def _json_response(start_response: StartResponse, status: str, payload: Any) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


# --------------------------------------------------------------------------- server


class Emulator:
    """moto server (patched, serialized) on a background thread. Use as a context manager."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, groups: Mapping[str, str] | None = None
    ) -> None:
        self.host = host
        self._requested_port = port
        self.groups = dict(groups or {})  # {group: URL} served elsewhere (emulator_groups.py)
        self.app: SerializedApp | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Patch moto, bind the port (errors raise here) and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("emulator already started")
        patch_moto()
        from local.alarm_actions import patch_local_aws

        patch_local_aws()  # alarm actions to SNS, SMS to the local phone (moto does neither)
        # Per-request access logs would drown test output; errors still get through.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # Same app and handler as moto's ThreadedMotoServer, wrapped in the lock.
        self.app = SerializedApp(DomainDispatcherApplication(create_backend_app))
        served: WSGIApp = self.app
        if self.groups:
            from local.emulator_groups import GroupFront

            served = GroupFront(self.app, self.groups)  # forwards the other groups' requests
        try:
            self._server = make_server(
                self.host,
                self._requested_port,
                served,
                threaded=True,
                request_handler=KeepAliveRequestHandler,  # local/keep_alive.py
            )
        except SystemExit as exc:
            # werkzeug prints the reason and calls sys.exit() on bind errors; a library
            # caller (a test fixture) should get an exception it can handle instead.
            raise OSError(f"cannot listen on {self.host}:{self._requested_port}") from exc
        self._thread = threading.Thread(
            # A short poll interval makes stop() return in ~50 ms instead of ~500 ms.
            target=functools.partial(self._server.serve_forever, poll_interval=0.05),
            name=f"emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0)."""
        if self._server is None:
            raise RuntimeError("emulator not started")
        return int(self._server.server_port)

    @property
    def endpoint_url(self) -> str:
        """Base URL for boto3's ``endpoint_url``."""
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> None:
    """Run the emulator in the foreground until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m local.emulator", description="OrderHub local AWS emulator (moto)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000, help="0 picks a free port")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument(
        "--split",
        action="store_true",
        help="one more process (own lock) per service group; this one serves the rest",
    )
    parser.add_argument("--group", default="", help="the group a --split child serves (a label)")
    args = parser.parse_args(argv)

    set_fake_aws_env(os.environ, args.region)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Installed before start so an early Ctrl-C ends cleanly instead of with a traceback.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    from local.emulator_groups import GroupProcesses

    groups = GroupProcesses(args.host if args.host != "0.0.0.0" else "127.0.0.1")
    emulator: Emulator | None = None
    try:
        try:
            urls = groups.start() if args.split else {}
            emulator = Emulator(args.host, args.port, urls).start()
        except OSError as exc:  # e.g. port in use: a message, not a traceback
            sys.exit(f"emulator: {exc}")
        print(f"emulator listening on {emulator.endpoint_url}", flush=True)
        for name, url in urls.items():
            print(f"emulator group {name} on {url}", flush=True)
        # Short waits keep the main thread responsive to signals on every platform.
        while not stop.wait(0.5):
            if groups.dead():
                sys.exit(f"emulator: group process exited: {', '.join(groups.dead())}")
    finally:
        if emulator is not None:
            emulator.stop()
        groups.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
