"""HTTP clients of the tracking aggregators (domain/tracking.TrackingProvider).

Credentials come from Secrets Manager, one secret per provider
(`orderhub/{stage}/tracking/<provider>`; `orderhub/tracking/<provider>` without a stage):
- 快递100: `{"key": "<授权key>", "customer": "<customer id>", "salt": "<callback salt>"}`;
- AfterShip: `{"api_key": "...", "webhook_secret": "..."}`.
A `rotation` block (domain/rotation.py) lets a previous salt / webhook secret verify pushes
during the changeover, as for stores.

Failures (refused connection, timeout, 5xx, an answer that is not JSON or says no) raise
`TrackingUnavailable`: the subscription stays unaccepted and the poll job retries it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from chalicelib.channels.tracking_aftership import read_tracking
from chalicelib.channels.tracking_kuaidi100 import query_form, read_result, subscribe_form
from chalicelib.domain.errors import TransientFailure
from chalicelib.domain.ports import SecretSource
from chalicelib.domain.rotation import effective_secret
from chalicelib.domain.timeutil import utc_now
from chalicelib.domain.tracking import AFTERSHIP, KUAIDI100, TrackUpdate

TIMEOUT = 5.0


class TrackingUnavailable(TransientFailure):
    """The provider could not be reached or refused the call; retried later."""


def secret_name(provider: str, stage: str = "") -> str:
    """A provider's secret: under the stage's prefix when there is a stage (settings.stage)."""
    staged = f"{stage}/" if stage else ""
    return f"orderhub/{staged}tracking/{provider}"


def _call(opener: Callable[..., Any], request: urllib.request.Request, what: str) -> Any:
    try:
        with opener(request, timeout=TIMEOUT) as response:
            text = response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        raise TrackingUnavailable(f"{what}: HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise TrackingUnavailable(f"{what}: {exc}") from None
    try:
        return json.loads(text)
    except ValueError:
        raise TrackingUnavailable(f"{what}: the answer is not JSON") from None


class Kuaidi100Client:
    def __init__(
        self,
        base_url: str,
        secrets: SecretSource,
        callback_url: str,
        opener: Callable[..., Any] = urllib.request.urlopen,
        now: Callable[[], datetime] = utc_now,
        stage: str = "",
    ) -> None:
        self._base = base_url.rstrip("/")
        self._secrets = secrets
        self._callback = callback_url
        self._open = opener
        self._now = now
        self._stage = stage

    def _secret(self) -> Mapping[str, Any]:
        return self._secrets.get_secret(secret_name(KUAIDI100, self._stage))

    def subscribe(self, carrier: str, number: str) -> None:
        secret = self._secret()
        form = subscribe_form(
            carrier, number, str(secret["key"]), self._callback, str(secret["salt"])
        )
        request = urllib.request.Request(
            f"{self._base}/poll",
            data=urlencode(form).encode("utf-8"),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        answer = _call(self._open, request, "kuaidi100 subscribe")
        # 200 accepted; 501 "重复订阅" (already subscribed) is fine too
        code = str(answer.get("returnCode") if isinstance(answer, dict) else "")
        if code not in ("200", "501"):
            raise TrackingUnavailable(f"kuaidi100 subscribe refused: {answer}")

    def query(self, carrier: str, number: str, now: datetime) -> TrackUpdate | None:
        secret = self._secret()
        form = query_form(carrier, number, str(secret["key"]), str(secret["customer"]))
        request = urllib.request.Request(
            f"{self._base}/poll/query.do",
            data=urlencode(form).encode("utf-8"),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        answer = _call(self._open, request, "kuaidi100 query")
        if not isinstance(answer, dict) or str(answer.get("status")) != "200":
            return None  # "查询无结果": nothing known yet
        return read_result(answer, now, "poll", "poll")


class AfterShipClient:
    def __init__(
        self,
        base_url: str,
        secrets: SecretSource,
        opener: Callable[..., Any] = urllib.request.urlopen,
        stage: str = "",
    ) -> None:
        self._base = base_url.rstrip("/")
        self._secrets = secrets
        self._open = opener
        self._stage = stage

    def _headers(self) -> dict[str, str]:
        secret = self._secrets.get_secret(secret_name(AFTERSHIP, self._stage))
        return {"as-api-key": str(secret["api_key"]), "Content-Type": "application/json"}

    def subscribe(self, carrier: str, number: str) -> None:
        body = json.dumps({"tracking": {"slug": carrier, "tracking_number": number}})
        request = urllib.request.Request(
            f"{self._base}/trackings",
            data=body.encode("utf-8"),
            headers=self._headers(),
            method="POST",
        )
        try:
            _call(self._open, request, "aftership subscribe")
        except TrackingUnavailable as exc:
            if "HTTP 409" not in str(exc):  # 4003 "already exists" comes as 409: fine
                raise

    def query(self, carrier: str, number: str, now: datetime) -> TrackUpdate | None:
        request = urllib.request.Request(
            f"{self._base}/trackings/{quote(carrier, safe='')}/{quote(number, safe='')}",
            headers=self._headers(),
            method="GET",
        )
        try:
            answer = _call(self._open, request, "aftership query")
        except TrackingUnavailable as exc:
            if "HTTP 404" in str(exc):
                return None  # AfterShip does not know the parcel (yet)
            raise
        tracking = (answer.get("data") or {}).get("tracking") if isinstance(answer, dict) else None
        if not isinstance(tracking, dict):
            return None
        return read_tracking(tracking, now, "poll")


def verification_secrets(
    secrets: SecretSource, provider: str, now: datetime, stage: str = ""
) -> list[str]:
    """The values a push may be signed with now: 快递100's salt, AfterShip's webhook secret
    (a list of them, newest first, during a rotation's window)."""
    field = "salt" if provider == KUAIDI100 else "webhook_secret"
    current = effective_secret(secrets.get_secret(secret_name(provider, stage)), now)
    several = current.get(field + "s")
    values = several if isinstance(several, list) else [current.get(field)]
    return [v for v in values if isinstance(v, str) and v]
