"""The webhook event types, and the event-chain actions that produce them."""

from __future__ import annotations

LICENSE_TYPES = (
    "license.created",
    "license.updated",
    "license.renewed",
    "license.suspended",
    "license.reinstated",
    "license.revoked",
    "license.expired",
    "license.expiring_soon",
)
ACTIVATION_TYPES = ("activation.created", "activation.deactivated", "activation.moved")
RELEASE_TYPES = ("release.published", "release.yanked")
TEST_PING = "test.ping"
EVENT_TYPES = (*LICENSE_TYPES, *ACTIVATION_TYPES, *RELEASE_TYPES, TEST_PING)
ALL = "*"

# Chain actions whose name differs from the webhook type they are sent as; any
# other action that is itself a webhook type is sent under its own name.
_RENAMED = {
    "license.suspend": "license.suspended",
    "license.reinstate": "license.reinstated",
    "license.revoke": "license.revoked",
    # a new key is a change of the license; the key itself is never sent
    "license.key_regenerated": "license.updated",
}


def webhook_type(action: str) -> str | None:
    """Return the webhook type an event-chain action is sent as, or None."""
    name = _RENAMED.get(action, action)
    if name in EVENT_TYPES and name != TEST_PING:
        return name
    return None


def wants(subscribed: list[str], event_type: str) -> bool:
    """Tell whether an endpoint subscribed to ``subscribed`` receives the type."""
    return ALL in subscribed or event_type in subscribed
