"""Personal data shown to people: masked by default. Pure.

The masks are computed from the plaintext when it is sealed (domain/personal_data.py) and
stored beside the ciphertext, so reading an order needs no KMS call. Each keeps enough to
confirm with a customer on the phone and too little to contact or identify them:

- phone: the first 3 and last 4 characters, `*` for each one between (7 or fewer: all `*`):
  `13812345678` -> `138****5678`;
- name: the first character and one `*`: `Li Lei` -> `L*`, `李雷` -> `李*`;
- email: the local part's first character, `***`, `@` and the domain as sent:
  `alice@example.com` -> `a***@example.com`;
- ID number: the first 4 and last 4 characters, `*` for each one between (8 or fewer: all
  `*`): `110101199003071234` -> `1101**********1234`;
- address: the region/city part only (`mask_address`): `1 Nanjing Road, Shanghai` ->
  `Shanghai`, `浙江省杭州市西湖区文三路1号` -> `浙江省杭州市`.

Empty stays empty. Surrounding blanks are dropped first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

HIDDEN = "***"  # an address whose region cannot be told apart from the rest

# Chinese addresses start with the region: province (省, 自治区, 特别行政区) then city (市).
_CJK = re.compile(r"[\u3400-\u9fff]")
_CITY = "市"
_PROVINCES = ("特别行政区", "自治区", "省")
_SEPARATORS = re.compile(r"[,，;；]")
_DIGIT = re.compile(r"\d")


def mask_phone(phone: str) -> str:
    """'13812345678' -> '138****5678': enough to confirm with a customer, not to call them."""
    digits = phone.strip()
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(name: str) -> str:
    """'Li Lei' -> 'L*': the initial a customer would confirm."""
    text = name.strip()
    return text[0] + "*" if text else ""


def mask_email(email: str) -> str:
    """'alice@example.com' -> 'a***@example.com': the domain and the first letter."""
    text = email.strip()
    if not text:
        return ""
    local, at, domain = text.rpartition("@")
    if not at:  # not an address: treat it all as the local part
        return text[0] + HIDDEN
    return (local[:1] + HIDDEN if local else HIDDEN) + "@" + domain


def mask_id_number(id_number: str) -> str:
    """'110101199003071234' -> '1101**********1234': region code and check digits only."""
    text = id_number.strip()
    if len(text) <= 8:
        return "*" * len(text)
    return text[:4] + "*" * (len(text) - 8) + text[-4:]


def mask_address(address: str) -> str:
    """The region/city part of an address, and nothing of the street, house or postcode.

    - An address in Chinese order (it starts with a Chinese character and names a city or
      province): everything up to and including the first `市` (city), else the first
      `省`/`自治区`/`特别行政区` (province): `上海市浦东新区世纪大道100号` -> `上海市`,
      `浙江省杭州市西湖区` -> `浙江省杭州市`, `上海 上海市 黄浦区 南京东路1号` -> `上海 上海市`;
      with neither but blank-separated parts, the first part: `广东 深圳 南山区` -> `广东`.
    - Otherwise, parts separated by commas (or semicolons) in Western order (street first, as
      our channels join them): the parts after the first one that contain no digit (house
      numbers, units and postcodes do): `123 Shipping Street, Shippington, Kentucky, 40003,
      United States` -> `Shippington, Kentucky, United States`; `1 Nanjing Road, Shanghai`
      -> `Shanghai`. (The first part is the street even when it has no number.)
    - Anything else (one part, no region found): `***`.
    """
    text = address.strip()
    if not text:
        return ""
    if _CJK.match(text):
        cut = text.find(_CITY)
        if cut < 0:
            ends = [text.find(p) + len(p) for p in _PROVINCES if p in text]
            cut = min(ends) - 1 if ends else -1
        if cut >= 0:
            return text[: cut + 1].strip()
        tokens = text.split()
        if len(tokens) > 1:  # `广东 深圳 南山区 ...`: region first, blank-separated
            return tokens[0]
    parts = [part.strip() for part in _SEPARATORS.split(text)]
    region = [part for part in parts[1:] if part and not _DIGIT.search(part)]
    return ", ".join(region) if region else HIDDEN


MASKS = {
    "name": mask_name,
    "phone": mask_phone,
    "address": mask_address,
    "email": mask_email,
    "id_number": mask_id_number,
}


def buyer_view(buyer: Any) -> dict[str, str] | None:
    """What an API response or the CLI shows of a buyer: masked values only.

    A sealed buyer's fields are its masks already (computed from the plaintext when sealed);
    a plain one (stored before sealing existed) is masked now. Accepts a `Buyer` or its
    `to_dict()` form (a queued message read by the CLI)."""
    if buyer is None:
        return None
    data: Mapping[str, Any] = buyer if isinstance(buyer, Mapping) else buyer.to_dict()
    sealed = bool(data.get("sealed"))
    return {
        name: str(data.get(name) or "") if sealed else mask(str(data.get(name) or ""))
        for name, mask in MASKS.items()
    }
