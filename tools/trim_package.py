"""Trim the Lambda package `chalice package` built (`make package` runs this after it).

What goes, and why it is safe (tests/integration/test_package_trim.py imports every handler
module from the trimmed package with only what Lambda's runtime provides beside it):

- Powertools' modules we never import (EXCLUDE): the REST/HTTP event handler with its Swagger
  UI bundle (Chalice is our router), the parser (needs pydantic, absent), idempotency,
  feature flags, Kafka, data masking, streaming, validation, the alpha auth utilities;
- pycryptodome (`Crypto/`) but what the vault's AES-256-GCM loads (CRYPTO_KEEP: the modules
  `AES.new(key, AES.MODE_GCM, nonce=...)` imports and the C libraries it opens by path through
  ctypes, as no cffi is packaged); every other cipher, hash, public-key and self-test goes;
- cffi's and pycparser's Python sources, should a dependency bring them: they are for
  building extensions (none of ours needs them since pycryptodome replaced cryptography);
- symbol tables of the shared libraries (`strip --strip-unneeded`, when `strip` exists):
  debugging data Lambda never reads; the code and exported symbols stay.

What is added: a compiled .pyc beside every module (`__pycache__/`, this interpreter's tag,
hash-checked: used only while its source is unchanged, whatever the files' dates). /var/task
is read-only, so without them every cold start compiles each module it imports from source:
the webhook function's imports took 575 ms of CPU that way against 305 ms with them (2026-12,
bench/cold_start.py, which now runs with -B; before, its warm-up run wrote .pyc files into its
scratch copy of the package, so it measured them without our shipping them). The .pyc the
wheels brought (timestamp-checked, so not used after Lambda unpacks) are replaced. About
+1 MB. Chalice packages for the Python it runs on, so this tag is the functions' runtime's.

    python -m tools.trim_package build/package/deployment.zip
"""

from __future__ import annotations

import argparse
import importlib.util
import marshal
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

TARGET_BYTES = 5_000_000  # issue 16
BUDGET_BYTES = 5_000_000  # `--check` (make cfn-lint) fails above it (6.2 MB with cryptography)
# what Lambda's Python runtime has beside the package (the rest must be in it)
RUNTIME = ("boto3", "botocore", "jmespath", "s3transfer", "urllib3", "dateutil", "six.py")
_IMPORT_ALL = """
import importlib, sys
sys.path[:0] = {path!r}
import app
from chalicelib import deps
from chalicelib.adapters.deferred import deferred_imports
for deferred in deferred_imports(deps.__file__).values():
    deferred.resolve()
from chalicelib.adapters.personal_data import gcm_open, gcm_seal
from Crypto.Util import _raw_api
sealed = gcm_seal(bytes(32), bytes(12), b"x", b"aad")
assert gcm_open(bytes(32), bytes(12), sealed, b"aad") == b"x"
try:
    gcm_open(bytes(32), bytes(12), sealed, b"other aad")
    raise SystemExit("AES-GCM opened with the wrong associated data")
except ValueError:
    pass
print(len(app.app.handler_map), "handlers; AES-GCM through", _raw_api.backend)
"""
# pycryptodome's files that AES-GCM needs at run time (found by loading it with cffi absent and
# listing the modules and shared libraries the process then had; `--check` proves it again)
CRYPTO_KEEP = frozenset(
    "Crypto/" + name
    for name in (
        "__init__.py",
        "Cipher/__init__.py",
        "Cipher/AES.py",
        "Cipher/_mode_ctr.py",
        "Cipher/_mode_ecb.py",
        "Cipher/_mode_gcm.py",
        "Cipher/_state_machine.py",
        "Cipher/_raw_aes.abi3.so",
        "Cipher/_raw_aesni.abi3.so",
        "Cipher/_raw_ctr.abi3.so",
        "Cipher/_raw_ecb.abi3.so",
        "Hash/_ghash_clmul.abi3.so",
        "Hash/_ghash_portable.abi3.so",
        "Random/__init__.py",
        "Util/__init__.py",
        "Util/_cpu_features.py",
        "Util/_cpuid_c.abi3.so",
        "Util/_file_system.py",
        "Util/_raw_api.py",
        "Util/_threads.py",
        "Util/number.py",
    )
)
EXCLUDE = (
    "aws_lambda_powertools/event_handler/",
    "aws_lambda_powertools/utilities/parser/",
    "aws_lambda_powertools/utilities/idempotency/",
    "aws_lambda_powertools/utilities/feature_flags/",
    "aws_lambda_powertools/utilities/kafka/",
    "aws_lambda_powertools/utilities/data_masking/",
    "aws_lambda_powertools/utilities/streaming/",
    "aws_lambda_powertools/utilities/validation/",
    "aws_lambda_powertools/utilities/auth_alpha/",
    "cffi/",
    "pycparser/",
)


def excluded(name: str) -> bool:
    if name.startswith("Crypto/") and not name.endswith("/"):
        return name not in CRYPTO_KEEP
    return name.startswith(EXCLUDE)


def compiled(name: str, source: bytes) -> tuple[str, bytes] | None:
    """The hash-checked .pyc of the module `name` (a path in the zip) and where it goes, or
    None for a source this Python cannot compile (it stays source only)."""
    try:
        code = compile(source, name, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    flags = (0b11).to_bytes(4, "little")  # hash-based, checked against the source
    header = importlib.util.MAGIC_NUMBER + flags + importlib.util.source_hash(source)
    return importlib.util.cache_from_source(name), header + marshal.dumps(code)


def trim(path: Path, strip: bool = True, pyc: bool = True) -> tuple[int, int]:
    """Rewrite the zip at `path` in place; returns (bytes before, bytes after)."""
    before = path.stat().st_size
    strip_tool = shutil.which("strip") if strip else None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        out = work / "trimmed.zip"
        with (
            zipfile.ZipFile(path) as source,
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target,
        ):
            for info in source.infolist():
                if excluded(info.filename) or info.filename.endswith(".pyc"):
                    continue
                data = source.read(info)
                if strip_tool and info.filename.endswith(".so"):
                    data = _stripped(strip_tool, data, work)
                target.writestr(_same_meta(info), data)
                if pyc and info.filename.endswith(".py"):
                    built = compiled(info.filename, data)
                    if built is not None:
                        target.writestr(_same_meta(info, built[0]), built[1])
        shutil.move(out, path)
    return before, path.stat().st_size


def _same_meta(info: zipfile.ZipInfo, name: str | None = None) -> zipfile.ZipInfo:
    copy = zipfile.ZipInfo(name or info.filename, info.date_time)
    copy.external_attr = info.external_attr  # keeps the file mode (executables, .so)
    copy.compress_type = zipfile.ZIP_DEFLATED
    return copy


def _stripped(tool: str, data: bytes, work: Path) -> bytes:
    lib = work / "lib.so"
    lib.write_bytes(data)
    result = subprocess.run([tool, "--strip-unneeded", str(lib)], capture_output=True)
    return lib.read_bytes() if result.returncode == 0 else data


def check(path: Path) -> list[str]:
    """Problems of a trimmed package: over budget, or a module of ours that cannot import
    (with AES-GCM working) from it on a Lambda-like path (isolated, no site-packages)."""
    import sysconfig

    problems = []
    if path.stat().st_size > BUDGET_BYTES:
        problems.append(f"{path} is {path.stat().st_size:,} bytes (budget {BUDGET_BYTES:,})")
    with tempfile.TemporaryDirectory() as tmp:
        task, runtime = Path(tmp) / "task", Path(tmp) / "runtime"
        with zipfile.ZipFile(path) as archive:
            archive.extractall(task)
        runtime.mkdir()
        site = Path(sysconfig.get_paths()["purelib"])
        for name in RUNTIME:
            (runtime / name).symlink_to(site / name)
        code = _IMPORT_ALL.format(path=[str(task), str(runtime)])
        result = subprocess.run(
            [sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, cwd=tmp
        )
        if result.returncode != 0:
            problems.append("the package does not import: " + result.stderr[-2000:])
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("zip", type=Path)
    parser.add_argument("--no-strip", action="store_true")
    parser.add_argument("--no-pyc", action="store_true", help="ship sources only")
    parser.add_argument("--check", action="store_true", help="check a trimmed package only")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.zip)
        print("\n".join(problems) or f"{args.zip}: imports, within {BUDGET_BYTES:,} bytes")
        return 1 if problems else 0
    before, after = trim(args.zip, strip=not args.no_strip, pyc=not args.no_pyc)
    verdict = "met" if after <= TARGET_BYTES else "NOT met"
    print(
        f"{args.zip}: {before / 1e6:.2f} MB -> {after / 1e6:.2f} MB "
        f"(target <= {TARGET_BYTES / 1e6:g} MB: {verdict})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
