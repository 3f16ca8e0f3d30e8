"""TikTok Shop webhook signature: `Authorization` = lowercase hex
HMAC-SHA256(key = app_secret, message = app_key + raw body). No "Bearer", no timestamp.

Reference: EcomPHP/tiktokshop-php src/Webhook.php verify(); the vector in
tests/fixtures/tiktok_shop/signature_vector_derived.json.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence


def sign_tiktok(app_key: str, app_secret: str, body: bytes) -> str:
    message = app_key.encode("utf-8") + body
    return hmac.new(app_secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def tiktok_signature_matches(
    body: bytes, offered: str, app_key: str, app_secrets: Sequence[str]
) -> bool:
    """Whether `offered` signs the body under the app key and any of the secrets."""
    candidate = offered.strip().lower().encode("ascii", "replace")
    return any(
        hmac.compare_digest(sign_tiktok(app_key, secret, body).encode("ascii"), candidate)
        for secret in app_secrets
    )
