"""The production topology on loopback: N ``license-server serve`` behind nginx.

Each server process listens on its own port (as N machines would), all share one
PostgreSQL database of this cluster's own and the machine's Redis under a key prefix
of this cluster's own, and Debian's nginx runs in front as a child process with its
own prefix, configuration, pid and logs in a temporary folder, rendered from the same
``deploy/nginx/license-server.conf.template`` that docker-compose.yml uses. Used by
the scale-out tests and by ``bench/scale_out.py``; nothing here imports pytest.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "nginx" / "license-server.conf.template"
BIN = Path(sys.executable).parent


class Missing(RuntimeError):
    """A service or tool the cluster needs is not there."""

    def __init__(self, reason: str, switch: str) -> None:
        super().__init__(reason)
        self.switch = switch  # the REQUIRE_* variable that forbids skipping


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def render_template(values: Mapping[str, str], template: Path | None = None) -> str:
    """Fill in ``${NAME}`` placeholders as the nginx image's envsubst does."""
    template = template or TEMPLATE
    text = template.read_text()
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    left = re.findall(r"\$\{LS_[A-Z_]+\}", text)
    if left:
        raise ValueError(f"unfilled placeholders in {template.name}: {left}")
    return text


def nginx_binary() -> str:
    """Return the path of nginx, or raise :class:`Missing`."""
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if not found:
        raise Missing(
            "nginx is not installed (apt-get install -y nginx)", "REQUIRE_NGINX"
        )
    return found


def _get(url: str, timeout: float = 2) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
        status: int = response.status
        return status


def wait_until_ready(
    url: str, timeout: float = 60, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll ``url`` until it answers 200 (or the process exits, or time runs out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            if _get(url) == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} is not ready after {timeout} s")


@dataclass
class Server:
    """One ``license-server serve`` process group on its own port."""

    index: int
    port: int
    env: dict[str, str]
    log: Path
    workers: int = 1
    # the tests count each process's requests in its access log; the bench turns it off
    access_log: bool = True
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return this process's own base URL (bypassing nginx)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> None:
        """Start the process (in its own session, so a kill takes its workers)."""
        argv = [str(BIN / "license-server"), "serve", "--host", "127.0.0.1"]
        argv += ["--port", str(self.port), "--workers", str(self.workers)]
        argv += ["--access-log"] if self.access_log else ["--no-access-log"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait:
            wait_until_ready(f"{self.url}/readyz", process=self.process)

    def stop(self, timeout: float = 30) -> None:
        """Stop gracefully: gunicorn finishes the requests it has accepted."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """``kill -9`` the whole process group, as a machine that loses power."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=10)

    def served(self, path: str) -> int:
        """Count the POSTs to paths starting ``path`` in this process's access log."""
        return self.log.read_text(errors="replace").count(f'"POST {path}')


@dataclass
class Nginx:
    """Debian's nginx as a non-daemon child with everything in ``prefix``."""

    prefix: Path
    upstreams: list[int]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Return the proxy's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        """Render the site from the shared template into a main config of its own."""
        servers = "\n    ".join(
            f"server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;"
            for port in self.upstreams
        )
        site = render_template(
            {"LS_LISTEN": f"127.0.0.1:{self.port}", "LS_UPSTREAM_SERVERS": servers}
        )
        (self.prefix / "license-server.conf").write_text(site)
        main = self.prefix / "nginx.conf"
        main.write_text(
            f"worker_processes 1;\n"
            f"pid {self.prefix}/nginx.pid;\n"
            f"error_log {self.prefix}/error.log warn;\n"
            "events { worker_connections 512; }\n"
            "http {\n"
            f"    access_log {self.prefix}/access.log;\n"
            f"    client_body_temp_path {self.prefix}/body;\n"
            f"    proxy_temp_path {self.prefix}/proxy;\n"
            f"    fastcgi_temp_path {self.prefix}/fastcgi;\n"
            f"    uwsgi_temp_path {self.prefix}/uwsgi;\n"
            f"    scgi_temp_path {self.prefix}/scgi;\n"
            f"    include {self.prefix}/license-server.conf;\n"
            "}\n"
        )
        return main

    def start(self) -> None:
        """Check the configuration, then run nginx in the foreground."""
        self.prefix.mkdir(parents=True, exist_ok=True)
        main = self.write_config()
        argv = [nginx_binary(), "-p", str(self.prefix), "-c", str(main)]
        argv += ["-e", str(self.prefix / "error.log")]
        subprocess.run([*argv, "-t", "-q"], check=True, capture_output=True)
        with (self.prefix / "stderr.log").open("wb") as stderr:
            self.process = subprocess.Popen(
                [*argv, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=stderr
            )
        wait_until_ready(f"{self.url}/healthz", timeout=20, process=self.process)

    def stop(self) -> None:
        """Stop nginx (a quick shutdown; nothing is in flight by then)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def errors(self) -> str:
        """Return nginx's error log (upstream failures are logged here)."""
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class Cluster:
    """N server processes and nginx on one database and one Redis prefix."""

    workdir: Path
    database_url: str
    master_key: str
    redis_prefix: str
    env: dict[str, str]
    servers: list[Server]
    nginx: Nginx

    @property
    def url(self) -> str:
        """Return the base URL clients use: nginx's."""
        return self.nginx.url

    def settings(self) -> dict[str, str]:
        """Return the settings every process runs with (for in-process apps)."""
        return {
            name[len("LICENSE_SERVER_") :]: value
            for name, value in self.env.items()
            if name.startswith("LICENSE_SERVER_")
        }


def _server_env(
    database_url: str,
    master_key: str,
    redis_url: str,
    prefix: str,
    extra: Mapping[str, str],
) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LICENSE_SERVER_")
    }
    env.update(
        {
            "LICENSE_SERVER_DATABASE_URL": database_url,
            "LICENSE_SERVER_MASTER_KEY": master_key,
            "LICENSE_SERVER_TRUSTED_PROXIES": "1",
            "LICENSE_SERVER_RATELIMIT_STORAGE_URI": redis_url,
            "LICENSE_SERVER_RATELIMIT_KEY_PREFIX": prefix,
            # a small pool: nine engineers share this PostgreSQL's max_connections
            "LICENSE_SERVER_DB_POOL_SIZE": "2",
            "LICENSE_SERVER_LOG_LEVEL": "WARNING",
        }
    )
    env.update({f"LICENSE_SERVER_{name}": value for name, value in extra.items()})
    return env


@contextmanager
def postgres_database(base_url: str) -> Iterator[str]:
    """Create a database of this cluster's own, migrated; drop it afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from license_server import migrate
    from license_server.config import normalise_database_url

    base = make_url(normalise_database_url(base_url))
    name = f"ls_scale_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "missing"
        admin.dispose()
        raise Missing(
            f"PostgreSQL at {base!r} is not reachable: {exc}", "REQUIRE_POSTGRES"
        ) from exc
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _drop_prefix(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@contextmanager
def cluster(
    workdir: Path,
    *,
    pg_url: str,
    redis_url: str,
    processes: int = 3,
    workers: int = 1,
    settings: Mapping[str, str] | None = None,
    access_log: bool = True,
) -> Iterator[Cluster]:
    """Run ``processes`` servers behind nginx; stop everything and clean up after."""
    import redis

    from license_server.keyring import new_master_key

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        raise Missing(
            f"Redis at {redis_url} is not reachable: {exc}", "REQUIRE_REDIS"
        ) from exc
    nginx_binary()
    prefix = f"ls-scale-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    master_key = new_master_key()
    with postgres_database(pg_url) as database_url:
        env = _server_env(database_url, master_key, redis_url, prefix, settings or {})
        servers = [
            Server(
                i, free_port(), env, workdir / f"server-{i}.log", workers, access_log
            )
            for i in range(processes)
        ]
        proxy = Nginx(workdir / "nginx", [server.port for server in servers])
        try:
            for server in servers:
                server.start(wait=False)
            for server in servers:
                assert server.process is not None
                wait_until_ready(f"{server.url}/readyz", process=server.process)
            proxy.start()
            yield Cluster(
                workdir, database_url, master_key, prefix, env, servers, proxy
            )
        finally:
            proxy.stop()
            for server in servers:
                server.kill()
            _drop_prefix(redis_url, prefix)


def create_vendor(running: Cluster, name: str = "Scale Themes") -> str:
    """Create a vendor in the cluster's database; return its admin API key."""
    from datetime import UTC, datetime

    from license_server import create_app
    from license_server.extensions import db
    from license_server.runtime import of as runtime_of
    from license_server.services.vendors import create_vendor as create

    app = create_app({**running.settings(), "INSTANCE_PATH": str(running.workdir)})
    with app.app_context():
        new = create(keyring=runtime_of(app).keyring, name=name, now=datetime.now(UTC))
        api_key = new.api_key
        db.engine.dispose()
    return api_key
