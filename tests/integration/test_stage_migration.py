"""The first upgrade's data copy (tools/migrate.py) on moto: the stage-less tables of the release
before stage names, copied into the prod stage's; a re-run writes the same items again; a stage
in use is not copied into."""

from __future__ import annotations

import pytest

from local.provision import load_template, provision
from tools.migrate import copy_tables, table_pairs

REGION = "us-east-1"


def test_every_table_has_its_old_and_new_name():
    pairs = dict(table_pairs("", "prod"))
    assert pairs["orderhub-orders"] == "orderhub-prod-orders"
    assert pairs["orderhub-poll-cursors"] == "orderhub-prod-poll-cursors"
    assert len(pairs) == len(
        [
            r
            for r in load_template()["Resources"].values()
            if r.get("Type") == "AWS::DynamoDB::Table"
        ]
    )


def test_the_old_tables_are_copied_to_the_stages(aws):
    for stage in ("", "prod"):  # the old stack's names and the upgraded one's, in one account
        provision(load_template(stage=stage), aws.client, REGION, stage)
    ddb = aws.client("dynamodb")
    for n in range(60):  # more than one batch
        ddb.put_item(
            TableName="orderhub-orders",
            Item={"order_key": {"S": f"shopify#demo#{n}"}, "version": {"N": "1"}},
        )
    ddb.put_item(TableName="orderhub-catalog", Item={"pk": {"S": "STORE"}, "sk": {"S": "x"}})
    dry = copy_tables(ddb, "", "prod", dry_run=True, say=lambda _: None)
    assert dry["orderhub-prod-orders"] == 60
    assert ddb.scan(TableName="orderhub-prod-orders", Select="COUNT")["Count"] == 0
    copied = copy_tables(ddb, "", "prod", say=lambda _: None)
    assert copied["orderhub-prod-orders"] == 60 and copied["orderhub-prod-catalog"] == 1
    old = ddb.scan(TableName="orderhub-orders")["Items"]
    new = ddb.scan(TableName="orderhub-prod-orders")["Items"]
    assert sorted(map(str, old)) == sorted(map(str, new))
    with pytest.raises(SystemExit, match="holds items already"):
        copy_tables(ddb, "", "prod", say=lambda _: None)
    again = copy_tables(ddb, "", "prod", into_nonempty=True, say=lambda _: None)  # a re-run
    assert again == copied
    assert ddb.scan(TableName="orderhub-prod-orders", Select="COUNT")["Count"] == 60
