"""Issue 12, item 4: reasons and notes lose phone numbers, Chinese ID numbers and emails before
they are stored (the audit log keeps them 400 days) or logged."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.domain.audit import new_entry
from chalicelib.domain.principal import Principal
from chalicelib.domain.scrub import scrub_free_text, scrub_free_text_fields
from tests.unit.test_http_api import KEY

AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("buyer 13812345678 called", "buyer [phone] called"),
        ("buyer 138 1234 5678 called", "buyer [phone] called"),
        ("call +86-138-1234-5678 now", "call [phone] now"),
        ("office (021) 6123 4567", "office [number]"),
        ("landline 0755-86719032", "landline [number]"),
        ("parcel YT9693083639795 stuck", "parcel YT9693083639795 stuck"),
        ("id 11010519491231002X on the label", "id [id number] on the label"),
        ("id 110105491231002 (old form)", "id [id number] (old form)"),
        ("mail li.lei+shop@example.com.cn please", "mail [email] please"),
        ("delivered 2026-11-25 10:00, 3 boxes", "delivered 2026-11-25 10:00, 3 boxes"),
        ("PO 7, SKU-A x 12", "PO 7, SKU-A x 12"),
    ],
)
def test_scrub_free_text(text, expected):
    assert scrub_free_text(text) == expected


def test_only_free_text_fields_are_scrubbed_ids_beside_them_stay():
    found = scrub_free_text_fields(
        {"reason": "ring 13812345678", "order_id": "13812345678", "lines": [{"note": "a@b.cn"}]}
    )
    assert found == {
        "reason": "ring [phone]",
        "order_id": "13812345678",
        "lines": [{"note": "[email]"}],
    }


def test_every_audit_entry_keeps_its_reasons_scrubbed():
    entry = new_entry(
        Principal("k", "alice", "cs"),
        "personal_data.decrypt",
        "order/x",
        datetime(2026, 12, 1, tzinfo=UTC),
        after={"reason": "buyer 13812345678 asked, id 11010519491231002X"},
    )
    assert entry.after == {"reason": "buyer [phone] asked, id [id number]"}


def test_a_revocation_reason_with_a_phone_is_stored_and_audited_scrubbed(client, deps, capsys):
    from chalicelib.domain.api_keys import issue_key

    deps.api_keys.save_key(issue_key("bob", "cs", deps.now(), key_id="key_bob").key)
    response = client.http.post(
        "/admin/api-keys/key_bob/revoke",
        headers=AUTH,
        body=json.dumps({"reason": "bob left; reach him on 13812345678"}),
    )
    assert response.status_code == 200, response.body
    assert "13812345678" not in response.body.decode()
    (entry,) = [e for e in deps.audit_log.entries.values() if e.action == "api_key.revoke"]
    assert "13812345678" not in json.dumps(entry.to_dict())
    assert "13812345678" not in capsys.readouterr().out


def test_a_refusal_quoting_the_caller_is_logged_scrubbed(client, deps, capsys):
    response = client.http.get("/admin/audit?from=13812345678", headers=AUTH)
    assert response.status_code == 400
    assert "13812345678" not in capsys.readouterr().out


def test_the_local_access_log_scrubs_query_strings_only(capsys):
    from local.api_server import scrubbed_log_message

    class Handler:
        def address_string(self):
            return "127.0.0.1"

        def log_date_time_string(self):
            return "07/Dec/2026 10:00:00"

    request = "GET /orders/shopify/s/820982911946154508/timeline?reason=call+13812345678 HTTP/1.1"
    scrubbed_log_message(Handler(), '"%s" %s %s', request, "200", "-")
    logged = capsys.readouterr().err
    assert "13812345678" not in logged and "reason=call [phone]" in logged
    assert "820982911946154508" in logged  # the path is left alone
