"""`bin/orderhub migrate copy-tables --from-stage "" --to-stage prod [--dry-run]`: the data half of
the first upgrade to stage-named resources (docs/deploy.md, "The first upgrade"): every table
of infra/resources.json copied from its old name (`resource_name(from_stage, ...)`; the
stage-less `orderhub-orders` for "") to the stage's (`orderhub-prod-orders`).

Items are copied as they are (BatchWriteItem puts: a re-run after an interruption writes the
same items again, nothing is lost or doubled); a target table that already holds items is
refused unless `--into-nonempty`, so a copy never mixes into a stage in use. Run it while
intake is paused (docs/deploy.md), with your AWS credentials.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from chalicelib.settings import resource_name
from local.provision import load_template

BATCH = 25  # BatchWriteItem's most


def add_parser(sub: Any) -> None:
    migrate = sub.add_parser("migrate", help="the first upgrade to stage-named resources")
    what = migrate.add_subparsers(dest="action", required=True)
    copy = what.add_parser("copy-tables", help="copy every table to the stage's names")
    copy.add_argument("--from-stage", default="", help='the old names\' stage ("": orderhub-x)')
    copy.add_argument("--to-stage", required=True)
    copy.add_argument("--dry-run", action="store_true", help="count, write nothing")
    copy.add_argument("--into-nonempty", action="store_true", help="copy into tables in use")


def table_pairs(from_stage: str, to_stage: str) -> list[tuple[str, str]]:
    """(old name, new name) of every table infra/resources.json defines."""
    pairs = []
    for res in load_template(stage=to_stage)["Resources"].values():
        if res.get("Type") == "AWS::DynamoDB::Table":
            new = res["Properties"]["TableName"]
            short = new.removeprefix(resource_name(to_stage, ""))
            pairs.append((resource_name(from_stage, short), new))
    return sorted(pairs)


def _put_all(ddb: Any, table: str, items: list[dict[str, Any]]) -> None:
    requests = [{"PutRequest": {"Item": item}} for item in items]
    while requests:
        answer = ddb.batch_write_item(RequestItems={table: requests})
        requests = answer.get("UnprocessedItems", {}).get(table, [])


def copy_tables(
    ddb: Any,
    from_stage: str,
    to_stage: str,
    dry_run: bool = False,
    into_nonempty: bool = False,
    say: Callable[[str], None] = print,
) -> dict[str, int]:
    """Copy each table; returns new name -> items copied (or counted, on a dry run)."""
    if from_stage == to_stage:
        raise SystemExit("--from-stage and --to-stage name the same tables")
    pairs = table_pairs(from_stage, to_stage)
    if not into_nonempty:
        for _, new in pairs:
            if ddb.scan(TableName=new, Limit=1, Select="COUNT")["Count"]:
                raise SystemExit(f"{new} holds items already: --into-nonempty to copy anyway")
    copied = {}
    for old, new in pairs:
        count = 0
        for page in ddb.get_paginator("scan").paginate(TableName=old, ConsistentRead=True):
            items = page["Items"]
            for i in range(0, len(items), BATCH):
                if not dry_run:
                    _put_all(ddb, new, items[i : i + BATCH])
            count += len(items)
        copied[new] = count
        say(f"{old} -> {new}: {count} item(s){' (dry run)' if dry_run else ''}")
    return copied


def run(env: dict[str, str], args: argparse.Namespace) -> int:
    import boto3

    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    ddb = boto3.session.Session(region_name=region).client("dynamodb")
    copy_tables(ddb, args.from_stage, args.to_stage, args.dry_run, args.into_nonempty)
    return 0
