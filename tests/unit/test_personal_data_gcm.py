"""The vault's AES-256-GCM (pycryptodome since issue 16, `cryptography`'s AESGCM before it):
published known answers, byte-for-byte agreement with AESGCM (so envelopes sealed before the
change open after it, and the other way round), and every wrong key, nonce, associated data,
tag or length refused with the domain's `SealBroken`.

The known answers are Test Cases 13 to 16 of D. McGrew and J. Viega, "The Galois/Counter Mode
of Operation (GCM)", revised specification submitted to NIST, Appendix B
(csrc.nist.gov/groups/ST/toolkit/BCM/documents/proposedmodes/gcm/gcm-revised-spec.pdf): the
AES-256 cases with a 96-bit IV, the nonce size the vault uses. Copied from the paper (Test
Case 16 is the vault's shape: key, IV, associated data and plaintext all present)."""

from __future__ import annotations

import base64
import subprocess
import sys
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # the oracle (dev only)
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.adapters.personal_data import (
    NONCE_BYTES,
    TAG_BYTES,
    associated_data,
    gcm_open,
    gcm_seal,
)
from chalicelib.domain.personal_data import SealBroken
from tests.conftest import ROOT
from tests.privacy_fakes import fake_vault

_P = (
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
)
_K = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
# (test case, key, IV, associated data, plaintext, ciphertext, tag), hex
MCGREW_VIEGA = [
    ("13", "00" * 32, "00" * 12, "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"),
    (
        "14",
        "00" * 32,
        "00" * 12,
        "",
        "00" * 16,
        "cea7403d4d606b6e074ec5d3baf39d18",
        "d0d1c8a799996bf0265b98b5d48ab919",
    ),
    (
        "15",
        _K,
        "cafebabefacedbaddecaf888",
        "",
        _P + "1aafd255",
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
        "b094dac5d93471bdec1a502270e3cc6c",
    ),
    (
        "16",
        _K,
        "cafebabefacedbaddecaf888",
        "feedfacedeadbeeffeedfacedeadbeefabaddad2",
        _P,
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
        "76fc6ece0f4e1768cddf8853bb2d551b",
    ),
]
ORDER = "mall#demo-shop#o-1"


@pytest.mark.parametrize("case", MCGREW_VIEGA, ids=[f"test case {c[0]}" for c in MCGREW_VIEGA])
def test_the_published_aes_256_gcm_answers(case):
    key, iv, aad, plain, text, tag = (bytes.fromhex(h) for h in case[1:])
    assert gcm_seal(key, iv, plain, aad) == text + tag
    assert gcm_open(key, iv, text + tag, aad) == plain
    assert AESGCM(key).encrypt(iv, plain, aad or None) == text + tag  # the layout AESGCM wrote


@given(
    key=st.binary(min_size=32, max_size=32),
    nonce=st.binary(min_size=NONCE_BYTES, max_size=NONCE_BYTES),
    plain=st.binary(max_size=300),
    aad=st.binary(max_size=80),
)
def test_the_bytes_are_aesgcms_both_ways(key, nonce, plain, aad):
    by_aesgcm = AESGCM(key).encrypt(nonce, plain, aad)
    assert gcm_seal(key, nonce, plain, aad) == by_aesgcm
    assert len(by_aesgcm) == len(plain) + TAG_BYTES
    assert gcm_open(key, nonce, by_aesgcm, aad) == plain  # sealed before the change: opens
    assert AESGCM(key).decrypt(nonce, gcm_seal(key, nonce, plain, aad), aad) == plain


def test_a_wrong_key_nonce_associated_data_tag_or_length_is_refused():
    key, nonce, aad = bytes(range(32)), b"\x07" * NONCE_BYTES, associated_data(ORDER, "phone")
    sealed = gcm_seal(key, nonce, b"13812345678", aad)
    flipped_tag = sealed[:-1] + bytes([sealed[-1] ^ 1])
    flipped_text = bytes([sealed[0] ^ 0x80]) + sealed[1:]
    for args in (
        (bytes(32), nonce, sealed, aad),
        (key, b"\x08" * NONCE_BYTES, sealed, aad),
        (key, nonce, sealed, associated_data(ORDER, "name")),
        (key, nonce, sealed, associated_data("mall#demo-shop#o-2", "phone")),
        (key, nonce, flipped_tag, aad),
        (key, nonce, flipped_text, aad),
        (key, nonce, sealed[:-1], aad),
        (key, nonce, sealed[: TAG_BYTES - 1], aad),
        (key, nonce, b"", aad),
        (key, b"", sealed, aad),
    ):
        with pytest.raises(ValueError):
            gcm_open(*args)
    assert gcm_open(key, nonce, sealed, aad) == b"13812345678"


def test_through_the_vault_a_bad_tag_or_a_truncated_field_is_sealbroken():
    vault = fake_vault()
    sealed = vault.seal(ORDER, {"phone": "13812345678"})
    ((name, blob),) = sealed.fields
    raw = base64.b64decode(blob)
    for bad in (raw[:-1] + bytes([raw[-1] ^ 1]), raw[: NONCE_BYTES + TAG_BYTES - 1], raw[:5]):
        damaged = replace(sealed, fields=((name, base64.b64encode(bad).decode()),))
        with pytest.raises(SealBroken, match="does not open"):
            vault.open(damaged, ORDER)
    with pytest.raises(SealBroken, match="does not open"):  # not base64 at all
        vault.open(replace(sealed, fields=((name, "%%%"),)), ORDER)
    assert vault.open(sealed, ORDER) == {"phone": "13812345678"}


def test_the_lambda_way_without_cffi_gives_the_same_bytes():
    """The package carries no cffi, so on Lambda pycryptodome reaches its C code through
    ctypes (here, with cffi installed, through cffi): test case 16 both ways."""
    _, key, iv, aad, plain, text, tag = MCGREW_VIEGA[3]
    probe = (
        "import sys\nsys.modules['cffi'] = None  # as on Lambda: not importable\n"
        "from Crypto.Util import _raw_api\n"
        "from chalicelib.adapters.personal_data import gcm_open, gcm_seal\n"
        f"k, n, a, p = (bytes.fromhex(h) for h in {[key, iv, aad, plain]!r})\n"
        "sealed = gcm_seal(k, n, p, a)\n"
        "assert gcm_open(k, n, sealed, a) == p\n"
        "print(_raw_api.backend, sealed.hex())"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["ctypes", text + tag]
