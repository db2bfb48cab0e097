"""schemathesis over ``/openapi.json``, in process: no 5xx, no answer off the spec.

Every operation of the OpenAPI document gets a bounded number of generated
requests (valid and invalid) with a write-scoped API key. Each answer must not be
a server error, and its status, content type and body must be the ones the
document gives. Operations that would cut the test's own branch (revoking its
API key, retiring signing keys) are left to the admin tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.server.hardening_support import World, record, shared_world

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 15


@pytest.fixture(scope="module", params=["sqlite"])
def world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[World]:
    with shared_world(request, tmp_path_factory, sqlite_template) as built:
        yield built


EXCLUDED = r"/(api-keys/.*/revoke|signing-keys/.*/retire)$"
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


def _operations(world: World) -> list[Any]:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", world.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    return [op for op in operations if not re.search(EXCLUDED, op.path)]


def test_api_answers_as_documented(world: World) -> None:
    """Run every operation's generated cases; report every failure at the end."""
    headers = {"Authorization": world.secrets["write"]}
    failures: dict[str, str] = {}
    operations = _operations(world)
    assert len(operations) >= 20

    for operation in operations:
        for mode in MODES:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate],
            )
            def run(case: Any) -> None:
                response = case.call(headers=headers)
                record(
                    "schemathesis",
                    operation=case.operation.label,
                    status=response.status_code,
                )
                case.validate_response(response, checks=CHECKS, headers=headers)

            try:
                run()
            except Unsatisfiable:
                continue  # nothing to generate (e.g. no invalid form of "no input")
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001
                failures[f"{operation.label} ({mode.value})"] = str(exc)[:800]
    assert not failures, "\n\n".join(f"{k}: {v}" for k, v in failures.items())
