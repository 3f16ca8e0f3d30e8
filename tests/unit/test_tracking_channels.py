"""The tracking aggregators' callbacks: 快递100's `sign` = MD5(param + salt) and AfterShip's
`aftership-hmac-sha256`, checked against vectors; their payloads read into tracks with UTC
times, scrubbed texts and our states."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from chalicelib.channels.tracking_aftership import (
    parse_aftership,
    sign_aftership,
    verify_aftership,
)
from chalicelib.channels.tracking_kuaidi100 import (
    parse_kuaidi100,
    sign_kuaidi100,
    subscribe_form,
    verify_kuaidi100,
)
from chalicelib.domain.errors import InvalidPayload, InvalidSignature
from chalicelib.domain.scrub import scrub_personal_data
from chalicelib.domain.tracking import DELIVERED, EXCEPTION, IN_TRANSIT, parse_tracking
from tests.conftest import FIXTURES, fixture_json

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
K100 = fixture_json("kuaidi100/signature_vector_derived.json")
AS_VECTOR = fixture_json("aftership/signature_vector_derived.json")
AS_BODY = (FIXTURES / "aftership/tracking_update_rendered.json").read_bytes()


def k100_body(param: str, sign: str) -> bytes:
    return urlencode({"sign": sign, "param": param}).encode()


def test_kuaidi100_sign_matches_the_vector():
    assert sign_kuaidi100(K100["param"], K100["salt"]) == K100["sign"]


def test_kuaidi100_push_verifies_and_reads_the_whole_track_oldest_first():
    param = verify_kuaidi100(k100_body(K100["param"], K100["sign"]), [K100["salt"]])
    update = parse_kuaidi100(param, NOW)
    assert (update.provider, update.carrier, update.number) == (
        "kuaidi100",
        "yuantong",
        "YT9693083639795",
    )
    assert update.state == IN_TRANSIT
    # Beijing wall-clock 2021-06-14 12:13:56 is 04:13:56 UTC; the push lists newest first
    assert [c.at.isoformat() for c in update.checkpoints] == [
        "2021-06-12T10:30:02+00:00",
        "2021-06-12T12:01:10+00:00",
        "2021-06-14T04:13:56+00:00",
    ]
    # the courier's phone number never reaches OrderHub's tables
    assert "13800138000" not in json.dumps(update.to_dict(), ensure_ascii=False)
    assert "[phone]" in update.checkpoints[1].text
    assert update.event_key.startswith("track#kuaidi100#yuantong#YT9693083639795#2021-06-14T04")


@pytest.mark.parametrize(
    ("sign", "salts"),
    [("0" * 32, [K100["salt"]]), (K100["sign"], ["another-salt"]), ("", [K100["salt"]])],
)
def test_kuaidi100_push_with_a_wrong_or_missing_sign_is_refused(sign, salts):
    with pytest.raises(InvalidSignature):
        verify_kuaidi100(k100_body(K100["param"], sign), salts)


def test_kuaidi100_push_verifies_with_the_previous_salt_during_a_rotation():
    assert verify_kuaidi100(k100_body(K100["param"], K100["sign"]), ["new", K100["salt"]])


def test_kuaidi100_signed_check_and_abort_states():
    param = json.loads(K100["param"])
    param["lastResult"]["ischeck"] = "1"
    param["lastResult"]["state"] = "3"
    assert parse_kuaidi100(json.dumps(param), NOW).state == DELIVERED
    param["lastResult"]["ischeck"], param["lastResult"]["state"] = "0", "0"
    param["status"], param["message"] = "abort", "60天无变化"
    aborted = parse_kuaidi100(json.dumps(param), NOW)
    assert aborted.state == EXCEPTION
    assert aborted.provider_status.startswith("abort")


def test_kuaidi100_payload_errors_name_the_field():
    with pytest.raises(InvalidPayload, match="lastResult"):
        parse_kuaidi100(json.dumps({"status": "polling"}), NOW)
    with pytest.raises(InvalidPayload, match="param"):
        verify_kuaidi100(b"sign=ABC", ["s"])


def test_kuaidi100_subscription_asks_for_signed_pushes_to_our_callback():
    form = subscribe_form("yuantong", "YT1", "KEY", "https://api/tracking/kuaidi100/callback", "s")
    param = json.loads(form["param"])
    assert form["schema"] == "json"
    assert param["parameters"]["salt"] == "s"
    assert param["parameters"]["callbackurl"].endswith("/tracking/kuaidi100/callback")


def test_aftership_signature_matches_the_vector_and_reads_the_tracking():
    assert sign_aftership(AS_VECTOR["secret"], AS_BODY) == AS_VECTOR["signature"]
    verify_aftership(AS_BODY, AS_VECTOR["signature"], [AS_VECTOR["secret"]])
    update = parse_aftership(AS_BODY, NOW)
    assert update is not None
    assert (update.carrier, update.number, update.state) == (
        "ups",
        "1Z9999999999999998",
        IN_TRANSIT,
    )
    assert update.last_at == datetime(2024, 5, 2, 5, 40, tzinfo=UTC)


def test_aftership_tampered_or_unsigned_bodies_are_refused():
    with pytest.raises(InvalidSignature):
        verify_aftership(AS_BODY.replace(b"Columbus", b"Dayton"), AS_VECTOR["signature"], ["x"])
    with pytest.raises(InvalidSignature):
        verify_aftership(AS_BODY, "", [AS_VECTOR["secret"]])


def test_aftership_events_other_than_tracking_updates_carry_no_track():
    assert parse_aftership(json.dumps({"event": "other"}).encode(), NOW) is None


def test_outbound_confirmation_tracking_field_is_checked():
    assert parse_tracking({}) is None
    assert parse_tracking({"tracking": {"carrier": "YuanTong", "number": "yt1234"}}) == (
        "yuantong",
        "YT1234",
        "",
    )
    with pytest.raises(InvalidPayload, match=r"tracking\.number"):
        parse_tracking({"tracking": {"carrier": "ups", "number": "x"}})
    with pytest.raises(InvalidPayload, match=r"tracking\.provider"):
        parse_tracking({"tracking": {"carrier": "ups", "number": "1Z99", "provider": "dhl"}})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call 13812345678", "call [phone]"),
        ("+86 138-1234-5678 please", "[phone] please"),
        ("id 11010519491231002X", "id [id number]"),
        ("mail li.lei@example.cn now", "mail [email] now"),
        ("landline 0755-86719032", "landline [number]"),
        ("parcel YT9693083639795 stuck", "parcel YT9693083639795 stuck"),
        ("order o-42 refunded 12.50", "order o-42 refunded 12.50"),
    ],
)
def test_scrub_personal_data_masks_contacts_and_keeps_ids(text, expected):
    assert scrub_personal_data(text) == expected


def test_kuaidi100_documented_push_example_reads_as_a_moving_track():
    param = (FIXTURES / "kuaidi100/push_param_doc_example.json").read_text(encoding="utf-8")
    update = parse_kuaidi100(param, NOW)
    assert (update.carrier, update.number, update.state) == ("yuantong", "V030344422", IN_TRANSIT)
    # Beijing wall-clock text, newest first in the push: oldest first here, in UTC
    assert [(c.at.isoformat(), c.text) for c in update.checkpoints] == [
        ("2012-08-27T15:22:42+00:00", "上海分拨中心/下车扫描 "),
        ("2012-08-28T08:33:19+00:00", "上海分拨中心/装件入车扫描 "),
    ]
    body = urlencode({"sign": sign_kuaidi100(param, "s"), "param": param}).encode()
    assert verify_kuaidi100(body, ["s"]) == param  # the param is verified exactly as sent
