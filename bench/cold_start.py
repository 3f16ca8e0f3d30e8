"""Cold start: the webhook function's cold import against a bare `import boto3`, and the size
of the Lambda package (`make package` builds it).

Each measurement is a fresh interpreter (so nothing is cached but the .pyc files), timed
inside it around the imports only, in CPU time (process_time: on a shared machine, wall time
mostly measures the other processes); the median of --runs is printed. Target (issue 16): the
webhook path <= 2x boto3, deployment.zip <= 5 MB.

The webhook path is what its Lambda imports before answering a first delivery: app.py (every
route and handler registers; adapters are deferred, chalicelib/adapters/deferred.py), then the
adapters the webhook handler builds (WEBHOOK_MODULES) and boto3 for their clients.

Timed as Lambda runs it when the package exists: deployment.zip unpacked, on a path of only
the package, the standard library and what the Python runtime provides (boto3, botocore and
their dependencies, linked from the venv), no .pyc written (/var/task is read-only). Without
a package, from the repository.

    python bench/cold_start.py [--runs 7] [--zip build/package/deployment.zip]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZIP = ROOT / "build" / "package" / "deployment.zip"
ZIP_TARGET_MB = 5.0
RATIO_TARGET = 2.0
# What handle_webhook's first call imports (deps.catalog, .secrets, .queue, .personal_data,
# .after_sales, the trail; the catalog's secrets through Powertools' provider).
WEBHOOK_MODULES = (
    "boto3",
    "chalicelib.adapters.cache",
    "chalicelib.adapters.dynamo_models",
    "chalicelib.adapters.dynamo_records",
    "chalicelib.adapters.secrets",
    "aws_lambda_powertools.utilities.parameters",
    "chalicelib.adapters.messaging",
    "chalicelib.adapters.personal_data",
    "chalicelib.adapters.after_sales",
)

# what Lambda's Python runtime has beside the package
RUNTIME = ("boto3", "botocore", "jmespath", "s3transfer", "urllib3", "dateutil", "six.py")

_TIMER = """
import importlib, sys, time
sys.path[:0] = {path!r}
cpu = time.process_time()
for name in {modules!r}:
    importlib.import_module(name)
print((time.process_time() - cpu) * 1000)
"""


def _all_adapters() -> tuple[str, ...]:
    """Every module chalicelib/deps.py defers: what each function imported before."""
    sys.path.insert(0, str(ROOT))
    from chalicelib import deps
    from chalicelib.adapters.deferred import deferred_imports

    return tuple(sorted({d._module for d in deferred_imports(deps.__file__).values()}))


def lambda_like(package: Path, work: Path) -> list[str]:
    """The unpacked package and a runtime directory: the import path of a Lambda function."""
    task, runtime = work / "task", work / "runtime"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(task)
    runtime.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for name in RUNTIME:
        (runtime / name).symlink_to(site / name)
    return [str(task), str(runtime)]


def time_imports(modules: tuple[str, ...], path: list[str] | None = None) -> float:
    """CPU milliseconds a fresh interpreter spends importing `modules`, in order; with `path`,
    isolated (-I -S: no site-packages) on that path."""
    code = _TIMER.format(path=path or [str(ROOT)], modules=modules)
    flags = ["-I", "-S"] if path else []
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run(
        [sys.executable, *flags, "-B", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env=env,
    )
    return float(out.stdout.strip().splitlines()[-1])


def zip_report(path: Path) -> list[str]:
    if not path.exists():
        return [f"package    {path} not found: run `make package` first"]
    with zipfile.ZipFile(path) as archive:
        entries = archive.infolist()
    top: dict[str, int] = {}
    for entry in entries:
        top[entry.filename.split("/")[0]] = top.get(entry.filename.split("/")[0], 0) + (
            entry.compress_size
        )
    size = path.stat().st_size / 1e6
    biggest = sorted(top.items(), key=lambda kv: -kv[1])[:5]
    return [
        f"package    {path.name} {size:.2f} MB (target <= {ZIP_TARGET_MB:g} MB: "
        f"{'met' if size <= ZIP_TARGET_MB else 'NOT met'}), {len(entries)} files; biggest: "
        + ", ".join(f"{name} {n / 1e6:.2f}" for name, n in biggest)
    ]


def _newest_source() -> float:
    """When app.py or a chalicelib module last changed (a package older than that would time
    code that is gone, or fail on a module it lacks)."""
    files = [ROOT / "app.py", *(ROOT / "chalicelib").rglob("*.py")]
    return max(f.stat().st_mtime for f in files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--zip", type=Path, default=ZIP)
    args = parser.parse_args(argv)
    paths = {
        "boto3 alone": ("boto3",),
        "app.py alone": ("app",),
        "webhook path": ("app", *WEBHOOK_MODULES),
        "every adapter (before)": ("app", "boto3", *_all_adapters()),
    }
    if args.zip.exists() and args.zip.stat().st_mtime < _newest_source():
        print(f"{args.zip} is older than the code: run `make package` first", file=sys.stderr)
        return 2
    work = tempfile.TemporaryDirectory()
    path = lambda_like(args.zip, Path(work.name)) if args.zip.exists() else None
    print(f"imports from {'the unpacked ' + args.zip.name if path else 'the repository'}")
    time_imports(paths["every adapter (before)"], path)  # warm the page cache
    medians: dict[str, float] = {}
    for label, modules in paths.items():
        runs = [time_imports(modules, path) for _ in range(args.runs)]
        medians[label] = statistics.median(runs)
        print(
            f"cold import  {label:<24} median {medians[label]:6.0f} ms  "
            f"(min {min(runs):.0f}, max {max(runs):.0f}, {args.runs} runs)",
            flush=True,
        )
    ratio = medians["webhook path"] / medians["boto3 alone"]
    print(
        f"webhook      {ratio:.2f}x a bare boto3 import (target <= {RATIO_TARGET:g}x: "
        f"{'met' if ratio <= RATIO_TARGET else 'NOT met'}); "
        f"load average {Path('/proc/loadavg').read_text().split()[0]} (noisy when > cores)"
    )
    print("\n".join(zip_report(args.zip)))
    work.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
