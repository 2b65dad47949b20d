"""schemathesis against the OpenAPI spec of /api/v1, over the ASGI app on the real database:
whatever it generates for each operation, the API answers without a server error (5xx)."""
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.test_web import world  # noqa: F401  (the fixture: plans, items, personas, tokens)


def test_generated_requests_never_get_a_server_error(world):  # noqa: F811
    app, _, _, tokens = world
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 7
    seen = {}
    for token_user in ("mz", "jy"):       # a coordinator (every route open) and a department (refusals)
        headers = {"Authorization": f"Bearer {tokens[token_user]}"}
        for op in operations:
            @given(case=op.as_strategy())
            @settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def check(case):
                response = case.call(headers=headers)
                seen.setdefault(op.label, set()).add(response.status_code)
                assert response.status_code < 500, (case.method, case.formatted_path, case.query, case.body,
                                                    response.text[:300])
            check()
    assert all(codes for codes in seen.values()) and any(200 in c or 201 in c for c in seen.values())
