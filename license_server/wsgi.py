"""WSGI entry point for gunicorn: ``license_server.wsgi:app``."""

from license_server import create_app

app = create_app()
