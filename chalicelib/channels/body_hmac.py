"""Base64 HMAC-SHA256 of the raw body: Shopify (`X-Shopify-Hmac-Sha256`) and WooCommerce
(`X-WC-Webhook-Signature`) sign the same way.

Nothing but the body is signed: no id, no timestamp. See shopify.py for what that means for
replays.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence


def sign_body_hmac(secret: str, body: bytes) -> str:
    """base64(HMAC-SHA256(key = secret as UTF-8, message = the exact body bytes))."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def body_hmac_matches(body: bytes, offered: str, secrets: Sequence[str]) -> bool:
    """Whether `offered` is the body's signature under any of `secrets` (constant-time)."""
    candidate = offered.strip().encode("ascii", "replace")
    return any(
        hmac.compare_digest(sign_body_hmac(secret, body).encode("ascii"), candidate)
        for secret in secrets
    )
