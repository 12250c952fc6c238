from __future__ import annotations

import pytest

from bastion.crypto.digest import sha256_hex


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # FIPS 180-2, appendix B.1 and B.2; the empty string from NIST's examples.
        (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        ),
        (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ],
)
def test_sha256_hex_matches_fips_180_vectors(data: bytes, expected: str) -> None:
    assert sha256_hex(data) == expected
