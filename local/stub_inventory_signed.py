"""The signed platforms' stock, catalog and order-list calls for the local stubs: TikTok
Shop and Douyin on the stub platform (their signatures checked here, as
local/stub_tiktok_douyin.py checks the order-detail calls), and the Taobao, Pinduoduo and
JD methods the pull stub's routers hand over once they have checked the signature
(`router_call`). Wrong credentials get the platform's own envelope (codes are the stubs'
placeholders where the platform's table could not be sourced; the message names the problem).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from chalicelib.channels.douyin_api_signature import douyin_api_sign
from chalicelib.channels.tiktok_api_signature import tiktok_api_sign

if TYPE_CHECKING:
    from local.stub_inventory import InventoryStub, StubStore

BEIJING = ZoneInfo("Asia/Shanghai")
MAX_SKEW = timedelta(minutes=10)
Answer = tuple[int, Any, dict[str, str]]
Route = Callable[[str, dict[str, str], dict[str, str], bytes], Answer]


def _beijing(text: str) -> datetime:
    return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)


def _bj(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def signed_routes(stub: InventoryStub) -> list[tuple[str, str, Route]]:
    tiktok, douyin = _TikTok(stub), _Douyin(stub)
    return [
        ("POST", r"^/product/202309/products/[^/]+/inventory/update$", tiktok.call),
        ("POST", r"^/product/202312/products/search$", tiktok.call),
        ("POST", r"^/order/202309/orders/search$", tiktok.call),
        ("POST", r"^/sku/syncStock$", douyin.call),
        ("POST", r"^/product/listV2$", douyin.call),
        ("POST", r"^/sku/list$", douyin.call),
    ]


class _TikTok:
    def __init__(self, stub: InventoryStub) -> None:
        self.stub = stub

    def _refused(self, code: int, message: str) -> Answer:
        return 200, {"code": code, "message": message, "request_id": "stub"}, {}

    def call(self, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes) -> Answer:
        stub = self.stub
        store = stub.find(
            "tiktok", app_key=query.get("app_key", ""), shop_cipher=query.get("shop_cipher", "")
        )
        if store is None:
            return self._refused(106002, "Invalid app_key or shop_cipher")
        stamp = query.get("timestamp", "")
        if (
            not stamp.isdigit()
            or abs(datetime.now(UTC) - datetime.fromtimestamp(int(stamp), UTC)) > MAX_SKEW
        ):
            return self._refused(36009003, "timestamp missing or more than 10 minutes off")
        expected = tiktok_api_sign(
            store.credentials["app_secret"],
            path,
            {k: v for k, v in query.items() if k != "sign"},
            raw,
        )
        if not hmac.compare_digest(expected, query.get("sign", "")):
            return self._refused(106001, "Invalid sign: the signature does not match")
        if headers.get("x-tts-access-token") != store.credentials.get("access_token"):
            return self._refused(105002, "Expired or invalid access token")
        body = json.loads(raw or b"{}")
        if path.endswith("/inventory/update"):
            return self._update(store, path.split("/")[4], body)
        with stub.lock:
            if path.endswith("/products/search"):
                products = []
                for sku in body.get("seller_skus") or []:
                    ids = store.listings.get(sku)
                    if ids:
                        item = {
                            "id": ids["sku_id"],
                            "seller_sku": sku,
                            "inventory": [
                                {
                                    "warehouse_id": ids["warehouse_id"],
                                    "quantity": store.quantities.get(sku, 0),
                                }
                            ],
                        }
                        products.append(
                            {"id": ids["product_id"], "status": "ACTIVATE", "skus": [item]}
                        )
                return (
                    200,
                    {
                        "code": 0,
                        "message": "Success",
                        "request_id": "stub",
                        "data": {
                            "products": products,
                            "next_page_token": "",
                            "total_count": len(products),
                        },
                    },
                    {},
                )
            start = datetime.fromtimestamp(int(body["create_time_ge"]), UTC)
            end = datetime.fromtimestamp(int(body["create_time_lt"]), UTC)
            rows = stub.day(store, start, end)
            offset, size = int(query.get("page_token") or 0), int(query.get("page_size") or 50)
            status = {
                "unpaid": "UNPAID",
                "paid": "AWAITING_SHIPMENT",
                "shipped": "IN_TRANSIT",
                "cancelled": "CANCELLED",
                "refunded": "CANCELLED",
            }
            orders = [
                {
                    "id": str(o["id"]),
                    "status": status[o["status"]],
                    "create_time": int(o["created"].timestamp()),
                    "payment": {
                        "total_amount": str(o["amount"]),
                        "currency": o.get("currency", "USD"),
                    },
                }
                for o in rows[offset : offset + size]
            ]
            token = str(offset + size) if offset + size < len(rows) else ""
            data = {"orders": orders, "next_page_token": token, "total_count": len(rows)}
            return 200, {"code": 0, "message": "Success", "request_id": "stub", "data": data}, {}

    def _update(self, store: StubStore, product_id: str, body: dict[str, Any]) -> Answer:
        failing = self.stub.failing()
        if failing is not None:
            return failing, {"code": 36009004, "message": "stub told to fail"}, {}
        errors = []
        with self.stub.lock:
            for item in body.get("skus") or []:
                sku = self.stub.by_id(store, "sku_id", str(item.get("id")))
                if sku is None or store.listings[sku]["product_id"] != product_id:
                    errors.append(
                        {
                            "code": 12052700,
                            "message": "the SKU does not exist or is not live",
                            "detail": {"sku_id": str(item.get("id"))},
                        }
                    )
                    continue
                quantity = int(item["inventory"][0]["quantity"])
                self.stub.push(store, sku, quantity, "products/inventory/update", item)
        return (
            200,
            {
                "code": 0,
                "message": "Success",
                "request_id": "stub",
                "data": {"errors": errors} if errors else {},
            },
            {},
        )


class _Douyin:
    def __init__(self, stub: InventoryStub) -> None:
        self.stub = stub

    def _refused(self, code: int, msg: str, sub_code: str = "", sub_msg: str = "") -> Answer:
        return (
            200,
            {
                "code": code,
                "msg": msg,
                "sub_code": sub_code,
                "sub_msg": sub_msg,
                "log_id": "stub",
                "data": {},
            },
            {},
        )

    def call(self, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes) -> Answer:
        stub = self.stub
        store = stub.find("douyin", app_key=query.get("app_key", ""))
        if store is None:
            return self._refused(30001, "app_key不存在 (unknown app_key)", "isv.app-key-invalid")
        method = path.strip("/").replace("/", ".")
        if query.get("method") != method:
            return self._refused(40002, "method与路径不符 (method does not match the path)")
        try:
            if abs(datetime.now(UTC) - _beijing(query.get("timestamp", ""))) > MAX_SKEW:
                raise ValueError
        except ValueError:
            return self._refused(40002, "timestamp错误 (timestamp more than 10 minutes off)")
        text = raw.decode("utf-8")
        expected = douyin_api_sign(
            store.credentials["app_key"],
            store.credentials["app_secret"],
            method,
            text,
            query["timestamp"],
            query.get("v", "2"),
            query.get("sign_method", "md5"),
        )
        if not hmac.compare_digest(expected, query.get("sign", "")):
            return self._refused(30003, "签名错误 (sign mismatch)", "isv.sign-invalid")
        if query.get("access_token") != store.credentials.get("access_token"):
            return self._refused(
                30002, "access_token已过期 (access_token expired)", "isv.access-token-expired"
            )
        params = json.loads(text or "{}")

        def ok(data: Any) -> Answer:
            return (
                200,
                {
                    "code": 10000,
                    "msg": "success",
                    "sub_code": "",
                    "sub_msg": "",
                    "log_id": "stub",
                    "data": data,
                },
                {},
            )

        if method == "sku.syncStock":
            failing = stub.failing()
            if failing is not None:
                return failing, {"code": 50000, "msg": "stub told to fail"}, {}
            with stub.lock:
                sku = stub.by_id(store, "sku_id", str(params.get("sku_id")))
                if sku is None or params.get("incremental") not in (False, None):
                    return self._refused(50002, "sku不存在 (no such SKU)", "isv.sku-not-exist")
                stub.push(store, sku, int(params["stock_num"]), "sku.syncStock", params)
            return ok({})
        with stub.lock:
            if method == "product.listV2":
                products = sorted({ids["product_id"] for ids in store.listings.values()})
                page, size = int(params.get("page") or 1), int(params.get("size") or 100)
                listed = [{"product_id": int(p)} for p in products[(page - 1) * size : page * size]]
                return ok({"data": listed, "total": len(products), "page": page, "size": size})
            if method == "sku.list":
                items = [
                    {
                        "id": int(ids["sku_id"]),
                        "product_id": int(ids["product_id"]),
                        "code": sku,
                        "stock_num": store.quantities.get(sku, 0),
                    }
                    for sku, ids in store.listings.items()
                    if ids["product_id"] == str(params.get("product_id"))
                ]
                return ok(items)
            return ok({"shop_order_list": [], "page": 0, "size": 0, "total": 0})


def douyin_day(stub: InventoryStub, app_key: str, params: dict[str, Any]) -> dict[str, Any]:
    """`order.searchList`'s data for a Douyin store's day list (the health stub checks the
    signature and serves the call: local/stub_health.py); empty for the health probe."""
    store = stub.find("douyin", app_key=app_key)
    if store is None or "create_time_start" not in params:
        return {"shop_order_list": [], "page": 0, "size": 1, "total": 0}
    with stub.lock:
        start = datetime.fromtimestamp(int(params["create_time_start"]), UTC)
        end = datetime.fromtimestamp(int(params["create_time_end"]), UTC)
        rows = stub.day(store, start, end)
        page, size = int(params.get("page") or 0), int(params.get("size") or 100)
        status = {"unpaid": 1, "paid": 2, "shipped": 3, "cancelled": 4, "refunded": 4}
        rows_out: list[dict[str, Any]] = [
            {
                "order_id": str(o["id"]),
                "order_status": status[o["status"]],
                "pay_amount": round(float(o["amount"]) * 100),
                "create_time": int(o["created"].timestamp()),
            }
            for o in rows[page * size : (page + 1) * size]
        ]
        return {"shop_order_list": rows_out, "total": len(rows), "page": page, "size": size}


# ---- the pull stub's routers ------------------------------------------------------------------


def router_call(
    stub: InventoryStub, platform: str, app_key: str, method: str, params: dict[str, str]
) -> dict[str, Any] | None:
    """The answer to a stock, listing or order-list method of a signature-checked router call
    (None: not one of these methods)."""
    names = {"taobao": "app_key", "pinduoduo": "client_id", "jd": "app_key"}
    store = stub.find(platform, **{names[platform]: app_key})
    if store is None:
        return None
    handler = {"taobao": _taobao, "pinduoduo": _pinduoduo, "jd": _jd}[platform]
    return handler(stub, store, method, params)


def _top_error(code: int, msg: str, sub_code: str, sub_msg: str) -> dict[str, Any]:
    return {
        "error_response": {
            "code": code,
            "msg": msg,
            "sub_code": sub_code,
            "sub_msg": sub_msg,
            "request_id": "stub",
        }
    }


def _taobao(
    stub: InventoryStub, store: StubStore, method: str, params: dict[str, str]
) -> dict[str, Any] | None:
    if method in ("taobao.item.quantity.update", "taobao.skus.quantity.update"):
        failing = stub.failing()
        if failing is not None:
            return _top_error(
                15, "Remote service error", "isp.top-remote-connection-timeout", "stub told to fail"
            )
        if params.get("type", "1") != "1":
            return _top_error(
                15,
                "Remote service error",
                "isv.invalid-parameter",
                "OrderHub pushes absolute quantities only",
            )
        if method == "taobao.skus.quantity.update":
            pairs = [p.split(":") for p in params.get("skuid_quantities", "").split(";") if p]
        else:
            pairs = [[params.get("sku_id", ""), params.get("quantity", "0")]]
        resolved = []
        for sku_id, quantity in pairs:
            sku = (
                stub.by_id(store, "sku_id", sku_id)
                if sku_id
                else next(
                    (
                        s
                        for s, ids in store.listings.items()
                        if ids["num_iid"] == params.get("num_iid") and s == params.get("outer_id")
                    ),
                    None,
                )
            )
            if sku is None or store.listings[sku]["num_iid"] != params.get("num_iid"):
                return _top_error(
                    15,
                    "Remote service error",
                    "isv.item-not-exist",
                    "商品不存在 (item or SKU does not exist)",
                )
            resolved.append((sku, int(quantity)))
        for listed_sku, amount in resolved:
            stub.push(store, listed_sku, amount, method, params)
        item = {"num_iid": int(params["num_iid"]), "modified": _bj(datetime.now(UTC))}
        key = (
            "item_quantity_update_response"
            if method == "taobao.item.quantity.update"
            else "skus_quantity_update_response"
        )
        return {key: {"item": item, "request_id": "stub"}}
    if method == "taobao.skus.custom.get":
        sku = params.get("outer_id", "")
        ids = store.listings.get(sku)
        skus = (
            [
                {
                    "sku_id": int(ids["sku_id"]),
                    "num_iid": int(ids["num_iid"]),
                    "outer_id": sku,
                    "quantity": store.quantities.get(sku, 0),
                }
            ]
            if ids
            else []
        )
        return {"skus_custom_get_response": {"skus": {"sku": skus}} if skus else {}}
    if method == "taobao.items.custom.get":
        return {"items_custom_get_response": {}}
    if method == "taobao.trades.sold.get":
        rows = stub.day(
            store,
            _beijing(params["start_created"]),
            _beijing(params["end_created"]) + timedelta(seconds=1),
        )
        page, size = int(params.get("page_no") or 1), int(params.get("page_size") or 40)
        status = {
            "unpaid": "WAIT_BUYER_PAY",
            "paid": "WAIT_SELLER_SEND_GOODS",
            "shipped": "WAIT_BUYER_CONFIRM_GOODS",
            "cancelled": "TRADE_CLOSED_BY_TAOBAO",
            "refunded": "TRADE_CLOSED",
        }
        trades = [
            {
                "tid": int(o["id"]),
                "status": status[o["status"]],
                "payment": str(o["amount"]),
                "created": _bj(o["created"]),
            }
            for o in rows[(page - 1) * size : page * size]
        ]
        return {
            "trades_sold_get_response": {
                "total_results": len(rows),
                "has_next": page * size < len(rows),
                "trades": {"trade": trades},
            }
        }
    return None


def _pdd_error(code: int, msg: str) -> dict[str, Any]:
    return {
        "error_response": {
            "error_code": code,
            "error_msg": msg,
            "sub_code": "",
            "sub_msg": "",
            "request_id": "stub",
        }
    }


def _pinduoduo(
    stub: InventoryStub, store: StubStore, method: str, params: dict[str, str]
) -> dict[str, Any] | None:
    if method == "pdd.goods.quantity.update":
        failing = stub.failing()
        if failing is not None:
            return _pdd_error(50000, "系统错误 (system error, stub told to fail)")
        if params.get("update_type", "1") != "1":
            return _pdd_error(10000, "参数错误 (OrderHub pushes absolute quantities only)")
        key, value = (
            ("sku_id", params["sku_id"])
            if params.get("sku_id")
            else ("outer_id", params.get("outer_id", ""))
        )
        sku = (
            stub.by_id(store, key, value)
            if key == "sku_id"
            else (value if value in store.listings else None)
        )
        if sku is None or store.listings[sku]["goods_id"] != params.get("goods_id"):
            return _pdd_error(52101, "商品不存在 (goods or SKU does not exist)")
        stub.push(store, sku, int(params["quantity"]), method, params)
        return {"goods_quantity_update_response": {"is_success": True}}
    if method == "pdd.goods.list.get":
        sku = params.get("outer_id", "")
        ids = store.listings.get(sku)
        goods = (
            [
                {
                    "goods_id": int(ids["goods_id"]),
                    "sku_list": [
                        {
                            "sku_id": int(ids["sku_id"]),
                            "outer_id": sku,
                            "sku_quantity": store.quantities.get(sku, 0),
                            "is_sku_onsale": 1,
                        }
                    ],
                }
            ]
            if ids
            else []
        )
        return {"goods_list_get_response": {"goods_list": goods, "total_count": len(goods)}}
    if method == "pdd.order.list.get":
        start = datetime.fromtimestamp(int(params["start_confirm_at"]), UTC)
        end = datetime.fromtimestamp(int(params["end_confirm_at"]), UTC)
        if end - start > timedelta(hours=24):
            return _pdd_error(10000, "参数错误 (start/end_confirm_at at most 24 hours apart)")
        rows = [
            o for o in stub.day(store, start, end + timedelta(seconds=1)) if o["status"] != "unpaid"
        ]
        page, size = int(params.get("page") or 1), int(params.get("page_size") or 100)
        status = {"paid": 1, "shipped": 2, "cancelled": 1, "refunded": 1}
        refund = {"paid": 1, "shipped": 1, "cancelled": 4, "refunded": 4}
        listed = [
            {
                "order_sn": str(o["id"]),
                "order_status": status[o["status"]],
                "refund_status": refund[o["status"]],
                "pay_amount": float(o["amount"]),
                "created_time": _bj(o["created"]),
                "confirm_time": _bj(o["created"]),
            }
            for o in rows[(page - 1) * size : page * size]
        ]
        return {
            "order_list_get_response": {
                "total_count": len(rows),
                "has_next": page * size < len(rows),
                "order_list": listed,
            }
        }
    return None


def _jd(
    stub: InventoryStub, store: StubStore, method: str, params: dict[str, str]
) -> dict[str, Any] | None:
    business = json.loads(params.get("360buy_param_json") or "{}")
    if method == "jingdong.stock.write.updateSkuStock":
        failing = stub.failing()
        if failing is not None:
            return {
                "error_response": {
                    "code": "66",
                    "en_desc": "Platform system error (stub told to fail)",
                    "zh_desc": "平台连接后端服务不可用",
                }
            }
        sku = stub.by_id(store, "sku_id", str(business.get("skuId")))
        if sku is None:
            return {
                "error_response": {
                    "code": "1007",
                    "en_desc": "sku not exist",
                    "zh_desc": "sku不存在",
                }
            }
        stub.push(store, sku, int(business["stockNum"]), method, business)
        return {"jingdong_stock_write_updateSkuStock_responce": {"code": "0", "success": True}}
    if method == "jingdong.sku.read.searchSkuList":
        sku = str(business.get("outId") or "")
        ids = store.listings.get(sku)
        rows = (
            [{"skuId": int(ids["sku_id"]), "wareId": int(ids["ware_id"]), "outerId": sku}]
            if ids
            else []
        )
        return {
            "jingdong_sku_read_searchSkuList_responce": {
                "code": "0",
                "page": {"data": rows, "totalItem": len(rows)},
            }
        }
    return None
