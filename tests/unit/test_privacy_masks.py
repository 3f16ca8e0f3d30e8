"""The masked views of personal data: what people see without the decrypt permission."""

from __future__ import annotations

import pytest

from chalicelib.domain.model import Buyer
from chalicelib.domain.privacy import (
    HIDDEN,
    buyer_view,
    mask_address,
    mask_email,
    mask_id_number,
    mask_name,
    mask_phone,
)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        (" 13812345678 ", "138****5678"),
        ("+8613812345678", "+86*******5678"),
        ("555-555-SHIP", "555*****SHIP"),
        ("1234567", "*******"),
        ("", ""),
    ],
)
def test_phone_keeps_its_first_3_and_last_4(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("name", "masked"), [("Li Lei", "L*"), ("李雷", "李*"), (" Steve Shipper", "S*"), ("", "")]
)
def test_name_keeps_its_first_character(name, masked):
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("alice@example.com", "a***@example.com"),
        ("John.Doe@Example.COM", "J***@Example.COM"),
        ("a@b.cn", "a***@b.cn"),
        ("odd@name@example.com", "o***@example.com"),
        ("@example.com", "***@example.com"),
        ("not-an-address", "n***"),
        ("", ""),
    ],
)
def test_email_keeps_the_first_letter_and_the_domain(email, masked):
    assert mask_email(email) == masked


@pytest.mark.parametrize(
    ("id_number", "masked"),
    [
        ("110101199003071234", "1101**********1234"),
        ("11010119900307123X", "1101**********123X"),
        ("A1234567", "********"),
        ("", ""),
    ],
)
def test_id_number_keeps_its_first_and_last_4(id_number, masked):
    assert mask_id_number(id_number) == masked


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        # Chinese order: up to the city, else the province
        ("上海市浦东新区世纪大道100号", "上海市"),
        ("浙江省杭州市西湖区文三路1号", "浙江省杭州市"),
        ("上海 上海市 黄浦区 南京东路1号", "上海 上海市"),
        ("新疆维吾尔自治区乌鲁木齐天山区1号", "新疆维吾尔自治区"),
        ("香港特别行政区中西区1号", "香港特别行政区"),
        ("广东 深圳 南山区 科技园1号", "广东"),
        ("上海市浦东新区世纪大道100号, 2楼", "上海市"),
        # Western order (street first): the parts after the street without digits
        ("1 Nanjing Road, Shanghai", "Shanghai"),
        (
            "123 Shipping Street, Shippington, Kentucky, 40003, United States",
            "Shippington, Kentucky, United States",
        ),
        ("969 Market, San Francisco, CA, 94103, US", "San Francisco, CA, US"),
        ("Rose Cottage, Apt 2, Ottawa", "Ottawa"),
        # nothing that is only a region
        ("1 Main St", HIDDEN),
        ("Live stream", HIDDEN),
        ("12 High St, 10115", HIDDEN),
        ("南京东路1号", HIDDEN),
        ("", ""),
    ],
)
def test_address_keeps_only_its_region_or_city(address, masked):
    assert mask_address(address) == masked


def test_no_mask_keeps_a_digit_run_of_the_street_house_or_postcode():
    for address in ("88 Secretgarden Lane, Springfield, 62704", "上海市浦东新区世纪大道100号"):
        masked = mask_address(address)
        assert "88" not in masked and "100" not in masked and "62704" not in masked


def test_view_of_a_sealed_buyer_is_its_stored_masks_and_a_plain_one_is_masked_now():
    plain = Buyer("Li Lei", "13812345678", "1 Nanjing Road, Shanghai", "li@example.com", "")
    assert buyer_view(plain) == {
        "name": "L*",
        "phone": "138****5678",
        "address": "Shanghai",
        "email": "l***@example.com",
        "id_number": "",
    }
    assert buyer_view(plain.to_dict()) == buyer_view(plain)  # a queued message's form
    assert buyer_view(None) is None
