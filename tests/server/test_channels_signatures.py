"""Each store's signature, checked against values computed independently here.

Stripe, WooCommerce and Lemon Squeezy values are computed with ``hmac`` straight
from each store's documentation; the generic form is signed with the
``standardwebhooks`` library, an implementation that is not ours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from license_server.channels import signatures
from license_server.channels.errors import SignatureExpired, SignatureInvalid
from license_server.keys import parse_key
from license_server.validation.answers import key_hash_claim

BODY = b'{"id":"evt_1","type":"checkout.session.completed"}'
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
STAMP = int(NOW.timestamp())
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def _stripe_v1(secret: str, stamp: int, body: bytes) -> str:
    signed = f"{stamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def test_stripe_accepts_any_of_several_v1_and_refuses_others() -> None:
    good = _stripe_v1(SECRET, STAMP, BODY)
    header = f"t={STAMP},v1={'0' * 64},v1={good},v0=ignored"
    signatures.verify_stripe(SECRET, header, BODY, NOW)
    with pytest.raises(SignatureInvalid):
        signatures.verify_stripe(SECRET, f"t={STAMP},v1={'0' * 64}", BODY, NOW)
    with pytest.raises(SignatureInvalid):
        signatures.verify_stripe(SECRET, f"t={STAMP},v1={good}", BODY + b" ", NOW)
    with pytest.raises(SignatureInvalid):
        signatures.verify_stripe(SECRET, None, BODY, NOW)
    with pytest.raises(SignatureInvalid):
        signatures.verify_stripe(SECRET, "garbage", BODY, NOW)


@pytest.mark.parametrize("offset, ok", [(-300, True), (300, True), (-301, False)])
def test_stripe_timestamp_tolerance_is_five_minutes(offset: int, ok: bool) -> None:
    header = f"t={STAMP},v1={_stripe_v1(SECRET, STAMP, BODY)}"
    now = NOW + timedelta(seconds=-offset)
    if ok:
        signatures.verify_stripe(SECRET, header, BODY, now)
    else:
        with pytest.raises(SignatureExpired):
            signatures.verify_stripe(SECRET, header, BODY, now)


def test_woocommerce_is_base64_hmac_of_the_raw_body() -> None:
    digest = hmac.new(b"woo-secret", BODY, hashlib.sha256).digest()
    signatures.verify_woocommerce("woo-secret", base64.b64encode(digest).decode(), BODY)
    with pytest.raises(SignatureInvalid):
        signatures.verify_woocommerce("woo-secret", digest.hex(), BODY)
    assert (
        signatures.sign_woocommerce("woo-secret", BODY)
        == base64.b64encode(digest).decode()
    )


def test_lemonsqueezy_is_hex_hmac_of_the_raw_body() -> None:
    digest = hmac.new(b"lemon-secret", BODY, hashlib.sha256).hexdigest()
    signatures.verify_lemonsqueezy("lemon-secret", digest, BODY)
    with pytest.raises(SignatureInvalid):
        signatures.verify_lemonsqueezy("lemon-secret", digest[:-2] + "00", BODY)
    with pytest.raises(SignatureInvalid):
        signatures.verify_lemonsqueezy("other-secret", digest, BODY)


def test_generic_is_standard_webhooks_v1() -> None:
    signature = Webhook(SECRET).sign(msg_id="msg_1", timestamp=NOW, data=BODY.decode())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(STAMP),
        "webhook-signature": f"v1,{'A' * 44} {signature}",
    }
    assert signatures.verify_generic(SECRET, headers, BODY, NOW) == "msg_1"
    assert signatures.sign_generic(SECRET, "msg_1", BODY, STAMP) == signature
    with pytest.raises(SignatureInvalid):
        signatures.verify_generic(SECRET, {**headers, "webhook-id": "msg_2"}, BODY, NOW)
    with pytest.raises(SignatureExpired):
        signatures.verify_generic(SECRET, headers, BODY, NOW + timedelta(minutes=6))


def test_purchase_codes_parse_as_keys_of_their_own_shape() -> None:
    code = parse_key("  8F3C2A1B-4D5E-4F60-9A7B-1C2D3E4F5A6B ")
    assert code.purchase_code and not code.legacy
    assert code.body == str(code) == "8f3c2a1b-4d5e-4f60-9a7b-1c2d3e4f5a6b"
    # our keys and legacy keys keep their own rules
    assert parse_key("0123456789abcdef0123456789abcdef").legacy
    with pytest.raises(ValueError):
        parse_key("8f3c2a1b4d5e-4f60-9a7b-1c2d3e4f5a6b")  # not Envato's shape


def test_a_purchase_codes_kh_is_the_one_the_wordpress_client_computes() -> None:
    # tests/wordpress/php/PurchaseCodeTest.php pins the same value on the PHP side
    code = "8f3c2a1b-4d5e-4f60-9a7b-1c2d3e4f5a6b"
    assert key_hash_claim(code) == "f_4_W3RsanL50bIij8Odgg"
