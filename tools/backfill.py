"""`bin/orderhub backfill orders [--restart] [--budget-seconds 600] [--page-size 200]`: give old
orders the index attributes the current release derives (chalicelib/adapters/backfill.py),
resuming from its checkpoint; prints what it did as JSON. Run it again until `"done": true`.
Against AWS it uses the functions' environment (ORDERHUB_ORDERS_TABLE, ...), else the running
local stack."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any


def add_parser(sub: Any) -> None:
    backfill = sub.add_parser("backfill", help="fill old items' index attributes after an upgrade")
    what = backfill.add_subparsers(dest="action", required=True)
    orders = what.add_parser("orders", help="the orders table's GSI attributes")
    orders.add_argument("--restart", action="store_true", help="drop an unfinished checkpoint")
    orders.add_argument("--budget-seconds", type=float, default=600.0)
    orders.add_argument("--page-size", type=int, default=200)


def run(env: dict[str, str], args: argparse.Namespace) -> int:
    from chalicelib.deps import Container

    os.environ.update(env)
    result = Container(environ=env).order_backfill.run(
        page_size=args.page_size, budget_seconds=args.budget_seconds, restart=args.restart
    )
    print(json.dumps(result.to_dict(), indent=2))
    return 0
