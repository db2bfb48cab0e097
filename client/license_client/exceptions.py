"""Exceptions of the license client.

Hierarchy::

    LicenseClientError
    ├── ConfigInvalid (also ValueError)  - a bad ClientConfig; raised at construction
    │   ├── DomainInvalid                - the site domain is not a valid host (§3)
    │   └── PublicKeyInvalid             - a pinned key is not an Ed25519 public key
    ├── KeyFormatInvalid (also ValueError) - a license key with a typo (§1), offline
    ├── TokenInvalid                     - a domain token is not to be trusted
    │   ├── TokenMalformed               - not a compact JWS, or claims of wrong types
    │   ├── AlgorithmRefused             - ``alg`` is not EdDSA (``none``, HS256, ...)
    │   ├── KeyUnknown                   - ``kid`` names no pinned key
    │   ├── SignatureInvalid             - the signature does not verify
    │   ├── ClaimMismatch                - typ, iss, aud, dom or nonce differ
    │   ├── TokenFromFuture              - ``iat`` is ahead of the local clock by > skew
    │   └── TokenExpired                 - the local clock is past ``exp + grace``
    ├── AnswerInvalid                    - the answer is not the protocol's JSON
    ├── ServerRefused                    - an unsigned error answer (RATE_LIMITED, ...)
    ├── TransportFailed                  - no answer: refused, reset, DNS, TLS, ...
    │   ├── TransportTimeout             - no complete answer within the hard timeout
    │   └── AnswerTooLarge               - the answer exceeds the size cap
    └── StoreFailed                      - the state could not be written

Verifiers and transports raise these; :class:`~license_client.LicenseClient` catches
every one of them (except the configuration errors, raised while the theme boots)
and turns it into a :class:`~license_client.Outcome` or a
:class:`~license_client.Status`, so nothing reaches the page a visitor is served.
Each class has a stable ``code`` that outcomes report.
"""

from __future__ import annotations

__all__ = [
    "AlgorithmRefused",
    "AnswerInvalid",
    "AnswerTooLarge",
    "ClaimMismatch",
    "ConfigInvalid",
    "DomainInvalid",
    "KeyFormatInvalid",
    "KeyUnknown",
    "LicenseClientError",
    "PublicKeyInvalid",
    "ServerRefused",
    "SignatureInvalid",
    "StoreFailed",
    "TokenExpired",
    "TokenFromFuture",
    "TokenInvalid",
    "TokenMalformed",
    "TransportFailed",
    "TransportTimeout",
]


class LicenseClientError(Exception):
    """Base of every error the license client raises."""

    code = "CLIENT_ERROR"


class ConfigInvalid(LicenseClientError, ValueError):
    """The client configuration cannot be used."""

    code = "CONFIG_INVALID"


class DomainInvalid(ConfigInvalid):
    """The input is not a host that can be licensed (PROTOCOL §3)."""

    code = "INVALID_DOMAIN"


class PublicKeyInvalid(ConfigInvalid):
    """A pinned key is not an Ed25519 public key in a supported form."""

    code = "PUBLIC_KEY_INVALID"


class KeyFormatInvalid(LicenseClientError, ValueError):
    """The text is not a well-formed license key (or contains a typo)."""

    code = "INVALID_KEY_FORMAT"


class TokenInvalid(LicenseClientError):
    """A domain token failed verification; the subclass says which check."""

    code = "UNTRUSTED_ANSWER"


class TokenMalformed(TokenInvalid):
    """The token is not a compact JWS with the protocol's claim types."""


class AlgorithmRefused(TokenInvalid):
    """The token's ``alg`` is not EdDSA; no other algorithm is ever accepted."""


class KeyUnknown(TokenInvalid):
    """The token's ``kid`` names no pinned public key."""


class SignatureInvalid(TokenInvalid):
    """The signature does not verify under the pinned key."""


class ClaimMismatch(TokenInvalid):
    """A header or claim (typ, iss, aud, dom, nonce) differs from what is expected."""

    def __init__(
        self,
        claim: str,
        message: str,
        expected: object = None,
        found: object = None,
    ) -> None:
        super().__init__(message)
        self.claim = claim
        self.expected = expected
        self.found = found


class TokenFromFuture(TokenInvalid):
    """The token was issued later than the local clock allows (``iat`` skew)."""

    code = "CLOCK_ROLLBACK"


class TokenExpired(TokenInvalid):
    """The local clock is past the token's ``exp + grace``."""

    code = "TOKEN_EXPIRED"


class AnswerInvalid(LicenseClientError):
    """The server's answer is not the protocol's JSON (HTML, garbage, no token)."""

    code = "BAD_ANSWER"


class ServerRefused(LicenseClientError):
    """The server answered with an error and no signed token; ``code`` is its code."""

    code = "SERVER_ERROR"

    def __init__(self, code: str, status: int) -> None:
        super().__init__(f"the server answered {status} {code}")
        self.code = code
        self.status = status


class TransportFailed(LicenseClientError):
    """The request got no answer: connection refused or reset, DNS, TLS, ..."""

    code = "NETWORK_ERROR"


class TransportTimeout(TransportFailed):
    """No complete answer arrived within the hard timeout."""


class AnswerTooLarge(TransportFailed):
    """The answer is larger than the client accepts."""

    code = "BAD_ANSWER"


class StoreFailed(LicenseClientError):
    """The client state could not be written."""

    code = "STORE_ERROR"
