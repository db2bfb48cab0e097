"""Three server processes behind nginx on one PostgreSQL and one Redis (issue 18).

The topology of docker-compose.yml, on loopback: each ``license-server serve`` on
its own port, Debian's nginx in front (the same site template), the machine's
PostgreSQL (a database of the test's own) and Redis (a key prefix of the test's own).
Every request loop here is bounded by a count, never by luck.
"""

from __future__ import annotations

import queue
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
import requests
from sqlalchemy import create_engine, text

from tests.system.cluster import Cluster, create_vendor

pytestmark = pytest.mark.system

Start = Callable[..., AbstractContextManager[Cluster]]
# Generous limits for the load cases: still counted on Redis, never reached.
HIGH_LIMITS = {
    "RATELIMIT_ACTIVATE": "100000/minute",
    "RATELIMIT_VALIDATE": "100000/minute",
    "RATELIMIT_LICENSE_KEY": "100000/minute",
}


@dataclass
class Vendor:
    """The admin side of one vendor, through a chosen base URL."""

    api_key: str
    product: str = "scale"
    product_id: str = ""

    def call(self, base: str, method: str, path: str, **body: Any) -> Any:
        """Call the admin API at ``base``; return the JSON of a 2xx answer."""
        response = requests.request(
            method,
            f"{base}/v1/admin{path}",
            json=body or None,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=30,
        )
        assert response.status_code < 300, (response.status_code, response.text)
        return response.json()

    def setup(self, base: str, licenses: int, **product: Any) -> list[dict[str, Any]]:
        """Create the product and ``licenses`` licenses; return them (with keys)."""
        created = self.call(
            base, "POST", "/products", slug=self.product, name="Scale", **product
        )
        self.product_id = created["id"]
        return [
            self.call(base, "POST", "/licenses", product=self.product)
            for _ in range(licenses)
        ]


def _vendor(running: Cluster) -> Vendor:
    return Vendor(create_vendor(running))


def public(
    session: requests.Session, base: str, endpoint: str, key: str, domain: str
) -> tuple[int, dict[str, Any]]:
    """POST a public endpoint; return the status and JSON (status 0: no answer)."""
    body = {"license_key": key, "domain": domain, "product": "scale"}
    try:
        response = session.post(f"{base}/v1/{endpoint}", json=body, timeout=30)
    except requests.RequestException as exc:
        return 0, {"error": type(exc).__name__}
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, {"text": response.text[:200]}


@dataclass
class Outcome:
    endpoint: str
    key: str
    domain: str
    status: int
    body: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class Load:
    """Answers so far; :meth:`stop` ends the load before the work runs out."""

    outcomes: list[Outcome] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    # answers cut mid-way (the client retried them once, as real clients do)
    cut: list[Outcome] = field(default_factory=list)

    def stop(self) -> None:
        """Let the clients finish their current request and stop."""
        self.stopping.set()


@contextmanager
def load(
    base: str,
    work: list[tuple[str, str, str]],
    threads: int,
    *,
    retry_cut_answers: bool = False,
) -> Iterator[Load]:
    """Send the (endpoint, key, domain) items through ``threads`` clients, in order,
    until all are sent or the load is stopped (the list bounds every loop).

    With ``retry_cut_answers``, an answer whose headers arrived but whose body was
    cut (a process killed between gunicorn's two writes: no proxy can retry an
    answer it has started to pass on) is recorded in ``cut`` and sent again once.
    """
    items: queue.Queue[tuple[str, str, str]] = queue.Queue()
    for item in work:
        items.put(item)
    running = Load()

    def client() -> None:
        with requests.Session() as session:
            while not running.stopping.is_set():
                try:
                    endpoint, key, domain = items.get_nowait()
                except queue.Empty:
                    return
                status, body = public(session, base, endpoint, key, domain)
                if retry_cut_answers and body.get("error") == "ChunkedEncodingError":
                    running.cut.append(Outcome(endpoint, key, domain, status, body))
                    status, body = public(session, base, endpoint, key, domain)
                running.outcomes.append(Outcome(endpoint, key, domain, status, body))

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    try:
        yield running
    except BaseException:
        running.stop()  # a failed check does not wait for the rest of the work
        raise
    finally:
        for worker in workers:
            worker.join(timeout=300)


def wait_for(outcomes: list[Outcome], count: int, timeout: float = 120) -> None:
    """Wait until ``count`` answers are in (the load is under way)."""
    deadline = time.monotonic() + timeout
    while len(outcomes) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(outcomes) >= count, f"only {len(outcomes)} answers in {timeout} s"


def server_errors(outcomes: list[Outcome]) -> list[tuple[int, dict[str, Any]]]:
    """Return every answer that is a 5xx or no answer at all."""
    return [(o.status, o.body) for o in outcomes if o.status == 0 or o.status >= 500]


def test_a_per_address_limit_is_one_limit_across_all_processes(start: Start) -> None:
    settings = {
        "RATELIMIT_VALIDATE": "30/hour",
        "RATELIMIT_LICENSE_KEY": "100000/minute",
    }
    with start(settings=settings) as running:
        vendor = _vendor(running)
        (lic,) = vendor.setup(running.url, 1)
        with requests.Session() as session:
            status, _ = public(session, running.url, "activate", lic["key"], "a.test")
            assert status == 201
            statuses = Counter(
                public(session, running.url, "validate", lic["key"], "a.test")[0]
                for _ in range(60)
            )
        # three per-process limits would have let all 60 through
        assert statuses == {200: 30, 429: 30}
        served = [server.served("/v1/validate") for server in running.servers]
        assert all(count >= 10 for count in served), served


def _token_ttl(body: dict[str, Any]) -> int:
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    ttl: int = claims["exp"] - claims["iat"]
    return ttl


def test_a_change_through_one_process_is_seen_through_the_others_in_bound(
    start: Start,
) -> None:
    cache_ttl = 2
    with start(settings={"CACHE_TTL": str(cache_ttl), **HIGH_LIMITS}) as running:
        vendor = _vendor(running)
        first, second = vendor.setup(running.url, 2, max_domains=2, token_ttl=3600)
        one, *others = running.servers
        with requests.Session() as session:
            for lic in (first, second):
                assert (
                    public(session, one.url, "activate", lic["key"], "a.test")[0] == 201
                )
            for server in others:  # warm every process's caches
                status, body = public(
                    session, server.url, "validate", first["key"], "a.test"
                )
                assert (status, body["code"], _token_ttl(body)) == (200, "VALID", 3600)

            # licence state: read fresh on every request, so seen at once
            vendor.call(one.url, "POST", f"/licenses/{first['id']}/revoke")
            for server in others:
                status, body = public(
                    session, server.url, "validate", first["key"], "a.test"
                )
                assert (status, body["code"], body["valid"]) == (200, "REVOKED", False)

            # product settings: cached per process, seen within CACHE_TTL
            path = f"/products/{vendor.product_id}"
            vendor.call(one.url, "PATCH", path, token_ttl=600)
            changed = time.monotonic()
            for server in others:
                seen = None
                for _ in range(200):  # bounded: 200 x 50 ms
                    asked = time.monotonic()
                    _, body = public(
                        session, server.url, "validate", second["key"], "a.test"
                    )
                    if _token_ttl(body) == 600:
                        # when the answering request began: its own latency aside,
                        # plus one poll for the request before it
                        seen = asked - changed
                        break
                    time.sleep(0.05)
                assert seen is not None and seen <= cache_ttl + 1.5, seen


def _live_activations(database_url: str) -> list[tuple[str, str, str, bool]]:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT CAST(license_id AS TEXT), domain, CAST(id AS TEXT),"
                " deactivated_at IS NULL FROM activations"
            )
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_kill_9_of_one_process_under_load_loses_and_duplicates_nothing(
    start: Start,
) -> None:
    seats, candidates = 3, 6
    with start(settings=HIGH_LIMITS) as running:
        vendor = _vendor(running)
        licenses = vendor.setup(running.url, 8, max_domains=seats)
        # every license is asked for twice as many domains as it has seats, and
        # every (license, domain) pair twice, from different clients
        pairs = [
            (lic["key"], f"site{n}-{uuid.uuid4().hex[:6]}.com")
            for lic in licenses
            for n in range(candidates)
        ]
        work = [("activate", key, domain) for key, domain in pairs * 2]
        random.Random(18).shuffle(work)
        victim = running.servers[1]
        with load(running.url, work, threads=6, retry_cut_answers=True) as under_load:
            outcomes = under_load.outcomes
            wait_for(outcomes, len(work) // 4)
            victim.kill()
            killed_at = time.monotonic()
        assert len(outcomes) == len(work)
        assert server_errors(outcomes) == []
        # only an answer the killed process was writing can be cut: at most one per
        # worker of that process (one here); its retry is in the checks below
        assert len(under_load.cut) <= victim.workers
        assert any(o.at > killed_at for o in outcomes)
        assert victim.served("/v1/activate") > 0

        won: dict[tuple[str, str], set[str]] = {}
        for o in outcomes:
            if o.status in (200, 201):
                won.setdefault((o.key, o.domain), set()).add(o.body["activation_id"])
            else:
                assert (o.status, o.body.get("code")) == (
                    409,
                    "ACTIVATION_LIMIT_REACHED",
                )
        # both answers for one pair name the same activation: never two
        assert all(len(ids) == 1 for ids in won.values())

        ids = {lic["key"]: lic["id"] for lic in licenses}
        rows = _live_activations(running.database_url)
        assert all(live for *_, live in rows)
        in_db = Counter((license_id, domain) for license_id, domain, _, _ in rows)
        assert max(in_db.values()) == 1  # no duplicated activation
        answered = {
            (ids[key], domain): next(iter(v)) for (key, domain), v in won.items()
        }
        # every success answered is in the database, and nothing else is
        assert {(lid, dom): aid for lid, dom, aid, _ in rows} == answered
        per_license = Counter(license_id for license_id, *_ in rows)
        assert max(per_license.values()) <= seats
        assert sum(per_license.values()) == seats * len(licenses)


def test_a_rolling_restart_under_load_answers_no_5xx(start: Start) -> None:
    with start(settings=HIGH_LIMITS) as running:
        vendor = _vendor(running)
        licenses = vendor.setup(running.url, 4, max_domains=1000)
        keys = [lic["key"] for lic in licenses]
        with requests.Session() as session:
            for key in keys:
                assert (
                    public(session, running.url, "activate", key, "home.com")[0] == 201
                )
        # validations of the live sites and activations of new ones, interleaved,
        # more than the restarts need: the load is stopped once they are done
        work = []
        for n in range(30_000):
            key = keys[n % len(keys)]
            if n % 5:
                work.append(("validate", key, "home.com"))
            else:
                work.append(("activate", key, f"new{n}.com"))
        restarted_at = []
        with load(running.url, work, threads=4) as under_load:
            outcomes = under_load.outcomes
            wait_for(outcomes, 100)
            for server in running.servers:
                server.stop()
                server.start(wait=True)
                restarted_at.append(time.monotonic())
                # as an operator would: the next one only once this one takes traffic
                before = server.served("/v1/")
                for _ in range(300):  # bounded: 300 x 50 ms
                    if server.served("/v1/") > before:
                        break
                    time.sleep(0.05)
                assert server.served("/v1/") > before, f"process {server.index} idle"
            wait_for(outcomes, len(outcomes) + 50)
            under_load.stop()
        assert len(outcomes) < len(work)  # the load lasted through every restart
        assert server_errors(outcomes) == []
        assert all(o.status in (200, 201) for o in outcomes), Counter(
            (o.status, o.body.get("code")) for o in outcomes
        )
        # the restarts happened under load
        assert sum(o.at > restarted_at[-1] for o in outcomes) > 0
