"""The dashboard's sales page: connections, Envato settings, the inbound log."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import VendorFixture, create_product, new_vendor
from tests.server.channel_support import (
    connect,
    map_product,
    send_event,
    woo_order,
)
from tests.web.conftest import signed_in


def test_a_viewer_sees_connections_and_the_inbound_log_of_their_vendor_only(
    app: Flask, client: FlaskClient, vendor: VendorFixture
) -> None:
    create_product(client, vendor)
    connection = connect(client, vendor, "woocommerce", name="Main shop")
    map_product(client, vendor, connection, "77")
    assert send_event(client, connection, woo_order("completed"))[1]["outcome"] == (
        "issued"
    )
    send_event(client, connection, woo_order("completed"), secret="wrong-secret")
    other = new_vendor(app, "Other Themes")
    connect(client, other, "generic", name="Other shop")
    viewer = signed_in(app, vendor, "viewer")
    page = viewer.client.get("/dashboard/sales")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Main shop" in html and f"/v1/channels/{connection['id']}/events" in html
    assert "Other shop" not in html
    assert "issued" in html and "INVALID_SIGNATURE" in html
    assert connection["secret"] not in html
    refused = viewer.client.get("/dashboard/sales?outcome=refused").get_data(
        as_text=True
    )
    assert "INVALID_SIGNATURE" in refused and "order.updated</td><td" in refused
    assert "<td>issued</td>" in html and "<td>issued</td>" not in refused
