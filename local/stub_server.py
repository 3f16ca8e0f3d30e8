"""What the local stub servers share: JSON answers over a stdlib ThreadingHTTPServer, served
from a background thread on loopback, on a default port or a free one when it is taken."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, TypeVar

log = logging.getLogger("orderhub.local.stub")


class JsonHandler(BaseHTTPRequestHandler):
    """A request handler answering JSON; request logs go to debug, not stderr."""

    json_default: Callable[[Any], Any] | None = None  # for values json cannot encode itself

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)

    def _answer(self, status: int, body: Any) -> None:
        data = (
            b""
            if status == 204
            else json.dumps(body, ensure_ascii=False, default=self.json_default).encode("utf-8")
        )
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _raw(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _json_body(self) -> Any:
        raw = self._raw()
        return json.loads(raw) if raw else {}


class BackgroundServer:
    """A stub server served from a daemon thread; its `url` is on loopback."""

    def __init__(self, server: ThreadingHTTPServer, name: str) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},  # how long stop() may wait
            name=name,
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


S = TypeVar("S", bound=BackgroundServer)


def start_on_port(port_setting: str | None, default: int, make: Callable[[int], S], what: str) -> S:
    """Start on the configured port if given (taken: an error); else on `default`, or on a
    free port when that is taken (a second stack, e.g. the benchmark's own, must not fail)."""
    if port_setting:
        return make(int(port_setting)).start()
    try:
        return make(default).start()
    except OSError:
        stub = make(0).start()
        log.warning("port %s is taken: %s listens on %s", default, what, stub.url)
        return stub
