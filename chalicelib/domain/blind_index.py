"""The buyer's phone as a keyed blind index: search by phone with no plaintext phone at rest.
Pure (stdlib `hmac`); the key comes from Secrets Manager through the vault adapter.

`phone_index(key, phone)` is HMAC-SHA256 of the normalised phone under a secret key, as hex,
prefixed with the scheme version (`p1:`). Intake computes it where it seals the buyer
(domain/personal_data.py) and it is stored beside the masks; the orders table's sparse
`buyer` index is keyed by it. A search computes the same value from the number typed, so an
exact match finds the buyer's orders; without the key the value cannot be reversed or
recomputed (a plain hash of an 11-digit number could be brute-forced in minutes).

Normalisation makes the forms people type equal: blanks, dashes, dots and brackets are
dropped; a mainland mobile with its country code (`+86`, `0086`, `86` before 11 digits
starting with 1) becomes the bare 11 digits; any other number keeps its `+`-less digits.
"""

from __future__ import annotations

import hashlib
import hmac
import re

SCHEME = "p1"
_SEPARATORS = re.compile(r"[\s\-.()/]")
_CN_MOBILE = re.compile(r"^(?:\+?86|0086)?(1\d{10})$")
MIN_DIGITS = 5
MAX_DIGITS = 20


def normalise_phone(text: str) -> str:
    """The comparable form of a phone number; "" when `text` is not one (letters, too short
    or too long)."""
    compact = _SEPARATORS.sub("", text.strip())
    found = _CN_MOBILE.match(compact)
    if found:
        return found.group(1)
    if compact.startswith("00"):
        compact = compact[2:]
    digits = compact[1:] if compact.startswith("+") else compact
    if not digits.isdigit() or not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        return ""
    return digits


def looks_like_phone(text: str) -> bool:
    return bool(normalise_phone(text))


def phone_index(key: bytes, phone: str) -> str:
    """The blind index of `phone` under `key`; "" when there is no phone to index."""
    normal = normalise_phone(phone)
    if not normal or not key:
        return ""
    digest = hmac.new(key, normal.encode("ascii"), hashlib.sha256).hexdigest()
    return f"{SCHEME}:{digest}"


def valid_index(value: str) -> bool:
    """Whether `value` has the shape of a blind index (a buyer reference in a URL)."""
    return bool(re.fullmatch(rf"{SCHEME}:[0-9a-f]{{64}}", value))
