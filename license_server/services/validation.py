"""The validate use case: parse, read, decide, sign, and note what was seen.

The validate path is the hot path (every theme install re-checks), so it costs one
indexed query and no write (see :mod:`license_server.validation` for the parts):

- the license, the live activation of the domain and the count of seats taken are
  one prepared ``SELECT``, read fresh on every request: a revocation, a suspension,
  a deactivation or a new activation counts at once, in every process;
- the product's settings and which key signs for the vendor come from the app's
  caches, at most ``CACHE_TTL`` seconds stale in other processes;
- last-seen times and validation counts go to the runtime's buffers, written in
  batches after an answer, when due (:func:`license_server.api.init_app`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from license_server import domains, keys
from license_server.runtime import Runtime
from license_server.services import common
from license_server.validation.answers import Answer, key_hash_claim, signed_answer
from license_server.validation.results import ResultCode, decide
from license_server.validation.state import ProductInfo


def validate(
    *,
    runtime: Runtime,
    license_key: str,
    domain: str,
    product: str,
    nonce: str | None,
    now: datetime,
    parsed: keys.LicenseKey | None = None,
) -> Answer:
    """Decide whether a license is valid on a domain, and sign the decision.

    ``parsed`` is ``license_key`` already parsed (the fast lane parses it once for
    the rate limit and the use case).
    """
    key = parsed if parsed is not None else common.parse_license_key(license_key)
    site = common.canonical_domain(domain)
    reader = runtime.reader
    item = reader.product(product)
    signer = reader.signer(item.vendor_id)
    state = reader.state(runtime.keyring.license_lookup(key.body), site)
    code = decide(state, item, now)
    answer = signed_answer(
        code,
        product=item,
        domain=site,
        state=state,
        kh=key_hash_claim(key.body),
        nonce=nonce,
        now=now,
        key=runtime.signer.open(signer.kid, signer.sealed),
        activation_id=(
            state.activation_id if state and code is ResultCode.VALID else None
        ),
    )
    if code is ResultCode.VALID and state is not None and state.activation_id:
        last = state.last_seen_at
        if last is None or now - last >= timedelta(seconds=runtime.last_seen_interval):
            runtime.last_seen.add(state.activation_id, now)
    runtime.usage.add(item.vendor_id, item.id, now.date(), code.value)
    return answer


def is_development(site: str, product: ProductInfo) -> bool:
    """Return whether ``site`` is a development host for ``product``."""
    patterns: Sequence[str] = product.dev_patterns or ()
    return domains.is_development_host(site, patterns)
