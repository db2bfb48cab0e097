"""docs/WEBHOOKS.md shows the tested receiver and names every type and setting."""

from __future__ import annotations

from pathlib import Path

from license_server.config import DEFAULTS
from license_server.webhooks.types import EVENT_TYPES
from tests.server.webhook_support import EXAMPLE

DOC = Path(__file__).parents[2] / "docs" / "WEBHOOKS.md"


def test_the_documented_receiver_is_the_tested_example() -> None:
    text = DOC.read_text()
    assert "```python\n" + EXAMPLE.read_text() + "```" in text


def test_every_event_type_and_setting_is_documented() -> None:
    text = DOC.read_text()
    for event_type in EVENT_TYPES:
        assert f"`{event_type}`" in text, event_type
    for name in DEFAULTS:
        if name.startswith("WEBHOOK_"):
            assert f"`{name}`" in text, name


def test_chain_actions_map_to_webhook_types() -> None:
    from license_server.webhooks.types import webhook_type

    assert webhook_type("license.suspend") == "license.suspended"
    assert webhook_type("license.reinstate") == "license.reinstated"
    assert webhook_type("license.revoke") == "license.revoked"
    assert webhook_type("license.key_regenerated") == "license.updated"
    assert webhook_type("activation.created") == "activation.created"
    assert webhook_type("release.published") == "release.published"
    assert webhook_type("release.yanked") == "release.yanked"
    for internal in (
        "api_key.created",
        "product.updated",
        "test.ping",
        "release.created",
    ):
        assert webhook_type(internal) is None
