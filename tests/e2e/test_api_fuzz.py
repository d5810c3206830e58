"""Schemathesis drives the running crm-api from its own OpenAPI document with generated valid and
invalid requests (as an administrator of the demo tenant, and without a token): no request may
produce a server error, and every answer must match the documented schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def api_schema(stack):
    return schemathesis.openapi.from_url(f"{stack.api}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_makes_the_api_fail(case, stack) -> None:
    admin = stack.user(0)
    assert admin["is_admin"]
    response = case.call(headers={"Authorization": f"Bearer {admin['token']}"}, timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
