"""`bin/orderhub keys issue | list`, and the audit entries the operator CLI writes.

`keys issue` is how the first admin key comes to exist (the API's key endpoints need one):
on the local stack, or on AWS with the functions' `ORDERHUB_*` variables set and AWS
credentials allowed to write the catalog and audit tables. The key is printed once.

The CLI's actor in the audit log is the OS user (key id `cli`, role `operator`); its "from
where" is the host.
"""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import sys
from collections.abc import Mapping
from typing import Any

from chalicelib.domain.ports import Principal

MAX_LISTED = 200  # an audit entry names at most this many replayed messages (item size)


def cli_actor() -> Principal:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        user = ""
    return Principal("cli", user or "unknown", "operator")


def record(
    env: Mapping[str, str],
    action: str,
    target: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> bool:
    """Append the CLI action's audit entry; on failure say so on stderr (the action is done)."""
    from chalicelib.api.access import audit_entry
    from chalicelib.deps import Container

    try:
        deps = Container(environ=dict(env))
        entry = audit_entry(
            action,
            target,
            before=before,
            after=after,
            actor=cli_actor(),
            user_agent=f"orderhub-cli on {socket.gethostname()}",
            deps=deps,
        )
        deps.audit_log.append(entry)
    except Exception as exc:  # the action happened: report, do not hide it behind a crash
        print(
            f"warning: no audit entry written for {action} {target}: {exc} (set the functions' "
            "ORDERHUB_* variables, ORDERHUB_AUDIT_TABLE among them)",
            file=sys.stderr,
        )
        return False
    return True


def add_parser(sub: Any) -> None:
    keys = sub.add_parser("keys", help="API keys (the first admin key, listing)")
    actions = keys.add_subparsers(dest="action", required=True)
    issue = actions.add_parser("issue", help="issue a key; it is printed once")
    issue.add_argument("--owner", required=True, help="who holds it, e.g. alice@example.com")
    issue.add_argument("--role", required=True, help="admin, ops, cs, finance or warehouse")
    issue.add_argument(
        "--expires-in-days", type=int, default=None, help="validity (default 90, at most 90)"
    )
    actions.add_parser("list", help="every key (no secrets)")


def run(env: dict[str, str], args: argparse.Namespace) -> int:
    from chalicelib.deps import Container
    from chalicelib.domain.api_keys import issue_key
    from chalicelib.domain.audit import Action
    from chalicelib.domain.errors import OrderHubError

    os.environ.update(env)
    deps = Container(environ=env)
    if args.action == "list":
        for key in deps.api_keys.list_keys():
            v = key.view()
            state = f"disabled ({v['disabled_reason']})" if key.disabled else "active"
            print(
                f"{v['key_id']}\t{v['owner']}\t{v['role']}\texpires {v['expires_at']}\t"
                f"last used {v['last_used_at'] or 'never'}\t{state}"
            )
        return 0
    actor = cli_actor()
    try:
        issued = issue_key(
            args.owner, args.role, deps.now(), args.expires_in_days, f"cli:{actor.owner}"
        )
        deps.api_keys.save_key(issued.key)
    except OrderHubError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    record(env, Action.API_KEY_ISSUE, f"api_key/{issued.key.key_id}", after=issued.key.view())
    key = issued.key
    print(f"issued {key.key_id} for {key.owner}, role {key.role}, expires {key.expires_at}")
    print(f"key (shown once; OrderHub keeps only its hash): {issued.secret}")
    return 0


def replayed(chosen: list[Any]) -> dict[str, Any]:
    """The after-part of a DLQ replay's audit entry: which messages went back."""
    return {
        "count": len(chosen),
        "messages": [
            {"message_id": p.message_id, "event_key": p.event_key} for p in chosen[:MAX_LISTED]
        ],
    }
