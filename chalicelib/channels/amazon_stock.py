"""Amazon SP-API: merchant-fulfilled stock through the Listings Items API
`PATCH /listings/2021-08-01/items/{sellerId}/{sku}` (replace
`/attributes/fulfillment_availability` with `[{fulfillment_channel_code: DEFAULT,
quantity}]`: absolute), one SKU a call at 5 requests/s; the listing is keyed by our SKU, and
`getListingsItem` (includedData=summaries) gives the `productType` every patch must carry.
Auth: an LWA access token (`grant_type=refresh_token`, valid an hour) in
`x-amz-access-token`; no SigV4 since 2023-10.

Sources: amzn/selling-partner-api-models models/listings-items-api-model/
listingsItems_2021-08-01.json (patchListingsItem, its 200 ACCEPTED / INVALID and 400
examples, rates), schemas/feeds/listings-feed-schema-v2.json (the feed alternative for many
SKUs, not used: one PATCH per SKU stays within the rate for the stores OrderHub serves);
fixtures tests/fixtures/inventory/amazon/. A 200 is not success by itself: `status` must be
ACCEPTED (or VALID) and `issues` free of errors. FBA stock is Amazon's and is not pushed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from chalicelib.channels.stock_api import (
    ApiAnswer,
    ApiCall,
    ListingGone,
    PlatformStock,
    Results,
    StockLine,
    compact,
    every,
    http_failure,
)
from chalicelib.domain.errors import (
    ChannelCredentialsRejected,
    ChannelRejected,
    ChannelUnavailable,
)

PLATFORM = "amazon"
TOKEN_HEADER = "x-amz-access-token"
DEFAULT_MARKETPLACE = "ATVPDKIKX0DER"


def listing_path(seller_id: str, sku: str, query: Mapping[str, str]) -> str:
    return (
        f"/listings/2021-08-01/items/{quote(seller_id, safe='')}/{quote(sku, safe='')}"
        f"?{urlencode(query)}"
    )


def availability_patch(product_type: str, quantity: int) -> dict[str, Any]:
    return {
        "productType": product_type,
        "patches": [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
            }
        ],
    }


class AmazonStock(PlatformStock):
    platform = PLATFORM
    api = "patchListingsItem"
    lookup_api = "getListingsItem"
    secret_fields = ("lwa_client_id", "lwa_client_secret", "refresh_token")
    optional_fields = ("marketplace_id", "seller_id")
    rate_per_second = 5.0
    needs_token = True

    def __init__(self, lwa_url: str = "https://api.amazon.com/auth/o2/token") -> None:
        self.lwa_url = lwa_url

    def seller(self, credentials: Mapping[str, str]) -> str:
        return credentials.get("seller_id") or credentials["store_id"]

    def marketplace(self, credentials: Mapping[str, str]) -> str:
        return credentials.get("marketplace_id") or DEFAULT_MARKETPLACE

    def token_call(self, credentials: Mapping[str, str]) -> ApiCall:
        form = urlencode(
            {
                "grant_type": "refresh_token",
                "refresh_token": credentials["refresh_token"],
                "client_id": credentials["lwa_client_id"],
                "client_secret": credentials["lwa_client_secret"],
            }
        )
        return ApiCall(
            "POST",
            self.lwa_url,
            "lwa token",
            form.encode("utf-8"),
            {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
        )

    def read_token(self, answer: ApiAnswer) -> tuple[str, float]:
        if answer.status in (400, 401):
            raise ChannelCredentialsRejected(
                f"Amazon's login (LWA) refused the refresh token ({answer.status}: "
                f"{answer.said()}). Fix: {self.fix()}"
            )
        failure = http_failure(answer, "Amazon LWA", self.fix())
        if failure is not None:
            raise failure
        payload = answer.json()
        token = payload.get("access_token") if isinstance(payload, Mapping) else None
        if not isinstance(token, str) or not token:
            raise ChannelUnavailable("Amazon LWA's answer lacks access_token")
        return token, float(payload.get("expires_in") or 3600)

    def _headers(self, credentials: Mapping[str, str]) -> dict[str, str]:
        return {
            TOKEN_HEADER: credentials.get("access_token", ""),  # set by the adapter (LWA)
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def stock_calls(
        self, credentials: Mapping[str, str], lines: Sequence[StockLine], now: datetime
    ) -> list[tuple[ApiCall, list[StockLine]]]:
        calls = []
        for line in lines:
            path = listing_path(
                self.seller(credentials),
                line.sku,
                {"marketplaceIds": self.marketplace(credentials)},
            )
            body = compact(availability_patch(line.ids["product_type"], line.quantity))
            calls.append(
                (ApiCall("PATCH", path, self.api, body, self._headers(credentials)), [line])
            )
        return calls

    def read_stock(self, answer: ApiAnswer, lines: Sequence[StockLine]) -> Results:
        if answer.status == 404:
            return every(
                lines,
                ListingGone(
                    f"Amazon has no listing for this SKU ({answer.said()}). Fix: OrderHub "
                    "looks it up again"
                ),
            )
        if answer.status == 400:
            return every(lines, ChannelRejected(f"Amazon refused the patch (400: {answer.said()})"))
        failure = http_failure(answer, "Amazon", self.fix())
        if failure is not None:
            raise failure
        payload = answer.json()
        if not isinstance(payload, Mapping) or "status" not in payload:
            raise ChannelUnavailable("Amazon's answer lacks status")
        errors = [i for i in payload.get("issues") or [] if str(i.get("severity")) == "ERROR"]
        if payload.get("status") in ("ACCEPTED", "VALID") and not errors:
            return every(lines, None)
        said = "; ".join(f"{i.get('code')}: {i.get('message')}" for i in errors) or str(
            payload.get("status")
        )
        return every(
            lines,
            ChannelRejected(
                f"Amazon did not accept the quantity ({payload.get('status')}: {said}). Fix: "
                "correct the listing in Seller Central (the issues name the attributes)"
            ),
        )

    def lookup_call(self, credentials: Mapping[str, str], sku: str, now: datetime) -> ApiCall:
        query = {"marketplaceIds": self.marketplace(credentials), "includedData": "summaries"}
        path = listing_path(self.seller(credentials), sku, query)
        return ApiCall("GET", path, self.lookup_api, b"", self._headers(credentials))

    def read_lookup(
        self, answer: ApiAnswer, sku: str, credentials: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, str]:
        if answer.status == 404:
            return None, "the seller has no listing with this SKU"
        failure = http_failure(answer, "Amazon", self.fix())
        if failure is not None:
            raise failure
        payload = answer.json()
        summaries = payload.get("summaries") if isinstance(payload, Mapping) else None
        types = [str(s.get("productType")) for s in summaries or [] if s.get("productType")]
        if not types:
            return None, "the listing has no productType in its summaries"
        return {"product_type": types[0]}, "getListingsItem summaries"
