"""The master secret and everything derived from it.

One 32-byte master secret is the root of all server-side secrets. From it, HKDF
derives independent subkeys for each purpose, so no two uses share a key:

- ``signing-key-encryption``: AES-256-GCM over vendors' Ed25519 private keys;
- ``license-key-encryption``: AES-256-GCM over license keys (a vendor can see a key
  again, the database alone cannot);
- ``license-key-lookup`` / ``api-key-lookup``: HMAC-SHA256 keys for the lookup
  hashes, so a stolen database does not let anyone test guessed keys offline;
- ``client-address``: HMAC-SHA256 key for the hashed client addresses in events;
- ``web-cookie-signing``: Flask's secret key for the web pages' signed cookies;
- ``web-token-lookup``: HMAC-SHA256 key for web session, invitation and reset tokens;
- ``web-secret-encryption``: AES-256-GCM over staff TOTP secrets;
- ``webhook-secret-encryption``: AES-256-GCM over webhook endpoints' HMAC secrets;
- ``release-key-encryption``: AES-256-GCM over vendors' package-signing keys;
- ``download-url``: HMAC-SHA256 key for the signed, short-lived package URLs;
- ``channel-secret-encryption``: AES-256-GCM over store connections' signing
  secrets, Envato personal tokens and Envato purchase codes, each bound to its row;
- ``purchase-code-lookup``: HMAC-SHA256 key for the lookup hashes of purchase codes;
- ``idempotency-replay``: AES-256-GCM over stored answers replayed for an
  ``Idempotency-Key`` (they may hold a new license key or API key);
- ``event-chain``: HMAC-SHA256 key of the events' chain MACs, so a database writer
  who deletes or edits an event cannot rebuild a chain that verifies;
- ``mail-secret-encryption``: AES-256-GCM over the secrets of queued mails (a
  sign-in link, a licence key) until they are sent.

Every sealed value is bound to its row: the associated data of AES-GCM names the
purpose, the vendor and the row id, so a ciphertext moved to another row (another
vendor's) does not open.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import stat
import uuid
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASTER_KEY_BYTES = 32
_NONCE_BYTES = 12


class MasterKeyError(RuntimeError):
    """The master secret is missing, malformed or unsafely stored."""


def new_master_key() -> str:
    """Return a fresh master secret: 32 random bytes, base64url without padding."""
    return (
        base64.urlsafe_b64encode(secrets.token_bytes(MASTER_KEY_BYTES))
        .decode()
        .rstrip("=")
    )


def decode_master_key(text: str) -> bytes:
    """Decode a base64url master secret and check it is exactly 32 bytes."""
    cleaned = text.strip()
    try:
        raw = base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (ValueError, TypeError) as exc:
        raise MasterKeyError("the master key is not valid base64url") from exc
    if len(raw) != MASTER_KEY_BYTES:
        raise MasterKeyError(
            f"the master key must decode to {MASTER_KEY_BYTES} bytes, got {len(raw)}"
        )
    return raw


def read_master_key_file(path: Path) -> bytes:
    """Read a master key file, refusing one that others can read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise MasterKeyError(f"master key file {path} does not exist") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise MasterKeyError(
            f"master key file {path} is accessible by group or others "
            f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}"
        )
    return decode_master_key(path.read_text(encoding="ascii", errors="replace"))


def create_master_key_file(path: Path) -> None:
    """Write a fresh master key to ``path`` with mode 0600 (never overwrites)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(new_master_key() + "\n")


class _HmacSha256:
    """HMAC-SHA256 under one key, its padded-key states hashed once (RFC 2104).

    ``hmac.digest`` sets the key up on every call; a batch issue computes two
    MACs per license, so the inner and outer states are kept and copied instead.
    The result is HMAC-SHA256's, byte for byte (tests/server/test_keyring.py).
    """

    _BLOCK = 64  # SHA-256's block size

    def __init__(self, key: bytes) -> None:
        if len(key) > self._BLOCK:
            key = hashlib.sha256(key).digest()
        padded = key.ljust(self._BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


class Keyring:
    """Purpose-bound keys derived from the master secret."""

    def __init__(self, master: bytes) -> None:
        if len(master) != MASTER_KEY_BYTES:
            raise MasterKeyError("the master key must be 32 bytes")
        self._signing = AESGCM(self._derive(master, "signing-key-encryption"))
        self._license = AESGCM(self._derive(master, "license-key-encryption"))
        self._license_lookup = _HmacSha256(self._derive(master, "license-key-lookup"))
        self._api_lookup = self._derive(master, "api-key-lookup")
        self._address = self._derive(master, "client-address")
        self.web_cookie_secret = self._derive(master, "web-cookie-signing")
        self._web_lookup = self._derive(master, "web-token-lookup")
        self._web_secret = AESGCM(self._derive(master, "web-secret-encryption"))
        self._webhook = AESGCM(self._derive(master, "webhook-secret-encryption"))
        self._release = AESGCM(self._derive(master, "release-key-encryption"))
        self._download = self._derive(master, "download-url")
        self._channel = AESGCM(self._derive(master, "channel-secret-encryption"))
        self._purchase_lookup = self._derive(master, "purchase-code-lookup")
        self._mail = AESGCM(self._derive(master, "mail-secret-encryption"))
        self._replay = AESGCM(self._derive(master, "idempotency-replay"))
        self._chain = _HmacSha256(self._derive(master, "event-chain"))

    @staticmethod
    def _derive(master: bytes, purpose: str) -> bytes:
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=None,
            info=f"license-server/v1/{purpose}".encode(),
        )
        return hkdf.derive(master)

    @staticmethod
    def _seal(aead: AESGCM, plaintext: bytes, context: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + aead.encrypt(nonce, plaintext, context)

    @staticmethod
    def _open(aead: AESGCM, sealed: bytes, context: bytes) -> bytes:
        return aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], context)

    def seal_signing_key(self, private_bytes: bytes, kid: str) -> bytes:
        """Encrypt a raw Ed25519 private key, bound to its ``kid``."""
        return self._seal(self._signing, private_bytes, kid.encode())

    def open_signing_key(self, sealed: bytes, kid: str) -> bytes:
        """Decrypt a private key sealed by :meth:`seal_signing_key`."""
        return self._open(self._signing, sealed, kid.encode())

    @staticmethod
    def _row(purpose: bytes, vendor_id: uuid.UUID, row_id: uuid.UUID) -> bytes:
        return purpose + b"\x00" + vendor_id.bytes + row_id.bytes

    def seal_license_key(
        self, key: str, *, vendor_id: uuid.UUID, license_id: uuid.UUID
    ) -> bytes:
        """Encrypt a license key's canonical text, bound to its license row."""
        context = self._row(b"license-key", vendor_id, license_id)
        return self._seal(self._license, key.encode(), context)

    def open_license_key(
        self, sealed: bytes, *, vendor_id: uuid.UUID, license_id: uuid.UUID
    ) -> str:
        """Decrypt a key sealed by :meth:`seal_license_key` for this very row."""
        context = self._row(b"license-key", vendor_id, license_id)
        return self._open(self._license, sealed, context).decode()

    def open_unbound_license_key(self, sealed: bytes) -> str:
        """Decrypt a key sealed before keys were bound to rows (migration 0009)."""
        return self._open(self._license, sealed, b"license-key").decode()

    def seal_replay(
        self, body: bytes, *, vendor_id: uuid.UUID, row_id: uuid.UUID
    ) -> bytes:
        """Encrypt a stored idempotent answer, bound to its row."""
        context = self._row(b"idempotency-replay", vendor_id, row_id)
        return self._seal(self._replay, body, context)

    def open_replay(
        self, sealed: bytes, *, vendor_id: uuid.UUID, row_id: uuid.UUID
    ) -> bytes:
        """Decrypt an answer sealed by :meth:`seal_replay` for this very row."""
        context = self._row(b"idempotency-replay", vendor_id, row_id)
        return self._open(self._replay, sealed, context)

    def chain_mac(self, payload: bytes) -> str:
        """Keyed digest (HMAC-SHA256, hex) of one event's chained payload."""
        return self._chain.digest(payload).hex()

    def license_lookup(self, body: str) -> bytes:
        """Keyed hash of a license key's canonical body, for lookups."""
        return self._license_lookup.digest(body.encode())

    def api_key_lookup(self, token: str) -> bytes:
        """Keyed hash of an admin API key, for lookups."""
        return hmac.new(self._api_lookup, token.encode(), hashlib.sha256).digest()

    def client_address(self, address: str) -> str:
        """Keyed, truncated hash of a client address, for events."""
        digest = hmac.new(self._address, address.encode(), hashlib.sha256)
        return digest.hexdigest()[:24]

    def web_token_lookup(self, purpose: str, token: str) -> bytes:
        """Keyed hash of a web token (session, invitation, reset) for a purpose."""
        message = f"{purpose}\0{token}".encode()
        return hmac.new(self._web_lookup, message, hashlib.sha256).digest()

    def seal_web_secret(self, secret: str, context: str) -> bytes:
        """Encrypt a web secret (a TOTP seed), bound to ``context`` (its owner)."""
        return self._seal(self._web_secret, secret.encode(), context.encode())

    def open_web_secret(self, sealed: bytes, context: str) -> str:
        """Decrypt a secret sealed by :meth:`seal_web_secret`."""
        return self._open(self._web_secret, sealed, context.encode()).decode()

    def seal_webhook_secret(self, secret: str, endpoint_id: str) -> bytes:
        """Encrypt a webhook endpoint's HMAC secret, bound to the endpoint."""
        return self._seal(self._webhook, secret.encode(), endpoint_id.encode())

    def open_webhook_secret(self, sealed: bytes, endpoint_id: str) -> str:
        """Decrypt a secret sealed by :meth:`seal_webhook_secret`."""
        return self._open(self._webhook, sealed, endpoint_id.encode()).decode()

    def seal_release_key(self, private_bytes: bytes, kid: str) -> bytes:
        """Encrypt a raw Ed25519 package-signing key, bound to its ``kid``."""
        return self._seal(self._release, private_bytes, kid.encode())

    def open_release_key(self, sealed: bytes, kid: str) -> bytes:
        """Decrypt a key sealed by :meth:`seal_release_key`."""
        return self._open(self._release, sealed, kid.encode())

    def download_mac(self, data: bytes) -> bytes:
        """Keyed hash (HMAC-SHA256) authenticating a package download URL."""
        return hmac.new(self._download, data, hashlib.sha256).digest()

    def seal_channel_secret(self, secret: str, *, purpose: str, row_id: str) -> bytes:
        """Encrypt a sales-channel secret, bound to its purpose and row."""
        context = f"{purpose}\0{row_id}".encode()
        return self._seal(self._channel, secret.encode(), context)

    def open_channel_secret(self, sealed: bytes, *, purpose: str, row_id: str) -> str:
        """Decrypt a secret sealed by :meth:`seal_channel_secret` for this row."""
        context = f"{purpose}\0{row_id}".encode()
        return self._open(self._channel, sealed, context).decode()

    def purchase_code_lookup(self, code: str) -> bytes:
        """Keyed hash of an Envato purchase code's canonical text, for lookups."""
        return hmac.new(self._purchase_lookup, code.encode(), hashlib.sha256).digest()

    def seal_mail_secret(
        self, secret: bytes, *, vendor_id: uuid.UUID, mail_id: uuid.UUID
    ) -> bytes:
        """Encrypt a queued mail's secrets, bound to its outbox row."""
        context = self._row(b"mail-secret", vendor_id, mail_id)
        return self._seal(self._mail, secret, context)

    def open_mail_secret(
        self, sealed: bytes, *, vendor_id: uuid.UUID, mail_id: uuid.UUID
    ) -> bytes:
        """Decrypt secrets sealed by :meth:`seal_mail_secret` for this very row."""
        context = self._row(b"mail-secret", vendor_id, mail_id)
        return self._open(self._mail, sealed, context)
