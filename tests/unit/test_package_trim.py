"""tools/trim_package.py on small zips (the real package: `make package`, checked by
`make cfn-lint` with `--check`)."""

from __future__ import annotations

import zipfile

from tools.trim_package import CRYPTO_KEEP, EXCLUDE, check, trim


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
    before, after = trim(package, strip=False)
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
    trim(package, strip=False)
    with zipfile.ZipFile(package) as archive:
        assert set(archive.namelist()) == set(kept)
