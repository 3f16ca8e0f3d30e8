"""`bin/orderhub notify test [--priority P1] [--audience ops] [--link URL]`: send a test notice
through the real notifier (routing secret, SNS, robots, SES) and print where it went;
`bin/orderhub notify routes`: check the routing configuration and show, per priority and
audience, where a notice would go.

Locally it uses the running stack (`make run`); against AWS, your credentials and the
functions' `ORDERHUB_*` variables (the topic ARNs among them).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from chalicelib.domain.notices import Notice
from chalicelib.domain.notify_routing import AUDIENCES, PRIORITIES


def add_parser(sub: Any) -> None:
    notify = sub.add_parser("notify", help="notifications: send a test notice, show routes")
    actions = notify.add_subparsers(dest="action", required=True)
    test = actions.add_parser("test", help="send a test notice to every route it matches")
    test.add_argument("--priority", default="P1", choices=PRIORITIES)
    test.add_argument("--audience", default="ops", choices=AUDIENCES)
    test.add_argument("--link", default="", help="a link to show (e.g. an order's timeline)")
    actions.add_parser("routes", help="validate the routing secret; where each notice goes")


def test_notice(priority: str, audience: str, link: str, at: Any) -> Notice:
    return Notice(
        kind="test",
        priority=priority,
        audience=audience,
        title=f"{priority} test notice",
        body="Sent with `bin/orderhub notify test`: nothing is wrong.",
        link=link,
        at=at,
        facts={"check": "notification routing", "audience": audience},
    )


def run(env: dict[str, str], args: argparse.Namespace) -> int:
    from chalicelib.deps import Container

    os.environ.update(env)
    deps = Container(environ=env)
    if args.action == "routes":
        return _routes(deps)
    notice = test_notice(args.priority, args.audience, args.link, deps.now())
    delivery = deps.notifier.deliver(notice)
    for name, error in delivery.results.items():
        print(f"{name}\t{'delivered' if error is None else 'FAILED: ' + error}")
    if not delivery.results:
        print(f"no route for {args.priority} notices to {args.audience}", file=sys.stderr)
        return 1
    print(f"{len(delivery.delivered)} of {len(delivery.results)} routes took the notice")
    return 0 if delivery.delivered else 1


def _routes(deps: Any) -> int:
    from chalicelib.adapters.notify import config_reader
    from chalicelib.domain.notify_routing import SnsTopic, targets_for

    s = deps.settings
    try:
        config = config_reader(deps.secrets, s.notifications_secret)()
    except Exception as exc:
        print(f"the routing configuration is not usable: {exc}", file=sys.stderr)
        return 2
    for priority in PRIORITIES:
        for audience in AUDIENCES:
            notice = Notice("test", priority, audience, "", "")
            names = [
                t.name
                for t in targets_for(notice, config)
                if not isinstance(t, SnsTopic) or t.topic in s.notify_topics
            ]
            print(f"{priority}\t{audience}\t{', '.join(names) or '(nowhere)'}")
    return 0
