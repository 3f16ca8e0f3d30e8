"""The emulator's HTTP handler, keeping connections open between requests.

werkzeug's development server ends every response with ``Connection: close`` ("They aren't
handled well by Python's http.server because it doesn't know how to drain the stream before
the next request line"), so every AWS call of every client opened a new TCP connection and
the server started a new thread for it: under the drive bench that set-up and tear-down was
a large share of the emulator's DynamoDB process and of each client's time per call.

Here the handler drains the request body itself before the application sees it (the whole
``Content-Length`` is read into memory, which the emulator's wrappers did anyway), so the
next request line is where http.server expects it, and the ``Connection: close`` header is
left out: HTTP/1.1 clients (botocore, requests) then reuse their connection. werkzeug also
discards whatever the socket holds after each response (safe only when it closes); during
that step the handler's input reads as empty, so a next request already sent on the same
connection is left for http.server to read. A request
whose length is not known up front (``Transfer-Encoding: chunked``) still closes its
connection, as before, and a client that asks to close gets that.
"""

from __future__ import annotations

import io
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler


class _Drained:
    """The request stream once its body was read: werkzeug's after-response discard finds
    nothing here (the next request, if sent already, stays in the real stream)."""

    def read(self, *_: Any) -> bytes:
        return b""

    def close(self) -> None:
        pass


class KeepAliveRequestHandler(MotoRequestHandler):
    """moto's request handler with HTTP/1.1 keep-alive for requests of known length."""

    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: with Nagle on, the body waits for the client's
    # delayed ACK of the headers (~40 ms) once the connection is not closed after them
    disable_nagle_algorithm = True
    _keep_open = False
    _stream: Any = None  # the real request stream while `rfile` reads as drained

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        length = self.headers.get("Content-Length")
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        self._keep_open = not chunked and (length is None or length.strip().isdigit())
        if self._keep_open:
            body = self.rfile.read(int(length)) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body)) if length else ""
            self._stream, self.rfile = self.rfile, _Drained()  # type: ignore[assignment]
        return environ

    def send_header(self, keyword: str, value: str) -> None:
        if self._keep_open and keyword.lower() == "connection" and value.lower() == "close":
            return  # the body was drained: the connection can serve the next request
        super().send_header(keyword, value)

    def handle_one_request(self) -> None:
        self._keep_open = False  # until make_environ has drained this request's body
        try:
            super().handle_one_request()
        finally:
            if self._stream is not None:  # the next request line is read from the real one
                self.rfile, self._stream = self._stream, None
