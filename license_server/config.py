"""Configuration: defaults, then ``LICENSE_SERVER_*`` environment, then overrides.

The *embedded default* is the server with no ``LICENSE_SERVER_DATABASE_URL``: SQLite in
the instance folder. Only there does the server create its own master key (once, mode
0600, in the instance folder). Anywhere else it refuses to start without one.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from license_server.keyring import (
    Keyring,
    MasterKeyError,
    create_master_key_file,
    decode_master_key,
    read_master_key_file,
)

log = logging.getLogger(__name__)

PREFIX = "LICENSE_SERVER_"

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,
    "MASTER_KEY": None,
    "MASTER_KEY_FILE": None,
    "INSTANCE_PATH": None,
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "MAX_HEADER_BYTES": 16 * 1024,
    "DB_POOL_SIZE": 10,
    "LAST_SEEN_INTERVAL": 3600,
    "LAST_SEEN_FLUSH_INTERVAL": 10,
    "CACHE_TTL": 5,
    "USAGE_FLUSH_INTERVAL": 10,
    "LOG_LEVEL": "INFO",
    "TRUSTED_PROXIES": 0,
    "RATELIMIT_ENABLED": 1,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_KEY_PREFIX": "license-server",
    "RATELIMIT_ACTIVATE": "60/minute",
    "RATELIMIT_VALIDATE": "300/minute",
    "RATELIMIT_DEACTIVATE": "60/minute",
    "RATELIMIT_JWKS": "120/minute",
    # the update routes (docs/UPDATES.md): the check and PUC's metadata, package
    # downloads, the changelog page
    "RATELIMIT_UPDATE_CHECK": "300/minute",
    "RATELIMIT_DOWNLOAD": "60/minute",
    "RATELIMIT_CHANGELOG": "120/minute",
    # a store's signed events (POST /v1/channels/<id>/events), per sending address
    "RATELIMIT_CHANNEL_EVENTS": "300/minute",
    "RATELIMIT_LICENSE_KEY": "60/minute",
    "RATELIMIT_FAILED_LOOKUPS": "20/minute;200/hour",
    # a second path for the EDD endpoint (besides / and /edd/<vendor>/), e.g. the
    # path of the old store's home page when a proxy forwards it unchanged
    "EDD_PATH": None,
    "WEB_SESSION_IDLE": 1800,
    "WEB_SESSION_LIFETIME": 43200,
    "WEB_COOKIE_SECURE": None,
    # argon2id's cost of new staff passwords: passes, memory in KiB, lanes; these are
    # argon2-cffi's defaults (RFC 9106's second recommendation). Lower only for tests.
    "PASSWORD_HASH_COST": "3,65536,4",
    # webhooks (docs/WEBHOOKS.md): receivers are https on public addresses unless
    # these allow-lists say otherwise (comma-separated schemes / CIDR networks)
    "WEBHOOK_ALLOWED_SCHEMES": "https",
    "WEBHOOK_ALLOWED_NETWORKS": "",
    "WEBHOOK_TIMEOUT": 15,
    "WEBHOOK_EXPIRING_SOON_DAYS": 7,
    "WEBHOOK_POLL_INTERVAL": 1,
    "WEBHOOK_JOBS_INTERVAL": 60,
    # releases and updates (docs/UPDATES.md)
    "RELEASE_STORAGE": "local",
    "RELEASE_MAX_BYTES": 64 * 1024 * 1024,
    "S3_ENDPOINT_URL": None,
    "DOWNLOAD_TTL": 1800,
    "X_ACCEL_PREFIX": None,
    "UPDATE_STATS_FLUSH_INTERVAL": 10,
    # sales channels (docs/CHANNELS.md): Envato's API, for purchase codes
    "ENVATO_API_URL": "https://api.envato.com",
    "ENVATO_TIMEOUT": 10,
    # mail and the customer portal (docs/PORTAL.md)
    "PUBLIC_URL": None,
    "SMTP_HOST": None,
    "SMTP_PORT": None,
    "SMTP_SECURITY": "starttls",
    "SMTP_USER": None,
    "SMTP_PASSWORD": None,
    "SMTP_FROM": None,
    "SMTP_TIMEOUT": 15,
}

_INT_KEYS = {
    "MAX_CONTENT_LENGTH",
    "MAX_HEADER_BYTES",
    "DB_POOL_SIZE",
    "LAST_SEEN_INTERVAL",
    "LAST_SEEN_FLUSH_INTERVAL",
    "CACHE_TTL",
    "USAGE_FLUSH_INTERVAL",
    "TRUSTED_PROXIES",
    "RATELIMIT_ENABLED",
    "WEB_SESSION_IDLE",
    "WEB_SESSION_LIFETIME",
    "WEB_COOKIE_SECURE",
    "WEBHOOK_TIMEOUT",
    "WEBHOOK_EXPIRING_SOON_DAYS",
    "WEBHOOK_POLL_INTERVAL",
    "WEBHOOK_JOBS_INTERVAL",
    "RELEASE_MAX_BYTES",
    "DOWNLOAD_TTL",
    "UPDATE_STATS_FLUSH_INTERVAL",
    "ENVATO_TIMEOUT",
    "SMTP_PORT",
    "SMTP_TIMEOUT",
}
# Settings that may hold a secret (a password in a URL): each may instead be read from
# a file named by ``LICENSE_SERVER_<NAME>_FILE`` (Docker and Kubernetes secrets). The
# master key has its own ``MASTER_KEY_FILE`` setting, which also checks the mode.
FILE_KEYS = ("DATABASE_URL", "RATELIMIT_STORAGE_URI", "SMTP_PASSWORD")
DB_FILE_NAME = "license_server.sqlite3"
KEY_FILE_NAME = "master.key"


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says how to fix it."""


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in DEFAULTS:
        raw = environ.get(PREFIX + name)
        if raw is None or raw == "":
            continue
        if name in _INT_KEYS:
            try:
                values[name] = int(raw)
            except ValueError as exc:
                raise ConfigError(f"{PREFIX}{name} must be an integer") from exc
        else:
            values[name] = raw
    for name in FILE_KEYS:
        path = environ.get(PREFIX + name + "_FILE")
        if not path:
            continue
        if environ.get(PREFIX + name):
            raise ConfigError(f"set {PREFIX}{name} or {PREFIX}{name}_FILE, not both")
        values[name] = _read_secret_file(PREFIX + name + "_FILE", Path(path))
    return values


def _read_secret_file(setting: str, path: Path) -> str:
    """Return a secret file's text without its trailing newline."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot read {path}: {exc.strerror}") from exc
    if not text:
        raise ConfigError(f"{setting}: {path} is empty")
    return text


def resolve(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Merge defaults, environment and overrides into one settings mapping."""
    settings = dict(DEFAULTS)
    settings.update(_from_environment(os.environ if environ is None else environ))
    settings.update(overrides or {})
    if not settings["INSTANCE_PATH"]:
        settings["INSTANCE_PATH"] = str(Path.cwd() / "instance")
    settings["EMBEDDED"] = not settings["DATABASE_URL"]
    if settings["EMBEDDED"]:
        db_file = Path(settings["INSTANCE_PATH"]) / DB_FILE_NAME
        settings["DATABASE_URL"] = f"sqlite:///{db_file}"
    return settings


def load_master_key(settings: Mapping[str, Any]) -> bytes:
    """Find the master key, creating it only on the embedded default."""
    try:
        if settings["MASTER_KEY"]:
            return decode_master_key(str(settings["MASTER_KEY"]))
        if settings["MASTER_KEY_FILE"]:
            return read_master_key_file(Path(settings["MASTER_KEY_FILE"]))
        if not settings["EMBEDDED"]:
            raise ConfigError(
                f"no master key: set {PREFIX}MASTER_KEY or {PREFIX}MASTER_KEY_FILE "
                "(`license-server master-key` prints a fresh one)"
            )
        path = Path(settings["INSTANCE_PATH"]) / KEY_FILE_NAME
        if not path.exists():
            create_master_key_file(path)
            log.warning(
                "generated a new master key at %s (mode 0600): back it up", path
            )
        return read_master_key_file(path)
    except MasterKeyError as exc:
        raise ConfigError(str(exc)) from exc


def load_config(app: Flask, overrides: Mapping[str, Any] | None = None) -> Keyring:
    """Put the resolved settings on ``app``; return the keyring of its master key."""
    settings = resolve(overrides)
    app.config.update(settings)
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(
        settings["DATABASE_URL"]
    )
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    app.config["MAX_CONTENT_LENGTH"] = settings["MAX_CONTENT_LENGTH"]
    app.config["JSON_SORT_KEYS"] = False
    app.config.update(
        API_TITLE="License Server API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
    )
    if settings["EMBEDDED"]:
        prepare_instance(Path(settings["INSTANCE_PATH"]))
    return Keyring(load_master_key(settings))


def password_hash_cost(value: str) -> tuple[int, int, int]:
    """Parse ``PASSWORD_HASH_COST`` ("passes,memory_kib,lanes") as argon2 accepts it."""
    try:
        passes, memory, lanes = (int(part) for part in str(value).split(","))
    except ValueError as exc:
        raise ConfigError(
            f"{PREFIX}PASSWORD_HASH_COST must be three integers, "
            "passes,memory_kib,lanes (default 3,65536,4)"
        ) from exc
    if passes < 1 or lanes < 1 or memory < 8 * lanes:
        raise ConfigError(
            f"{PREFIX}PASSWORD_HASH_COST: argon2 needs at least 1 pass, 1 lane and "
            "8 KiB of memory per lane"
        )
    return passes, memory, lanes


def prepare_instance(folder: Path) -> None:
    """Make the embedded instance private: folder 0700, database files 0600.

    The folder is created 0700 (an existing one of ours is tightened to it). The
    database file is created empty with mode 0600 before SQLite opens it, so its
    ``-wal`` and ``-shm`` files, which SQLite creates with the database's mode,
    are 0600 too. A database file that group or others can read is refused, as the
    key file is: it holds every sealed secret and the lookup hashes.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(folder.stat().st_mode) & 0o077:
        folder.chmod(0o700)
        log.warning("made the instance folder %s private (mode 0700)", folder)
    database = folder / DB_FILE_NAME
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    for path in (database, *(Path(f"{database}{end}") for end in ("-wal", "-shm"))):
        if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise ConfigError(
                f"database file {path} is accessible by group or others (mode "
                f"{stat.S_IMODE(path.stat().st_mode):04o}); run: chmod 600 {path}"
            )


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


def engine_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """Return engine options: a pool on PostgreSQL, a timeout on SQLite.

    The pool does not ping before each checkout (a round trip per request): a
    connection is recycled after ``pool_recycle`` seconds, and one found dead after
    a database restart is dropped with the whole pool on its first error (the
    request answers 503, or the hot path retries it once on a fresh connection).
    """
    url = config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {
        "pool_recycle": 300,
        "pool_size": config["DB_POOL_SIZE"],
        "max_overflow": config["DB_POOL_SIZE"],
        "pool_timeout": 10,
        "connect_args": {"connect_timeout": 5},
    }
