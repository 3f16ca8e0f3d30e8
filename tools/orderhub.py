"""The operator CLI: `bin/orderhub dlq list | show ID | replay [--dry-run] [--since] [--store]`,
`bin/orderhub conservation --date YYYY-MM-DD [--store platform/store]` and
`bin/orderhub secrets rotate --store platform/store (--secret VALUE | --generate)
[--grace-minutes 60]`, `bin/orderhub stores add --store platform/store --timezone ZONE
--credentials FILE [--name] [--rules JSON]`, `bin/orderhub stores list` and
`bin/orderhub keys issue --owner NAME --role ROLE [--expires-in-days 90] | list` (tools/access.py),
`bin/orderhub notify test [--priority P1] [--audience ops] | routes` (tools/notify.py),
`bin/orderhub backfill orders [--restart]` (tools/backfill.py: old orders' index attributes after
an upgrade) and `bin/orderhub migrate copy-tables --from-stage "" --to-stage prod`
(tools/migrate.py: the first upgrade to stage-named tables).
Replays, store changes, secret rotations and issued keys are written to the audit log.

Against AWS it uses the usual AWS credentials and the queue URLs in ORDERHUB_ORDER_QUEUE_URL
and ORDERHUB_ORDER_DLQ_URL (the functions' own settings; `conservation` needs the table names
too); with those unset it uses the
running local stack (`make run`), as `make job` does. Replaying is safe to repeat: a replayed
event that was booked already books nothing more.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chalicelib.adapters.messaging import DeadLetterQueue
from chalicelib.domain.audit import Action
from chalicelib.domain.dlq import describe, last_failure, selected
from chalicelib.domain.privacy import buyer_view
from tools import access as keys_cli
from tools import alarms as alarms_cli
from tools import backfill as backfill_cli
from tools import migrate as migrate_cli
from tools import notify as notify_cli
from tools import webhook as webhook_cli

QUEUE_VAR, DLQ_VAR = "ORDERHUB_ORDER_QUEUE_URL", "ORDERHUB_ORDER_DLQ_URL"


def _environment() -> dict[str, str]:
    if os.environ.get(QUEUE_VAR) and os.environ.get(DLQ_VAR):
        return dict(os.environ)
    from local.control import running_state

    state = running_state()
    if state is None:
        raise SystemExit(
            f"set {QUEUE_VAR} and {DLQ_VAR} (AWS), or start the local stack with `make run`"
        )
    return {**os.environ, **state["environment"]}


def _orders_environment() -> dict[str, str]:
    """The functions' environment (AWS: ORDERHUB_ORDERS_TABLE and the rest set), else the local
    stack's."""
    if os.environ.get("ORDERHUB_ORDERS_TABLE"):
        return dict(os.environ)
    return _environment()


def _local_api_url() -> str:
    from local.control import require_running

    return str(require_running()["api_url"])


def _dlq(env: dict[str, str]) -> DeadLetterQueue:
    import boto3

    os.environ.update(env)
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    sqs = boto3.session.Session(region_name=region).client("sqs")
    return DeadLetterQueue(sqs, env[DLQ_VAR], env[QUEUE_VAR])


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(1, total)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _masked(body: str) -> Any:
    try:
        message = json.loads(body)
    except ValueError:
        return body
    event = message.get("event") if isinstance(message, dict) else None
    if isinstance(event, dict) and isinstance(event.get("buyer"), dict):
        event["buyer"] = buyer_view(event["buyer"])  # masks only, never the sealed envelope
    if isinstance(message, dict) and "raw" in message:
        message["raw"] = f"<{len(str(message['raw']))} characters of the original payload>"
    if isinstance(message, dict) and "raw_sealed" in message:
        message["raw_sealed"] = "<the original payload, sealed>"
    return message


def _loader(env: dict[str, str]) -> Any:
    """Reads an S3-overflow message back (the functions' MessageLoader)."""
    from chalicelib.deps import Container

    return Container(environ=env).loader.load


def _last_failure(env: dict[str, str], event_key: str) -> str:
    """Why the parked event failed, from its trail (the processor records every attempt)."""
    from chalicelib.deps import Container

    if not event_key:
        return ""
    try:
        return last_failure(Container(environ=env).trail.get(event_key))
    except Exception as exc:
        return f"(trail not readable: {type(exc).__name__})"


def _conservation(env: dict[str, str], day: str, store: str | None) -> int:
    """Print each store's balance for the day; exit 1 if any shows a difference."""
    from chalicelib.api.operations import conservation
    from chalicelib.deps import Container
    from chalicelib.domain.errors import InvalidPayload

    os.environ.update(env)
    try:
        balances = conservation(Container(environ=env), day, store)
    except InvalidPayload as exc:
        print(exc.message, file=sys.stderr)
        return 2
    for b in balances:
        print(b.line)
    if not balances:
        print(f"no store matches '{store}'" if store else "no stores configured")
    different = [b for b in balances if b.difference]
    print(f"{len(balances)} stores, {len(different)} with a difference")
    return 1 if different else 0


def _rotate(env: dict[str, str], store_ref: str, new: str | None, grace_minutes: int) -> int:
    """Rotate a store's signing secret; the previous one keeps verifying for the grace window."""
    import boto3

    from chalicelib.adapters.secrets import SecretsManagerStore
    from chalicelib.deps import Container
    from chalicelib.domain.errors import InvalidPayload
    from chalicelib.domain.rotation import new_webhook_secret, rotate

    platform, _, store_id = store_ref.partition("/")
    if not platform or not store_id:
        print("--store must be platform/store, e.g. mall/demo-shop", file=sys.stderr)
        return 2
    os.environ.update(env)
    deps = Container(environ=env)
    store = deps.catalog_store.get_store(platform, store_id)
    if store is None:
        print(f"no store {platform}/{store_id} is configured", file=sys.stderr)
        return 1
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    secrets = SecretsManagerStore(
        boto3.session.Session(region_name=region).client("secretsmanager")
    )
    generated = new is None
    value = new_webhook_secret() if new is None else new
    now = datetime.now(UTC)
    try:
        rotated = rotate(
            secrets.read(store.secret_name), value, now, timedelta(minutes=grace_minutes)
        )
    except InvalidPayload as exc:
        print(exc.message, file=sys.stderr)
        return 2
    secrets.write(store.secret_name, rotated)
    until = rotated.get("rotation", {}).get("until")
    keys_cli.record(  # never the secrets themselves
        env,
        Action.STORE_SECRET_ROTATE,
        f"store/{platform}/{store_id}",
        after={"secret_name": store.secret_name, "generated": generated, "previous_until": until},
    )
    print(f"rotated the signing secret of {platform}/{store_id} ({store.secret_name})")
    print(f"the previous secret verifies until {until}" if until else "the previous secret is void")
    if generated:  # shown once: configure it on the sender's side now
        print(f"new secret (configure it on the shop's side now; it is not shown again): {value}")
    return 0


# Platforms that deliver by other means than our webhook endpoint: their credentials are
# read by their poller or queue consumer, not checked here.
NON_WEBHOOK_PLATFORMS = ("amazon", "taobao", "pinduoduo", "jd")


def _platforms() -> dict[str, Any]:
    from chalicelib.channels import CHANNELS

    readers: dict[str, Any] = {name: channel.credentials for name, channel in CHANNELS.items()}
    return {**dict.fromkeys(NON_WEBHOOK_PLATFORMS), **readers}


def _add_store(env: dict[str, str], args: argparse.Namespace) -> int:
    """Create or update a store: its secret, then its catalog entry (the store exists for
    the webhook path only once both are there)."""
    import boto3

    from chalicelib.deps import Container
    from chalicelib.domain.errors import InvalidPayload
    from chalicelib.domain.stores import new_store
    from chalicelib.settings import STAGE

    platform, _, store_id = args.store.partition("/")
    try:
        if args.credentials == "-":
            text = sys.stdin.read()
        else:
            text = Path(args.credentials).read_text(encoding="utf-8")
        credentials = json.loads(text)
        rules = json.loads(args.rules)
        store = new_store(
            platform,
            store_id,
            args.timezone,
            args.name,
            rules,
            credentials,
            _platforms(),
            stage=env.get(STAGE, ""),  # a stage's store secret is `orderhub/{stage}/stores/...`
        )
    except (OSError, ValueError) as exc:
        print(f"cannot read the input: {exc}", file=sys.stderr)
        return 2
    except InvalidPayload as exc:
        print(exc.message, file=sys.stderr)
        return 2
    os.environ.update(env)
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    client = boto3.session.Session(region_name=region).client("secretsmanager")
    # its age, for the quarterly reminder (domain/store_review.py)
    value = json.dumps({**credentials, "secret_set_at": datetime.now(UTC).isoformat()})
    try:
        client.create_secret(Name=store.secret_name, SecretString=value)
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=store.secret_name, SecretString=value)
    catalog = Container(environ=env).catalog_store
    before = catalog.get_store(platform, store_id)
    catalog.put_store(store)
    keys_cli.record(  # the configuration only, never the credentials
        env,
        Action.STORE_SAVE,
        f"store/{platform}/{store_id}",
        before=asdict(before) if before else None,
        after=asdict(store),
    )
    print(f"store {platform}/{store_id} saved (secret {store.secret_name}, zone {store.timezone})")
    if platform in _platforms() and platform not in NON_WEBHOOK_PLATFORMS:
        print(f"its platform posts to: https://<api>/webhooks/{platform}/{store_id}")
    return 0


def _list_stores(env: dict[str, str]) -> int:
    from chalicelib.deps import Container

    os.environ.update(env)
    stores = Container(environ=env).catalog_store.list_stores()
    for s in stores:
        state = f"\tdisabled ({s.disabled_reason})" if s.disabled else ""
        print(f"{s.platform}/{s.store_id}\t{s.timezone}\t{s.name}{state}")
    print(f"{len(stores)} stores")
    return 0


def _enable_store(env: dict[str, str], ref: str) -> int:
    """Re-enable a store the daily review disabled (unused for 90 days); audited."""
    from dataclasses import replace

    from chalicelib.deps import Container

    os.environ.update(env)
    platform, _, store_id = ref.partition("/")
    catalog = Container(environ=env).catalog_store
    store = catalog.get_store(platform, store_id)
    if store is None:
        print(f"no store {ref} (give platform/store)", file=sys.stderr)
        return 2
    if not store.disabled:
        print(f"store {ref} is enabled already")
        return 0
    catalog.put_store(replace(store, disabled=False, disabled_reason=""))
    keys_cli.record(
        env,
        Action.STORE_ENABLE,
        f"store/{platform}/{store_id}",
        before={"disabled": True, "reason": store.disabled_reason},
        after={"disabled": False},
    )
    print(f"store {ref} enabled: its deliveries are accepted again")
    return 0


def _send_amazon(env: dict[str, str], path: str) -> int:
    """Put a notification file on our Amazon queue, as Amazon's SP-API would (local testing)."""
    import boto3

    from chalicelib.api.amazon import AMAZON_QUEUE_NAME

    body = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    try:
        json.loads(body)
    except ValueError as exc:
        print(f"{path} is not JSON: {exc}", file=sys.stderr)
        return 2
    os.environ.update(env)
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    sqs = boto3.session.Session(region_name=region).client("sqs")
    url = sqs.get_queue_url(QueueName=AMAZON_QUEUE_NAME)["QueueUrl"]
    message_id = sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"]
    print(f"sent to {AMAZON_QUEUE_NAME}: message {message_id}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="orderhub", description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="area", required=True)
    dlq = sub.add_parser("dlq", help="the order events' dead-letter queue")
    actions = dlq.add_subparsers(dest="action", required=True)
    for name in ("list", "replay"):
        action = actions.add_parser(name)
        action.add_argument("--since", help="only messages sent at or after (ISO-8601, UTC)")
        action.add_argument("--store", help="only this store (id or platform/id)")
        if name == "replay":
            action.add_argument("--dry-run", action="store_true", help="show, do not replay")
    show = actions.add_parser("show")
    show.add_argument("message_id")
    check = sub.add_parser(
        "conservation", help="accepted = settled + in DLQ + in flight, per store"
    )
    check.add_argument("--date", required=True, help="the UTC day, YYYY-MM-DD")
    check.add_argument("--store", help="only this store (id or platform/id)")
    keys = sub.add_parser("secrets", help="a store's signing secret")
    key_actions = keys.add_subparsers(dest="action", required=True)
    rotation = key_actions.add_parser(
        "rotate", help="replace the secret; the old one verifies during the grace window"
    )
    rotation.add_argument("--store", required=True, help="platform/store, e.g. shopify/acme")
    source = rotation.add_mutually_exclusive_group(required=True)
    source.add_argument("--secret", help="the new secret the platform issued (its console)")
    source.add_argument(
        "--generate", action="store_true", help="issue a new whsec_ secret (own shop)"
    )
    rotation.add_argument(
        "--grace-minutes",
        type=int,
        default=60,
        help="how long the old secret still verifies (default 60: Shopify's overlap)",
    )
    stores = sub.add_parser("stores", help="the stores (shops) OrderHub takes orders from")
    store_actions = stores.add_subparsers(dest="action", required=True)
    add = store_actions.add_parser("add", help="create or update a store and its secret")
    add.add_argument("--store", required=True, help="platform/store, e.g. shopify/acme")
    add.add_argument("--timezone", required=True, help="IANA zone, e.g. Asia/Shanghai")
    add.add_argument(
        "--credentials", required=True, help="JSON file of the secret's fields ('-': stdin)"
    )
    add.add_argument("--name", default="", help="a display name")
    add.add_argument("--rules", default="{}", help='JSON, e.g. {"allow_split": true}')
    store_actions.add_parser("list", help="every store")
    enable = store_actions.add_parser("enable", help="re-enable a store disabled as unused")
    enable.add_argument("store", help="platform/store")
    amazon = sub.add_parser("amazon", help="Amazon SP-API notifications")
    amazon_actions = amazon.add_subparsers(dest="action", required=True)
    send = amazon_actions.add_parser("send", help="put a notification file on our queue")
    send.add_argument("file", help="an ORDER_CHANGE notification (JSON; '-': stdin)")
    keys_cli.add_parser(sub)
    notify_cli.add_parser(sub)
    webhook_cli.add_parser(sub)
    alarms_cli.add_parser(sub)
    backfill_cli.add_parser(sub)
    migrate_cli.add_parser(sub)
    sub.add_parser(
        "env",
        help='the running local stack\'s URLs and a dev key per role, as exports: eval "$(...)"',
    )
    tap = sub.add_parser("tap", help="local stack: print what a tap queue holds (events, SNS)")
    tap.add_argument("queue", help="e.g. orderhub-inventory-tap, orderhub-alerts-p0-tap")
    args = parser.parse_args(argv)
    if args.area == "tap":
        from local.control import main as control

        return control(["tap", args.queue])
    if args.area == "env":
        from local.control import main as control

        return control(["env"])
    if args.area == "send-order":
        env = _environment()
        api = args.api_url or os.environ.get("ORDERHUB_API") or _local_api_url()
        return webhook_cli.run(env, args, api)
    if args.area == "alarm":
        return alarms_cli.run(_environment(), args)
    if args.area == "backfill":
        return backfill_cli.run(_orders_environment(), args)
    if args.area == "migrate":
        return migrate_cli.run(dict(os.environ), args)
    if args.area == "notify":
        return notify_cli.run(_environment(), args)
    if args.area == "keys":
        return keys_cli.run(_environment(), args)
    if args.area == "amazon":
        return _send_amazon(_environment(), args.file)
    if args.area == "stores":
        env = _environment()
        if args.action == "enable":
            return _enable_store(env, args.store)
        return _add_store(env, args) if args.action == "add" else _list_stores(env)
    if args.area == "secrets":
        return _rotate(_environment(), args.store, args.secret, args.grace_minutes)
    if args.area == "conservation":
        return _conservation(_environment(), args.date, args.store)

    env = _environment()
    queue = _dlq(env)
    load = _loader(env)
    parked = [(describe(m, load), m) for m in queue.browse()]
    if args.action == "show":
        found = [(p, m) for p, m in parked if p.message_id == args.message_id]
        if not found:
            print(
                f"no message {args.message_id} in the DLQ ({len(parked)} parked)", file=sys.stderr
            )
            return 1
        p, message = found[0]
        print(p.summary)
        print(f"last failure: {_last_failure(env, p.event_key) or 'none recorded'}")
        body = str(message["Body"])
        if '"overflow"' in body[:40]:  # an S3 pointer: show the message it points to
            print(f"(overflowed to S3: {json.loads(body).get('overflow')})")
            try:
                body = json.dumps(load(body), ensure_ascii=False)
            except Exception as exc:
                print(f"(overflow object not readable: {type(exc).__name__})")
        print(json.dumps(_masked(body), indent=2, ensure_ascii=False))
        return 0
    chosen = [(p, m) for p, m in parked if selected(p, _since(args.since), args.store)]
    for p, _ in chosen:
        print(p.summary)
    if args.action == "list" or args.dry_run:
        verb = "would be replayed" if args.action == "replay" else "parked"
        print(f"{len(chosen)} of {len(parked)} messages {verb}")
        return 0
    for done, (_, message) in enumerate(chosen, start=1):
        queue.replay(message)
        _progress(done, len(chosen))
    print(f"replayed {len(chosen)} messages onto the order queue")
    keys_cli.record(
        env,
        Action.DLQ_REPLAY,
        f"dlq/{env[DLQ_VAR].rsplit('/', 1)[-1]}",
        after={
            **keys_cli.replayed([p for p, _ in chosen]),
            "since": args.since,
            "store": args.store,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
