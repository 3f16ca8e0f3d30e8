"""The pull platforms' request signatures, each against a vector.

Every expected value below is DERIVED: computed here, with a separately written string and
hashlib (not with the code under test), from each platform's documented algorithm (sources in
chalicelib/channels/{taobao,pinduoduo,jd}.py). No platform publishes an official vector we
could find; treat these as a cross-check of the algorithm as we read it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.channels.jd import jd_request, search_request, sign_jd
from chalicelib.channels.pinduoduo import increment_request, sign_pdd
from chalicelib.channels.pull import PullCredentials, sorted_concat
from chalicelib.channels.taobao import consume_request, sign_top, top_request
from chalicelib.domain.polling import PlatformCredentialsRejected, Window

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 16:00 in Beijing

TOP_PARAMS = {
    "method": "taobao.tmc.messages.consume",
    "app_key": "12345678",
    "session": "test-session",
    "timestamp": "2026-11-25 16:00:00",
    "format": "json",
    "v": "2.0",
    "group_name": "orderhub",
    "quantity": "100",
}
TOP_SECRET = "helloworld"
# DERIVED: md5("helloworld" + "app_key12345678formatjsongroup_nameorderhubmethodtaobao.tmc.
# messages.consumequantity100sessiontest-sessionsign_methodmd5timestamp2026-11-25 16:00:00v2.0"
# + "helloworld"), upper-case; hmac: HMAC-MD5 / hmac-sha256: HMAC-SHA256, key "helloworld", over
# the same string with sign_method hmac / hmac-sha256, no secret around it.
TOP_VECTORS = {
    "md5": "4409A6972DDADF5D0C574E403AF7A583",
    "hmac": "BCF3EDA55CE1BD76AC1F67A57A8F2B48",
    "hmac-sha256": "90252FA417C7E049F95F8B7AB8E3A40C13B987F4D9E23675971742081E560CDB",
}

PDD_PARAMS = {
    "type": "pdd.order.number.list.increment.get",
    "client_id": "pdd-client-id",
    "access_token": "pdd-token",
    "timestamp": "1795593610",
    "data_type": "JSON",
    "start_updated_at": "1795591800",
    "end_updated_at": "1795593600",
    "is_lucky_flag": "0",
    "order_status": "5",
    "refund_status": "5",
    "page": "1",
    "page_size": "100",
    "use_has_next": "false",
}
PDD_SECRET = "pdd-client-secret"
PDD_VECTOR = "F4E2A09B84816DB2279ABC98C7B88943"  # DERIVED: md5(secret + sorted k+v + secret)

JD_PARAMS = {
    "method": "jingdong.pop.order.search",
    "app_key": "jd-app-key",
    "access_token": "jd-token",
    "timestamp": "2026-11-25 16:31:00",
    "v": "2.0",
    "360buy_param_json": (
        '{"end_date":"2026-11-25 16:30:00","page":"1","start_date":"2026-11-25 16:00:00"}'
    ),
}
JD_SECRET = "jd-app-secret"
JD_VECTOR = "2CB72B2C2793FE53F80AFD0923AE1FCC"  # DERIVED: md5(secret + sorted k+v + secret)


@pytest.mark.parametrize("method", sorted(TOP_VECTORS))
def test_taobao_signature_matches_the_derived_vector(method):
    assert (
        sign_top({**TOP_PARAMS, "sign_method": method}, TOP_SECRET, method) == (TOP_VECTORS[method])
    )


@pytest.mark.parametrize("method", sorted(TOP_VECTORS))
def test_taobao_signature_changes_with_one_byte_of_a_value_or_the_secret(method):
    params = {**TOP_PARAMS, "sign_method": method}
    assert sign_top({**params, "quantity": "101"}, TOP_SECRET, method) != TOP_VECTORS[method]
    assert sign_top(params, TOP_SECRET + "!", method) != TOP_VECTORS[method]
    assert sign_top({**params, "sign": "ignored"}, TOP_SECRET, method) == TOP_VECTORS[method]


def test_taobao_signature_leaves_out_empty_values_as_the_sdk_does():
    params = {**TOP_PARAMS, "sign_method": "md5"}
    assert sign_top({**params, "fields": ""}, TOP_SECRET) == TOP_VECTORS["md5"]


def test_taobao_unknown_sign_method_is_refused():
    with pytest.raises(ValueError, match="sign_method"):
        sign_top(TOP_PARAMS, TOP_SECRET, "sha1")
    credentials = PullCredentials("k", "s", "session", sign_method="sha1")
    with pytest.raises(PlatformCredentialsRejected, match="sign_method"):
        top_request("taobao.tmc.messages.consume", {}, credentials, NOW)


def test_taobao_request_carries_the_common_parameters_and_its_own_sign():
    credentials = PullCredentials("12345678", TOP_SECRET, "test-session", tmc_group="orderhub")
    params = consume_request(credentials, NOW)
    assert params["timestamp"] == "2026-11-25 16:00:00"  # GMT+8
    assert {k: params[k] for k in ("format", "v", "sign_method", "method", "quantity")} == {
        "format": "json",
        "v": "2.0",
        "sign_method": "md5",
        "method": "taobao.tmc.messages.consume",
        "quantity": "100",
    }
    assert params == {**TOP_PARAMS, "sign_method": "md5", "sign": TOP_VECTORS["md5"]}
    no_group = consume_request(PullCredentials("12345678", TOP_SECRET, "test-session"), NOW)
    assert "group_name" not in no_group  # the app's default group


def test_pinduoduo_signature_matches_the_derived_vector_and_changes_with_one_byte():
    assert sign_pdd(PDD_PARAMS, PDD_SECRET) == PDD_VECTOR
    assert sign_pdd({**PDD_PARAMS, "page": "2"}, PDD_SECRET) != PDD_VECTOR
    assert sign_pdd(PDD_PARAMS, PDD_SECRET[:-1] + "T") != PDD_VECTOR
    # pdd-rs signs every non-null parameter: an empty one still adds its name
    assert sign_pdd({**PDD_PARAMS, "trade_type": ""}, PDD_SECRET) != PDD_VECTOR


def test_pinduoduo_increment_request_is_the_vector_request():
    credentials = PullCredentials("pdd-client-id", PDD_SECRET, "pdd-token")
    window = Window(
        datetime.fromtimestamp(1795591800, UTC), datetime.fromtimestamp(1795593600, UTC)
    )
    params = increment_request(window, 1, credentials, datetime.fromtimestamp(1795593610, UTC))
    assert params == {**PDD_PARAMS, "sign": PDD_VECTOR}


def test_pinduoduo_window_over_30_minutes_is_never_sent():
    credentials = PullCredentials("c", "s", "t")
    window = Window(datetime.fromtimestamp(0, UTC), datetime.fromtimestamp(1801, UTC))
    with pytest.raises(ValueError, match="at most 1800"):
        increment_request(window, 1, credentials, NOW)


def test_jd_signature_matches_the_derived_vector_and_changes_with_one_byte():
    assert sign_jd(JD_PARAMS, JD_SECRET) == JD_VECTOR
    business = JD_PARAMS["360buy_param_json"].replace('"page":"1"', '"page":"2"')
    assert sign_jd({**JD_PARAMS, "360buy_param_json": business}, JD_SECRET) != JD_VECTOR
    assert sign_jd(JD_PARAMS, "jd-app-secreT") != JD_VECTOR


def test_jd_request_signs_its_compact_param_json_exactly_as_sent():
    credentials = PullCredentials("jd-app-key", JD_SECRET, "jd-token")
    business = {"start_date": "2026-11-25 16:00:00", "end_date": "2026-11-25 16:30:00"}
    params = jd_request(
        "jingdong.pop.order.search", {**business, "page": "1"}, credentials, NOW.replace(minute=31)
    )
    assert params == {**JD_PARAMS, "sign": JD_VECTOR}


def test_jd_search_request_asks_by_modification_time_in_the_store_zone():
    credentials = PullCredentials("jd-app-key", JD_SECRET, "jd-token")
    window = Window(NOW, NOW.replace(minute=30))
    params = search_request(window, 3, credentials, NOW, "Asia/Shanghai")
    business = json.loads(params["360buy_param_json"])
    assert business["start_date"] == "2026-11-25 16:00:00"
    assert business["end_date"] == "2026-11-25 16:30:00"
    assert (business["dateType"], business["page"], business["page_size"]) == ("0", "3", "100")
    assert "TRADE_CANCELED" in business["order_state"].split(",")
    assert params["sign"] == sign_jd(params, JD_SECRET)


def test_sorted_concat_sorts_by_name_and_leaves_out_the_sign():
    assert sorted_concat({"b": "2", "a": "1", "sign": "x", "c": ""}) == "a1b2"
    assert sorted_concat({"b": "2", "a": "1", "c": ""}, skip_empty=False) == "a1b2c"
