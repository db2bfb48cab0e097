"""The database models: one module per area, all re-exported here.

A new area adds its module beside ``core`` and one import line below, so that
Alembic's ``env.py`` (which imports this package) sees every table.
"""

from license_server.models.core import (
    Activation,
    ApiKey,
    ApiKeyScope,
    Event,
    ExpiryPolicy,
    IdempotencyKey,
    License,
    LicenseStatus,
    Product,
    SigningKey,
    SigningKeyStatus,
    UsageCounter,
    UTCDateTime,
    Vendor,
)
from license_server.models.edd import EddItem, EddLicense, EddStore
from license_server.models.releases import (
    Channel,
    LicenseUpdateRule,
    ProductType,
    ProductUpdateSettings,
    Release,
    ReleaseDownloadCounter,
    ReleaseKey,
    ReleaseKeyStatus,
    UpdateCheckCounter,
)

__all__ = [
    "UTCDateTime",
    "LicenseStatus",
    "ExpiryPolicy",
    "ApiKeyScope",
    "SigningKeyStatus",
    "Vendor",
    "ApiKey",
    "SigningKey",
    "Product",
    "License",
    "Activation",
    "Event",
    "IdempotencyKey",
    "UsageCounter",
    "EddItem",
    "EddLicense",
    "EddStore",
    "Channel",
    "LicenseUpdateRule",
    "ProductType",
    "ProductUpdateSettings",
    "Release",
    "ReleaseDownloadCounter",
    "ReleaseKey",
    "ReleaseKeyStatus",
    "UpdateCheckCounter",
]

from license_server.models import (
    channels,  # noqa: E402,F401
    users,  # noqa: E402,F401
)
from license_server.models.portal import (  # noqa: E402,F401
    MailMessage,
    MailTemplate,
    PortalCustomer,
    PortalLink,
)
from license_server.models.webhooks import (  # noqa: E402,F401
    LicenseNotice,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookKey,
    WebhookMessage,
)
