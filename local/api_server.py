"""`chalice local`, answering what API Gateway answers before the app is reached as the deployed
API does: with the gateway responses of infra/resources.json (an unknown route is API
Gateway's MISSING_AUTHENTICATION_TOKEN; OrderHub's template turns it into a 404 in the
`{"error", "message"}` shape, and so does this server).

Run by local/stack.py as `python -m local.api_server local --stage local --port ...`: the same
Chalice app and `chalice local` server, with only that answer replaced.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from chalice import local as chalice_local
from chalice.cli import main as chalice_main

from chalicelib.domain.scrub import scrub_free_text
from local.provision import load_template

UNKNOWN_ROUTE = "MISSING_AUTHENTICATION_TOKEN"
UNMATCHED = (b"Missing Authentication Token", b"Authorization header requires")


def gateway_responses(template: Mapping[str, Any]) -> dict[str, tuple[int, str]]:
    """Each gateway response type of the template that sets a status: (status code,
    application/json template)."""
    found: dict[str, tuple[int, str]] = {}
    for res in template.get("Resources", {}).values():
        props = res.get("Properties", {})
        if res.get("Type") != "AWS::ApiGateway::GatewayResponse" or "StatusCode" not in props:
            continue
        templates = props.get("ResponseTemplates", {})
        found[props["ResponseType"]] = (
            int(props["StatusCode"]),
            str(templates.get("application/json", "")),
        )
    return found


def render(body_template: str, method: str, path: str) -> bytes:
    """The template with the request's `$context` values API Gateway fills in."""
    safe = {k: json.dumps(v)[1:-1] for k, v in {"method": method, "path": path}.items()}
    return (
        body_template.replace("$context.httpMethod", safe["method"])
        .replace("$context.path", safe["path"])
        .encode()
    )


class RouteNotFound(chalice_local.LocalGatewayException):
    def __init__(self, code: int, body: bytes) -> None:
        super().__init__({"Content-Type": "application/json"}, body)
        self.CODE = code


def gateway_class(answer: tuple[int, str]) -> type[chalice_local.LocalGateway]:
    code, body_template = answer

    class OrderHubGateway(chalice_local.LocalGateway):
        def handle_request(self, method: str, path: str, headers: Any, body: bytes | None) -> Any:
            try:
                return super().handle_request(method, path, headers, body)
            except chalice_local.ForbiddenError as exc:
                # chalice local's two answers for a path no route matches (with and without an
                # Authorization header)
                if not any(text in (exc.body or b"") for text in UNMATCHED):
                    raise
                raise RouteNotFound(code, render(body_template, method, path)) from exc

    return OrderHubGateway


def scrubbed_log_message(handler: Any, format: str, *args: Any) -> None:
    """chalice local's access log line, with phones, ID numbers and emails in its query
    string (a reason) replaced as everywhere else (domain/scrub.py)."""
    line = format % args
    path, mark, rest = line.partition("?")
    if mark:  # only the query string: paths hold order ids, which must stay readable
        query, space, tail = rest.partition(" ")
        line = f"{path}?{scrub_free_text(unquote_plus(query))}{space}{tail}"
    sys.stderr.write(f"{handler.address_string()} - - [{handler.log_date_time_string()}] {line}\n")


def main(argv: list[str]) -> int:
    chalice_local.ChaliceRequestHandler.log_message = scrubbed_log_message
    answer = gateway_responses(load_template()).get(UNKNOWN_ROUTE)
    if answer is not None:
        chalice_local.LocalGateway = gateway_class(answer)  # type: ignore[misc]
    sys.argv = ["chalice", *argv]
    return int(chalice_main() or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
