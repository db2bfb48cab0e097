"""Run the example site against a local ``make run`` server: ``make example``.

The theme's settings come from the environment (README.md beside this file); the
two a newcomer does not have at hand, ``THEME_ISSUER`` and ``THEME_PUBLIC_KEY``,
are asked of the local server's command line when unset (``license-server vendors
list --json`` and ``signing-keys list --json``), for the vendor ``--vendor``. The
site itself still only talks HTTP to the server, like any theme.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CLI = Path(sys.executable).with_name("license-server")


def cli(*args: str) -> Any:
    """Run ``license-server ARGS --json``; stop with its one-line error if it fails."""
    run = subprocess.run(  # noqa: S603 - our own command, fixed arguments
        [str(CLI), *args, "--json"], capture_output=True, text=True, check=False
    )
    if run.returncode != 0:
        error = json.loads(run.stdout or "{}").get("error", {}).get("message")
        raise SystemExit(f"license-server {' '.join(args)}: {error or run.stderr}")
    return json.loads(run.stdout)


def theme_settings(vendor: str) -> dict[str, str]:
    """Return the issuer and the public keys (a JWKS) of ``vendor``."""
    found = [v for v in cli("vendors", "list")["data"] if v["slug"] == vendor]
    if not found:
        raise SystemExit(
            f"no vendor {vendor!r} on the local server: create it with\n"
            f"  {CLI} vendors create 'Acme Themes'\n"
            "or pass VENDOR=<slug> to make example"
        )
    keys = cli("signing-keys", "list", "--vendor", vendor)["data"]
    jwks = {"keys": [key["jwk"] for key in keys if key["status"] != "retired"]}
    return {"THEME_ISSUER": found[0]["issuer"], "THEME_PUBLIC_KEY": json.dumps(jwks)}


def main() -> None:
    """Fill in the missing settings, then serve the example site."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vendor", default="acme-themes")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    if not (os.environ.get("THEME_ISSUER") and os.environ.get("THEME_PUBLIC_KEY")):
        os.environ.update(theme_settings(args.vendor))
    os.environ.setdefault("SITE_DOMAIN", "blog.example.com")
    os.environ.setdefault("SHOW_NOTICE_PUBLICLY", "1")
    sys.path.insert(0, str(HERE))
    from app import create_app  # the example itself, beside this file

    print(
        f"Example site for {os.environ['THEME_ISSUER']} ({os.environ['SITE_DOMAIN']}) "
        f"on http://127.0.0.1:{args.port}/ ; paste a license key at "
        f"http://127.0.0.1:{args.port}/admin/theme-options",
        flush=True,
    )
    create_app().run(port=args.port)


if __name__ == "__main__":
    main()
