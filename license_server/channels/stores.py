"""Each store's event body, read into one :class:`Sale` (or :class:`Ignored`).

A sale says what the store reports (a purchase, a renewal payment, a refund, the
end of a subscription), the store's ids that tie it to licences (``references``, the
first being the order's own), the products bought, the buyer, and the key that makes
acting on it once-only (``dedupe``): for a purchase the order (so two events about
one order, such as Stripe's ``checkout.session.completed`` and the first
``invoice.paid`` of its subscription, issue once), else the store's event id.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from license_server.channels.errors import MalformedEvent
from license_server.models.channels import StoreKind

MAX_QUANTITY = 100


class Action(enum.StrEnum):
    PURCHASE = "purchase"  # issue, unless the order has its licences already
    RENEWAL = "renewal"  # renew the order's licences (a purchase if it has none)
    REFUND = "refund"  # revoke or lapse now, per mapping
    END = "end"  # a subscription ended: revoke or lapse at ends_at, per mapping
    LINK = "link"  # tie one more store id (a subscription) to an order's licences


@dataclass(frozen=True)
class Item:
    """One line of an order: the store's ids for it (most specific first), count."""

    ids: tuple[str, ...]
    quantity: int = 1


@dataclass(frozen=True)
class Sale:
    """What a store event asks of us."""

    action: Action
    event_type: str
    event_id: str
    references: tuple[str, ...]
    items: tuple[Item, ...] = ()
    email: str | None = None
    name: str | None = None
    ends_at: datetime | None = None
    initial: bool = False  # a renewal payment that is the subscription's first
    link: str | None = None  # Action.LINK: the reference to add

    @property
    def dedupe(self) -> str:
        """Return the key that makes acting on this sale once-only."""
        if self.action is Action.PURCHASE:
            return f"issue:{self.references[0]}"
        return f"{self.action}:{self.event_id}"


@dataclass(frozen=True)
class Ignored:
    """A well-formed event we do not act on, and why."""

    event_type: str
    event_id: str | None
    reason: str
    extra: dict[str, Any] = field(default_factory=dict)


# --- reading JSON safely ------------------------------------------------------------


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedEvent(f"{where} is not an object.", detail={"field": where})
    return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any, where: str, *, required: bool = True) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("id"), str | int):
        value = value["id"]  # an expanded Stripe object: its id
    if isinstance(value, bool) or value is None or value == "":
        if required:
            raise MalformedEvent(f"{where} is missing.", detail={"field": where})
        return None
    if not isinstance(value, str | int):
        raise MalformedEvent(f"{where} is not text.", detail={"field": where})
    text = str(value)
    if len(text) > 200:
        raise MalformedEvent(f"{where} is too long.", detail={"field": where})
    return text


def _email(value: Any) -> str | None:
    text = value if isinstance(value, str) else None
    if text is None or "@" not in text or len(text) > 320:
        return None
    return text.strip()


def _name(value: Any) -> str | None:
    return value.strip()[:200] or None if isinstance(value, str) else None


def _quantity(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return min(value, MAX_QUANTITY)
    return 1


def _moment(value: Any) -> datetime | None:
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _ids(*values: Any) -> tuple[str, ...]:
    found = []
    for value in values:
        text = _text(value, "id", required=False)
        if text is not None and text != "0" and text not in found:
            found.append(text)
    return tuple(found)


def load(body: bytes) -> dict[str, Any]:
    """Parse a signed body as a JSON object."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise MalformedEvent("The body is not JSON.") from exc
    return _object(value, "the body")


# --- Stripe -------------------------------------------------------------------------


def _stripe_line_ids(line: Any) -> tuple[str, ...]:
    line = _dict(line)
    price = _dict(line.get("price"))
    pricing = _dict(line.get("pricing"))
    details = _dict(pricing.get("price_details"))
    return _ids(
        price.get("id"),
        details.get("price"),
        price.get("product"),
        details.get("product"),
    )


def _stripe_lines(container: Any) -> tuple[Item, ...]:
    data = container.get("data") if isinstance(container, dict) else None
    lines = data if isinstance(data, list) else []
    return tuple(
        Item(_stripe_line_ids(line), _quantity(line.get("quantity")))
        for line in lines
        if isinstance(line, dict) and _stripe_line_ids(line)
    )


def _stripe_metadata_items(obj: dict[str, Any]) -> tuple[Item, ...]:
    metadata = _dict(obj.get("metadata"))
    sku = metadata.get("license_sku")
    if not isinstance(sku, str):
        return ()
    return tuple(Item((part.strip(),)) for part in sku.split(",") if part.strip())


def _stripe_subscription(obj: dict[str, Any]) -> str | None:
    details = _dict(_dict(obj.get("parent")).get("subscription_details"))
    return _text(
        obj.get("subscription") or details.get("subscription"),
        "subscription",
        required=False,
    )


def stripe(payload: dict[str, Any]) -> Sale | Ignored:
    """Read a Stripe event (API versions with or without ``parent``)."""
    kind = _text(payload.get("type"), "type") or ""
    event_id = _text(payload.get("id"), "id") or ""
    data = _object(payload.get("data"), "data")
    obj = _object(data.get("object"), "data.object")
    if kind in (
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
    ):
        if obj.get("payment_status") not in ("paid", "no_payment_required"):
            return Ignored(kind, event_id, "not paid yet (an asynchronous payment)")
        session = _text(obj.get("id"), "data.object.id")
        subscription = _stripe_subscription(obj)
        payment = _text(obj.get("payment_intent"), "payment_intent", required=False)
        references = [f"subscription:{subscription}"] if subscription else []
        references += [f"checkout:{session}"]
        references += [f"payment:{payment}"] if payment else []
        details = _dict(obj.get("customer_details"))
        items = _stripe_lines(obj.get("line_items")) + _stripe_metadata_items(obj)
        return Sale(
            Action.PURCHASE,
            kind,
            event_id,
            tuple(references),
            items,
            email=_email(details.get("email") or obj.get("customer_email")),
            name=_name(details.get("name")),
        )
    if kind == "invoice.paid":
        invoice = _text(obj.get("id"), "data.object.id")
        subscription = _stripe_subscription(obj)
        if subscription is None:
            return Ignored(kind, event_id, "a one-off invoice: the checkout issues")
        payment = _text(obj.get("payment_intent"), "payment_intent", required=False)
        references = [f"subscription:{subscription}"] if subscription else []
        references += [f"invoice:{invoice}"]
        references += [f"payment:{payment}"] if payment else []
        return Sale(
            Action.RENEWAL,
            kind,
            event_id,
            tuple(references),
            _stripe_lines(obj.get("lines")) + _stripe_metadata_items(obj),
            email=_email(obj.get("customer_email")),
            name=_name(obj.get("customer_name")),
            initial=obj.get("billing_reason") == "subscription_create",
        )
    if kind == "charge.refunded":
        if obj.get("refunded") is not True:
            return Ignored(kind, event_id, "a partial refund: the licence stays")
        references = [
            f"{prefix}:{value}"
            for prefix, value in (
                ("payment", _text(obj.get("payment_intent"), "pi", required=False)),
                ("invoice", _text(obj.get("invoice"), "invoice", required=False)),
            )
            if value
        ]
        if not references:
            return Ignored(kind, event_id, "the charge names no payment or invoice")
        return Sale(Action.REFUND, kind, event_id, tuple(references))
    if kind == "customer.subscription.deleted":
        subscription = _text(obj.get("id"), "data.object.id")
        ends = obj.get("ended_at") or obj.get("current_period_end")
        return Sale(
            Action.END,
            kind,
            event_id,
            (f"subscription:{subscription}",),
            ends_at=_moment(ends),
        )
    return Ignored(kind, event_id, "an event type this server does not act on")


# --- WooCommerce --------------------------------------------------------------------


def woocommerce(payload: dict[str, Any], headers: Mapping[str, str]) -> Sale | Ignored:
    """Read a WooCommerce order webhook (``order.created``/``order.updated``)."""
    topic = headers.get("x-wc-webhook-topic", "order.updated")
    delivery = headers.get("x-wc-webhook-delivery-id") or None
    order = _text(payload.get("id"), "id")
    status = payload.get("status")
    billing = _dict(payload.get("billing"))
    if status == "completed":
        lines = payload.get("line_items")
        items = tuple(
            Item(
                _ids(line.get("variation_id"), line.get("product_id"), line.get("sku")),
                _quantity(line.get("quantity")),
            )
            for line in (lines if isinstance(lines, list) else [])
            if isinstance(line, dict)
        )
        name = " ".join(
            part
            for part in (billing.get("first_name"), billing.get("last_name"))
            if isinstance(part, str) and part
        )
        return Sale(
            Action.PURCHASE,
            topic,
            f"order:{order}:completed",
            (f"order:{order}",),
            items,
            email=_email(billing.get("email")),
            name=_name(name),
        )
    if status == "refunded":
        return Sale(
            Action.REFUND, topic, f"order:{order}:refunded", (f"order:{order}",)
        )
    return Ignored(topic, delivery, f"an order in status {str(status)[:40]!r}")


# --- Lemon Squeezy ------------------------------------------------------------------


def lemonsqueezy(payload: dict[str, Any]) -> Sale | Ignored:
    """Read a Lemon Squeezy webhook (orders and subscriptions)."""
    meta = _object(payload.get("meta"), "meta")
    kind = _text(meta.get("event_name"), "meta.event_name") or ""
    data = _object(payload.get("data"), "data")
    attributes = _object(data.get("attributes"), "data.attributes")
    object_id = _text(data.get("id"), "data.id")
    # no event id in Lemon Squeezy's body: the object's id and change time stand in
    stamp = _text(attributes.get("updated_at"), "updated_at", required=False) or ""
    event_id = f"{kind}:{object_id}:{stamp}"
    email = _email(attributes.get("user_email"))
    name = _name(attributes.get("user_name"))
    if kind == "order_created":
        if attributes.get("status") != "paid":
            return Ignored(kind, event_id, "the order is not paid")
        first = _dict(attributes.get("first_order_item"))
        items = (Item(_ids(first.get("variant_id"), first.get("product_id"))),)
        return Sale(
            Action.PURCHASE,
            kind,
            event_id,
            (f"order:{object_id}",),
            items,
            email=email,
            name=name,
        )
    if kind == "order_refunded":
        return Sale(Action.REFUND, kind, event_id, (f"order:{object_id}",))
    if kind in ("subscription_created", "subscription_updated"):
        order = _text(attributes.get("order_id"), "order_id")
        return Sale(
            Action.LINK,
            kind,
            event_id,
            (f"order:{order}",),
            link=f"subscription:{object_id}",
        )
    if kind == "subscription_payment_success":
        subscription = _text(attributes.get("subscription_id"), "subscription_id")
        return Sale(
            Action.RENEWAL,
            kind,
            event_id,
            (f"subscription:{subscription}",),
            email=email,
            name=name,
            initial=attributes.get("billing_reason") == "initial",
        )
    if kind == "subscription_expired":
        order = _text(attributes.get("order_id"), "order_id", required=False)
        references = [f"subscription:{object_id}"]
        references += [f"order:{order}"] if order else []
        return Sale(
            Action.END,
            kind,
            event_id,
            tuple(references),
            ends_at=_moment(attributes.get("ends_at")),
        )
    return Ignored(kind, event_id, "an event this server does not act on")


# --- the generic form ---------------------------------------------------------------

GENERIC_TYPES = {
    "order.paid": Action.PURCHASE,
    "subscription.renewed": Action.RENEWAL,
    "order.refunded": Action.REFUND,
    "subscription.ended": Action.END,
}


def generic(payload: dict[str, Any], headers: Mapping[str, str]) -> Sale | Ignored:
    """Read the generic form (docs/CHANNELS.md, "Any other store")."""
    kind = _text(payload.get("type"), "type") or ""
    event_id = headers.get("webhook-id", "")
    action = GENERIC_TYPES.get(kind)
    if action is None:
        return Ignored(kind, event_id, "an event type the generic form does not define")
    data = _object(payload.get("data"), "data")
    order = _text(data.get("order_id"), "data.order_id", required=False)
    subscription = _text(
        data.get("subscription_id"), "data.subscription_id", required=False
    )
    references = [f"subscription:{subscription}"] if subscription else []
    references += [f"order:{order}"] if order else []
    if not references:
        raise MalformedEvent("data.order_id or data.subscription_id is required.")
    customer = _dict(data.get("customer"))
    lines = data.get("items")
    items = tuple(
        Item(_ids(line.get("product")), _quantity(line.get("quantity")))
        for line in (lines if isinstance(lines, list) else [])
        if isinstance(line, dict) and _ids(line.get("product"))
    )
    if action is Action.PURCHASE and not items:
        raise MalformedEvent("An order.paid event lists its data.items.")
    return Sale(
        action,
        kind,
        event_id,
        tuple(references),
        items,
        email=_email(customer.get("email")),
        name=_name(customer.get("name")),
        ends_at=_moment(data.get("ends_at")),
    )


def read(kind: str, body: bytes, headers: Mapping[str, str]) -> Sale | Ignored:
    """Read a verified body of store ``kind``."""
    payload = load(body)
    if kind == StoreKind.STRIPE:
        return stripe(payload)
    if kind == StoreKind.WOOCOMMERCE:
        return woocommerce(payload, headers)
    if kind == StoreKind.LEMONSQUEEZY:
        return lemonsqueezy(payload)
    return generic(payload, headers)
