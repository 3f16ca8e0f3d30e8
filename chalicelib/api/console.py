"""The browser console: one page at GET /console and its static assets, served by the same
Chalice app locally and in AWS (no CDN, no build step: plain ES modules in
chalicelib/console/).

Both routes are public: a `<script src>` cannot carry a bearer header, and they hold no data;
every screen reads through the JSON API with the key the person signs in with (kept in
sessionStorage, sent as `Authorization: Bearer`). Assets come from a fixed allow-list of
files of chalicelib/console/ (no path from the request ever reaches the file system), text
types only. Every answer carries a strict Content-Security-Policy: scripts, styles and
requests only from OrderHub's own origin, no inline script or style, no frames.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.http import json_response

bp = Blueprint(__name__)

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@functools.cache
def assets() -> dict[str, tuple[str, str]]:
    """name -> (content type, text): every file of the console folder with a known type,
    read once per process (on first request, not at import)."""
    found = {}
    for path in sorted(CONSOLE_DIR.iterdir()):
        kind = TYPES.get(path.suffix)
        if kind and path.is_file():
            found[path.name] = (kind, path.read_text(encoding="utf-8"))
    return found


@functools.cache
def page() -> str:
    return (CONSOLE_DIR / "index.html").read_text(encoding="utf-8")


@bp.route("/console", methods=["GET"])
def handle_console() -> Any:
    return Response(
        body=page(),
        status_code=200,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": "no-cache",
            **SECURITY_HEADERS,
        },
    )


@bp.route("/console/assets/{name}", methods=["GET"])
def handle_console_asset(name: str) -> Any:
    found = assets().get(name)
    if found is None:
        return json_response(
            {"error": "not_found", "message": f"the console has no asset '{name[:80]}'"},
            404,
            SECURITY_HEADERS,
        )
    kind, text = found
    return Response(
        body=text,
        status_code=200,
        headers={"Content-Type": kind, "Cache-Control": "no-cache", **SECURITY_HEADERS},
    )
