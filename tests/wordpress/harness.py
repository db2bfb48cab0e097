"""A real WordPress for the end-to-end suite: Debian's package, MariaDB, PHP's server.

One copy of ``/usr/share/wordpress`` serves two sites (``shop-one.com`` and
``shop-two.com``, told apart by the Host header and by ``E2E_SITE`` for PHP scripts),
each with its own table prefix in one fresh MariaDB database made for this run and
dropped after it. The browser reaches both names through Chromium's host-resolver
rules (every other name fails to resolve); WordPress reaches nothing but 127.0.0.1
(``WP_HTTP_BLOCK_EXTERNAL``), and a must-use plugin logs every HTTP request it makes
so the tests can assert that.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

WP_SOURCE = Path("/usr/share/wordpress")
CHROMIUM = Path("/usr/bin/chromium")
SITE_FILES = Path(__file__).parent / "site"
SITES = {"one": "shop-one.com", "two": "shop-two.com"}
_DB = "'127.0.0.1', 'root', '', '', 3306"
ADMIN_USER, ADMIN_PASSWORD = "admin", "e2e-" + secrets.token_hex(8)


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def missing_prerequisites() -> list[str]:
    """Return what this machine lacks for a real WordPress run (empty: nothing)."""
    missing = []
    if shutil.which("php") is None:
        missing.append("php (apt-get install php-cli)")
    if not (WP_SOURCE / "wp-settings.php").is_file():
        missing.append("WordPress (apt-get install wordpress)")
    if not CHROMIUM.is_file():
        missing.append("Chromium (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright for Python (pip install playwright)")
    if shutil.which("php"):
        probe = subprocess.run(
            ["php", "-r", "echo @mysqli_connect(" + _DB + ") ? 'ok' : 'no';"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if probe.stdout.strip() != "ok":
            missing.append("MariaDB at 127.0.0.1:3306 with php-mysql")
    return missing


def copy_tree(source: Path, target: Path) -> None:
    """Copy a tree, every symlink replaced by its target (a dangling one left out).

    Debian's WordPress links its bundled libraries (underscore.js, getID3, cropper) to
    the system's copies with relative links. ``shutil.copytree`` with
    ``ignore_dangling_symlinks`` tests a relative link against the working directory,
    not the link's own, so it drops them all, and wp-admin's Backbone screens (the
    theme details overlay, the changelog link) break without underscore.js.
    """
    shutil.copytree(source, target, symlinks=True)
    for link in [path for path in target.rglob("*") if path.is_symlink()]:
        resolved = (source / link.relative_to(target)).resolve()
        link.unlink()
        if resolved.is_dir():
            shutil.copytree(resolved, link)
        elif resolved.is_file():
            shutil.copy2(resolved, link)


@dataclass
class WordPress:
    """One WordPress tree, database and PHP server for a test run."""

    root: Path
    artifacts: Path
    license_port: int
    port: int = field(default_factory=free_port)
    database: str = field(
        default_factory=lambda: f"wp_e2e_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    )
    process: subprocess.Popen[bytes] | None = None

    @property
    def http_log(self) -> Path:
        return self.artifacts / "wordpress-http.jsonl"

    def url(self, site: str, path: str = "/") -> str:
        """Return a URL of a site as the browser reaches it."""
        return f"http://{SITES[site]}:{self.port}{path}"

    def set_up(self, theme: Path) -> None:
        """Copy WordPress, configure it, create the database, install both sites."""
        self.artifacts.mkdir(parents=True, exist_ok=True)
        copy_tree(WP_SOURCE, self.root)
        (self.root / "wp-config.php").unlink()
        salts = "\n".join(
            f"define( '{name}', '{secrets.token_hex(32)}' );"
            for name in (
                "AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT "
                "SECURE_AUTH_SALT LOGGED_IN_SALT NONCE_SALT"
            ).split()
        )
        config = (SITE_FILES / "wp-config.php.in").read_text() % {
            "db": _php(self.database),
            "port": self.port,
            "debug_log": _php(str(self.artifacts / "wordpress-debug.log")),
            "http_log": _php(str(self.http_log)),
            "license_port": self.license_port,
            "salts": salts,
        }
        (self.root / "wp-config.php").write_text(config)
        mu = self.root / "wp-content" / "mu-plugins"
        mu.mkdir(exist_ok=True)
        shutil.copy(SITE_FILES / "e2e-loopback.php", mu / "e2e-loopback.php")
        shutil.copytree(theme, self.root / "wp-content" / "themes" / theme.name)
        self.sql(f"CREATE DATABASE `{self.database}` CHARACTER SET utf8mb4")
        shutil.copy(SITE_FILES / "e2e-install.php", self.root / "e2e-install.php")
        for site in SITES:
            assert self.php_file("e2e-install.php", site).endswith("installed")
            self.php(f"switch_theme({_php(theme.name)}); echo 'ok';", site)

    def start(self) -> None:
        """Serve the tree with PHP's built-in server (several workers)."""
        env = dict(os.environ, PHP_CLI_SERVER_WORKERS="4")
        with (self.artifacts / "php-server.log").open("ab") as log:
            self.process = subprocess.Popen(
                ["php", "-S", f"127.0.0.1:{self.port}", "-t", str(self.root)],
                cwd=self.root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its workers share the group: stop them all
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.get("one", "/wp-login.php")
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("PHP's built-in server did not start")

    def get(self, site: str, path: str) -> tuple[int, str]:
        """GET a page from PHP's server with the site's Host header."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            headers={"Host": f"{SITES[site]}:{self.port}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
                return answer.status, answer.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")

    def php(self, code: str, site: str = "one") -> str:
        """Run PHP inside WordPress (wp-load.php) for a site; return its output."""
        script = self.root / f"e2e-{uuid.uuid4().hex}.php"
        script.write_text(
            "<?php\nrequire __DIR__ . '/wp-load.php';\n"
            "require_once ABSPATH . 'wp-admin/includes/admin.php';\n" + code
        )
        try:
            return self.php_file(script.name, site)
        finally:
            script.unlink()

    def php_file(self, name: str, site: str) -> str:
        """Run a PHP file of the tree for a site."""
        env = dict(
            os.environ,
            E2E_SITE=site,
            E2E_USER=ADMIN_USER,
            E2E_PASSWORD=ADMIN_PASSWORD,
        )
        result = subprocess.run(
            [
                "php",
                "-d",
                "error_reporting=E_ALL & ~E_DEPRECATED",
                str(self.root / name),
            ],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"php {name} failed: {result.stdout}\n{result.stderr}")
        return result.stdout.strip()

    def sql(self, statement: str) -> None:
        """Run one SQL statement as MariaDB's root (for the database itself)."""
        code = (
            f"$db = mysqli_connect({_DB}); $ok = mysqli_query($db, {_php(statement)});"
            "if (!$ok) { fwrite(STDERR, mysqli_error($db)); exit(1); }"
        )
        subprocess.run(["php", "-r", code], check=True, timeout=60)

    def http_requests(self) -> list[dict[str, object]]:
        """Return every HTTP request WordPress made (or had blocked) so far."""
        if not self.http_log.exists():
            return []
        return [json.loads(line) for line in self.http_log.read_text().splitlines()]

    def tear_down(self) -> None:
        """Stop the server and drop the database."""
        if self.process is not None:
            # PHP_CLI_SERVER_WORKERS forks workers that outlive a terminated master
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.sql(f"DROP DATABASE IF EXISTS `{self.database}`")
        shutil.rmtree(self.root, ignore_errors=True)


def _php(value: str) -> str:
    """Return a PHP single-quoted string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
