"""Notices in the WeCom, DingTalk, email and SNS formats: exact payloads (golden files, checked
by hand against the documented shapes, see chalicelib/domain/notify_formats.py), DingTalk's
signature against a derived vector, and safe truncation to WeCom's 4096 bytes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.domain.notices import Notice
from chalicelib.domain.notify_formats import (
    DINGTALK_MAX_BYTES,
    TRUNCATED,
    WECOM_MAX_BYTES,
    dingtalk_markdown,
    dingtalk_sign,
    dingtalk_signed_url,
    dingtalk_title,
    email_message,
    safe_link,
    sns_message,
    sns_subject,
    wecom_content,
    wecom_markdown,
)

GOLDEN = Path(__file__).parent / "golden"

NOTICE = Notice(
    kind="anomaly_opened",
    priority="P0",
    audience="ops",
    title="P0 out_of_stock: mall#demo-shop#A-1001",
    body="Order A-1001 was rejected: no warehouse can fill it.\nShort by 3 units.",
    link="https://orderhub.example.com/orders/mall/demo-shop/A-1001/timeline",
    at=datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
    facts={"sku": "GIFT-BOX-NY", "store": "mall/demo-shop", "buyer_phone": "13812345678"},
)

# Derived vector: DingTalk's documented algorithm computed independently with openssl,
#   printf '%s\n%s' 1700000000000 "$SECRET" | openssl dgst -sha256 -hmac "$SECRET" -binary | base64
# then URL-encoded ('/' -> %2F, '+' -> %2B, '=' -> %3D). Not from DingTalk itself.
DINGTALK_VECTOR = {
    "secret": "SECdev-only-dingtalk-vector-0123456789abcdef",
    "timestamp": 1700000000000,
    "base64": "DihpcG5iu3272nSKmHs/+D9Ef8gA9gFGvSBamBRSkEw=",
    "sign": "DihpcG5iu3272nSKmHs%2F%2BD9Ef8gA9gFGvSBamBRSkEw%3D",
}


def golden(name: str) -> dict:
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


# --- exact payloads --------------------------------------------------------------------


def test_wecom_payload_is_the_documented_markdown_message():
    assert wecom_markdown(NOTICE) == golden("wecom_p0.json")


def test_dingtalk_payload_is_the_documented_markdown_message_with_at():
    assert dingtalk_markdown(NOTICE, ["13800000000"]) == golden("dingtalk_p0.json")


def test_dingtalk_without_mentions_has_no_at_block_and_no_at_line():
    message = dingtalk_markdown(NOTICE)
    assert set(message) == {"msgtype", "markdown"}
    assert "@" not in message["markdown"]["text"].rsplit(")", 1)[-1]


def test_dingtalk_at_all_is_carried():
    assert dingtalk_markdown(NOTICE, at_all=True)["at"] == {"atMobiles": [], "isAtAll": True}


def test_email_subject_text_and_html():
    mail = email_message(NOTICE)
    assert {"subject": mail.subject, "text": mail.text, "html": mail.html} == golden(
        "email_p0.json"
    )


def test_sns_subject_and_message():
    want = golden("sns_p0.json")
    assert sns_subject(NOTICE) == want["subject"]
    assert json.loads(sns_message(NOTICE)) == want["message"]


def test_sns_subject_is_ascii_even_for_a_chinese_title():
    notice = replace(NOTICE, title="渠道健康检查失败: 抖店 demo-douyin", kind="health")
    subject = sns_subject(notice)
    assert subject.isascii() and len(subject) < 100
    assert subject == "[OrderHub] P0 health"


def test_priority_is_not_repeated_when_the_title_starts_with_it():
    assert dingtalk_title(NOTICE) == "OrderHub P0 out_of_stock: mall#demo-shop#A-1001"
    other = replace(NOTICE, title="Daily reconciliation 2026-11-24", priority="info")
    assert dingtalk_title(other) == "OrderHub info Daily reconciliation 2026-11-24"
    assert email_message(other).subject == "[OrderHub] info Daily reconciliation 2026-11-24"


def test_resolved_anomalies_are_green_in_wecom():
    resolved = replace(NOTICE, kind="anomaly_resolved")
    assert '<font color="info">P0</font>' in wecom_content(resolved)
    assert '<font color="comment">P2</font>' in wecom_content(replace(NOTICE, priority="P2"))


# --- never personal data -------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    ["buyer_phone", "phone", "receiver", "address", "buyer", "email", "consignee_name", "Mobile"],
)
def test_facts_naming_personal_data_are_never_sent(key):
    notice = replace(NOTICE, facts={"sku": "GIFT-BOX-NY", key: "13812345678 Li Wei"})
    rendered = [
        json.dumps(wecom_markdown(notice), ensure_ascii=False),
        json.dumps(dingtalk_markdown(notice), ensure_ascii=False),
        email_message(notice).text,
        email_message(notice).html,
        sns_message(notice),
    ]
    for text in rendered:
        assert "13812345678" not in text and "Li Wei" not in text
        assert "GIFT-BOX-NY" in text


def test_other_facts_are_kept_in_order():
    notice = replace(NOTICE, facts={"store_name": "Demo", "customer_chase_rate": "1.2%"})
    assert wecom_content(notice).index("store_name") < wecom_content(notice).index("chase")


# --- links -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "shown"),
    [
        ("https://x.example/a?b=1", "https://x.example/a?b=1"),
        ("https://x.example/a_(b)", "https://x.example/a_%28b%29"),
        ("javascript:alert(1)", ""),
        ("https://x.example/a b", ""),
        ("", ""),
    ],
)
def test_links_are_http_urls_safe_inside_markdown(link, shown):
    assert safe_link(link) == shown
    content = wecom_content(replace(NOTICE, link=link))
    assert (f"[Open in OrderHub]({shown})" in content) == bool(shown)


def test_a_report_link_with_a_long_presigned_query_is_kept_whole():
    link = "https://bucket.s3.amazonaws.com/reports/x.csv?X-Amz-Signature=" + "a" * 600
    notice = replace(NOTICE, link=link, body="line\n" * 2000)
    content = wecom_content(notice)
    assert content.endswith(f"[Open in OrderHub]({link})")
    assert len(content.encode()) <= WECOM_MAX_BYTES


# --- truncation ------------------------------------------------------------------------


def test_a_long_chinese_body_is_cut_within_4096_bytes_on_a_character_boundary():
    notice = replace(NOTICE, body="库存不足，订单被拒。" * 800)
    content = wecom_content(notice)
    raw = content.encode("utf-8")
    assert len(raw) <= WECOM_MAX_BYTES
    assert raw.decode("utf-8") == content  # never half a character
    assert content.startswith("### P0 out_of_stock")
    assert TRUNCATED in content
    assert content.endswith("(https://orderhub.example.com/orders/mall/demo-shop/A-1001/timeline)")


def test_a_message_that_fits_is_not_marked_truncated():
    assert TRUNCATED not in wecom_content(NOTICE)


def test_facts_beyond_the_limit_are_dropped_after_the_marker():
    facts = {f"sku_{i:03}": "X" * 40 for i in range(200)}
    content = wecom_content(replace(NOTICE, facts=facts))
    assert len(content.encode()) <= WECOM_MAX_BYTES
    assert "**sku_000**" in content and "**sku_199**" not in content
    assert content.count(TRUNCATED) == 1


def test_a_huge_title_is_cut_and_the_link_survives():
    notice = replace(NOTICE, title="标题" * 3000, body="", facts={})
    content = wecom_content(notice)
    assert len(content.encode()) <= WECOM_MAX_BYTES
    assert content.endswith("/A-1001/timeline)")


@pytest.mark.parametrize("limit", [300, 301, 302, 303, 500, 1000])
def test_every_limit_is_respected_exactly(limit):
    notice = replace(NOTICE, body="é中" * 500)
    content = wecom_content(notice, limit=limit)
    assert len(content.encode("utf-8")) <= limit
    assert content.encode("utf-8").decode("utf-8") == content


def test_dingtalk_text_is_capped_too():
    text = dingtalk_markdown(replace(NOTICE, body="行" * 5000))["markdown"]["text"]
    assert len(text.encode()) <= DINGTALK_MAX_BYTES
    assert TRUNCATED in text


def test_line_breaks_inside_a_title_or_fact_do_not_break_the_markdown():
    notice = replace(NOTICE, title="P1 x\n# injected", facts={"k\nx": "a\r\nb"})
    content = wecom_content(notice)
    assert "\n# injected" not in content
    assert "**k x**: a b" in content


# --- DingTalk signing --------------------------------------------------------------------


def test_dingtalk_sign_matches_the_derived_vector():
    v = DINGTALK_VECTOR
    assert dingtalk_sign(v["secret"], v["timestamp"]) == v["sign"]


def test_dingtalk_sign_changes_with_secret_and_timestamp():
    v = DINGTALK_VECTOR
    assert dingtalk_sign(v["secret"] + "x", v["timestamp"]) != v["sign"]
    assert dingtalk_sign(v["secret"], v["timestamp"] + 1) != v["sign"]


def test_dingtalk_signed_url_carries_timestamp_and_sign_after_the_token():
    v = DINGTALK_VECTOR
    url = dingtalk_signed_url(
        "https://oapi.dingtalk.com/robot/send?access_token=T", v["secret"], v["timestamp"]
    )
    assert url == (
        "https://oapi.dingtalk.com/robot/send?access_token=T"
        f"&timestamp={v['timestamp']}&sign={v['sign']}"
    )
    query = parse_qs(urlsplit(url).query)  # what DingTalk decodes: the base64 itself
    assert query == {
        "access_token": ["T"],
        "timestamp": [str(v["timestamp"])],
        "sign": [v["base64"]],
    }
