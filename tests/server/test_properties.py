"""Property tests through HTTP: whatever JSON arrives, the answer is never a 5xx.

Key parsing and canonical domains have their own properties (``test_keys.py``,
``test_domains.py``: only the documented error, canonical forms idempotent); here
arbitrary bodies, some close to valid and some not at all, go to the public
endpoints, and every answer must be a documented 2xx or a 4xx in the error shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import BACKENDS
from tests.server.hardening_support import World, record, shared_world

REAL_KEY = "<the world's key>"
FIELDS = ["license_key", "domain", "product", "nonce", "version", "environment"]
ERROR_SHAPE = {"code", "message", "detail", "request_id"}

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
plausible = st.sampled_from(
    [
        REAL_KEY,
        "JAN-00000-00000-00000-00000-00000",
        "a.com",
        "https://www.a.com:8080/x?y#z",
        "jannah",
        "xn--",
        "ＡＢＣ",
        "\u0000",
        "localhost",
        "user@a.com",
    ]
)
field_values = plausible | st.text(max_size=60) | json_values
bodies = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=10), field_values, max_size=7
) | st.fixed_dictionaries(  # the required fields present, their values anything
    {
        "license_key": plausible | field_values,
        "domain": field_values,
        "product": plausible | field_values,
    },
    optional={
        "nonce": field_values,
        "version": field_values,
        "environment": field_values,
    },
)


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[World]:
    with shared_world(request, tmp_path_factory, sqlite_template) as built:
        yield built


def _fill(body: Any, key: str) -> Any:
    if isinstance(body, dict):
        return {name: _fill(value, key) for name, value in body.items()}
    return key if body == REAL_KEY else body


def _check(world: World, endpoint: str, data: bytes) -> None:
    response = world.client.post(
        f"/v1/{endpoint}", data=data, content_type="application/json"
    )
    record("property", endpoint=endpoint, status=response.status_code)
    assert response.status_code < 500, response.get_data(as_text=True)
    answer = response.get_json()
    assert isinstance(answer, dict)
    if response.status_code >= 400:
        assert set(answer) >= ERROR_SHAPE, answer
    elif endpoint != "deactivate":
        assert {"valid", "code", "token"} <= set(answer), answer


@pytest.mark.parametrize("endpoint", ["validate", "activate", "deactivate"])
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=bodies)
def test_arbitrary_json_objects_never_give_a_5xx(
    world: World, endpoint: str, body: dict[str, Any]
) -> None:
    filled = _fill(body, world.secrets["key"])
    data = json.dumps(filled, allow_nan=True, ensure_ascii=False).encode(
        "utf-8", "surrogatepass"
    )
    _check(world, endpoint, data)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_arbitrary_bytes_never_give_a_5xx(world: World, data: bytes) -> None:
    _check(world, "validate", data)
