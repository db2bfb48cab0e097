"""WSGI entry point for gunicorn: ``license_server.wsgi:app``."""

import gc

from license_server import create_app

app = create_app()
# Everything built so far (modules, the app, its schemas and mappers) lives as long as
# the process: move it out of the collector's reach, so a full collection walks only
# what requests made since. A 1,000-licence batch issue allocates enough objects to
# run one every few calls, and walking the whole app made it about 20 ms of CPU
# (bench/profile_issue.py's mean, issue 9); this is what the gc docs advise for
# long-lived servers.
gc.freeze()
