"""Load local/seed.json (dev-only) into the emulator: stores with their secrets, warehouses,
stock and API keys, through the same adapters the app reads them with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.adapters.dynamo import DynamoOrderRepository
from chalicelib.adapters.dynamo_records import DynamoCatalog
from chalicelib.domain.api_keys import ApiKeyStore, issue_key
from chalicelib.domain.ports import Store, StoreRules, Warehouse
from chalicelib.domain.processing import adjust_stock
from chalicelib.domain.stock_ops import Adjustment
from chalicelib.domain.stores import secret_name
from chalicelib.domain.timeutil import utc_now

SEED_PATH = Path(__file__).resolve().parent / "seed.json"


def load_seed(path: Path = SEED_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
        return data


def apply_seed(
    seed: dict[str, Any],
    catalog: DynamoCatalog,
    repository: DynamoOrderRepository,
    secretsmanager: Any,
    api_keys: ApiKeyStore,
    stage: str = "",
) -> None:
    for store in seed.get("stores", []):
        name = secret_name(store["platform"], store["store_id"], stage)
        secretsmanager.create_secret(Name=name, SecretString=json.dumps(store["credentials"]))
        catalog.put_store(
            Store(
                store["platform"],
                store["store_id"],
                name,
                store.get("timezone", "UTC"),
                store.get("name", ""),
                StoreRules(**store.get("rules", {})),
            )
        )
        for channel_sku, sku in store.get("sku_map", {}).items():
            catalog.put_sku_mapping(store["platform"], store["store_id"], channel_sku, sku)
    for wh in seed.get("warehouses", []):
        catalog.put_warehouse(
            Warehouse(wh["warehouse_id"], wh.get("region", ""), int(wh.get("priority", 1000)))
        )
    for sku in seed.get("skus", []):
        for warehouse, on_hand in sku["stock"].items():
            # Opening stock is a receipt like any other, so the ledger explains every unit.
            receipt = Adjustment(
                f"seed#{sku['sku']}#{warehouse}",
                sku["sku"],
                warehouse,
                "receipt",
                int(on_hand),
                "opening stock (dev seed)",
            )
            adjust_stock(receipt, repository, utc_now)
            repository.configure_stock(
                sku["sku"],
                warehouse,
                int(sku.get("safety_stock", 0)),
                int(sku.get("holdback", 0)),
                sku.get("holdback_channels", []),
            )
    for key in seed.get("api_keys", []):
        # issued like any key (record + hashed lookup, 90 days from now), with the seed's value
        issued = issue_key(
            key["owner"],
            key["role"],
            utc_now(),
            key.get("expires_in_days"),
            created_by="dev seed",
            secret=key["key"],
            key_id=key["key_id"],
        )
        api_keys.save_key(issued.key)
