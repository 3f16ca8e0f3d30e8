"""TikTok Shop Open API request signature (the `sign` query parameter of every API call):

    sign = lowercase hex HMAC-SHA256(key = app_secret,
               message = app_secret + path + k1v1k2v2... + body + app_secret)

where `path` is the request path (`/order/202309/orders`), `k1v1...` every query parameter
except `sign` and `access_token`, sorted by name, name and value concatenated, and `body`
the raw request body ("" for a GET, and for multipart uploads).

References: TikTok Shop Partner Center, "Sign your API request" (as quoted by the public
clients below; partner.tiktokshop.com itself is not reachable from here); EcomPHP/tiktokshop-php
src/Client.php prepareSignature() (the same steps without the body, which its GET calls do
not have); casonmo.github.io "Tiktok Shop 生成signature (java)" (same steps). The body term
comes from the 202309 API's documentation as quoted by several public Python clients; a GET,
the only call OrderHub makes, has none, so every source agrees on what OrderHub signs.
Vectors in tests/unit/test_channel_api_signatures.py are DERIVED from these steps.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

UNSIGNED = ("sign", "access_token")


def tiktok_api_sign(
    app_secret: str, path: str, params: Mapping[str, str], body: bytes = b""
) -> str:
    """The `sign` of one API request (see the module docstring)."""
    concatenated = "".join(f"{k}{params[k]}" for k in sorted(params) if k not in UNSIGNED)
    secret = app_secret.encode("utf-8")
    message = secret + path.encode("utf-8") + concatenated.encode("utf-8") + body + secret
    return hmac.new(secret, message, hashlib.sha256).hexdigest()
