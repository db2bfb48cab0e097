"""Master-key rotation of the sales channels' secrets (registered with ``rekey``)."""

from __future__ import annotations

import uuid
from collections import Counter

from sqlalchemy import select

from license_server.channels.envato import CODE_PURPOSE, TOKEN_PURPOSE
from license_server.channels.inbound import SECRET_PURPOSE
from license_server.extensions import db
from license_server.keyring import Keyring
from license_server.models.channels import EnvatoAccount, PurchaseCode, StoreConnection
from license_server.services import rekey


def _connections(old: Keyring, new: Keyring) -> Counter[uuid.UUID]:
    done: Counter[uuid.UUID] = Counter()
    for row in rekey._in_batches(StoreConnection):
        context = {"purpose": SECRET_PURPOSE, "row_id": str(row.id)}
        secret = old.open_channel_secret(row.secret_sealed, **context)
        row.secret_sealed = new.seal_channel_secret(secret, **context)
        done[row.vendor_id] += 1
    return done


def _envato_tokens(old: Keyring, new: Keyring) -> Counter[uuid.UUID]:
    done: Counter[uuid.UUID] = Counter()
    accounts = db.session.scalars(select(EnvatoAccount))
    for row in accounts:
        context = {"purpose": TOKEN_PURPOSE, "row_id": str(row.vendor_id)}
        token = old.open_channel_secret(row.token_sealed, **context)
        row.token_sealed = new.seal_channel_secret(token, **context)
        done[row.vendor_id] += 1
    return done


def _purchase_codes(old: Keyring, new: Keyring) -> Counter[uuid.UUID]:
    done: Counter[uuid.UUID] = Counter()
    for row in rekey._in_batches(PurchaseCode):
        context = {"purpose": CODE_PURPOSE, "row_id": str(row.id)}
        code = old.open_channel_secret(row.code_sealed, **context)
        row.code_sealed = new.seal_channel_secret(code, **context)
        row.code_hash = new.purchase_code_lookup(code)
        done[row.vendor_id] += 1
    return done


rekey.register(
    "store_connection_secrets", _connections, ("store_connections.secret_sealed",)
)
rekey.register("envato_tokens", _envato_tokens, ("envato_accounts.token_sealed",))
rekey.register(
    "purchase_codes",
    _purchase_codes,
    ("envato_purchases.code_sealed", "envato_purchases.code_hash"),
)
