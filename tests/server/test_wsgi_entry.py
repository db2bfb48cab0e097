"""The WSGI entry point builds the app, then freezes its objects out of the GC."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import TEST_MASTER_KEY


def test_the_served_app_leaves_its_start_up_objects_to_no_full_collection(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "LICENSE_SERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "LICENSE_SERVER_MASTER_KEY": TEST_MASTER_KEY,
        "LICENSE_SERVER_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    probe = (
        "import gc; assert gc.get_freeze_count() == 0;"
        " from license_server.wsgi import app; print(gc.get_freeze_count())"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) > 10_000  # the app's objects, all of them
