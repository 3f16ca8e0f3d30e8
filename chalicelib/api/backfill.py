"""`backfill_order_indexes`: old orders' indexed attributes, after an upgrade that added an index
(adapters/backfill.py; docs/deploy.md says when). Invoked by hand, not scheduled:
`aws lambda invoke --function-name <the stack's BackfillOrderIndexes> --payload '{}' out.json`
runs until 30 s before its timeout and checkpoints; invoke again until the answer says
`"done": true`. `{"restart": true}` drops an unfinished checkpoint. Locally:
`bin/orderhub backfill orders`.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.deps import container
from chalicelib.observability import logger

bp = Blueprint(__name__)
MARGIN_SECONDS = 30  # left for the last page and the checkpoint before Lambda's timeout


@bp.lambda_function(name="backfill_order_indexes")
def backfill_order_indexes(event: dict[str, Any], context: Any) -> dict[str, Any]:
    remaining = context.get_remaining_time_in_millis() / 1000 if context else 600.0
    result = container().order_backfill.run(
        budget_seconds=max(remaining - MARGIN_SECONDS, 1.0),
        restart=bool((event or {}).get("restart")),
    )
    logger().info("order index backfill", extra=result.to_dict())
    return result.to_dict()
