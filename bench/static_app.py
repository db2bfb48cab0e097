"""The baseline of the download benchmark: one file, served by a bare WSGI app.

It runs under the same server with the same options as ``license-server serve``,
and hands the file to the server's ``wsgi.file_wrapper`` as Werkzeug's
``send_file`` does, so the difference to the real download is the app's own work
(URL check, licence re-check, download count).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

PATH = os.environ["BENCH_STATIC_FILE"]
SIZE = os.path.getsize(PATH)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer every request with the file."""
    start_response(
        "200 OK",
        [("Content-Type", "application/zip"), ("Content-Length", str(SIZE))],
    )
    handle = open(PATH, "rb")  # noqa: SIM115 - the server closes it
    wrapper = environ.get("wsgi.file_wrapper")
    if wrapper is not None:
        return wrapper(handle, 1024 * 1024)  # type: ignore[no-any-return]
    return iter(lambda: handle.read(1024 * 1024), b"")
