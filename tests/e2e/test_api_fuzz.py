"""Schemathesis drives the running crm-api from its own OpenAPI document with generated valid and
invalid requests (as the administrator of a tenant of its own): no request may produce a server
error, and every documented answer must match its schema."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 25


def test_no_request_makes_the_api_fail(stack) -> None:
    schema = schemathesis.openapi.from_url(f"{stack.api}/openapi.json")
    headers = {"Authorization": f"Bearer {stack.isolated_admin_token()}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, "the whole API is exercised"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: schemathesis.Case) -> None:
            response = case.call(headers=headers, timeout=30)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} query={case.query!r} body={case.body!r}"
                f" -> {response.status_code}: {response.text[:500]}"
            )
            case.validate_response(
                response, checks=[not_a_server_error, response_schema_conformance]
            )

        exercise()
