"""The benchmark's moving parts: a scratch database, the server, wrk, the admin API.

Everything here talks to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "lua"
BIN = Path(sys.executable).parent
# one per run: two benchmarks at once must not drop each other's database
PG_BENCH_DATABASE = f"ls_bench_{os.getpid()}"


def ensure_wrk() -> str:
    """Return the path of wrk, installing Debian's package when root and missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("wrk is not installed: apt-get install wrk (or your system's package)")
    print("installing wrk (apt-get update && apt-get install -y wrk) ...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or sys.exit("wrk is still missing after apt-get")


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def database(backend: str, pg_url: str, scratch: Path) -> Iterator[str]:
    """Yield the URL of an empty database for ``backend``; drop it afterwards."""
    if backend == "sqlite":
        path = scratch / "bench.sqlite3"
        yield f"sqlite:///{path}"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    def admin(statement: str) -> None:
        with psycopg.connect(pg_url, autocommit=True) as connection:
            connection.execute(statement)

    admin(f'DROP DATABASE IF EXISTS "{PG_BENCH_DATABASE}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{PG_BENCH_DATABASE}"')
    base, _, _ = pg_url.rpartition("/")
    try:
        yield f"{base}/{PG_BENCH_DATABASE}"
    finally:
        admin(f'DROP DATABASE IF EXISTS "{PG_BENCH_DATABASE}" WITH (FORCE)')


def cli(env: Mapping[str, str], *args: str) -> str:
    """Run ``license-server ARGS`` and return its standard output."""
    command = [str(BIN / "license-server"), *args]
    done = subprocess.run(command, env=dict(env), capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"license-server {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


@dataclass
class Server:
    """A running ``license-server serve``."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    db: str = ""  # the PostgreSQL database's name, to find its backends

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        """Return the pids of the server's worker processes (children, recursively)."""
        found: list[int] = []
        frontier = [self.process.pid]
        while frontier:
            pid = frontier.pop()
            children = Path(f"/proc/{pid}/task/{pid}/children")
            kids = (
                [int(p) for p in children.read_text().split()]
                if children.exists()
                else []
            )
            found += kids
            frontier += kids
        return found


_TICKS = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> float:
    """Return the user + system CPU seconds of one process (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _postgres_backends(database: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if command.startswith("postgres: ") and f" {database} " in command:
            found.append(int(entry.name))
    return found


def cpu_seconds(server: Server) -> dict[str, float]:
    """CPU seconds used so far by the server's processes and by the database."""
    pids = [server.process.pid, *server.worker_pids()]
    return {
        "server": sum(_process_cpu(pid) for pid in pids),
        "database": sum(_process_cpu(pid) for pid in _postgres_backends(server.db)),
    }


@contextmanager
def serve(
    env: Mapping[str, str], scratch: Path, options: list[str]
) -> Iterator[Server]:
    """Start ``license-server serve`` with ``options``; stop it on exit."""
    port = free_port()
    log = scratch / f"serve-{port}.log"
    command = [str(BIN / "license-server"), "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), *options]
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, env=dict(env), stdout=sink, stderr=subprocess.STDOUT
        )
    database = env.get("LICENSE_SERVER_DATABASE_URL", "")
    name = database.rpartition("/")[2] if database.startswith("postgres") else ""
    server = Server(process, port, log, name or "-")
    try:
        _wait_ready(server)
        yield server
    finally:
        workers = server.worker_pids()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _reap(workers)


@contextmanager
def serve_ideal(
    env: Mapping[str, str], scratch: Path, server: str, workers: int, threads: int
) -> Iterator[Server]:
    """Serve bench/ideal.py with the WSGI server and flags ``serve`` would use."""
    from license_server.cli.serve import DEFAULT_SERVER, _server_argv

    port = free_port()
    log = scratch / f"ideal-{port}.log"
    argv = _server_argv(server or DEFAULT_SERVER, "127.0.0.1", port, workers, threads)
    argv[-1] = "ideal:app"
    child_env = {**env, "PYTHONPATH": str(Path(__file__).resolve().parent)}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            argv, env=child_env, stdout=sink, stderr=subprocess.STDOUT
        )
    database = env.get("LICENSE_SERVER_DATABASE_URL", "")
    name = database.rpartition("/")[2] if database.startswith("postgres") else ""
    ideal = Server(process, port, log, name or "-")
    try:
        _wait_ready(ideal)
        yield ideal
    finally:
        workers_seen = ideal.worker_pids()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _reap(workers_seen)


def _reap(pids: list[int], timeout: float = 10) -> None:
    """Make sure the server's own workers (these pids) are gone; kill stragglers."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)


def _wait_ready(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            sys.exit(f"the server exited:\n{server.log.read_text()[-3000:]}")
        try:
            status, _ = http(server.url + "/readyz")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"the server did not become ready:\n{server.log.read_text()[-3000:]}")


def http(
    url: str, body: Any = None, token: str | None = None, timeout: float = 60
) -> tuple[int, Any]:
    """GET, or POST ``body`` as JSON, to a 127.0.0.1 URL; return status and JSON."""
    assert url.startswith("http://127.0.0.1:")
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@dataclass
class WrkResult:
    """One wrk run, summarised."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    detail: dict[str, Any]


def wrk(
    url: str,
    script: str,
    *args: str,
    seconds: float,
    connections: int,
    threads: int,
) -> WrkResult:
    """Run wrk with one of bench/lua's scripts; return its summary."""
    command = [
        ensure_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
    ]
    command += ["--timeout", "5s", "-s", script, url]
    if args:
        command += ["--", *args]
    done = subprocess.run(
        command, cwd=LUA, capture_output=True, text=True, timeout=seconds + 120
    )
    line = next(
        (text for text in done.stdout.splitlines() if text.startswith("BENCH_JSON ")),
        None,
    )
    if done.returncode != 0 or line is None:
        sys.exit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    detail = json.loads(line.removeprefix("BENCH_JSON "))
    seconds_run = detail["duration_us"] / 1e6
    errors = sum(detail[k] for k in ("connect", "read", "write", "status", "timeout"))
    return WrkResult(
        requests=detail["requests"],
        seconds=seconds_run,
        rps=detail["requests"] / seconds_run,
        p50_ms=detail["p50_us"] / 1000,
        p99_ms=detail["p99_us"] / 1000,
        errors=errors,
        detail=detail,
    )


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    """A temporary folder for the run's database file, logs and key files."""
    return tempfile.TemporaryDirectory(prefix="ls-bench-")
