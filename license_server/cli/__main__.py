"""``python -m license_server.cli``: the same as the ``license-server`` command."""

from license_server.cli import main

main(prog_name="license-server")
