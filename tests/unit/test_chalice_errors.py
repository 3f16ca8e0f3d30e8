"""Chalice's own answers (wrong method, wrong content type) in OrderHub's {error, message} shape,
through the real app and middleware; and the local log format (one readable line per record)."""

from __future__ import annotations

import json
import logging

from chalicelib.observability import TextFormatter
from tests.unit.test_http_api import KEY

AUTH = {"Authorization": f"Bearer {KEY}"}


def test_wrong_method_is_405_naming_the_allowed_ones(client, deps):
    response = client.http.request("DELETE", "/inventory/SKU-A", headers=AUTH)
    assert response.status_code == 405
    body = response.json_body
    assert body["error"] == "method_not_allowed"
    assert "DELETE" in body["message"] and "GET" in body["message"]
    assert set(body) == {"error", "message"}
    assert response.headers.get("Allow") == "GET"


def test_form_encoded_body_is_415_saying_which_header_to_send(client, deps):
    response = client.http.post(
        "/inventory/SKU-A/adjustments",
        headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"},
        body=b"x=1",
    )
    assert response.status_code == 415
    assert response.json_body["error"] == "unsupported_media_type"
    assert "Content-Type: application/json" in response.json_body["message"]
    assert "x-www-form-urlencoded" in response.json_body["message"]


def test_views_own_errors_are_left_as_they_are(client, deps):
    response = client.http.get("/inventory/NOPE", headers=AUTH)
    assert response.status_code == 404 and response.json_body["error"] == "not_found"


def test_text_log_line_has_time_level_message_and_the_records_keys():
    formatter = TextFormatter()
    record = logging.LogRecord("orderhub", logging.INFO, "x.py", 1, "webhook accepted", (), None)
    record.platform = "mall"
    line = formatter.format(record)
    assert "\n" not in line and not line.startswith("{")
    assert "INFO" in line and "webhook accepted" in line and "platform=mall" in line
    assert "service=" not in line
    json.dumps(line)  # plain text, one line
