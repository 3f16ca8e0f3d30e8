"""Douyin Shop (抖店) message-push signature, header `event-sign`, over app_key + body + app_secret:

- `sign-method` absent or `md5`: lowercase hex MD5(app_key + raw body + app_secret);
- `sign-method: hmac-sha256`: lowercase hex HMAC-SHA256(key = app_secret,
  message = app_key + raw body + app_secret).

References: minibear2021/doudian core.py callback() (MD5); the HMAC variant as a third-party
client implements it (tests/fixtures/doudian/signature_vector_derived.json: a derived
vector, to be checked against op.jinritemai.com when we have access). MD5 is the platform's
choice, not ours: it is what the sender computes.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

SIGN_METHODS = ("md5", "hmac-sha256")


def sign_douyin(app_key: str, app_secret: str, body: bytes, method: str = "md5") -> str:
    message = app_key.encode("utf-8") + body + app_secret.encode("utf-8")
    if method == "md5":
        return hashlib.md5(message, usedforsecurity=False).hexdigest()
    if method == "hmac-sha256":
        return hmac.new(app_secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    raise ValueError(f"sign-method '{method}' is not one of: {', '.join(SIGN_METHODS)}")


def douyin_signature_matches(
    body: bytes, offered: str, app_key: str, app_secrets: Sequence[str], method: str = "md5"
) -> bool:
    """Whether `offered` signs the body under the app key and any of the secrets."""
    candidate = offered.strip().lower().encode("ascii", "replace")
    return any(
        hmac.compare_digest(sign_douyin(app_key, s, body, method).encode("ascii"), candidate)
        for s in app_secrets
    )
