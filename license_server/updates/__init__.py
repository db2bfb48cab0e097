"""Releases and licence-gated updates (docs/UPDATES.md).

``init_app`` builds the update path's per-app state (:class:`UpdateRuntime`: the
package storage, the release catalogs, the stats buffers) beside the app's runtime,
registers the public and admin blueprints on the app's API, and refuses framing on
every route that does not allow it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from license_server import runtime as runtimes
from license_server.runtime.caches import TTLCache
from license_server.updates import catalog, stats, storage

EXTENSION = "license_server.updates"


@dataclass(eq=False)
class UpdateRuntime:
    """One app's update-path state: storage, cached catalogs, stats buffers."""

    storage: storage.Storage
    catalogs: TTLCache[object, catalog.Catalog]
    checks: stats.CheckCounters
    downloads: stats.DownloadCounters
    download_ttl: int


def of(app: Flask) -> UpdateRuntime:
    """Return ``app``'s update runtime."""
    found: UpdateRuntime = app.extensions[EXTENSION]
    return found


def init_app(app: Flask, api: object) -> None:
    """Give ``app`` its update runtime and the update routes."""
    from license_server.updates import admin_api
    from license_server.updates import api as public_api

    config = app.config
    shared = runtimes.of(app)
    interval = float(config["UPDATE_STATS_FLUSH_INTERVAL"])
    app.extensions[EXTENSION] = UpdateRuntime(
        storage=storage.from_config(config),
        # same generation as the app's caches: a commit that stales them stales these
        catalogs=TTLCache(
            float(config["CACHE_TTL"]), generation=shared.caches.generation
        ),
        checks=stats.CheckCounters(interval),
        downloads=stats.DownloadCounters(interval),
        download_ttl=int(config["DOWNLOAD_TTL"]),
    )
    catalog.watch(shared.engine, shared.caches)
    api.register_blueprint(public_api.blp)  # type: ignore[attr-defined]
    api.register_blueprint(admin_api.blp)  # type: ignore[attr-defined]
