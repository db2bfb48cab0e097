"""Packaging glue that pyproject.toml cannot say: ship the top-level ``alembic/``
folder inside the wheel as ``license_server/migrations``.

Everything else about the package lives in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["license_server", "license_server.*"]),
        "license_server.migrations",
        "license_server.migrations.versions",
    ],
    package_dir={
        "license_server.migrations": "alembic",
        "license_server.migrations.versions": "alembic/versions",
    },
)
