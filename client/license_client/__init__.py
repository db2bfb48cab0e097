"""License client for themes: activate, verify signed domain tokens offline, notice.

Quick start (see the package README for the whole story)::

    from license_client import ClientConfig, JsonFileStore, LicenseClient

    client = LicenseClient(ClientConfig(
        server_url="https://licenses.example.com",
        issuer="acme-themes",
        product="jannah",
        product_name="Jannah",
        public_keys=VENDOR_JWK,  # pinned; from `license-server vendors create`
        domain="https://www.customer-site.com/",
        settings_url="/admin/theme-options",
        store=JsonFileStore("/var/lib/mysite/license.json"),
    ))
    client.activate("JAN-7K3M9-PQRX2-WY4T8-VH6N0-J1G5P")
    client.status()      # Status(state=VALID, code="VALID", ...), offline and cheap
    client.notice()      # None, or Notice(text, html)
"""

from __future__ import annotations

from license_client.background import Revalidator
from license_client.client import LicenseClient
from license_client.config import ClientConfig
from license_client.domains import canonical_domain, is_development_host
from license_client.exceptions import (
    AlgorithmRefused,
    AnswerInvalid,
    AnswerTooLarge,
    ClaimMismatch,
    ConfigInvalid,
    DomainInvalid,
    KeyFormatInvalid,
    KeyUnknown,
    LicenseClientError,
    PublicKeyInvalid,
    ServerRefused,
    SignatureInvalid,
    StoreFailed,
    TokenExpired,
    TokenFromFuture,
    TokenInvalid,
    TokenMalformed,
    TransportFailed,
    TransportTimeout,
)
from license_client.keys import parse_key
from license_client.pinning import jwk_thumbprint, load_public_keys
from license_client.status import NOTICE_TEXT, Code, Notice, Outcome, State, Status
from license_client.store import JsonFileStore, MemoryStore, Store, StoredState
from license_client.transport import Request, Response, StdlibTransport, Transport
from license_client.verify import LicenseInfo, TokenClaims, TokenVerifier
from license_client.wsgi import NoticeMiddleware

__version__ = "0.1.0"

__all__ = [
    "NOTICE_TEXT",
    "AlgorithmRefused",
    "AnswerInvalid",
    "AnswerTooLarge",
    "ClaimMismatch",
    "ClientConfig",
    "Code",
    "ConfigInvalid",
    "DomainInvalid",
    "JsonFileStore",
    "KeyFormatInvalid",
    "KeyUnknown",
    "LicenseClient",
    "LicenseClientError",
    "LicenseInfo",
    "MemoryStore",
    "Notice",
    "NoticeMiddleware",
    "Outcome",
    "PublicKeyInvalid",
    "Request",
    "Response",
    "Revalidator",
    "ServerRefused",
    "SignatureInvalid",
    "State",
    "Status",
    "StdlibTransport",
    "Store",
    "StoreFailed",
    "StoredState",
    "TokenClaims",
    "TokenExpired",
    "TokenFromFuture",
    "TokenInvalid",
    "TokenMalformed",
    "TokenVerifier",
    "Transport",
    "TransportFailed",
    "TransportTimeout",
    "canonical_domain",
    "is_development_host",
    "jwk_thumbprint",
    "load_public_keys",
    "parse_key",
]
