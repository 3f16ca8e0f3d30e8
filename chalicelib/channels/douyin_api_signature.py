"""Douyin Shop (抖店) open API request signature (the `sign` query parameter):

    plain = app_secret + "app_key" + app_key + "method" + method + "param_json" + param_json
            + "timestamp" + timestamp + "v" + v + app_secret
    sign  = lowercase hex MD5(plain)                            (sign_method md5, the default)
          | lowercase hex HMAC-SHA256(key = app_secret, plain)  (sign_method hmac-sha256)

`param_json` is the business parameters as compact JSON with keys sorted (no spaces), sent
as the POST body; `timestamp` is "yyyy-MM-dd HH:mm:ss" Beijing time (GMT+8); `v` is "2".
`access_token` and `sign_method` are sent but not signed.

References: 抖店开放平台 "API调用指南" (public parameters method, app_key, access_token,
param_json, timestamp in GMT+8, v = 2, sign, sign_method hmac-sha256; as mirrored on public
pages, op.jinritemai.com not reachable from here); minibear2021/doudian doudian/core.py
_sign() (HMAC-SHA256 over exactly this string, param_json with sorted keys and compact
separators); fudiwei/DotNetCore.SKIT.FlurlHttpClient.ByteDance DouyinShopRequestSignInterceptor
(the same string, MD5 or HMAC-SHA256 by sign_method). They differ on the timestamp: that SDK
sends Unix seconds; the guide documents the text form, which OrderHub sends. Vectors in
tests/unit/test_channel_api_signatures.py are DERIVED from these steps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

SIGN_METHODS = ("md5", "hmac-sha256")
API_VERSION = "2"


def param_json(params: Mapping[str, Any]) -> str:
    """The business parameters as Douyin signs and reads them: sorted keys, no spaces."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def douyin_api_sign(
    app_key: str,
    app_secret: str,
    method: str,
    param_json_text: str,
    timestamp: str,
    v: str = API_VERSION,
    sign_method: str = "md5",
) -> str:
    """The `sign` of one API request (see the module docstring)."""
    plain = (
        f"{app_secret}app_key{app_key}method{method}param_json{param_json_text}"
        f"timestamp{timestamp}v{v}{app_secret}"
    ).encode()
    if sign_method == "md5":
        return hashlib.md5(plain, usedforsecurity=False).hexdigest()
    if sign_method == "hmac-sha256":
        return hmac.new(app_secret.encode("utf-8"), plain, hashlib.sha256).hexdigest()
    raise ValueError(f"sign_method '{sign_method}' is not one of: {', '.join(SIGN_METHODS)}")
