"""The emulator split by service group: one moto process (and one lock) per group.

moto is not atomic under concurrency, so every emulator process serializes its requests
(local/emulator.py, SerializedApp). One process for all of AWS made that one lock the
stack's ceiling: a DynamoDB Query held up every SendMessage, KMS and S3 call. Split:

- ``dynamodb``: DynamoDB and DynamoDB Streams;
- ``sqs``: SQS, and the services moto delivers into SQS *in process* (SNS subscriptions,
  EventBridge targets, CloudWatch alarm actions to SNS), which must share its backend;
- ``s3`` and ``kms``, alone;
- the rest (Secrets Manager, SES, Logs, STS, ...) in the main process, on the stack's AWS
  port (ORDERHUB_AWS). It is also the *front*: a request it gets for another group is
  forwarded there, so ``aws --endpoint-url "$ORDERHUB_AWS" sqs ...`` and
  ``$ORDERHUB_AWS/moto-api/data.json`` keep working; ``/moto-api/reset`` and the
  ``/_orderhub/`` controls (request counts, faults) cover every group.

Clients go to their group directly through botocore's per-service endpoint variables
(:data:`ENDPOINT_VARIABLES`, e.g. ``AWS_ENDPOINT_URL_DYNAMODB``), which win over
``AWS_ENDPOINT_URL`` (the main process). Each group keeps moto's semantics: within a group
every call is still atomic; calls to different groups never were atomic together in AWS
either.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = [
    "ENDPOINTS_PATH",
    "ENDPOINT_VARIABLES",
    "GROUPS",
    "SERVICES",
    "GroupFront",
    "GroupProcesses",
    "endpoint_for",
    "endpoint_variables",
    "fetch_endpoints",
    "group_of",
]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# boto3/moto service name -> (group, SigV4 signing name, botocore's endpoint variable)
SERVICES: dict[str, tuple[str, str, str]] = {
    "dynamodb": ("dynamodb", "dynamodb", "AWS_ENDPOINT_URL_DYNAMODB"),
    "dynamodbstreams": ("dynamodb", "dynamodb", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"),
    "sqs": ("sqs", "sqs", "AWS_ENDPOINT_URL_SQS"),
    "sns": ("sqs", "sns", "AWS_ENDPOINT_URL_SNS"),
    "events": ("sqs", "events", "AWS_ENDPOINT_URL_EVENTBRIDGE"),
    "cloudwatch": ("sqs", "monitoring", "AWS_ENDPOINT_URL_CLOUDWATCH"),
    "s3": ("s3", "s3", "AWS_ENDPOINT_URL_S3"),
    "kms": ("kms", "kms", "AWS_ENDPOINT_URL_KMS"),
}
GROUPS: dict[str, tuple[str, ...]] = {
    group: tuple(name for name, spec in SERVICES.items() if spec[0] == group)
    for group in dict.fromkeys(spec[0] for spec in SERVICES.values())
}
ENDPOINT_VARIABLES: dict[str, str] = {spec[2]: spec[0] for spec in SERVICES.values()}
# unsigned JSON-protocol requests: X-Amz-Target's prefix -> group
_TARGETS = {
    "DynamoDB_20120810": "dynamodb",
    "DynamoDBStreams_20120810": "dynamodb",
    "AmazonSQS": "sqs",
    "AWSEvents": "sqs",
    "GraniteServiceVersion20100801": "sqs",
    "TrentService": "kms",
}
ENDPOINTS_PATH = "/_orderhub/endpoints"
_BY_SIGNING_NAME = {spec[1]: spec[0] for spec in SERVICES.values()}
_SCOPE_RE = re.compile(r"Credential=[^/,\s]*/[^/]*/[^/]*/([^/]+)/aws4_request")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}
FORWARD_TIMEOUT = 120.0  # seconds; an SQS long poll waits up to 20


def group_of(environ: Mapping[str, Any]) -> str | None:
    """The group serving this request, or None for the main process (the rest of AWS)."""
    scope = _SCOPE_RE.search(environ.get("HTTP_AUTHORIZATION", "")) or _SCOPE_RE.search(
        urllib.parse.unquote(environ.get("QUERY_STRING", ""))  # presigned URLs
    )
    if scope:
        return _BY_SIGNING_NAME.get(scope.group(1))
    return _TARGETS.get(environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[0])


def endpoint_variables(groups: Mapping[str, str]) -> dict[str, str]:
    """The per-service endpoint variables pointing clients at each group's URL."""
    return {name: groups[group] for name, group in ENDPOINT_VARIABLES.items() if group in groups}


def endpoint_for(service: str, environment: Mapping[str, str], default: str) -> str:
    """The URL a client of ``service`` (boto3's name: "sqs", "dynamodb") should use: its
    group's, from the stack's environment (the state file's), else ``default``."""
    spec = SERVICES.get(service)
    return (environment.get(spec[2]) if spec else None) or default


def fetch_endpoints(aws_url: str, timeout: float = 10.0) -> dict[str, str]:
    """{group: URL} of a running split emulator ({} for a single-process one)."""
    try:
        with urllib.request.urlopen(aws_url + ENDPOINTS_PATH, timeout=timeout) as response:
            return dict(json.loads(response.read())["groups"])
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return {}
        raise


# --------------------------------------------------------------------------- processes


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(OSError):  # not Linux: children then outlive a killed parent
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class GroupProcesses:
    """One ``python -m local.emulator --group NAME`` process per group, on free ports."""

    def __init__(self, host: str = "127.0.0.1", groups: Iterable[str] = GROUPS) -> None:
        self.host = host
        self.names = list(groups)
        self.urls: dict[str, str] = {}
        self.children: list[subprocess.Popen[str]] = []

    def start(self, timeout: float = 60.0) -> dict[str, str]:
        """Start every group (in parallel) and return {group: URL} once all listen."""
        for name in self.names:
            command = [sys.executable, "-m", "local.emulator", "--host", self.host, "--port", "0"]
            self.children.append(
                subprocess.Popen(
                    [*command, "--group", name],
                    stdout=subprocess.PIPE,
                    text=True,
                    env=dict(os.environ),
                    preexec_fn=_die_with_parent,
                )
            )
        for name, child in zip(self.names, self.children, strict=True):
            assert child.stdout is not None
            line = _first_line(child, timeout)
            if not line.startswith("emulator listening on "):
                self.stop()
                raise OSError(f"emulator group {name} did not start ({line.strip()!r})")
            self.urls[name] = line.split()[-1]
            threading.Thread(  # keep draining: a full pipe would block the child
                target=_drain, args=(child,), name=f"emulator-{name}-out", daemon=True
            ).start()
        return dict(self.urls)

    def stop(self) -> None:
        stop_processes(self.children)
        self.children.clear()

    def dead(self) -> list[str]:
        """Groups whose process has exited."""
        return [n for n, c in zip(self.names, self.children, strict=False) if c.poll() is not None]


def _first_line(child: subprocess.Popen[str], timeout: float) -> str:
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(child.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


def _drain(child: subprocess.Popen[str]) -> None:
    assert child.stdout is not None
    for line in child.stdout:
        sys.stdout.write(line)


# --------------------------------------------------------------------------- the front


class GroupFront:
    """WSGI app of the main process: forwards other groups' requests, serves the rest with
    ``local`` (a SerializedApp), and answers the controls for all groups together."""

    def __init__(self, local: Any, groups: Mapping[str, str]) -> None:
        self.local = local
        self.groups = dict(groups)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == ENDPOINTS_PATH:
            body = {"groups": self.groups, "variables": endpoint_variables(self.groups)}
            return _json(start_response, "200 OK", body)
        if path.startswith("/_orderhub/"):
            return self._control(path, method, environ, start_response)
        if path == "/moto-api/reset":
            for url in self.groups.values():
                _call(url, path, "POST")
            return self.local(environ, start_response)
        if path == "/moto-api/data.json":
            return self._data(environ, start_response)
        group = group_of(environ)
        if group in self.groups:
            return _forward(self.groups[group], environ, start_response)
        return self.local(environ, start_response)

    def _control(
        self, path: str, method: str, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """The local answer, with every group's folded in (counts and injected faults summed;
        a POST is sent to every group as well)."""
        body = _read_body(environ)
        answers = [_call(url, path, method, body) for url in self.groups.values()]
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = _bytes_input(body), str(len(body))
        captured: list[Any] = []

        def capture(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            captured[:] = [status, headers]
            return lambda data: None

        own = b"".join(self.local(environ, capture))
        if not captured[0].startswith("200"):
            start_response(*captured)
            return [own]
        merged = json.loads(own)
        for answer in answers:
            _sum_into(merged, answer)
        return _json(start_response, "200 OK", merged)

    def _data(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """moto's state dump: each service's from the process that serves it."""
        captured: list[Any] = []

        def capture(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            captured[:] = [status, headers]
            return lambda data: None

        merged = json.loads(b"".join(self.local(environ, capture)) or b"{}")
        for group, url in self.groups.items():
            theirs = _call(url, "/moto-api/data.json", "GET")
            for service, state in theirs.items():
                if service in GROUPS[group] or service not in merged:
                    merged[service] = state
        return _json(start_response, "200 OK", merged)


def stop_processes(children: Iterable[subprocess.Popen[Any]]) -> None:
    """Terminate child processes, in the order given, and wait for each (killed after 10 s)."""
    children = list(children)
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _sum_into(total: dict[str, Any], other: Mapping[str, Any]) -> None:
    """Add ``other``'s numbers to ``total``'s (nested dicts by key); other values: total's."""
    for key, value in other.items():
        mine = total.get(key)
        if isinstance(value, dict):
            if not isinstance(mine, dict):
                mine = total[key] = {}
            _sum_into(mine, value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if key == "rate":  # the fault rate: the same everywhere, not a count
                total.setdefault(key, value)
            else:
                total[key] = (mine if isinstance(mine, int | float) else 0) + value
        else:
            total.setdefault(key, value)


def _bytes_input(body: bytes) -> Any:
    return io.BytesIO(body)


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        body: bytes = stream.read(length)
    elif environ.get("wsgi.input_terminated"):  # chunked: werkzeug ends the stream for us
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = _bytes_input(body)
    return body


def _call(url: str, path: str, method: str, body: bytes = b"") -> dict[str, Any]:
    request = urllib.request.Request(url + path, data=body or None, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=FORWARD_TIMEOUT) as response:
        raw = response.read()
    try:
        answer = json.loads(raw)
    except ValueError:
        return {}
    return dict(answer) if isinstance(answer, dict) else {}


def _forward(url: str, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    """Send the request as received to ``url`` (another group) and relay its answer."""
    parsed = urllib.parse.urlsplit(url)
    body = _read_body(environ)
    target = urllib.parse.quote(environ.get("PATH_INFO", "/"), safe="/~!$&'()*+,;=:@%")
    if environ.get("QUERY_STRING"):
        target += "?" + environ["QUERY_STRING"]
    headers = {
        key[5:].replace("_", "-").title(): value
        for key, value in environ.items()
        if key.startswith("HTTP_") and key[5:].lower().replace("_", "-") not in _HOP_BY_HOP
    }
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    headers["Content-Length"] = str(len(body))
    method = environ.get("REQUEST_METHOD", "GET")
    connection = http.client.HTTPConnection(
        parsed.hostname or "127.0.0.1", parsed.port, timeout=FORWARD_TIMEOUT
    )
    try:
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        relayed = [
            (name, value)
            for name, value in response.getheaders()
            if name.lower() not in _HOP_BY_HOP
            or (method == "HEAD" and name.lower() == "content-length")
        ]
        if method != "HEAD":
            relayed.append(("Content-Length", str(len(payload))))
        start_response(f"{response.status} {response.reason}", relayed)
    finally:
        connection.close()
    return [payload]


def _json(start_response: StartResponse, status: str, payload: Any) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
