"""tools/trim_package.py on small zips (the real package: `make package`, checked by
`make cfn-lint` with `--check`)."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tools.trim_package import CRYPTO_KEEP, EXCLUDE, check, compiled, trim


def _zip(path, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


def test_trim_drops_the_excluded_modules_and_keeps_everything_else_as_it_was(tmp_path):
    package = tmp_path / "deployment.zip"
    kept = {
        "app.py": b"print('app')\n",
        "chalicelib/deps.py": b"x = 1\n",
        "aws_lambda_powertools/logging/logger.py": b"# logger\n" * 50,
        "aws_lambda_powertools/utilities/batch/base.py": b"# batch\n",
        "_cffi_backend.cpython-311-x86_64-linux-gnu.so": b"\x7fELF not really",
    }
    dropped = {prefix + "x.py": b"# unused\n" for prefix in EXCLUDE}
    _zip(package, kept | dropped)
    before, after = trim(package, strip=False, pyc=False)
    assert after < before
    with zipfile.ZipFile(package) as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == kept


def test_check_reports_a_package_that_does_not_import(tmp_path):
    package = tmp_path / "deployment.zip"
    _zip(package, {"app.py": b"import a_module_the_trim_removed\n"})
    (problem,) = check(package)
    assert "does not import" in problem and "a_module_the_trim_removed" in problem


def test_trim_keeps_of_pycryptodome_only_what_aes_gcm_loads(tmp_path):
    package = tmp_path / "deployment.zip"
    kept = {name: b"kept" for name in CRYPTO_KEEP} | {
        "pycryptodome-4.5.0.dist-info/licenses/LICENSE.rst": b"BSD",
    }
    dropped = {
        name: b"unused"
        for name in (
            "Crypto/Cipher/ChaCha20.py",
            "Crypto/Cipher/_raw_des.abi3.so",
            "Crypto/Hash/SHA256.py",
            "Crypto/PublicKey/RSA.py",
            "Crypto/SelfTest/Cipher/test_GCM.py",
            "Crypto/Util/Padding.py",
        )
    }
    assert "Crypto/Cipher/_mode_gcm.py" in CRYPTO_KEEP
    assert "Crypto/Hash/_ghash_portable.abi3.so" in CRYPTO_KEEP  # CPUs without PCLMULQDQ
    _zip(package, kept | dropped)
    trim(package, strip=False, pyc=False)
    with zipfile.ZipFile(package) as archive:
        assert set(archive.namelist()) == set(kept)


def test_every_module_gets_a_hash_checked_pyc_that_python_uses_and_a_stale_one_it_does_not(
    tmp_path,
):
    package = tmp_path / "deployment.zip"
    source = b"import sys\nVALUE = 'compiled'\nLOADED_FROM = __spec__.cached\n"
    _zip(
        package,
        {
            "pkg/__init__.py": b"",
            "pkg/mod.py": source,
            "pkg/broken.py": b"def (:\n",  # not Python 3: stays source only
            "pkg/__pycache__/old.cpython-311.pyc": b"timestamp-checked, from the wheel",
        },
    )
    trim(package, strip=False)
    task = tmp_path / "task"
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
        archive.extractall(task)
    pyc_name, pyc = compiled("pkg/mod.py", source)  # type: ignore[misc]
    assert pyc_name in names and "pkg/__pycache__/old.cpython-311.pyc" not in names
    assert not [n for n in names if "broken" in n and n.endswith(".pyc")]
    probe = (
        "import importlib.machinery as m, sys\nsys.path.insert(0, {task!r})\n"
        "spec = m.PathFinder.find_spec('pkg.mod', [{task!r} + '/pkg'])\n"
        "code = spec.loader.get_code('pkg.mod')\n"
        "print(code.co_consts)"
    )
    run = [sys.executable, "-I", "-B", "-c", probe.format(task=str(task))]
    assert "'compiled'" in subprocess.run(run, capture_output=True, text=True).stdout
    # Python reads the shipped .pyc rather than compiling (a poisoned one shows it) ...
    target = task / pyc_name
    target.write_bytes(pyc.replace(b"compiled", b"poisoned"))
    assert "'poisoned'" in subprocess.run(run, capture_output=True, text=True).stdout
    # ... and only while the source is the one it was compiled from
    (task / "pkg/mod.py").write_bytes(source.replace(b"compiled", b"edited!!"))
    assert "'edited!!'" in subprocess.run(run, capture_output=True, text=True).stdout
