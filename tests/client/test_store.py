"""The JSON file store: atomic, private, and a corrupt file is "no state"."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from license_client import Code, JsonFileStore, State, StoredState, StoreFailed
from tests.client.conftest import FakeServer, fake_client

KEY = "JAN-7K3M9-PQRX2-WY4T8-VH6N0-J1G5P"


def test_round_trip_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "license.json"
    store = JsonFileStore(path)
    state = StoredState(license_key=KEY, token="a.b.c", server_time=5, checked_at=1.5)
    old_umask = os.umask(0o022)
    try:
        store.save(state)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert JsonFileStore(path).load() == state
    assert json.loads(path.read_text())["version"] == 1
    assert sorted(os.listdir(path.parent)) == ["license.json"]  # no temp file left


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "license.json"
    store = JsonFileStore(path)
    first = StoredState(license_key=KEY, token="first")
    store.save(first)
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def failing_replace(src: str, dst: str) -> None:
        renames.append((str(src), str(dst)))
        assert Path(src).parent == path.parent  # same directory: a true rename
        assert json.loads(Path(src).read_text())["token"] == "second"
        raise OSError("disk full at the worst moment")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(StoreFailed, match="disk full"):
        store.save(StoredState(license_key=KEY, token="second"))
    monkeypatch.setattr(os, "replace", real_replace)
    assert len(renames) == 1 and renames[0][1] == str(path)
    assert JsonFileStore(path).load() == first  # the old state is intact
    assert os.listdir(tmp_path) == ["license.json"]  # the temp file is gone


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"\x00\xff garbage",
        b"null",
        b"[]",
        b'{"version": 2, "token": "x"}',
        b'{"version": 1, "token": 5}',
        b'{"version": 1, "failures": true}',
        b'{"version": 1, "server_time": "yesterday"}',
        b"{" + b'"a": 1, ' * 200_000 + b'"version": 1}',
    ],
    ids=lambda c: repr(c[:20]),
)
def test_corrupt_file_is_no_state(
    tmp_path: Path, fake_server: FakeServer, content: bytes
) -> None:
    path = tmp_path / "license.json"
    path.write_bytes(content)
    assert JsonFileStore(path).load() is None
    site = fake_client(fake_server, store=JsonFileStore(path))
    status = site.status()
    assert (status.state, status.code) == (State.UNKNOWN, Code.NO_LICENSE)
    assert site.notice() is not None
    assert site.activate(KEY).ok  # and the site recovers by activating again
    assert site.status().valid


def test_tampered_token_is_untrusted(tmp_path: Path, fake_server: FakeServer) -> None:
    path = tmp_path / "license.json"
    site = fake_client(fake_server, store=JsonFileStore(path))
    assert site.activate(KEY).ok
    data = json.loads(path.read_text())
    head, body, signature = data["token"].split(".")
    data["token"] = f"{head}.{body}.{signature[::-1]}"
    path.write_text(json.dumps(data))
    restarted = fake_client(fake_server, store=JsonFileStore(path))
    status = restarted.status()
    assert (status.state, status.code) == (State.UNKNOWN, Code.UNTRUSTED_ANSWER)


def test_unwritable_store_reports_without_raising(
    tmp_path: Path, fake_server: FakeServer
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the directory should be")
    site = fake_client(fake_server, store=JsonFileStore(blocker / "license.json"))
    outcome = site.activate(KEY)
    assert (outcome.ok, outcome.code) == (False, Code.STORE_ERROR)
    assert not site.status().valid


def test_directory_in_place_of_file(tmp_path: Path, fake_server: FakeServer) -> None:
    path = tmp_path / "license.json"
    path.mkdir()
    site = fake_client(fake_server, store=JsonFileStore(path))
    assert site.status().state is State.UNKNOWN
    assert site.activate(KEY).code == Code.STORE_ERROR
