"""The audit table and its policy as deployed (infra/resources.json, .chalice/policy.json):
TTL and point-in-time recovery on, the indexes the admin query uses, the functions told its
name, and updates and deletes denied to the functions (append-only by policy too)."""

from __future__ import annotations

import json

from chalice.app import ScheduledEventConfig

from app import app
from local.provision import load_template
from tests.conftest import ROOT

TEMPLATE = load_template()
AUDIT = TEMPLATE["Resources"]["AuditTable"]["Properties"]


def test_audit_table_keeps_entries_with_ttl_and_recovery():
    assert AUDIT["TableName"] == "orderhub-audit"
    assert AUDIT["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert AUDIT["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    keys = {k["AttributeName"]: k["KeyType"] for k in AUDIT["KeySchema"]}
    assert keys == {"day": "HASH", "at_id": "RANGE"}
    indexes = {
        i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]]
        for i in AUDIT["GlobalSecondaryIndexes"]
    }
    assert indexes == {"by_actor": ["actor", "at_id"], "by_action": ["action", "at_id"]}


def test_functions_are_told_the_audit_table():
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["ORDERHUB_AUDIT_TABLE"] == {"Ref": "AuditTable"}


def test_policy_denies_changing_or_deleting_audit_entries():
    policy = json.loads((ROOT / ".chalice" / "policy.json").read_text())
    (deny,) = [s for s in policy["Statement"] if s["Sid"] == "AuditAppendOnly"]
    assert deny["Effect"] == "Deny"
    assert deny["Resource"].endswith(":table/orderhub-audit")
    assert {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} <= set(
        deny["Action"]
    )
    allowed = {a for s in policy["Statement"] if s["Effect"] == "Allow" for a in s["Action"]}
    assert {"dynamodb:PutItem", "dynamodb:Query"} <= allowed


def test_key_review_runs_daily():
    (review,) = [
        s
        for s in app.event_sources
        if isinstance(s, ScheduledEventConfig) and s.name == "review_api_keys"
    ]
    assert review.schedule_expression == "cron(0 1 * * ? *)"
