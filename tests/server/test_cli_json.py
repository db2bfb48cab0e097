"""Every command takes ``--json``: its answer is one JSON document, and so is a failure.

Walks the whole command tree (a command added without ``--json`` fails here), then
checks the shape each of the later-added commands prints: ``backup``, ``restore``,
``users create``, ``worker``, the ``mail`` template commands, ``import edd`` and
``master-key rotate``; and that their failures are ``{"error": {"code", "message"}}``
on stdout, one line, never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from license_server.cli import main
from license_server.keyring import new_master_key
from tests.conftest import TEST_MASTER_KEY


def _leaves(group: click.Group, path: tuple[str, ...] = ()) -> list[Any]:
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _leaves(command, (*path, name))
            if not command.invoke_without_command:
                continue
        found.append(((*path, name), command))
    return found


def test_every_command_takes_an_eager_json_flag() -> None:
    leaves = _leaves(main)
    assert len(leaves) > 30  # the walk reached the subcommands
    missing = []
    for path, command in leaves:
        flags = [p for p in command.params if "--json" in getattr(p, "opts", [])]
        # eager: a failure in another option's parsing is JSON too
        if len(flags) != 1 or not flags[0].is_eager:
            missing.append(" ".join(path))
    assert missing == []


def _embedded_env(patch: pytest.MonkeyPatch, instance: Path) -> None:
    for name in list(os.environ):
        if name.startswith("LICENSE_SERVER_"):
            patch.delenv(name)
    patch.setenv("LICENSE_SERVER_INSTANCE_PATH", str(instance))
    patch.setenv("LICENSE_SERVER_MASTER_KEY", TEST_MASTER_KEY)


@pytest.fixture(scope="module")
def embedded_vendor(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An instance folder after ``db upgrade`` and ``vendors create``, made once."""
    instance = tmp_path_factory.mktemp("cli_json") / "instance"
    with pytest.MonkeyPatch.context() as patch:
        _embedded_env(patch, instance)
        assert run("db", "upgrade").exit_code == 0
        run("vendors", "create", "Acme Themes")
    return instance


@pytest.fixture
def embedded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embedded_vendor: Path
) -> Path:
    """The embedded default in a temporary instance folder, migrated, one vendor:
    a copy of ``embedded_vendor`` (files and modes)."""
    _embedded_env(monkeypatch, tmp_path / "instance")
    shutil.copytree(embedded_vendor, tmp_path / "instance")
    return tmp_path


def run(*args: str, code: int = 0, stdin: str | None = None) -> Result:
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


def data(*args: str) -> Any:
    return json.loads(run(*args, "--json").stdout)


def error(*args: str) -> dict[str, str]:
    """The JSON failure of ``args --json``: one line on stdout, exit status 1."""
    result = run(*args, "--json", code=1)
    assert result.stdout.count("\n") == 1, result.stdout
    found: dict[str, str] = json.loads(result.stdout)["error"]
    assert set(found) == {"code", "message"}
    return found


def test_backup_and_restore_print_json(embedded: Path, monkeypatch: Any) -> None:
    archive = embedded / "one.backup"
    made = data("backup", "--out", str(archive))
    assert made["file"] == str(archive) and made["backend"] == "sqlite"
    assert made["rows"] > 0 and made["tables"] > 5
    assert made["master_key_included"] is False and made["revision"]
    assert set(made) == {
        "file",
        "database",
        "backend",
        "revision",
        "created_at",
        "tables",
        "rows",
        "key_check",
        "master_key_included",
    }
    again = error("backup", "--out", str(archive))
    assert again["code"] == "BACKUP_FAILED" and "overwrite" in again["message"]

    not_empty = error("restore", str(archive))
    assert not_empty["code"] == "RESTORE_FAILED" and "not empty" in not_empty["message"]
    monkeypatch.setenv("LICENSE_SERVER_INSTANCE_PATH", str(embedded / "fresh"))
    restored = data("restore", str(archive))
    assert restored["rows"] == made["rows"] and restored["tables"] == made["tables"]
    assert restored["created_at"] == made["created_at"]
    assert restored["needs_upgrade"] is False
    assert restored["next"] == ["license-server events verify"]
    assert data("events", "verify")["ok"] is True


def test_users_create_prints_json(embedded: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("LICENSE_SERVER_NEW_PASSWORD", "correct horse battery")
    made = data("users", "create", "acme-themes", "Boss@Example.com", "--name", "Bo")
    assert made["sign_in"] == "/dashboard/login"
    user = made["user"]
    assert {k: user[k] for k in ("email", "name", "role", "vendor")} == {
        "email": "boss@example.com",
        "name": "Bo",
        "role": "owner",
        "vendor": "acme-themes",
    }
    assert len(user["id"]) == 36
    taken = error("users", "create", "acme-themes", "boss@example.com")
    assert taken["code"] == "STAFF_EXISTS"
    assert error("users", "create", "nope", "x@example.com")["code"].endswith(
        "NOT_FOUND"
    )


def test_worker_says_started_and_stopped_in_json(
    embedded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from license_server.webhooks import runner

    ran = []
    monkeypatch.setattr(runner.Runner, "run", lambda self, stop: ran.append(stop))
    result = run("worker", "--json")
    assert len(ran) == 1 and result.stdout == ""
    states = [json.loads(line) for line in result.stderr.splitlines()]
    assert [s["worker"] for s in states] == ["started", "stopped"]
    assert all(s["pid"] == os.getpid() and "sqlite" in s["database"] for s in states)
    plain = run("worker")
    assert plain.stderr.splitlines() == [
        "webhook worker started",
        "webhook worker stopped",
    ]


def test_worker_refuses_an_unmigrated_database_in_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith("LICENSE_SERVER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("LICENSE_SERVER_INSTANCE_PATH", str(tmp_path))
    assert error("worker")["code"] == "NOT_MIGRATED"


def test_mail_template_commands_print_json(embedded: Path) -> None:
    shown = data("mail", "show", "license_delivered")
    assert set(shown) == {"name", "own", "subject", "body"}
    assert shown["own"] is False and shown["name"] == "license_delivered"
    source = embedded / "delivered.txt"
    source.write_text(
        "Subject: Your key, {{ customer_name }}\n\n" + shown["body"], encoding="utf-8"
    )
    stored = data("mail", "set", "license_delivered", str(source))
    assert stored == {
        "name": "license_delivered",
        "own": True,
        "subject": "Your key, {{ customer_name }}",
    }
    assert data("mail", "show", "license_delivered")["own"] is True
    reset = data("mail", "reset", "license_delivered")
    assert reset == {"name": "license_delivered", "own": False}
    assert error("mail", "show", "nope")["code"] == "NOT_FOUND"
    missing = error("mail", "retry", "00000000-0000-0000-0000-000000000000")
    assert missing["code"] == "NOT_FOUND"


def test_import_edd_and_master_key_rotate_fail_in_json(embedded: Path) -> None:
    neither = error("import", "edd", "--vendor", "acme-themes")
    assert neither["code"] == "USAGE" and "--csv" in neither["message"]
    old = embedded / "old.key"
    old.write_text("not a key", encoding="ascii")
    bad = error("master-key", "rotate", "--old-key-file", str(old))
    assert bad["code"] == "MASTER_KEY_INVALID"
    other = embedded / "other.key"
    other.write_text(new_master_key(), encoding="ascii")
    wrong = error("master-key", "rotate", "--old-key-file", str(other))
    assert wrong["code"] == "WRONG_OLD_KEY"
