"""Personal data shown to people: masked by default."""

from __future__ import annotations


def mask_phone(phone: str) -> str:
    """'13812345678' -> '138****5678': enough to confirm with a customer, not to call them."""
    digits = phone.strip()
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
