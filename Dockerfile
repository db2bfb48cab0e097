# The license server under gunicorn. The master key comes from the environment
# (LICENSE_SERVER_MASTER_KEY) or a mounted file (LICENSE_SERVER_MASTER_KEY_FILE).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# pg_dump/pg_restore for `license-server backup` and `restore` (bookworm: 15, the
# major version of the PostgreSQL in docker-compose.yml)
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 licenses
WORKDIR /app
COPY pyproject.toml setup.py README.md alembic.ini ./
COPY alembic ./alembic
COPY license_server ./license_server
RUN pip install --no-cache-dir .
USER licenses
EXPOSE 8000
# Migrate, then serve: the same two steps as `make run`.
CMD ["sh", "-c", "license-server db upgrade && exec license-server serve --host 0.0.0.0 --port 8000 --workers ${WORKERS:-4}"]
