"""tools/upgrade_check.py: what one CloudFormation update may not do to a table."""

from __future__ import annotations

import copy
from typing import Any

from tools.upgrade_check import upgrade_problems


def _gsi(name: str, hash_key: str) -> dict[str, Any]:
    return {"IndexName": name, "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"}]}


def _template(*indexes: dict[str, Any], key: str = "pk") -> dict[str, Any]:
    props = {
        "TableName": {"Fn::Sub": "orderhub-${Stage}-orders"},
        "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": list(indexes),
    }
    return {"Resources": {"OrdersTable": {"Type": "AWS::DynamoDB::Table", "Properties": props}}}


OLD = _template(_gsi("a", "x"))


def test_one_index_added_or_removed_per_update_is_fine():
    assert upgrade_problems(OLD, OLD) == []
    assert upgrade_problems(OLD, _template(_gsi("a", "x"), _gsi("b", "y"))) == []
    assert upgrade_problems(OLD, _template()) == []


def test_two_indexes_in_one_update_fail():
    (problem,) = upgrade_problems(OLD, _template(_gsi("a", "x"), _gsi("b", "y"), _gsi("c", "z")))
    assert "OrdersTable: 2 GSI creations/deletions" in problem
    (problem,) = upgrade_problems(OLD, _template(_gsi("b", "y")))  # one out, one in
    assert "added ['b'], removed ['a']" in problem


def test_a_rekeyed_index_counts_as_two():
    (problem,) = upgrade_problems(OLD, _template(_gsi("a", "w")))
    assert "re-keyed ['a']" in problem


def test_a_changed_table_key_or_a_dropped_table_fails():
    (problem,) = upgrade_problems(OLD, _template(_gsi("a", "x"), key="id"))
    assert "key schema changes" in problem
    gone = copy.deepcopy(OLD)
    gone["Resources"] = {}
    (problem,) = upgrade_problems(OLD, gone)
    assert "gone from the template" in problem
