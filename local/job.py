"""`make job NAME=<handler>`: run one scheduled handler now, against the running local stack.

The handler runs in this process with the stack's environment (read from the state file the
stack writes), so it reads and writes the same emulated AWS the stack uses.
"""

from __future__ import annotations

import json
import os
import sys

from local.control import NOT_RUNNING, running_state
from local.stack import REGION


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0]:
        print("usage: make job NAME=<scheduled handler>", file=sys.stderr)
        return 2
    name = args[0]
    state = running_state()
    if state is None:
        print(NOT_RUNNING, file=sys.stderr)
        return 1
    os.environ.update(state["environment"])

    from chalice.app import ScheduledEventConfig

    from app import app
    from local.lambda_runtime import LocalLambdaContext, scheduled_event

    jobs = sorted(s.name for s in app.event_sources if isinstance(s, ScheduledEventConfig))
    if name not in jobs:
        print(f"no scheduled handler '{name}'; choose one of: {', '.join(jobs)}", file=sys.stderr)
        return 2
    result = app.handler_map[name](scheduled_event(name, REGION), LocalLambdaContext(name))
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
