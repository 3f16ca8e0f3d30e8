"""What CloudFormation refuses, or what loses data, when one template replaces another: compared
by logical id (the id is what CloudFormation matches; a changed physical name is a new resource).

- a table's key schema changed: CloudFormation replaces the table (a new, empty one);
- more than one global secondary index added or removed on one table in one update:
  DynamoDB takes one GSI creation or deletion per UpdateTable and CloudFormation refuses the
  update ("Cannot perform more than one GSI creation or deletion in a single update");
- an existing index's key schema changed: a deletion and a creation in one update.

tests/integration/test_stages_and_upgrades.py runs it against infra/releases/<newest>/sam.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TABLE = "AWS::DynamoDB::Table"


def _tables(template: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        lid: res.get("Properties", {})
        for lid, res in template.get("Resources", {}).items()
        if res.get("Type") == TABLE
    }


def _key(schema: Any) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in schema or []]


def _indexes(props: Mapping[str, Any]) -> dict[str, list[tuple[str, str]]]:
    return {g["IndexName"]: _key(g["KeySchema"]) for g in props.get("GlobalSecondaryIndexes", [])}


def upgrade_problems(previous: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Why deploying `current` over a stack of `previous` would fail or replace a table."""
    problems = []
    before, after = _tables(previous), _tables(current)
    for lid in sorted(before.keys() & after.keys()):
        old, new = before[lid], after[lid]
        if _key(old.get("KeySchema")) != _key(new.get("KeySchema")):
            problems.append(f"{lid}: key schema changes (CloudFormation would replace the table)")
        old_gsi, new_gsi = _indexes(old), _indexes(new)
        added = sorted(new_gsi.keys() - old_gsi.keys())
        removed = sorted(old_gsi.keys() - new_gsi.keys())
        rekeyed = sorted(n for n in old_gsi.keys() & new_gsi.keys() if old_gsi[n] != new_gsi[n])
        changes = len(added) + len(removed) + 2 * len(rekeyed)
        if changes > 1:
            problems.append(
                f"{lid}: {changes} GSI creations/deletions in one update (added {added}, "
                f"removed {removed}, re-keyed {rekeyed}); CloudFormation takes one per update: "
                "ship them in successive releases"
            )
    for lid in sorted(before.keys() - after.keys()):
        problems.append(f"{lid}: the table is gone from the template (CloudFormation deletes it)")
    return problems
