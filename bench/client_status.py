"""Benchmark: a warm ``LicenseClient.status()`` against one Ed25519 verification.

``status()`` answers from the verified state cached in memory, so it should cost
microseconds: far less than verifying the token's signature again. Prints the
median time per call of each (``timeit``, several runs) and their ratio.

    .venv/bin/python bench/client_status.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from license_client import (
    ClientConfig,
    JsonFileStore,
    LicenseClient,
    StoredState,
    jwk_thumbprint,
)

GOAL_US = 5.0
REPEAT = 7


def per_call_us(statement: Callable[[], object], number: int) -> float:
    """Return the median time per call in microseconds over ``REPEAT`` runs."""
    runs = timeit.repeat(statement, number=number, repeat=REPEAT)
    return statistics.median(runs) / number * 1e6


def main() -> int:
    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    kid = jwk_thumbprint(public)
    now = int(time.time())
    claims = {
        "iss": "acme-themes",
        "aud": "jannah",
        "dom": "shop.example.com",
        "valid": True,
        "code": "VALID",
        "iat": now,
        "exp": now + 7 * 86400,
        "grace": 14 * 86400,
        "nonce": "bench",
    }
    token = jwt.encode(
        claims, private, algorithm="EdDSA", headers={"kid": kid, "typ": "license+jwt"}
    )
    with tempfile.TemporaryDirectory() as folder:
        store = JsonFileStore(Path(folder) / "license.json")
        store.save(StoredState(license_key="JAN-X", token=token, server_time=now))
        client = LicenseClient(
            ClientConfig(
                server_url="https://licenses.example.com",
                issuer="acme-themes",
                product="jannah",
                product_name="Jannah",
                public_keys=public,
                domain="shop.example.com",
                settings_url="/admin/theme-options",
                store=store,
            )
        )
        if not client.status().valid:  # also warms the cache
            raise SystemExit("the benchmark token does not verify")
        status_us = per_call_us(client.status, number=200_000)
        notice_us = per_call_us(client.notice, number=200_000)

    signing_input, _, _ = token.rpartition(".")
    signature = private.sign(signing_input.encode())
    verify_us = per_call_us(
        lambda: public.verify(signature, signing_input.encode()), number=5_000
    )
    print(f"status() warm cache : {status_us:8.3f} us/call (goal <= {GOAL_US} us)")
    print(f"notice() warm cache : {notice_us:8.3f} us/call")
    print(f"Ed25519 verify      : {verify_us:8.3f} us/call (cryptography)")
    print(f"verify / status     : {verify_us / status_us:8.1f}x")
    return 0 if status_us <= GOAL_US else 1


if __name__ == "__main__":
    sys.exit(main())
