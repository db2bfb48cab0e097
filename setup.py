"""Packaging glue that pyproject.toml cannot say: ship the top-level ``alembic/``
folder inside the wheel as ``license_server/migrations``, and docs/PROTOCOL.md as
``license_server/static/PROTOCOL.md`` (served at ``/docs/protocol``).

Everything else about the package lives in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py


class BuildPy(build_py):
    """Copy the wire contract into the built package."""

    def run(self) -> None:
        """Build as usual, then add docs/PROTOCOL.md to the package's static/."""
        super().run()
        target = Path(self.build_lib) / "license_server" / "static" / "PROTOCOL.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(__file__).parent / "docs" / "PROTOCOL.md", target)


setup(
    cmdclass={"build_py": BuildPy},
    packages=[
        # namespace packages too: the template and static folders hold package data,
        # and setuptools warns (a screenful on every install) about importable
        # folders it was not told about
        *find_namespace_packages(
            include=["license_server", "license_server.*"],
            exclude=["*.__pycache__"],
        ),
        "license_server.migrations",
        "license_server.migrations.versions",
    ],
    package_dir={
        "license_server.migrations": "alembic",
        "license_server.migrations.versions": "alembic/versions",
    },
)
